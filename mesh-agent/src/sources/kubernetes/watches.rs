//! The watches the source runs, following discovery: a kind the API server starts serving gets a
//! watch, one it stops serving loses it (and its objects), one served at a newer version is
//! re-watched there while the old store keeps answering until the new one has listed.

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::discovery::ServedVersions;
use super::kinds::{Selection, WatchedKind};
use super::metrics::KindMetrics;
use super::store::{KindStore, Listing};
use crate::document::RawResource;

/// One watched kind: the version in force (none while not served) and its stores.
#[derive(Default)]
struct Slot {
    store: Option<KindStore>,
    /// The store of the version watched before, answering until `store` has listed.
    replaced: Option<KindStore>,
}

/// Every watch of the source, one slot per kind.
pub struct Watches {
    client: Client,
    node: String,
    kinds: &'static [WatchedKind],
    slots: Vec<Slot>,
    changed: Arc<Notify>,
    metrics: KindMetrics,
}

impl Watches {
    /// No watch running yet; `changed` is notified on every store change.
    pub fn new(
        client: Client,
        node: String,
        kinds: &'static [WatchedKind],
        changed: Arc<Notify>,
        metrics: KindMetrics,
    ) -> Self {
        let slots = kinds.iter().map(|_| Slot::default()).collect();
        Self {
            client,
            node,
            kinds,
            slots,
            changed,
            metrics,
        }
    }

    /// Starts, stops and moves watches to what `served` says; whether anything changed. The
    /// first call warns about every missing kind; later ones about what changed.
    pub fn follow(&mut self, served: &ServedVersions, first: bool) -> bool {
        let mut changed = false;
        for (index, kind) in self.kinds.iter().enumerate() {
            let now = self.slots[index].store.as_ref().map(KindStore::version);
            let wanted = served.0.get(index).copied().flatten();
            if now == wanted && !first {
                continue;
            }
            changed |= now != wanted;
            self.metrics.set_missing(kind.kind, wanted.is_none());
            self.move_slot(index, kind, now, wanted, first);
        }
        changed
    }

    fn move_slot(
        &mut self,
        index: usize,
        kind: &'static WatchedKind,
        now: Option<&'static str>,
        wanted: Option<&'static str>,
        first: bool,
    ) {
        let meaning = kind.when_missing.unwrap_or("");
        let slot = &mut self.slots[index];
        let Some(version) = wanted else {
            if first {
                tracing::warn!("{} not served: {meaning}", kind.kind);
            } else {
                tracing::warn!("{} not served any more: {meaning}", kind.kind);
            }
            *slot = Slot::default();
            return;
        };
        if now == Some(version) {
            return;
        }
        if !first {
            let api_version = kind.api_version(version);
            tracing::info!("{} now served as {api_version}: watching it", kind.kind);
        }
        let store = KindStore::start(
            self.client.clone(),
            kind,
            version,
            &self.node,
            self.changed.clone(),
        );
        slot.replaced = slot.store.replace(store);
    }

    /// Drops the replaced stores whose successor has listed.
    pub fn retire_replaced(&mut self) {
        for slot in &mut self.slots {
            if slot.store.as_ref().map(KindStore::listing) == Some(Listing::Listed) {
                slot.replaced = None;
            }
        }
    }

    /// Waits until every watch has listed once, its kind turned out not served (`404`), or —
    /// for a watch whose lists fail otherwise — `grace` has passed; then names the ones that
    /// have not listed.
    pub async fn first_lists(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        loop {
            let past_grace = Instant::now() >= deadline;
            let blocking = |listing: &Listing| match listing {
                Listing::Waiting => true,
                Listing::Failing(_) => !past_grace,
                Listing::Listed | Listing::NotFound => false,
            };
            if !self.unlisted().iter().any(|(_, listing)| blocking(listing)) {
                break;
            }
            tokio::select! {
                () = self.changed.notified() => {}
                () = tokio::time::sleep_until(deadline), if !past_grace => {}
            }
        }
        for (kind, listing) in self.unlisted() {
            tracing::warn!(
                kind = kind.kind,
                ?listing,
                "serving without it until it lists"
            );
        }
    }

    /// The watches that have not listed yet, and how they stand.
    fn unlisted(&self) -> Vec<(&'static WatchedKind, Listing)> {
        let stores = self.slots.iter().filter_map(|slot| slot.store.as_ref());
        stores
            .map(|store| (store.kind(), store.listing()))
            .filter(|(_, listing)| *listing != Listing::Listed)
            .collect()
    }

    /// Each kind's objects, in the kinds' order: from the newest store once it has listed.
    pub fn per_kind(&self) -> Vec<(Selection, Vec<RawResource>)> {
        let slots = self.kinds.iter().zip(&self.slots);
        slots
            .filter_map(|(kind, slot)| {
                let store = slot.store.as_ref()?;
                let answering = match (&slot.replaced, store.listing()) {
                    (Some(replaced), listing) if listing != Listing::Listed => replaced,
                    _ => store,
                };
                Some((kind.selection, answering.resources()))
            })
            .collect()
    }
}
