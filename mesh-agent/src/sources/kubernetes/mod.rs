//! The Kubernetes source: one kube-rs watcher and reflector store per [`WATCHED_KINDS`] entry;
//! once every store holds its first list, each change republishes the merged set.

mod kinds;
mod store;

use std::collections::HashSet;
use std::sync::Arc;

use kube::Client;
use tokio::sync::{watch, Notify};

use crate::document::{RawResource, SourceUpdate};
pub use kinds::{Selection, WatchedKind, WATCHED_KINDS};
use store::KindStore;

/// Watches the API server for what the mesh reads; publishes whole sets.
pub struct KubernetesSource {
    client: Client,
    node: String,
    updates: watch::Sender<SourceUpdate>,
}

impl KubernetesSource {
    /// A source reading through `client`, for the agent on `node`.
    pub fn new(client: Client, node: impl Into<String>) -> Self {
        Self {
            client,
            node: node.into(),
            updates: watch::Sender::new(SourceUpdate::default()),
        }
    }

    /// A source with in-cluster credentials (or the local kubeconfig).
    pub async fn from_environment(node: impl Into<String>) -> Result<Self, kube::Error> {
        Ok(Self::new(Client::try_default().await?, node))
    }

    /// The channel the current set is published on.
    pub fn subscribe(&self) -> watch::Receiver<SourceUpdate> {
        self.updates.subscribe()
    }

    /// Starts every watch and publishes until every subscriber is gone. Nothing is published
    /// before every kind has been listed once, so the pipeline never sees a half-read cluster
    /// (a kind whose CRD is missing keeps the source waiting, with a warning per retry).
    pub async fn run(self) {
        let changed = Arc::new(Notify::new());
        let mut stores: Vec<KindStore> = WATCHED_KINDS
            .iter()
            .map(|kind| KindStore::start(self.client.clone(), kind, &self.node, changed.clone()))
            .collect();
        for store in &mut stores {
            store.ready().await;
        }
        tracing::info!(kinds = stores.len(), "every watched kind listed");
        loop {
            self.publish(&stores);
            tokio::select! {
                _ = changed.notified() => {}
                _ = self.updates.closed() => return,
            }
        }
    }

    fn publish(&self, stores: &[KindStore]) {
        let resources = merge(stores);
        tracing::debug!(resources = resources.len(), "cluster resources published");
        self.updates.send_replace(SourceUpdate {
            resources: Arc::new(resources),
            ..Default::default()
        });
    }
}

/// Every store's resources in [`WATCHED_KINDS`] order. A pod on this node appears once, in full:
/// its metadata-only copy is dropped.
fn merge(stores: &[KindStore]) -> Vec<RawResource> {
    let per_kind: Vec<(Selection, Vec<RawResource>)> = stores
        .iter()
        .map(|store| (store.kind().selection, store.resources()))
        .collect();
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
