//! Privileged: the hand-over on upgrade with real eBPF and a pod netns. A successor loads the
//! maps from its predecessor's pins: after the predecessor hands over and goes, a pod only the
//! predecessor enrolled is still captured (by the successor's programs, from the shared
//! entries), and the pins stay until the successor goes. A listener in a pod's netns handed over
//! is the one the successor's `listen` takes there, its queued connection included.

use std::net::SocketAddr;
use std::path::Path;

use crate::harness::namespaced;
use crate::harness::namespaced::cgroup::TestCgroup;
use crate::harness::namespaced::pod::{accept, assert_nothing_queued, TestPod, SERVICE};
use crate::harness::namespaced::sock::{connect_in, Connect};
use mesh_agent::bpf::{LoadOptions, MeshBpf};
use mesh_agent::capture::{OriginalDsts, PodCapture};

fn load(pin_dir: &Path, shared_maps: bool) -> MeshBpf {
    load_in(pin_dir, shared_maps, 0)
}

fn load_in(pin_dir: &Path, shared_maps: bool, agent_cgroup: u64) -> MeshBpf {
    let options = LoadOptions {
        pin_dir: Some(pin_dir.to_path_buf()),
        shared_maps,
        agent_cgroup,
        ..LoadOptions::default()
    };
    MeshBpf::load_with(&namespaced::object_path(), &options).expect("load")
}

#[test]
fn a_successor_captures_the_predecessors_pods_from_the_shared_maps() {
    if !namespaced::running_as_root() {
        return;
    }
    let name = namespaced::unique_name("mesh-handover");
    let dir = Path::new("/sys/fs/bpf/mesh").join(&name);
    let pod = TestPod::new(&name, "10.219.0.2".parse().unwrap(), Some("10.219.0.2/32"));
    let cgroup = TestCgroup::new(&name);
    let predecessor = load(&dir, false);
    predecessor.attach_cgroup(cgroup.path()).expect("attach");
    predecessor.enroll(&pod.captured(&[])).expect("enroll");

    let successor = load(&dir, true);
    successor
        .attach_cgroup(cgroup.path())
        .expect("the successor attaches beside it");
    predecessor.hand_over().expect("hand over");
    drop(predecessor);
    assert!(
        dir.join("ENROLLED").exists(),
        "the pins stay for the successor"
    );

    let service: SocketAddr = SERVICE.parse().unwrap();
    let errno = connect_in(Some(cgroup.path()), &pod.netns_file, Connect::to(service));
    assert_eq!(errno, 0, "connect: errno {errno}");
    let (_conn, peer) = accept(&pod.outbound);
    assert_nothing_queued(&pod.service);
    assert_eq!(successor.take(pod.cookie, peer), Some(service));

    drop(successor);
    assert!(!dir.exists(), "the last agent's pins go with it");
}

/// A DaemonSet's surge pod: the two agents run in different cgroups. While both are attached,
/// neither's programs capture the other's upstream connects (`AGENT_CGROUPS`, shared).
#[test]
fn agents_in_two_cgroups_never_capture_each_others_connects() {
    if !namespaced::running_as_root() {
        return;
    }
    let name = namespaced::unique_name("mesh-handover-cg");
    let dir = Path::new("/sys/fs/bpf/mesh").join(&name);
    let pod = TestPod::new(&name, "10.219.2.2".parse().unwrap(), Some("10.219.2.2/32"));
    let pods = TestCgroup::new(&name);
    let (old, new, app) = (
        pods.child("agent-old"),
        pods.child("agent-new"),
        pods.child("app"),
    );
    let predecessor = load_in(&dir, false, old.id());
    predecessor.attach_cgroup(pods.path()).expect("attach");
    predecessor.enroll(&pod.captured(&[])).expect("enroll");
    let successor = load_in(&dir, true, new.id());
    successor.attach_cgroup(pods.path()).expect("attach");

    let service: SocketAddr = SERVICE.parse().unwrap();
    for agent in [&new, &old] {
        let errno = connect_in(Some(agent.path()), &pod.netns_file, Connect::to(service));
        assert_eq!(
            errno,
            0,
            "connect from {}: errno {errno}",
            agent.path().display()
        );
        accept(&pod.service);
        assert_nothing_queued(&pod.outbound);
    }
    // The pod's own connects are still captured.
    let errno = connect_in(Some(app.path()), &pod.netns_file, Connect::to(service));
    assert_eq!(errno, 0);
    accept(&pod.outbound);
    drop((predecessor, successor));
}

#[tokio::test]
async fn a_pod_listener_handed_over_is_taken_with_its_queue() {
    if !namespaced::running_as_root() {
        return;
    }
    let name = namespaced::unique_name("mesh-handover-fd");
    let pod = TestPod::new(&name, "10.219.1.2".parse().unwrap(), Some("10.219.1.2/32"));
    let netns = mesh_agent::net::Netns::open(Path::new(&pod.netns.path())).expect("netns");
    let addr: SocketAddr = "10.219.1.2:15099".parse().unwrap();
    let old = mesh_agent::net::listen(&netns, addr).await.expect("listen");

    // What a predecessor sends; the successor keeps it, keyed by the pod's netns and address.
    mesh_agent::net::inherit(mesh_agent::net::alive_listeners().unwrap()).unwrap();
    let client = pod
        .netns
        .run(move || std::net::TcpStream::connect(addr).unwrap());
    drop(old);
    let new = mesh_agent::net::listen(&netns, addr)
        .await
        .expect("taken, not bound");
    let accepted = tokio::time::timeout(std::time::Duration::from_secs(5), new.accept()).await;
    let (_accepted, peer) = accepted.expect("the queued connection").unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
}
