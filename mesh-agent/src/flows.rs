//! `mesh_connections_by_pair_total`: the kernel's connection counts per (source pod,
//! destination) from the `FLOWS` map, read on each scrape and labelled with bounded names only —
//! the source pod's workload, the destination's Service or `unknown` (never a raw address).
//!
//! `FLOWS` is an LRU map: entries vanish under churn and come back from zero. Each scrape adds
//! what every entry grew since the last one to a counter per label set, so the exported counters
//! only go up, whatever the kernel evicts. Entries of a pod the agent does not know yet are kept
//! for a later scrape, so a pod is never counted as `unknown` while its enrollment settles.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::bpf::FlowCount;
use crate::pipeline::ConfigState;
use crate::pods::{EnrolledPod, EnrolledPods};
use crate::snapshot::{workload_name, Snapshot};

/// The series name, as scraped (the counter adds `_total`).
pub const PAIR_METRIC: &str = "mesh_connections_by_pair";
/// What a label says when the mesh does not know the value.
const UNKNOWN: &str = "unknown";
/// How often the pod index follows enrollments.
pub const POD_INDEX_REFRESH: Duration = Duration::from_secs(1);

/// Reads every `FLOWS` entry, summed over CPUs. The bpf module provides the real one.
pub type FlowSource = Arc<dyn Fn() -> Vec<FlowCount> + Send + Sync>;

/// The label set of one pair: who connected, to which Service.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct PairLabels {
    /// The source pod's workload.
    pub source_workload: String,
    /// The source pod's namespace.
    pub source_workload_namespace: String,
    /// The Service the destination belongs to, or `unknown`.
    pub destination_service_name: String,
    /// That Service's namespace, or `unknown`.
    pub destination_service_namespace: String,
}

/// The enrolled pods by netns cookie, followed from [`EnrolledPods`]. Cheap to clone.
#[derive(Clone, Default)]
pub struct PodIndex {
    by_cookie: Arc<ArcSwap<HashMap<u64, EnrolledPod>>>,
}

impl PodIndex {
    /// Replaces the index with `pods`.
    pub fn replace(&self, pods: Vec<EnrolledPod>) {
        let index = pods.into_iter().map(|p| (p.netns_cookie, p)).collect();
        self.by_cookie.store(Arc::new(index));
    }

    /// Lists `pods` every `every`, forever.
    pub async fn follow(self, pods: Arc<EnrolledPods>, every: Duration) {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            self.replace(pods.list().await);
        }
    }

    fn get(&self, cookie: u64) -> Option<EnrolledPod> {
        self.by_cookie.load().get(&cookie).cloned()
    }
}

/// Names a flow's pair, from the pods enrolled and the configuration in force.
pub fn pair_labels(snapshot: &Snapshot, pod: &EnrolledPod, destination: SocketAddr) -> PairLabels {
    let (workload, namespace) = match snapshot.workload(pod.ip) {
        Some(w) => (w.name.clone(), w.namespace.clone()),
        None => (workload_name(&pod.name, None), pod.namespace.clone()),
    };
    let service = snapshot
        .service_at(destination)
        .or_else(|| snapshot.service_of_endpoint(destination))
        .map(|(service, _)| service);
    PairLabels {
        source_workload: workload,
        source_workload_namespace: namespace,
        destination_service_name: service.as_ref().map_or(UNKNOWN.into(), |s| s.name.clone()),
        destination_service_namespace: service.map_or(UNKNOWN.into(), |s| s.namespace.clone()),
    }
}

/// What each `FLOWS` entry counted at the last scrape.
#[derive(Debug, Default)]
pub struct FlowTally {
    last: HashMap<(u64, SocketAddr), u64>,
}

impl FlowTally {
    /// Adds to `totals` what each flow grew since the last call (all of it for a new or
    /// re-created entry); `name` gives a flow's labels, `None` keeps it for a later call.
    /// Entries gone from `flows` are forgotten, so the tally is as bounded as the map.
    pub fn observe(
        &mut self,
        flows: &[FlowCount],
        mut name: impl FnMut(&FlowCount) -> Option<PairLabels>,
        mut add: impl FnMut(&PairLabels, u64),
    ) {
        let mut next = HashMap::with_capacity(flows.len());
        for flow in flows {
            let key = (flow.netns_cookie, flow.destination);
            let Some(labels) = name(flow) else { continue };
            let before = self.last.get(&key).copied().unwrap_or(0);
            let grown = match flow.connections.checked_sub(before) {
                Some(delta) => delta,
                None => flow.connections, // evicted and counted afresh since
            };
            if grown > 0 {
                add(&labels, grown);
            }
            next.insert(key, flow.connections);
        }
        self.last = next;
    }
}

/// Registers `mesh_connections_by_pair_total`, read through `flows` on each scrape.
pub fn register(registry: &mut Registry, flows: FlowSource, pods: PodIndex, config: ConfigState) {
    let pairs = ConnectionsByPair {
        flows,
        pods,
        config,
        state: Mutex::default(),
    };
    registry.register_collector(Box::new(pairs));
}

struct ConnectionsByPair {
    flows: FlowSource,
    pods: PodIndex,
    config: ConfigState,
    state: Mutex<(FlowTally, Family<PairLabels, Counter>)>,
}

impl ConnectionsByPair {
    /// Reads the map and brings the counters up to date.
    fn update(&self) -> Family<PairLabels, Counter> {
        let flows = (self.flows)();
        let snapshot = self.config.snapshot();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tally, family) = &mut *state;
        let name = |flow: &FlowCount| {
            let pod = self.pods.get(flow.netns_cookie)?;
            Some(pair_labels(&snapshot, &pod, flow.destination))
        };
        tally.observe(&flows, name, |labels, n| {
            family.get_or_create(labels).inc_by(n);
        });
        family.clone()
    }
}

impl fmt::Debug for ConnectionsByPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConnectionsByPair")
    }
}

impl Collector for ConnectionsByPair {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let family = self.update();
        let help =
            "Connections per (source workload, destination Service), from the eBPF FLOWS map";
        let metric = encoder.encode_descriptor(PAIR_METRIC, help, None, family.metric_type())?;
        family.encode(metric)
    }
}
