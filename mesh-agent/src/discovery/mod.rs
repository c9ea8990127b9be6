//! Service discovery, kept small until issue #4 replaces it: Services and Pods from the config
//! directory become a [`Snapshot`] (ClusterIP:port → endpoints, pod IP → workload), reloaded
//! when a file changes and swapped atomically. A bad file keeps the previous snapshot serving.

mod files;
mod snapshot;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

pub use files::{load_dir, parse_into, LoadError, Resources};
pub use snapshot::{workload_name, Service, Snapshot, Workload};

/// The current snapshot, shared by every connection. Cheap to clone.
#[derive(Clone, Default)]
pub struct Discovery {
    current: Arc<ArcSwap<Snapshot>>,
    loaded: Arc<AtomicBool>,
}

impl Discovery {
    /// A discovery serving `snapshot`, counted as loaded.
    pub fn with_snapshot(snapshot: Snapshot) -> Self {
        let discovery = Self::default();
        discovery.replace(snapshot);
        discovery
    }

    /// The snapshot to use for one connection.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Whether a snapshot was loaded at least once.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Relaxed)
    }

    /// Serves `snapshot` from now on.
    pub fn replace(&self, snapshot: Snapshot) {
        self.current.store(Arc::new(snapshot));
        self.loaded.store(true, Ordering::Relaxed);
    }
}

/// Watches a config directory (polling file mtimes) and reloads the snapshot on change.
pub struct FileSource {
    dir: PathBuf,
    discovery: Discovery,
    last: Option<files::Fingerprint>,
}

impl FileSource {
    /// A source for `dir` feeding `discovery`; nothing is read until [`FileSource::poll`].
    pub fn new(dir: PathBuf, discovery: Discovery) -> Self {
        Self {
            dir,
            discovery,
            last: None,
        }
    }

    /// Reloads when the directory changed since the last poll. `Ok(true)` when a new snapshot
    /// now serves; on error the previous one keeps serving, and the same state is not retried
    /// until it changes again.
    pub fn poll(&mut self) -> Result<bool, LoadError> {
        let fingerprint = files::fingerprint(&self.dir)?;
        if self.last.as_ref() == Some(&fingerprint) {
            return Ok(false);
        }
        self.last = Some(fingerprint);
        let snapshot = load_dir(&self.dir)?;
        tracing::info!(dir = %self.dir.display(), services = snapshot.service_count(), "config loaded");
        self.discovery.replace(snapshot);
        Ok(true)
    }

    /// Polls every `interval`, logging failures, forever.
    pub async fn run(mut self, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            if let Err(error) = self.poll() {
                tracing::error!(%error, "config not reloaded; previous snapshot keeps serving");
            }
        }
    }
}
