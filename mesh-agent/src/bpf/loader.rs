//! `MeshBpf`: the loaded kernel programs of one agent, their maps and their links.

use super::counters::{self, CounterTotals, FlowCount};
use super::enroll::EnrollmentMaps;
use super::link_pins::LinkPins;
use super::mounts;
use super::pins::MapPins;
use super::pods_cgroup::PodsCgroupError;
use aya::maps::{HashMap, Map, MapData, PerCpuArray, PerCpuHashMap, SockHash};
use aya::programs::{CgroupSockAddr, Program, ProgramError, SkLookup, SkMsg, SockOps};
use aya::{Ebpf, EbpfLoader};
use mesh_common::{AccelKey, FlowKey, OriginalDst, OriginalDstKey};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The connect hooks, attached to the pods' cgroup subtree.
pub(super) const CONNECT_PROGRAMS: [&str; 2] = ["mesh_connect4", "mesh_connect6"];
/// The `sock_ops` program, attached to the pods' cgroup subtree.
pub(super) const SOCK_OPS_PROGRAM: &str = "mesh_sockops";
/// The per-netns inbound program.
pub(super) const SK_LOOKUP_PROGRAM: &str = "mesh_sk_lookup";
const SK_MSG_PROGRAM: &str = "mesh_sk_msg";

/// Why the kernel programs could not be loaded, attached or read.
#[derive(Debug, thiserror::Error)]
pub enum BpfError {
    /// The object file isn't there.
    #[error("eBPF object {0} not found: run `cargo xtask build-ebpf --release` (or pass --bpf-object / MESH_BPF_OBJECT)")]
    ObjectMissing(PathBuf),
    /// The kernel refused the object (verifier, map creation).
    #[error("loading {path}: {source}")]
    Load {
        /// The object.
        path: PathBuf,
        /// What the kernel or aya said.
        source: Box<aya::EbpfError>,
    },
    /// A program is missing from the object.
    #[error("program {0} missing from the eBPF object")]
    ProgramMissing(&'static str),
    /// A program could not be loaded (verifier) or attached.
    #[error("program {name}: {source}")]
    Program {
        /// The program's name.
        name: &'static str,
        /// What went wrong.
        source: Box<ProgramError>,
    },
    /// A map is missing from the object or has an unexpected type.
    #[error("map {0} missing or of the wrong type")]
    Map(&'static str),
    /// A map operation failed.
    #[error("map operation: {0}")]
    MapOp(#[from] Box<aya::maps::MapError>),
    /// The maps pinned by a predecessor have another layout than this agent's programs need.
    #[error(transparent)]
    Layout(Box<super::layout::LayoutError>),
    /// The cgroup named cannot take the programs (the cgroup2 root).
    #[error(transparent)]
    Cgroup(#[from] PodsCgroupError),
    /// A filesystem operation (bpffs, pins, cgroup) failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
}

/// How to load the programs.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Pin the maps under this directory (e.g. `/sys/fs/bpf/mesh/<node>`); bpffs is mounted
    /// at `/sys/fs/bpf` first if it isn't.
    pub pin_dir: Option<PathBuf>,
    /// Same-node acceleration (`sk_msg` redirect between the app's and the agent's sockets).
    pub accelerate: bool,
    /// L4 splicing (`sk_skb` verdict joining the agent's two sockets of a connection).
    pub splice: bool,
    /// The agent's cgroup id (`own_cgroup_id`): connects from it are never captured. 0 (the
    /// default) names no cgroup, for an agent that runs outside the attached subtree.
    pub agent_cgroup: u64,
    /// Load the maps pinned in `pin_dir` instead of creating them, leaving the pins: a running
    /// predecessor hands over, and both agents' programs share one set of maps meanwhile; or a
    /// fail-closed predecessor is gone and its pinned programs still capture with them.
    pub shared_maps: bool,
    /// Fail closed: the programs' links are pinned under `pin_dir/links/` so they outlive the
    /// agent, the map pins stay on exit, and `sk_lookup` refuses connections to an enrolled pod
    /// whose listener is gone (`link_pins.rs`).
    pub fail_closed: bool,
}

/// The loaded kernel programs of one agent. Dropping it detaches every link and removes the
/// pins: pods fall back to direct traffic — unless it runs fail-closed: then its pinned links
/// and the map pins stay, and the pods' new connections are refused until the next agent.
pub struct MeshBpf {
    pub(super) ebpf: Mutex<Ebpf>,
    counters: PerCpuArray<MapData, u64>,
    flows: PerCpuHashMap<MapData, FlowKey, u64>,
    pub(super) original_dsts: Mutex<HashMap<MapData, OriginalDstKey, OriginalDst>>,
    pub(super) pods: Mutex<EnrollmentMaps>,
    pub(super) accel: Option<Mutex<SockHash<MapData, AccelKey>>>,
    pub(super) splice: Option<Mutex<super::splice::SpliceMaps>>,
    /// The pinned links (`None` without a pin directory: nothing pinned).
    pub(super) links: Option<LinkPins>,
    pub(super) egress: Mutex<super::egress::EgressMaps>,
    pub(super) connect_denied: Mutex<super::connect_denied::ConnectDeniedMap>,
    // Declared last: the pins go after the maps are closed (and the links directory).
    pins: Option<MapPins>,
}

impl MeshBpf {
    /// Loads `object`, pinning its maps under `pin_dir` when given. Nothing is attached yet.
    pub fn load(object: &Path, pin_dir: Option<&Path>) -> Result<Self, BpfError> {
        let options = LoadOptions {
            pin_dir: pin_dir.map(Path::to_path_buf),
            ..LoadOptions::default()
        };
        Self::load_with(object, &options)
    }

    /// Loads `object` with `options`.
    pub fn load_with(object: &Path, options: &LoadOptions) -> Result<Self, BpfError> {
        if !object.is_file() {
            return Err(BpfError::ObjectMissing(object.to_path_buf()));
        }
        let accelerate = u32::from(options.accelerate);
        let fail_closed = u32::from(options.fail_closed);
        let shared = shared_pins(options)?;
        if let Some(dir) = options.pin_dir.as_deref().filter(|_| !shared.is_empty()) {
            // Before anything shares them: a predecessor of another build pinned other layouts.
            super::layout::check_pins(object, dir).map_err(|e| BpfError::Layout(Box::new(e)))?;
        }
        let mut loader = EbpfLoader::new();
        for (name, path) in &shared {
            loader.map_pin_path(name.as_str(), path.as_path());
        }
        let mut ebpf = loader
            .override_global("ACCELERATE", &accelerate, true)
            .override_global("AGENT_CGROUP", &options.agent_cgroup, true)
            .override_global("FAIL_CLOSED", &fail_closed, true)
            .load_file(object)
            .map_err(|source| BpfError::Load {
                path: object.to_path_buf(),
                source: Box::new(source),
            })?;
        let pins = options
            .pin_dir
            .as_deref()
            .map(|dir| pin(&ebpf, dir, options.shared_maps))
            .transpose()?;
        load_programs(&mut ebpf)?;
        let links = link_pins(&ebpf, options)?;
        if let Some(pins) = pins.as_ref().filter(|_| options.fail_closed) {
            // The maps outlive a fail-closed agent with its programs, for the next one to reuse.
            pins.leave();
        }
        record_agent_cgroup(&mut ebpf, options.agent_cgroup)?;
        // Optional: a kernel that refuses them costs speed, not the agent (warned, counted).
        let accel = options
            .accelerate
            .then(|| optional("sk_msg acceleration", attach_accel(&mut ebpf)))
            .flatten();
        let splice = options
            .splice
            .then(|| optional("L4 splicing", super::splice::attach(&mut ebpf)))
            .flatten();
        Ok(MeshBpf {
            counters: take_map(&mut ebpf, "COUNTERS")?,
            flows: take_map(&mut ebpf, "FLOWS")?,
            original_dsts: Mutex::new(take_map(&mut ebpf, "ORIG_DSTS")?),
            pods: Mutex::new(EnrollmentMaps::new(
                take_map(&mut ebpf, "ENROLLED")?,
                take_map(&mut ebpf, "POD_ADDRS")?,
                take_map(&mut ebpf, "LISTENERS")?,
            )),
            accel,
            splice,
            egress: Mutex::new(super::egress::EgressMaps::new(
                take_map(&mut ebpf, "EGRESS_POLICY")?,
                take_map(&mut ebpf, "EGRESS_ALLOWED")?,
            )),
            connect_denied: Mutex::new(super::connect_denied::ConnectDeniedMap::new(take_map(
                &mut ebpf,
                "CONNECT_DENIED",
            )?)),
            ebpf: Mutex::new(ebpf),
            links,
            pins,
        })
    }

    /// The event counters, summed over CPUs.
    pub fn counters(&self) -> Result<CounterTotals, BpfError> {
        counters::read_totals(&self.counters).map_err(|e| BpfError::MapOp(Box::new(e)))
    }

    /// Connection counts per (source pod, destination).
    pub fn flows(&self) -> Vec<FlowCount> {
        counters::read_flows(&self.flows)
    }

    /// Where the maps are pinned, when they are.
    pub fn pin_dir(&self) -> Option<&Path> {
        self.pins.as_ref().map(MapPins::dir)
    }

    /// Hands the capture to a successor agent whose programs are attached and share the maps:
    /// leaves the pins (and so the maps and their entries) in place and detaches this agent's
    /// cgroup and `sk_lookup` programs now (pinned ones unpinned), while connections it still
    /// carries drain.
    pub fn hand_over(&self) -> Result<(), BpfError> {
        if let Some(pins) = &self.pins {
            pins.leave();
        }
        if let Some(links) = &self.links {
            links.hand_over();
        }
        let mut ebpf = self.ebpf.lock().unwrap_or_else(|e| e.into_inner());
        for name in CONNECT_PROGRAMS {
            program::<CgroupSockAddr>(&mut ebpf, name)?
                .unload()
                .map_err(failed(name))?;
        }
        let sock_ops = program::<SockOps>(&mut ebpf, SOCK_OPS_PROGRAM)?;
        sock_ops.unload().map_err(failed(SOCK_OPS_PROGRAM))?;
        let sk_lookup = program::<SkLookup>(&mut ebpf, SK_LOOKUP_PROGRAM)?;
        sk_lookup.unload().map_err(failed(SK_LOOKUP_PROGRAM))
    }
}

fn pin(ebpf: &Ebpf, dir: &Path, shared: bool) -> Result<MapPins, BpfError> {
    let io = |context: String| move |source| BpfError::Io { context, source };
    mounts::ensure_bpffs().map_err(io("mounting bpffs".into()))?;
    MapPins::pin_all(ebpf, dir, shared).map_err(io(format!("pinning maps under {}", dir.display())))
}

/// The agent's pinned links under the pin dir, named by its `connect4` program's id.
fn link_pins(ebpf: &Ebpf, options: &LoadOptions) -> Result<Option<LinkPins>, BpfError> {
    let Some(dir) = options.pin_dir.as_deref() else {
        return Ok(None);
    };
    let name = CONNECT_PROGRAMS[0];
    let program = ebpf.program(name).ok_or(BpfError::ProgramMissing(name))?;
    let agent = program.info().map_err(failed(name))?.id();
    let links = LinkPins::new(dir, agent, options.fail_closed).map_err(|source| BpfError::Io {
        context: format!("creating the links' pin directory under {}", dir.display()),
        source,
    })?;
    Ok(Some(links))
}

/// The pins to load maps from (name, path): those in the pin dir when the maps are shared.
fn shared_pins(options: &LoadOptions) -> Result<Vec<(String, PathBuf)>, BpfError> {
    let Some(dir) = options.pin_dir.as_deref().filter(|_| options.shared_maps) else {
        return Ok(Vec::new());
    };
    let names = super::pins::pinned_maps(dir).map_err(|source| BpfError::Io {
        context: format!("reading the predecessor's pins in {}", dir.display()),
        source,
    })?;
    Ok(names
        .into_iter()
        .map(|n| (n.clone(), dir.join(n)))
        .collect())
}

/// Puts the agent's cgroup into `AGENT_CGROUPS` (0: none), where a predecessor's programs
/// sharing the map find it too.
fn record_agent_cgroup(ebpf: &mut Ebpf, agent_cgroup: u64) -> Result<(), BpfError> {
    if agent_cgroup == 0 {
        return Ok(());
    }
    let mut cgroups: HashMap<MapData, u64, u8> = take_map(ebpf, "AGENT_CGROUPS")?;
    cgroups
        .insert(agent_cgroup, 1, 0)
        .map_err(|e| BpfError::MapOp(Box::new(e)))
}

/// Loads every program into the kernel (the verifier runs here).
fn load_programs(ebpf: &mut Ebpf) -> Result<(), BpfError> {
    for name in CONNECT_PROGRAMS {
        program::<CgroupSockAddr>(ebpf, name)?
            .load()
            .map_err(failed(name))?;
    }
    let sock_ops = program::<SockOps>(ebpf, SOCK_OPS_PROGRAM)?;
    sock_ops.load().map_err(failed(SOCK_OPS_PROGRAM))?;
    let sk_lookup = program::<SkLookup>(ebpf, SK_LOOKUP_PROGRAM)?;
    sk_lookup.load().map_err(failed(SK_LOOKUP_PROGRAM))
}

/// An optional program's maps, or `None` with a warning when the kernel refused it.
fn optional<T>(what: &str, attached: Result<T, BpfError>) -> Option<Mutex<T>> {
    match attached {
        Ok(maps) => Some(Mutex::new(maps)),
        Err(error) => {
            tracing::warn!(%error, "{what} unavailable: the agent copies those bytes itself");
            None
        }
    }
}

/// Maps a program error to `BpfError::Program`.
pub(super) fn failed(name: &'static str) -> impl FnOnce(ProgramError) -> BpfError {
    move |source| BpfError::Program {
        name,
        source: Box::new(source),
    }
}

/// Takes `ACCEL_SOCKS` out, loads `sk_msg` (the verifier runs here) and attaches it to it.
fn attach_accel(ebpf: &mut Ebpf) -> Result<SockHash<MapData, AccelKey>, BpfError> {
    let socks: SockHash<MapData, AccelKey> = take_map(ebpf, "ACCEL_SOCKS")?;
    let sk_msg = program::<SkMsg>(ebpf, SK_MSG_PROGRAM)?;
    sk_msg.load().map_err(failed(SK_MSG_PROGRAM))?;
    sk_msg.attach(socks.fd()).map_err(failed(SK_MSG_PROGRAM))?;
    Ok(socks)
}

/// A program of the object, typed.
pub(super) fn program<'a, P>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut P, BpfError>
where
    &'a mut P: TryFrom<&'a mut Program, Error = ProgramError>,
{
    let program = ebpf
        .program_mut(name)
        .ok_or(BpfError::ProgramMissing(name))?;
    program.try_into().map_err(failed(name))
}

/// Takes a map out of the object, typed.
pub(super) fn take_map<M: TryFrom<Map>>(
    ebpf: &mut Ebpf,
    name: &'static str,
) -> Result<M, BpfError> {
    let map = ebpf.take_map(name).ok_or(BpfError::Map(name))?;
    M::try_from(map).map_err(|_| BpfError::Map(name))
}
