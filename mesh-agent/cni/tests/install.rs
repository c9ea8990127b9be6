//! `mesh-cni install|uninstall` run as the DaemonSet runs them, on scratch bin and conf dirs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const FLANNEL: &str = "{\n  \"name\": \"cbr0\",\n  \"cniVersion\": \"0.3.1\",\n  \"plugins\": [ {\"type\": \"flannel\"}, {\"type\": \"portmap\"} ]\n}\n";

/// `bin/` and `net.d/` in a scratch directory, removed on drop.
struct Node(PathBuf);

impl Node {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("mesh-cni-install-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::create_dir_all(dir.join("net.d")).unwrap();
        std::fs::write(dir.join("net.d/10-flannel.conflist"), FLANNEL).unwrap();
        Node(dir)
    }
    fn conflist(&self) -> String {
        std::fs::read_to_string(self.0.join("net.d/10-flannel.conflist")).unwrap()
    }
    fn plugin(&self) -> PathBuf {
        self.0.join("bin/mesh-cni")
    }
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mesh-cni"));
        cmd.args(args)
            .arg("--bin-dir")
            .arg(self.0.join("bin"))
            .arg("--conf-dir")
            .arg(self.0.join("net.d"));
        cmd
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn terminate(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
}

#[test]
fn install_then_uninstall_leaves_the_node_as_it_was() {
    let node = Node::new();
    let out = node
        .command(&["install", "--agent-socket", "/run/x/enroll.sock"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(is_executable(&node.plugin()));
    assert!(
        node.conflist()
            .contains("\"agent_socket\": \"/run/x/enroll.sock\""),
        "{}",
        node.conflist()
    );
    let out = node.command(&["uninstall"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!node.plugin().exists());
    assert_eq!(node.conflist(), FLANNEL);
}

#[test]
fn install_without_a_primary_network_says_so() {
    let node = Node::new();
    std::fs::remove_file(node.0.join("net.d/10-flannel.conflist")).unwrap();
    let out = node.command(&["install"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no network configuration in"), "{stderr}");
}

#[test]
fn watch_appends_again_after_a_rewrite_and_cleans_up_on_sigterm() {
    let node = Node::new();
    let mut child = node.command(&["install", "--watch"]).spawn().unwrap();
    wait_for("the first append", || node.conflist().contains("mesh-cni"));
    std::fs::write(node.0.join("net.d/10-flannel.conflist"), FLANNEL).unwrap();
    wait_for("the append after the rewrite", || {
        node.conflist().contains("mesh-cni")
    });
    terminate(&mut child);
    assert_eq!(node.conflist(), FLANNEL);
    assert!(!node.plugin().exists());
}

#[test]
fn watch_keeps_everything_on_exit_when_asked() {
    let node = Node::new();
    let mut child = node
        .command(&["install", "--watch", "--keep-on-exit"])
        .spawn()
        .unwrap();
    wait_for("the first append", || node.conflist().contains("mesh-cni"));
    terminate(&mut child);
    assert!(node.conflist().contains("mesh-cni"));
    assert!(node.plugin().exists());
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}
