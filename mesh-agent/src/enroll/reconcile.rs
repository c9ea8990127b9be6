//! Reconciling the enrolled pods with the view: at start (this is how a restarted agent recovers
//! its pods) and after every snapshot swap, debounced, and again a little later while some pod
//! failed. Pods of this node that should be meshed and have an IP are enrolled — in the netns of
//! their state record when it still holds the pod's IP, else in the one a scan of the node finds
//! holding it; enrolled pods that should not be any more (label removed, pod gone or replaced)
//! are released; records of pods neither enrolled nor wanted are dropped.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use super::admission::gateways;
use super::scan::NodeNetns;
use super::service::Enrollment;
use super::view::{desired_pods, membership_of, DesiredPod};
use crate::net::Netns;
use crate::pods::PodToEnroll;

/// Swaps closer together than this are reconciled once.
pub const DEBOUNCE: Duration = Duration::from_millis(200);
/// The next pass after a pass with failures.
pub const RETRY: Duration = Duration::from_secs(5);
/// The next pass when nothing changes (pods whose CNI ADD never reached the agent).
pub const RESYNC: Duration = Duration::from_secs(60);

/// What one pass did, by `namespace/name`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Pods enrolled.
    pub enrolled: Vec<String>,
    /// Pods released.
    pub released: Vec<String>,
    /// Pods that should be meshed and could not be enrolled, with why.
    pub failed: Vec<String>,
}

impl Enrollment {
    /// Reconciles at once, once the first configuration is loaded, then after every swap and
    /// periodically; runs until the task is dropped.
    pub async fn follow(self: Arc<Self>) {
        let mut swaps = self.config.swaps();
        while !self.config.is_loaded() {
            if swaps.changed().await.is_err() {
                return;
            }
        }
        loop {
            swaps.borrow_and_update();
            let pass = self.reconcile().await;
            let next = if pass.failed.is_empty() {
                RESYNC
            } else {
                RETRY
            };
            tokio::select! {
                changed = swaps.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(next) => {}
            }
            tokio::time::sleep(DEBOUNCE).await;
        }
    }

    /// One pass; see the module doc.
    pub async fn reconcile(&self) -> Pass {
        let _changing = self.lock.lock().await;
        let snapshot = self.config.snapshot();
        let mut pass = Pass::default();
        for pod in self.pods.list().await {
            let uid = Some(pod.uid.as_str());
            let keep = membership_of(&snapshot, &pod.namespace, &pod.name, uid)
                .is_some_and(|m| m.is_meshed());
            if !keep && self.release_locked(&pod.namespace, &pod.name, uid).await {
                tracing::info!(pod = %format!("{}/{}", pod.namespace, pod.name), "released: no longer meshed");
                pass.released
                    .push(format!("{}/{}", pod.namespace, pod.name));
            }
        }
        let (records, problems) = self.settings.state.read_all();
        for problem in problems {
            tracing::warn!(%problem, "state record skipped");
        }
        let mut records: HashMap<String, PodToEnroll> =
            records.into_iter().map(|r| (r.key(), r)).collect();
        let desired = desired_pods(&snapshot, &self.settings.node_name);
        let mut scan = None;
        for pod in &desired {
            let key = format!("{}/{}", pod.namespace, pod.name);
            if self.pods.get(&pod.namespace, &pod.name).await.is_some() {
                continue;
            }
            let record = records.remove(&key);
            match self.enroll_desired(pod, record, &mut scan).await {
                Ok(()) => pass.enrolled.push(key),
                Err(error) => {
                    tracing::warn!(pod = %key, %error, "not enrolled; retried on the next pass");
                    pass.failed.push(format!("{key}: {error}"));
                }
            }
        }
        self.drop_stale_records(records, &desired).await;
        self.follow_identities().await;
        if pass != Pass::default() {
            tracing::info!(?pass, "reconciled");
        }
        pass
    }

    /// Enrolls a desired pod: through its record's netns if it still holds the pod's IP, else
    /// through the netns a scan finds holding it.
    async fn enroll_desired(
        &self,
        pod: &DesiredPod,
        record: Option<PodToEnroll>,
        scan: &mut Option<NodeNetns>,
    ) -> Result<(), String> {
        let same_pod = |r: &PodToEnroll| r.uid.is_empty() || r.uid == pod.uid;
        if let Some(record) = record.filter(same_pod) {
            let holds = self
                .settings
                .admission
                .open(&record.netns, &pod.ips)
                .is_ok();
            if holds {
                let spec = PodToEnroll {
                    uid: pod.uid.clone(),
                    ips: pod.ips.clone(),
                    ..record
                };
                return self.enroll_locked(spec).await.map(drop);
            }
        }
        let found = scan
            .get_or_insert_with(NodeNetns::scan_node)
            .find(&pod.uid, &pod.ips);
        let path = found
            .map(ToOwned::to_owned)
            .inspect_err(|_| self.count_failure("netns_not_found"))?;
        let node_ips = Netns::open(&path).map(|n| gateways(&n)).unwrap_or_default();
        let spec = PodToEnroll {
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
            uid: pod.uid.clone(),
            container_id: None,
            netns: path,
            ips: pod.ips.clone(),
            node_ips,
        };
        self.enroll_locked(spec).await.map(drop)
    }

    /// Removes the records left over: pods neither enrolled nor wanted.
    async fn drop_stale_records(
        &self,
        records: HashMap<String, PodToEnroll>,
        desired: &[DesiredPod],
    ) {
        let wanted: HashSet<(&str, &str)> = desired
            .iter()
            .map(|d| (d.namespace.as_str(), d.name.as_str()))
            .collect();
        for record in records.into_values() {
            let (namespace, name) = (record.namespace.as_str(), record.name.as_str());
            let enrolled = self.pods.get(namespace, name).await.is_some();
            if enrolled || wanted.contains(&(namespace, name)) {
                continue;
            }
            tracing::info!(pod = %record.key(), "stale state record dropped");
            if let Err(error) = self.pods.forget(&record.netns).await {
                tracing::warn!(pod = %record.key(), %error, "what an earlier agent left for the pod not removed");
            }
            if let Err(error) = self.settings.state.remove(namespace, name) {
                tracing::warn!(pod = %record.key(), %error, "stale state record not removed");
            }
        }
    }
}
