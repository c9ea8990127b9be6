//! `/clusters` on the admin port: every cluster of the snapshot in force with its endpoints and,
//! where the cluster has outlier detection running, each endpoint's ejection state as each
//! source pod's detector sees it.

use std::collections::BTreeMap;
use std::sync::Arc;

use hyper::StatusCode;
use serde::Serialize;

use crate::admin::Routes;
use crate::http::Resilience;
use crate::pipeline::ConfigState;
use crate::resilience::outlier::EndpointState;
use crate::snapshot::{Address, Cluster};

/// One cluster as `/clusters` shows it.
#[derive(Debug, Serialize)]
pub struct ClusterView {
    /// `outbound|PORT|SUBSET|HOST`.
    pub name: String,
    /// Endpoint addresses (`ip:port`, or `name:port` for DNS ones).
    pub endpoints: Vec<String>,
    /// By source pod (`namespace/pod`), the outlier state of each endpoint as that pod's
    /// detector sees it; absent without outlier detection or before a pod sent a request.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outlier: BTreeMap<String, Vec<EndpointState>>,
}

/// Answers `/clusters` with [`clusters`] as JSON, anything else with `others`.
pub fn with_clusters(others: Routes, config: ConfigState, resilience: Resilience) -> Routes {
    Arc::new(move |path| match path {
        "/clusters" => match serde_json::to_string_pretty(&clusters(&config, &resilience)) {
            Ok(json) => (StatusCode::OK, "application/json", json),
            Err(error) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                format!("encoding failed: {error}\n"),
            ),
        },
        _ => others(path),
    })
}

/// Every cluster of the snapshot in force, by name, with its outlier state.
pub fn clusters(config: &ConfigState, resilience: &Resilience) -> Vec<ClusterView> {
    let snapshot = config.snapshot();
    let detectors = resilience.detectors();
    let mut views: Vec<ClusterView> = snapshot
        .clusters()
        .map(|cluster| ClusterView {
            name: cluster.name.clone(),
            endpoints: endpoints(cluster),
            outlier: detectors
                .iter()
                .filter(|(name, _, _)| *name == cluster.name)
                .map(|(_, source, detector)| (source.to_string(), detector.snapshot()))
                .collect(),
        })
        .collect();
    views.sort_by(|a, b| a.name.cmp(&b.name));
    views
}

fn endpoints(cluster: &Cluster) -> Vec<String> {
    let shown = |(address, port): &(Address, u16)| match address {
        Address::Ip(ip) => std::net::SocketAddr::new(*ip, *port).to_string(),
        Address::Dns(name) => format!("{name}:{port}"),
    };
    cluster.endpoints.iter().map(shown).collect()
}
