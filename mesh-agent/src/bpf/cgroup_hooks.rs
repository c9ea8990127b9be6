//! Attaching the cgroup hooks (`connect4`, `connect6`, `sock_ops`) to the pods' subtree: by
//! `bpf_link`, pinned when the agent runs fail-closed, and only then removing the links a
//! fail-closed predecessor pinned — both sets run for a moment over the same maps, so capture
//! never lapses.

use super::loader::{failed, program, BpfError, MeshBpf, CONNECT_PROGRAMS, SOCK_OPS_PROGRAM};
use super::pods_cgroup::refuse_root;
use aya::programs::links::FdLink;
use aya::programs::{CgroupAttachMode, CgroupSockAddr, SockOps};
use std::path::Path;

impl MeshBpf {
    /// Attaches the cgroup programs (`connect4`, `connect6`, `sock_ops`) to the cgroup2
    /// directory `cgroup` and its subtree. They stay attached until `self` is dropped, or, pinned
    /// (fail-closed), until the next agent replaces them. The cgroup2 root is refused
    /// (`pods_cgroup.rs`: Cilium's socket LB attaches there).
    pub fn attach_cgroup(&self, cgroup: &Path) -> Result<(), BpfError> {
        refuse_root(cgroup, Path::new("/proc/mounts"))?;
        let dir = std::fs::File::open(cgroup).map_err(|source| BpfError::Io {
            context: format!("opening cgroup {}", cgroup.display()),
            source,
        })?;
        let mut ebpf = self.ebpf.lock().unwrap_or_else(|e| e.into_inner());
        // Only bpf_link attachments (aya's BPF_LINK_CREATE, kernel 5.7+, which the mesh
        // requires): a link coexists with every other program on the cgroup (other agents,
        // Cilium's socket LB, other tools), nobody can replace or detach it with a legacy
        // BPF_PROG_DETACH, and it goes with our process — unless pinned — so a crash of a
        // fail-open agent leaves no program behind.
        // `Single` only means "no legacy attach flags" for a link.
        let mode = CgroupAttachMode::Single;
        let mut attached: Vec<(&'static str, FdLink)> = Vec::new();
        let pinning = self.links.as_ref().is_some_and(|l| l.fail_closed());
        for name in CONNECT_PROGRAMS {
            let program = program::<CgroupSockAddr>(&mut ebpf, name)?;
            let link = program.attach(&dir, mode).map_err(failed(name))?;
            if pinning {
                let link = program.take_link(link).map_err(failed(name))?;
                attached.push((name, FdLink::try_from(link).map_err(link_error(name))?));
            }
        }
        let program = program::<SockOps>(&mut ebpf, SOCK_OPS_PROGRAM)?;
        let link = program
            .attach(&dir, mode)
            .map_err(failed(SOCK_OPS_PROGRAM))?;
        if pinning {
            let link = program.take_link(link).map_err(failed(SOCK_OPS_PROGRAM))?;
            let link = FdLink::try_from(link).map_err(link_error(SOCK_OPS_PROGRAM))?;
            attached.push((SOCK_OPS_PROGRAM, link));
        }
        drop(ebpf);
        self.pin_cgroup_links(attached)
    }

    /// Pins this agent's cgroup links (fail-closed), then removes those pinned before it.
    fn pin_cgroup_links(&self, attached: Vec<(&'static str, FdLink)>) -> Result<(), BpfError> {
        let Some(links) = &self.links else {
            return Ok(());
        };
        let io = |context: String| move |source| BpfError::Io { context, source };
        for (name, link) in attached {
            links
                .keep(name, link)
                .map_err(io(format!("pinning the {name} link")))?;
        }
        for name in CONNECT_PROGRAMS.into_iter().chain([SOCK_OPS_PROGRAM]) {
            let removed = links
                .remove_leftovers(name)
                .map_err(io(format!("removing the {name} links left pinned")))?;
            if !removed.is_empty() {
                tracing::info!(
                    ?removed,
                    "replaced the cgroup links a fail-closed agent left pinned"
                );
            }
        }
        Ok(())
    }
}

/// Maps a link conversion error to `BpfError::Io`.
fn link_error(name: &'static str) -> impl FnOnce(aya::programs::links::LinkError) -> BpfError {
    move |source| BpfError::Io {
        context: format!("taking the {name} link to pin it"),
        source: std::io::Error::other(source),
    }
}
