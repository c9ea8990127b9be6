//! Each destination's TLS origination, kept across snapshots: built again when the snapshot
//! changes, and the one in use kept (with its pooled connections) when neither the settings
//! nor the certificates changed.

use std::collections::HashMap;
use std::sync::Arc;

use super::origination::Origination;
use crate::resources::ClientTlsMode;
use crate::snapshot::{Cluster, Snapshot};

/// Each destination's origination, built again only when the snapshot changes, and then kept
/// (with its pooled connections) when its settings and certificates did not change.
#[derive(Clone, Debug, Default)]
pub struct Originations(Arc<std::sync::Mutex<ByCluster>>);

/// By cluster name: the snapshot generation it was last looked at in, and its origination.
type ByCluster = HashMap<String, (u64, Arc<Origination>)>;

impl Originations {
    /// The origination of `cluster` under `snapshot` (of `generation`); `None`: plain text.
    pub fn get(
        &self,
        cluster: &Cluster,
        snapshot: &Snapshot,
        generation: u64,
    ) -> Option<Arc<Origination>> {
        let mode = cluster.policy.tls.as_ref().and_then(|t| t.mode);
        if !matches!(mode, Some(ClientTlsMode::Simple | ClientTlsMode::Mutual)) {
            return None;
        }
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((seen, origination)) = known.get(&cluster.name) {
            if *seen == generation {
                return Some(origination.clone());
            }
        }
        let fresh = Origination::of(cluster, snapshot)?;
        let kept = known
            .get(&cluster.name)
            .map(|(_, old)| old.clone())
            .filter(|old| old.same(&fresh));
        let origination = kept.unwrap_or_else(|| {
            if let Some(problem) = fresh.problem() {
                tracing::warn!(cluster = %cluster.name, %problem, "TLS origination unusable: requests fail UF");
            }
            Arc::new(fresh)
        });
        known.insert(cluster.name.clone(), (generation, origination.clone()));
        Some(origination)
    }
}
