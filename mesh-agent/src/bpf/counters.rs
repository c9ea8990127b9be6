//! Reading the kernel's counters: per-CPU event totals (`COUNTERS`) and connection counts per
//! (source pod, destination) (`FLOWS`).

use aya::maps::{MapData, PerCpuArray, PerCpuHashMap};
use mesh_common::{Counter, FlowKey};
use std::net::SocketAddr;

/// The `COUNTERS` slots, summed over CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterTotals {
    /// Outbound connects redirected to the agent.
    pub captured_outbound: u64,
    /// Inbound connections steered to the agent.
    pub captured_inbound: u64,
    /// TCP connects seen and left alone.
    pub bypassed: u64,
    /// Capture attempts that failed (the connection went direct).
    pub errors: u64,
    /// Messages moved directly between sockets by same-node acceleration.
    pub accelerated: u64,
    /// Connects refused by a pod's egress policy.
    pub egress_refused: u64,
    /// Connects refused because the destination's policies deny the pod for sure.
    pub authz_refused: u64,
    /// Segments the splicing verdict moved between the agent's two sockets of a connection.
    pub spliced: u64,
}

impl CounterTotals {
    /// The total of one slot.
    pub fn get(&self, counter: Counter) -> u64 {
        match counter {
            Counter::CapturedOutbound => self.captured_outbound,
            Counter::CapturedInbound => self.captured_inbound,
            Counter::Bypassed => self.bypassed,
            Counter::Errors => self.errors,
            Counter::Accelerated => self.accelerated,
            Counter::EgressRefused => self.egress_refused,
            Counter::AuthzRefused => self.authz_refused,
            Counter::Spliced => self.spliced,
        }
    }

    /// TCP connects the connect hooks saw (captured or not).
    pub fn connects_seen(&self) -> u64 {
        self.captured_outbound + self.bypassed
    }

    fn set(&mut self, counter: Counter, value: u64) {
        match counter {
            Counter::CapturedOutbound => self.captured_outbound = value,
            Counter::CapturedInbound => self.captured_inbound = value,
            Counter::Bypassed => self.bypassed = value,
            Counter::Errors => self.errors = value,
            Counter::Accelerated => self.accelerated = value,
            Counter::EgressRefused => self.egress_refused = value,
            Counter::AuthzRefused => self.authz_refused = value,
            Counter::Spliced => self.spliced = value,
        }
    }
}

/// Connections from one pod to one destination, as counted by the connect hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowCount {
    /// Netns cookie of the source pod.
    pub netns_cookie: u64,
    /// The destination the app asked for.
    pub destination: SocketAddr,
    /// Connects so far.
    pub connections: u64,
}

/// Sums every `COUNTERS` slot over CPUs.
pub(super) fn read_totals(
    map: &PerCpuArray<MapData, u64>,
) -> Result<CounterTotals, aya::maps::MapError> {
    let mut totals = CounterTotals::default();
    for counter in Counter::ALL {
        let per_cpu = map.get(&(counter as u32), 0)?;
        totals.set(counter, per_cpu.iter().sum());
    }
    Ok(totals)
}

/// Every `FLOWS` entry, summed over CPUs.
pub(super) fn read_flows(map: &PerCpuHashMap<MapData, FlowKey, u64>) -> Vec<FlowCount> {
    // Entries may be evicted while iterating: skip the ones that vanish.
    map.iter()
        .filter_map(Result::ok)
        .map(|(key, per_cpu)| FlowCount {
            netns_cookie: key.netns_cookie,
            destination: key.dst.to_socket_addr(),
            connections: per_cpu.iter().sum(),
        })
        .collect()
}
