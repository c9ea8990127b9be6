//! The kernel check at start: every program type, map type, helper and attach mechanism the
//! capture programs use is probed (aya's feature probes, plus `BPF_LINK_CREATE` for cgroup
//! links) before anything loads; the first one missing stops the agent with one line naming it
//! and the Linux release that brought it.

use aya::maps::MapType;
use aya::programs::ProgramType;
use aya::sys::BpfHelper;

/// The oldest Linux release with everything below (`bpf_get_netns_cookie` in `sock_ops` and
/// `sk_msg` came last).
pub const MINIMUM_KERNEL: &str = "5.15";

/// How a feature is probed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Probe {
    /// The kernel loads a trivial program of this type.
    Program(ProgramType),
    /// The kernel creates a map of this type.
    Map(MapType),
    /// A program of this type may call the helper.
    Helper(ProgramType, BpfHelper),
    /// Global data (`.rodata` the agent writes at load: `AGENT_CGROUP`, `ACCELERATE`).
    GlobalData,
    /// `BPF_LINK_CREATE` exists (cgroup programs are attached as links, never as flags).
    CgroupLink,
}

/// One thing the programs need from the kernel.
#[derive(Clone, Copy, Debug)]
pub struct KernelFeature {
    /// What it is, as the message names it.
    pub name: &'static str,
    /// The Linux release that brought it.
    pub since: &'static str,
    /// How it is probed.
    pub probe: Probe,
}

const fn feature(name: &'static str, since: &'static str, probe: Probe) -> KernelFeature {
    KernelFeature { name, since, probe }
}

const CGROUP_ID: BpfHelper = BpfHelper::BPF_FUNC_get_current_cgroup_id;
const NETNS_COOKIE: BpfHelper = BpfHelper::BPF_FUNC_get_netns_cookie;
const SOCKET_COOKIE: BpfHelper = BpfHelper::BPF_FUNC_get_socket_cookie;
const MSG_REDIRECT: BpfHelper = BpfHelper::BPF_FUNC_msg_redirect_hash;
const SK_ASSIGN: BpfHelper = BpfHelper::BPF_FUNC_sk_assign;
const SOCK_HASH_UPDATE: BpfHelper = BpfHelper::BPF_FUNC_sock_hash_update;
use ProgramType::{CgroupSockAddr, SkLookup, SkMsg, SockOps};

/// Everything `mesh-ebpf` needs, oldest first.
pub const REQUIRED: &[KernelFeature] = &[
    feature("sock_ops programs", "4.13", Probe::Program(SockOps)),
    feature(
        "LRU per-CPU hash maps",
        "4.10",
        Probe::Map(MapType::LruPerCpuHash),
    ),
    feature("LPM trie maps", "4.11", Probe::Map(MapType::LpmTrie)),
    feature(
        "cgroup/connect4 and connect6 programs",
        "4.17",
        Probe::Program(CgroupSockAddr),
    ),
    feature("sk_msg programs", "4.17", Probe::Program(SkMsg)),
    feature("sockhash maps", "4.18", Probe::Map(MapType::SockHash)),
    feature(
        "bpf_sock_hash_update in sock_ops",
        "4.18",
        Probe::Helper(SockOps, SOCK_HASH_UPDATE),
    ),
    feature(
        "bpf_msg_redirect_hash in sk_msg",
        "4.18",
        Probe::Helper(SkMsg, MSG_REDIRECT),
    ),
    feature(
        "bpf_get_socket_cookie in cgroup/connect",
        "4.20",
        Probe::Helper(CgroupSockAddr, SOCKET_COOKIE),
    ),
    feature(
        "bpf_get_socket_cookie in sock_ops",
        "4.20",
        Probe::Helper(SockOps, SOCKET_COOKIE),
    ),
    feature("global data in programs", "5.2", Probe::GlobalData),
    feature("bpf_link for cgroup programs", "5.7", Probe::CgroupLink),
    feature(
        "bpf_get_netns_cookie in cgroup/connect",
        "5.7",
        Probe::Helper(CgroupSockAddr, NETNS_COOKIE),
    ),
    feature(
        "bpf_get_current_cgroup_id in cgroup/connect",
        "5.7",
        Probe::Helper(CgroupSockAddr, CGROUP_ID),
    ),
    feature("sk_lookup programs", "5.9", Probe::Program(SkLookup)),
    feature(
        "bpf_sk_assign in sk_lookup",
        "5.9",
        Probe::Helper(SkLookup, SK_ASSIGN),
    ),
    feature(
        "bpf_get_netns_cookie in sock_ops",
        "5.15",
        Probe::Helper(SockOps, NETNS_COOKIE),
    ),
    feature(
        "bpf_get_netns_cookie in sk_msg",
        "5.15",
        Probe::Helper(SkMsg, NETNS_COOKIE),
    ),
];

/// Why the agent cannot run on this kernel.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// A feature is missing.
    #[error(
        "kernel {release} lacks {name} (Linux {since}); the mesh needs Linux {MINIMUM_KERNEL} or newer"
    )]
    Missing {
        /// `uname -r`.
        release: String,
        /// The feature.
        name: &'static str,
        /// The Linux release that brought it.
        since: &'static str,
    },
    /// The probe itself failed (typically: no CAP_BPF / CAP_SYS_ADMIN).
    #[error("cannot probe the kernel for {name}: {reason} (the agent needs CAP_SYS_ADMIN, or CAP_BPF with CAP_NET_ADMIN)")]
    Unprobed {
        /// The feature.
        name: &'static str,
        /// What the probe said.
        reason: String,
    },
}

/// The first of `required` that `supported` says is missing, as the error the agent stops with.
pub fn first_missing(
    required: &[KernelFeature],
    release: &str,
    mut supported: impl FnMut(Probe) -> Result<bool, String>,
) -> Result<(), KernelError> {
    for feature in required {
        match supported(feature.probe) {
            Ok(true) => {}
            Ok(false) => {
                return Err(KernelError::Missing {
                    release: release.to_string(),
                    name: feature.name,
                    since: feature.since,
                })
            }
            Err(reason) => {
                return Err(KernelError::Unprobed {
                    name: feature.name,
                    reason,
                })
            }
        }
    }
    Ok(())
}

/// Probes this kernel for everything in [`REQUIRED`].
pub fn check_kernel() -> Result<(), KernelError> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(
        |_| "(unknown release)".to_string(),
        |r| r.trim().to_string(),
    );
    first_missing(REQUIRED, &release, probe)
}

/// Asks the running kernel.
fn probe(probe: Probe) -> Result<bool, String> {
    match probe {
        Probe::Program(kind) => aya::sys::is_program_supported(kind).map_err(|e| e.to_string()),
        Probe::Map(kind) => aya::sys::is_map_supported(kind).map_err(|e| e.to_string()),
        Probe::Helper(kind, helper) => {
            aya::sys::is_helper_supported(kind, helper).map_err(|e| e.to_string())
        }
        Probe::GlobalData => Ok(aya::features().bpf_global_data()),
        Probe::CgroupLink => link_create_exists(),
    }
}

/// `BPF_LINK_CREATE` with no program: a kernel that knows the command says the program fd is
/// bad (EBADF); one that doesn't, that the command is invalid (EINVAL).
fn link_create_exists() -> Result<bool, String> {
    const BPF_LINK_CREATE: libc::c_long = 28;
    let mut attr = [0u32; 16];
    attr[0] = u32::MAX; // prog_fd: -1
    let size = size_of_val(&attr);
    // SAFETY: the attribute buffer is valid for `size` bytes for the duration of the call.
    let result = unsafe { libc::syscall(libc::SYS_bpf, BPF_LINK_CREATE, attr.as_mut_ptr(), size) };
    let error = std::io::Error::last_os_error();
    match (result, error.raw_os_error()) {
        (0.., _) => Err("BPF_LINK_CREATE succeeded without a program".into()),
        (_, Some(libc::EBADF)) => Ok(true),
        (_, Some(libc::EINVAL)) => Ok(false),
        _ => Err(format!("BPF_LINK_CREATE: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kernel_with_everything_passes() {
        assert_eq!(first_missing(REQUIRED, "6.8.0", |_| Ok(true)), Ok(()));
    }

    #[test]
    fn a_5_10_kernel_is_told_the_netns_cookie_in_sock_ops_needs_5_15() {
        // What a 5.10 kernel has: everything up to 5.9.
        let on_5_10 = |probe: Probe| {
            let feature = REQUIRED.iter().find(|f| f.probe == probe).unwrap();
            Ok(feature.since != "5.15")
        };
        let error = first_missing(REQUIRED, "5.10.0-1057-azure", on_5_10).unwrap_err();
        assert_eq!(
            error.to_string(),
            "kernel 5.10.0-1057-azure lacks bpf_get_netns_cookie in sock_ops (Linux 5.15); \
             the mesh needs Linux 5.15 or newer"
        );
    }

    #[test]
    fn the_first_missing_feature_is_named_and_a_failed_probe_says_why() {
        let no_sk_lookup = |probe| Ok(probe != Probe::Program(SkLookup));
        let error = first_missing(REQUIRED, "5.4.0", no_sk_lookup).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("lacks sk_lookup programs (Linux 5.9)"),
            "{error}"
        );
        let denied = |_| Err("Operation not permitted (os error 1)".to_string());
        let error = first_missing(REQUIRED, "6.1", denied)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(
                "cannot probe the kernel for sock_ops programs: Operation not permitted"
            ),
            "{error}"
        );
    }

    #[test]
    fn every_release_is_at_most_the_minimum() {
        let version = |v: &str| -> Vec<u32> { v.split('.').map(|n| n.parse().unwrap()).collect() };
        for feature in REQUIRED {
            assert!(
                version(feature.since) <= version(MINIMUM_KERNEL),
                "{}",
                feature.name
            );
        }
        assert!(REQUIRED.iter().any(|f| f.since == MINIMUM_KERNEL));
    }
}
