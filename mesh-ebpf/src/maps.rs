//! Every map the kernel programs use, with its key, value, size and writer. The agent pins
//! them under its per-node directory (`/sys/fs/bpf/mesh/<node>/<NAME>`).

use aya_ebpf::{
    bindings::BPF_F_NO_PREALLOC,
    macros::map,
    maps::{HashMap, LpmTrie, LruHashMap, LruPerCpuHashMap, PerCpuArray, SockHash},
};
use mesh_common::{
    AccelKey, Counter, DeniedConnectKey, EgressKey, FlowKey, KernelIp, OriginalDst, OriginalDstKey,
    PodInfo, SpliceEntry, ACCEL_CAPACITY, AGENT_CGROUP_CAPACITY, CONNECT_DENIED_CAPACITY,
    COUNTER_SLOTS, EGRESS_CAPACITY, FLOW_CAPACITY, ORIGINAL_DST_CAPACITY, POD_CAPACITY,
    SPLICE_CAPACITY,
};

/// Per-CPU event counters. Key: `Counter` slot (u32). Value: u64 count. Size: `COUNTER_SLOTS`.
/// Written by every program; read (summed over CPUs) by the agent for `/metrics`.
#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(COUNTER_SLOTS, 0);

/// Enrolled pods by network namespace. Key: netns cookie (u64). Value: `PodInfo`.
/// Size: `POD_CAPACITY`. Written by the agent (enroll/unenroll); read by `connect4`/`connect6`.
#[map(name = "ENROLLED")]
pub static ENROLLED: HashMap<u64, PodInfo> = HashMap::with_max_entries(POD_CAPACITY, 0);

/// Enrolled pods whose outbound connects are limited (REGISTRY_ONLY). Key: netns cookie (u64).
/// Value: the id of their egress policy (u32). Size: `POD_CAPACITY`. Written by the agent
/// (on every configuration or enrollment change); read by `connect4`/`connect6`.
#[map(name = "EGRESS_POLICY")]
pub static EGRESS_POLICY: HashMap<u64, u32> = HashMap::with_max_entries(POD_CAPACITY, 0);

/// The addresses each egress policy may reach: pods, Service and ServiceEntry addresses and
/// CIDRs, resolved and static endpoints. Key: LPM `Key<EgressKey>` (policy, then address).
/// Value: u8 (unused). Size: `EGRESS_CAPACITY`. Written by the agent; read by
/// `connect4`/`connect6` for pods in `EGRESS_POLICY`: no match refuses the connect.
#[map(name = "EGRESS_ALLOWED")]
pub static EGRESS_ALLOWED: LpmTrie<EgressKey, u8> =
    LpmTrie::with_max_entries(EGRESS_CAPACITY, BPF_F_NO_PREALLOC);

/// (Source pod, destination) pairs the destination's AuthorizationPolicies deny for sure, on
/// facts the agent knows (the pod's identity, the port): pods and the ClusterIPs whose every
/// endpoint denies. Key: `DeniedConnectKey` (netns cookie, address, port). Value: u8 (unused).
/// Size: `CONNECT_DENIED_CAPACITY`. Written by the agent (`connect_authz.rs`, on every
/// configuration or enrollment change); read by `connect4`/`connect6`: a hit refuses the connect.
#[map(name = "CONNECT_DENIED")]
pub static CONNECT_DENIED: HashMap<DeniedConnectKey, u8> =
    HashMap::with_max_entries(CONNECT_DENIED_CAPACITY, BPF_F_NO_PREALLOC);

/// Enrolled pods by pod IP. Key: `KernelIp`. Value: `PodInfo`. Size: `POD_CAPACITY`.
/// Written by the agent; read by `sk_lookup` (which cannot get a netns cookie).
#[map(name = "POD_ADDRS")]
pub static POD_ADDRS: HashMap<KernelIp, PodInfo> = HashMap::with_max_entries(POD_CAPACITY, 0);

/// The agent's inbound listener (15006) in each enrolled pod netns. Key: pod IP (`KernelIp`).
/// Value: socket. Size: `POD_CAPACITY`. Written by the agent; read by `sk_lookup`.
#[map(name = "LISTENERS")]
pub static LISTENERS: SockHash<KernelIp> = SockHash::with_max_entries(POD_CAPACITY, 0);

/// Original destinations between connect() and the TCP SYN. Key: socket cookie (u64).
/// Value: `OriginalDst`. Size: `ORIGINAL_DST_CAPACITY` (LRU: a connect that fails before the
/// SYN leaves an entry that ages out). Written by `connect4`/`connect6`; moved to `ORIG_DSTS`
/// by `sock_ops`.
#[map(name = "SOCK_DSTS")]
pub static SOCK_DSTS: LruHashMap<u64, OriginalDst> =
    LruHashMap::with_max_entries(ORIGINAL_DST_CAPACITY, 0);

/// Original destinations of captured connections. Key: `OriginalDstKey` (netns cookie, source
/// port). Value: `OriginalDst`. Size: `ORIGINAL_DST_CAPACITY` (LRU). Written by `sock_ops`;
/// read and deleted by the agent after accept().
#[map(name = "ORIG_DSTS")]
pub static ORIG_DSTS: LruHashMap<OriginalDstKey, OriginalDst> =
    LruHashMap::with_max_entries(ORIGINAL_DST_CAPACITY, 0);

/// Connection counts per (source pod, destination). Key: `FlowKey`. Value: u64 count per CPU.
/// Size: `FLOW_CAPACITY` (per-CPU LRU). Written by `connect4`/`connect6` for every TCP connect of an
/// enrolled pod that isn't the agent's; read by the agent for `/metrics`.
#[map(name = "FLOWS")]
pub static FLOWS: LruPerCpuHashMap<FlowKey, u64> =
    LruPerCpuHashMap::with_max_entries(FLOW_CAPACITY, 0);

/// Same-node acceleration: both ends of captured loopback connections. Key: `AccelKey`.
/// Value: socket. Size: `ACCEL_CAPACITY`. Written by `sock_ops` (app side) and the agent
/// (accepted side); `sk_msg` redirects between the two ends. Empty unless `ACCELERATE` is set.
#[map(name = "ACCEL_SOCKS")]
pub static ACCEL_SOCKS: SockHash<AccelKey> = SockHash::with_max_entries(ACCEL_CAPACITY, 0);

/// Same-node acceleration: ends of captured loopback connections that sent a message on the
/// normal path (their peer was not in `ACCEL_SOCKS` yet); they keep to it, so the receiver reads
/// their bytes in order. Key: `AccelKey` (the sending end's). Value: u8 (unused). Size:
/// `ACCEL_CAPACITY` (LRU: closed connections age out). Written by `sk_msg`; cleared for a new
/// connection's two ends by `sock_ops` when the app's end is established.
#[map(name = "ACCEL_PASSED")]
pub static ACCEL_PASSED: LruHashMap<AccelKey, u8> = LruHashMap::with_max_entries(ACCEL_CAPACITY, 0);

/// L4 splicing: the agent's two sockets of each spliced connection. Key: socket cookie (u64).
/// Value: socket. Size: `SPLICE_CAPACITY`. Written by the agent (`--l4-splice`; a socket leaves
/// when it closes); the `sk_skb` verdict redirects each socket's received bytes to its peer.
#[map(name = "SPLICE_SOCKS")]
pub static SPLICE_SOCKS: SockHash<u64> = SockHash::with_max_entries(SPLICE_CAPACITY, 0);

/// L4 splicing: where the verdict sends bytes, the same sockets without a program. Key: socket
/// cookie (u64). Value: socket. Size: `SPLICE_CAPACITY`. Written by the agent, which puts both
/// sockets here before either joins `SPLICE_SOCKS`: a verdict never misses its peer.
#[map(name = "SPLICE_PEERS")]
pub static SPLICE_PEERS: SockHash<u64> = SockHash::with_max_entries(SPLICE_CAPACITY, 0);

/// L4 splicing: each spliced socket's peer and the bytes passed to it. Key: socket cookie
/// (u64). Value: `SpliceEntry`. Size: `SPLICE_CAPACITY`. Written by the agent (added before
/// the sockets join `SPLICE_SOCKS`, read and removed when the connection ends) and by the
/// `sk_skb` verdict (the byte count).
#[map(name = "SPLICED")]
pub static SPLICED: HashMap<u64, SpliceEntry> =
    HashMap::with_max_entries(SPLICE_CAPACITY, BPF_F_NO_PREALLOC);

/// The cgroups of the node's agents, whose sockets the connect hooks never capture. Key: cgroup
/// id (u64). Value: unused (u8). Size: `AGENT_CGROUP_CAPACITY` (LRU: an upgraded-away agent's
/// cgroup falls out). Written by each agent at load (its own cgroup); shared by a predecessor and
/// its successor while they hand over, so neither's programs capture the other's upstream
/// connects when they run in different cgroups (a DaemonSet's surge pod).
#[map(name = "AGENT_CGROUPS")]
pub static AGENT_CGROUPS: LruHashMap<u64, u8> =
    LruHashMap::with_max_entries(AGENT_CGROUP_CAPACITY, 0);

/// Load-time flag: 1 turns same-node acceleration on (the agent overrides it at load).
#[no_mangle]
static ACCELERATE: u32 = 0;

/// Load-time flag: 1 when the agent runs `--fail-closed`. Its programs stay attached (pinned
/// links) when it is gone, and `sk_lookup` then drops a connection to an enrolled pod whose
/// inbound listener is gone (closed with the agent) instead of letting it reach the app
/// directly. The connect hooks need no flag: they keep redirecting to 15001, where no listener
/// answers, so the connect is refused at once. Patched by the agent at load.
#[no_mangle]
static FAIL_CLOSED: u32 = 0;

/// Load-time value: the cgroup id (kernfs inode) of the agent's own cgroup, whose sockets the
/// connect hooks never capture; 0 (no cgroup has it) when the agent runs outside the attached
/// subtree. Patched by the agent at load.
#[no_mangle]
static AGENT_CGROUP: u64 = 0;

/// The agent's cgroup id (see `AGENT_CGROUP`).
#[inline(always)]
pub fn agent_cgroup() -> u64 {
    // Volatile: the value is patched at load time and must not be folded.
    unsafe { core::ptr::read_volatile(&AGENT_CGROUP) }
}

/// Whether the agent runs fail-closed (see `FAIL_CLOSED`).
#[inline(always)]
pub fn fail_closed() -> bool {
    // Volatile: the value is patched at load time and must not be folded.
    unsafe { core::ptr::read_volatile(&FAIL_CLOSED) != 0 }
}

/// Whether same-node acceleration is on.
#[inline(always)]
pub fn accelerate() -> bool {
    // Volatile: the value is patched at load time and must not be folded.
    unsafe { core::ptr::read_volatile(&ACCELERATE) != 0 }
}

/// Adds one to a counter on this CPU.
#[inline(always)]
pub fn count(counter: Counter) {
    if let Some(slot) = COUNTERS.get_ptr_mut(counter as u32) {
        // Per-CPU slot: no other writer runs on this CPU while we hold it.
        unsafe { *slot += 1 };
    }
}

/// Adds one to the connection count of a (source pod, destination) pair.
#[inline(always)]
pub fn count_flow(netns_cookie: u64, dst: &OriginalDst) {
    let key = FlowKey {
        netns_cookie,
        dst: *dst,
        _pad: 0,
    };
    if let Some(slot) = FLOWS.get_ptr_mut(key) {
        // Per-CPU value: no other writer runs on this CPU while we hold it.
        unsafe { *slot += 1 };
        return;
    }
    // A new entry starts at 1 on this CPU (0 on the others).
    let _ = FLOWS.insert(key, 1, 0);
}
