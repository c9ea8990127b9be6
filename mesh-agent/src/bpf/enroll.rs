//! Enrolling pods: the `ENROLLED` and `POD_ADDRS` entries, the inbound listener in
//! `LISTENERS`, and the `sk_lookup` link in the pod's netns (kept per pod, dropped on
//! unenroll; pinned as `sk_lookup-<netns cookie>` when the agent fails closed, replacing the one
//! a fail-closed predecessor pinned for that pod).

use super::loader::{failed, program, BpfError, MeshBpf, SK_LOOKUP_PROGRAM};
use crate::capture::{CapturedPod, PodCapture};
use aya::maps::{HashMap, MapData, MapError, SockHash};
use aya::programs::sk_lookup::SkLookupLinkId;
use aya::programs::SkLookup;
use mesh_common::{KernelIp, PodInfo};
use std::os::fd::AsRawFd;
use std::sync::{Mutex, MutexGuard};

/// The enrollment maps and the pods enrolled through them.
pub(crate) struct EnrollmentMaps {
    enrolled: HashMap<MapData, u64, PodInfo>,
    pod_addrs: HashMap<MapData, KernelIp, PodInfo>,
    listeners: SockHash<MapData, KernelIp>,
    links: std::collections::HashMap<u64, EnrolledPod>,
}

/// What unenroll needs to undo.
struct EnrolledPod {
    info: PodInfo,
    /// The link aya keeps for us; `None` when it is pinned (fail-closed: `LinkPins` holds it).
    sk_lookup: Option<SkLookupLinkId>,
}

impl EnrollmentMaps {
    pub(super) fn new(
        enrolled: HashMap<MapData, u64, PodInfo>,
        pod_addrs: HashMap<MapData, KernelIp, PodInfo>,
        listeners: SockHash<MapData, KernelIp>,
    ) -> Self {
        EnrollmentMaps {
            enrolled,
            pod_addrs,
            listeners,
            links: Default::default(),
        }
    }

    /// Fills the maps for one pod: `LISTENERS` and `POD_ADDRS` per pod IP.
    fn insert(&mut self, pod: &CapturedPod<'_>, info: &PodInfo) -> Result<(), MapError> {
        for (ip, listener) in &pod.inbound_listeners {
            let ip = KernelIp::from_ip(*ip);
            self.listeners.insert(ip, listener.as_raw_fd(), 0)?;
            self.pod_addrs.insert(ip, info, 0)?;
        }
        self.enrolled.insert(pod.netns_cookie, info, 0)
    }

    /// Removes one pod's entries; missing entries are fine.
    fn remove(&mut self, netns_cookie: u64, info: &PodInfo) -> Result<(), MapError> {
        ignore_missing(self.enrolled.remove(&netns_cookie))?;
        for ip in info.pod_ips() {
            ignore_missing(self.pod_addrs.remove(&ip))?;
            ignore_missing(self.listeners.remove(&ip))?;
        }
        Ok(())
    }
}

fn ignore_missing(result: Result<(), MapError>) -> Result<(), MapError> {
    match result {
        Err(MapError::KeyNotFound) => Ok(()),
        Err(MapError::SyscallError(e)) if e.io_error.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        other => other,
    }
}

/// What the hooks need to know about `pod`.
fn pod_info(pod: &CapturedPod<'_>) -> PodInfo {
    PodInfo::new(&pod.pod_ips(), &pod.node_ips)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl MeshBpf {
    /// Attaches `sk_lookup` to a pod's netns.
    fn attach_sk_lookup(&self, pod: &CapturedPod<'_>) -> Result<SkLookupLinkId, BpfError> {
        let mut ebpf = lock(&self.ebpf);
        let sk_lookup = program::<SkLookup>(&mut ebpf, SK_LOOKUP_PROGRAM)?;
        sk_lookup
            .attach(pod.netns)
            .map_err(failed(SK_LOOKUP_PROGRAM))
    }

    /// Detaches the pod's `sk_lookup` link: ours, pinned or not, and one a fail-closed
    /// predecessor pinned.
    fn detach_sk_lookup(
        &self,
        netns_cookie: u64,
        link: Option<SkLookupLinkId>,
    ) -> Result<(), BpfError> {
        self.unpin_sk_lookup(netns_cookie, true)?;
        let Some(link) = link else {
            return Ok(());
        };
        let mut ebpf = lock(&self.ebpf);
        let sk_lookup = program::<SkLookup>(&mut ebpf, SK_LOOKUP_PROGRAM)?;
        sk_lookup.detach(link).map_err(failed(SK_LOOKUP_PROGRAM))
    }

    /// Pins the pod's `sk_lookup` link (fail-closed: `None` is returned, the pin holds it),
    /// then removes the one a predecessor pinned for the pod: ours selects the listener now.
    fn pin_sk_lookup(
        &self,
        netns_cookie: u64,
        link: SkLookupLinkId,
    ) -> Result<Option<SkLookupLinkId>, BpfError> {
        let Some(links) = &self.links else {
            return Ok(Some(link));
        };
        let name = sk_lookup_pin(netns_cookie);
        let io = |source| BpfError::Io {
            context: format!("pinning {name}"),
            source,
        };
        if links.fail_closed() {
            let mut ebpf = lock(&self.ebpf);
            let sk_lookup = program::<SkLookup>(&mut ebpf, SK_LOOKUP_PROGRAM)?;
            let link = sk_lookup
                .take_link(link)
                .map_err(failed(SK_LOOKUP_PROGRAM))?;
            drop(ebpf);
            links.keep(&name, link.into()).map_err(io)?;
            self.unpin_sk_lookup(netns_cookie, false)?;
            return Ok(None);
        }
        self.unpin_sk_lookup(netns_cookie, false)?;
        Ok(Some(link))
    }

    /// Removes the pod's `sk_lookup` pins: a predecessor's, and with `own` ours.
    fn unpin_sk_lookup(&self, netns_cookie: u64, own: bool) -> Result<(), BpfError> {
        let Some(links) = &self.links else {
            return Ok(());
        };
        let name = sk_lookup_pin(netns_cookie);
        let io = |source| BpfError::Io {
            context: format!("unpinning {name}"),
            source,
        };
        if own {
            links.release(&name).map_err(io)?;
        }
        links.remove_leftovers(&name).map_err(io)?;
        Ok(())
    }

    fn try_enroll(&self, pods: &mut EnrollmentMaps, pod: &CapturedPod<'_>) -> Result<(), BpfError> {
        let info = pod_info(pod);
        pods.insert(pod, &info).map_err(Box::new)?;
        let sk_lookup = self.attach_sk_lookup(pod)?;
        let sk_lookup = self.pin_sk_lookup(pod.netns_cookie, sk_lookup)?;
        let enrolled = EnrolledPod { info, sk_lookup };
        pods.links.insert(pod.netns_cookie, enrolled);
        Ok(())
    }
}

impl PodCapture for MeshBpf {
    fn enroll(&self, pod: &CapturedPod<'_>) -> anyhow::Result<()> {
        // Enrolling again replaces this agent's previous enrollment. Entries without a link of
        // ours are overwritten in place, never removed first: a successor agent enrolls the pods
        // its predecessor enrolled in the maps they share, and capture must not lapse meanwhile.
        if lock(&self.pods).links.contains_key(&pod.netns_cookie) {
            self.unenroll(pod.netns_cookie)?;
        }
        let mut pods = lock(&self.pods);
        if let Err(e) = self.try_enroll(&mut pods, pod) {
            let _ = pods.remove(pod.netns_cookie, &pod_info(pod));
            let ips = pod.pod_ips();
            return Err(anyhow::Error::new(e).context(format!("enrolling pod {ips:?}")));
        }
        Ok(())
    }

    fn unenroll(&self, netns_cookie: u64) -> anyhow::Result<()> {
        let mut pods = lock(&self.pods);
        let Some(pod) = pods.links.remove(&netns_cookie) else {
            // Not enrolled by this agent: what a predecessor left for the pod goes.
            match pods.enrolled.get(&netns_cookie, 0) {
                Ok(info) => pods.remove(netns_cookie, &info)?,
                Err(e) => ignore_missing(Err(e))?,
            }
            drop(pods);
            return Ok(self.unpin_sk_lookup(netns_cookie, false)?);
        };
        pods.remove(netns_cookie, &pod.info)?;
        drop(pods);
        match self.detach_sk_lookup(netns_cookie, pod.sk_lookup) {
            // Already detached: nothing left to undo.
            Err(BpfError::Program { source, .. }) if is_gone(&source) => Ok(()),
            other => Ok(other?),
        }
    }
}

/// The pin name of a pod's `sk_lookup` link.
fn sk_lookup_pin(netns_cookie: u64) -> String {
    format!("sk_lookup-{netns_cookie}")
}

fn is_gone(error: &aya::programs::ProgramError) -> bool {
    matches!(error, aya::programs::ProgramError::NotAttached)
}
