//! The Kubernetes source: asks the API server which kinds and versions it serves, runs one
//! kube-rs watcher and reflector store per served [`WATCHED_KINDS`] entry, publishes the merged
//! set once every served kind has listed, and then on each change; re-asks periodically, so a
//! CRD installed later is picked up and one removed drops out.

mod discovery;
mod kinds;
mod metrics;
mod node;
mod raw_cache;
mod secrets;
mod store;
mod watches;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use prometheus_client::registry::Registry;
use tokio::sync::{watch, Notify};

use crate::document::{RawResource, SourceUpdate};
pub use kinds::{Selection, WatchedKind, WATCHED_KINDS};
pub use metrics::KindMetrics;
pub use node::node_labels;
pub use secrets::DEFAULT_SECRET_NAMESPACES;
use watches::Watches;

/// How often the source asks again which kinds are served, by default.
pub const REDISCOVERY_PERIOD: Duration = Duration::from_secs(60);
/// How long the first set waits for a kind whose lists fail (other than `404`), by default.
pub const FIRST_LIST_GRACE: Duration = Duration::from_secs(30);
/// The longest pause between attempts while discovery itself fails at start.
const DISCOVERY_RETRY_MAX: Duration = Duration::from_secs(30);

/// Watches the API server for what the mesh reads; publishes whole sets.
pub struct KubernetesSource {
    client: Client,
    node: String,
    updates: watch::Sender<SourceUpdate>,
    rediscovery: Duration,
    first_list_grace: Duration,
    metrics: KindMetrics,
    /// [`WATCHED_KINDS`] with Secrets read in the gateway credentials' namespaces only.
    kinds: &'static [WatchedKind],
}

impl KubernetesSource {
    /// A source reading through `client`, for the agent on `node`.
    pub fn new(client: Client, node: impl Into<String>) -> Self {
        Self {
            client,
            node: node.into(),
            updates: watch::Sender::new(SourceUpdate::default()),
            rediscovery: REDISCOVERY_PERIOD,
            first_list_grace: FIRST_LIST_GRACE,
            metrics: KindMetrics::default(),
            kinds: secrets::in_namespaces(WATCHED_KINDS, &default_secret_namespaces()),
        }
    }

    /// Reads Secrets (gateway credentials) in `namespaces` only, instead of
    /// [`DEFAULT_SECRET_NAMESPACES`].
    pub fn secret_namespaces(mut self, namespaces: &[String]) -> Self {
        self.kinds = secrets::in_namespaces(WATCHED_KINDS, namespaces);
        self
    }

    /// A source with in-cluster credentials (or the local kubeconfig).
    pub async fn from_environment(node: impl Into<String>) -> Result<Self, kube::Error> {
        Ok(Self::new(Client::try_default().await?, node))
    }

    /// Asks which kinds are served every `period` instead of [`REDISCOVERY_PERIOD`].
    pub fn rediscover_every(mut self, period: Duration) -> Self {
        self.rediscovery = period;
        self
    }

    /// Waits `grace` instead of [`FIRST_LIST_GRACE`] for failing kinds before the first set.
    pub fn first_list_grace(mut self, grace: Duration) -> Self {
        self.first_list_grace = grace;
        self
    }

    /// Counts missing kinds in `registry` (`mesh_config_kinds_missing`).
    pub fn register_metrics(mut self, registry: &mut Registry) -> Self {
        self.metrics = KindMetrics::register(registry);
        self
    }

    /// The channel the current set is published on.
    pub fn subscribe(&self) -> watch::Receiver<SourceUpdate> {
        self.updates.subscribe()
    }

    /// Discovers, starts the watches and publishes until every subscriber is gone. Nothing is
    /// published before every served kind has listed once (or failed past the grace), so the
    /// pipeline never sees a half-read cluster; a kind the server does not serve is warned
    /// about once and left out.
    pub async fn run(self) {
        let changed = Arc::new(Notify::new());
        let (client, node) = (self.client.clone(), self.node.clone());
        let mut watches = Watches::new(
            client,
            node,
            self.kinds,
            changed.clone(),
            self.metrics.clone(),
        );
        tokio::select! {
            () = self.start(&mut watches) => {}
            () = self.updates.closed() => return,
        }
        let mut rediscovery = tokio::time::interval_at(
            tokio::time::Instant::now() + self.rediscovery,
            self.rediscovery,
        );
        rediscovery.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut republish = true;
        loop {
            if republish {
                self.publish(&watches);
            }
            republish = tokio::select! {
                () = changed.notified() => {
                    watches.retire_replaced();
                    true
                }
                _ = rediscovery.tick() => self.rediscover(&mut watches).await,
                () = self.updates.closed() => return,
            };
        }
    }

    /// The first discovery (retried until the API server answers) and the first lists.
    async fn start(&self, watches: &mut Watches) {
        let mut pause = Duration::from_secs(1);
        let served = loop {
            match discovery::discover(&self.client, self.kinds).await {
                Ok(served) => break served,
                Err(err) => tracing::warn!(%err, "API discovery failed; retrying in {pause:?}"),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(DISCOVERY_RETRY_MAX);
        };
        watches.follow(&served, true);
        watches.first_lists(self.first_list_grace).await;
        tracing::info!("every served kind listed");
    }

    /// Asks again which kinds are served and follows the answer; whether a watch started or
    /// stopped. A failed ask changes nothing.
    async fn rediscover(&self, watches: &mut Watches) -> bool {
        match discovery::discover(&self.client, self.kinds).await {
            Ok(served) => watches.follow(&served, false),
            Err(err) => {
                tracing::warn!(%err, "API discovery failed; the watches stay as they are");
                false
            }
        }
    }

    fn publish(&self, watches: &Watches) {
        let resources = merge(watches.per_kind());
        tracing::debug!(resources = resources.len(), "cluster resources published");
        self.updates.send_replace(SourceUpdate {
            resources: Arc::new(resources),
            ..Default::default()
        });
    }
}

/// [`DEFAULT_SECRET_NAMESPACES`], owned.
fn default_secret_namespaces() -> Vec<String> {
    DEFAULT_SECRET_NAMESPACES
        .iter()
        .map(|n| n.to_string())
        .collect()
}

/// Every kind's resources in [`WATCHED_KINDS`] order. A pod on this node appears once, in full:
/// its metadata-only copy is dropped.
fn merge(per_kind: Vec<(Selection, Vec<RawResource>)>) -> Vec<RawResource> {
    let own_pods: HashSet<(Option<String>, String)> = per_kind
        .iter()
        .filter(|(selection, _)| *selection == Selection::OwnNode)
        .flat_map(|(_, pods)| {
            pods.iter()
                .map(|pod| (pod.namespace.clone(), pod.name.clone()))
        })
        .collect();
    let own_pods = &own_pods;
    per_kind
        .into_iter()
        .flat_map(|(selection, resources)| {
            resources.into_iter().filter(move |r| {
                selection != Selection::MetadataOnly
                    || !own_pods.contains(&(r.namespace.clone(), r.name.clone()))
            })
        })
        .collect()
}
