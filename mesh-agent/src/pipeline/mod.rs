//! The configuration pipeline: a source's [`SourceUpdate`]s are compiled into one
//! [`Snapshot`], swapped atomically into the [`ConfigState`] every connection reads. A bad
//! resource or file never takes the last good configuration down (see [`crate::snapshot`]).

mod dump;
mod metrics;
mod reload;
mod unsupported;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use tokio::sync::watch;

pub use dump::config_dump;
pub use metrics::{ConfigMetrics, ReloadResult};
pub use reload::{run, Reload};
pub use unsupported::UnsupportedFields;

use crate::document::SourceUpdate;
use crate::snapshot::{LoadSettings, ResolvedNames, Snapshot};

/// The configuration in force, shared by every connection. Cheap to clone.
#[derive(Clone, Default)]
pub struct ConfigState {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    current: ArcSwap<Snapshot>,
    loaded: AtomicBool,
    generation: AtomicU64,
    last_reload: Mutex<Arc<Reload>>,
    swaps: watch::Sender<u64>,
    load: Mutex<LoadSettings>,
    /// The last set compiled; locked for a whole build, so builds swap in in order.
    applied: Mutex<Option<SourceUpdate>>,
}

impl ConfigState {
    /// A state serving `snapshot`, counted as loaded (tests, tools).
    pub fn with_snapshot(snapshot: Snapshot) -> Self {
        let state = Self::default();
        state.replace(Arc::new(snapshot), Reload::default());
        state
    }

    /// A state whose builds check resources against `load` (the agent's access-log directory).
    pub fn with_load_settings(load: LoadSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                load: Mutex::new(load),
                ..Inner::default()
            }),
        }
    }

    /// The snapshot to use for one connection or request.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.current.load_full()
    }

    /// Whether a snapshot was compiled from a source at least once.
    pub fn is_loaded(&self) -> bool {
        self.inner.loaded.load(Ordering::Acquire)
    }

    /// How many snapshots were swapped in so far.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// What the last reload found (problems of the resources and of the source).
    pub fn last_reload(&self) -> Arc<Reload> {
        self.inner.last_reload.lock().expect("not poisoned").clone()
    }

    /// Told the generation after every snapshot swap: what follows the config (the request
    /// observers) waits on it instead of polling.
    pub fn swaps(&self) -> watch::Receiver<u64> {
        self.inner.swaps.subscribe()
    }

    /// Compiles `update` against the snapshot in force and swaps the result in. Blocking: the
    /// agent runs it off the async workers (see [`run`]).
    pub fn apply(&self, update: &SourceUpdate) -> Arc<Reload> {
        self.apply_then(update, |_, _| {})
    }

    /// [`apply`](Self::apply), calling `before_swap` with the reload and its snapshot before
    /// the new generation is published: whoever sees the swap also sees what it counted.
    pub fn apply_then(
        &self,
        update: &SourceUpdate,
        before_swap: impl FnOnce(&Reload, &Snapshot),
    ) -> Arc<Reload> {
        let mut applied = self.inner.applied.lock().expect("not poisoned");
        let previous = self.snapshot();
        let load = self.inner.load.lock().expect("not poisoned").clone();
        let (snapshot, reload) = reload::compile(update, &previous, &load);
        before_swap(&reload, &snapshot);
        self.replace(Arc::new(snapshot), reload);
        *applied = Some(update.clone());
        self.last_reload()
    }

    /// The names the agent resolved for DNS ServiceEntries: when they differ from those in
    /// force, the last set is compiled again with them (before any set, the first one will be).
    /// Whether they differed. Blocking, like [`apply`](Self::apply).
    pub fn resolved(&self, names: ResolvedNames) -> bool {
        let applied = self.inner.applied.lock().expect("not poisoned");
        let load = {
            let mut load = self.inner.load.lock().expect("not poisoned");
            if *load.names == names {
                return false;
            }
            load.names = Arc::new(names);
            load.clone()
        };
        if let Some(update) = applied.as_ref() {
            let (snapshot, reload) = reload::compile(update, &self.snapshot(), &load);
            self.replace(Arc::new(snapshot), reload);
        }
        true
    }

    /// The names in force (what the last build replaced DNS endpoints with).
    pub fn resolved_names(&self) -> Arc<ResolvedNames> {
        self.inner.load.lock().expect("not poisoned").names.clone()
    }

    fn replace(&self, snapshot: Arc<Snapshot>, reload: Reload) {
        self.inner.current.store(snapshot);
        *self.inner.last_reload.lock().expect("not poisoned") = Arc::new(reload);
        let generation = self.inner.generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.inner.loaded.store(true, Ordering::Release);
        self.inner.swaps.send_replace(generation);
    }
}
