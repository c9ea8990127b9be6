//! Test network namespaces, made and removed with the lab's own primitives
//! (`mesh_lab::primitives`), and running code inside them.

use mesh_lab::primitives;
use std::fs::File;
use std::process::Command;

/// A named network namespace with `lo` up; deleted on drop.
pub struct TestNetns {
    name: String,
}

impl TestNetns {
    /// `ip netns add <name>` and `ip link set lo up` inside it.
    pub fn new(name: &str) -> Self {
        primitives::add_netns(name).unwrap_or_else(|e| panic!("{e:#}"));
        TestNetns {
            name: name.to_string(),
        }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace's file, `/var/run/netns/<name>`.
    pub fn path(&self) -> String {
        format!("/var/run/netns/{}", self.name)
    }

    /// Listening TCP sockets inside the namespace, as `ss -ltnH` prints them.
    pub fn listening(&self) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "ss", "-ltnH"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// An open fd of the namespace.
    pub fn file(&self) -> File {
        File::open(self.path()).expect("open netns")
    }

    /// `ip -n <name> ARGS...`, which must succeed.
    pub fn ip(&self, args: &[&str]) {
        primitives::ip_in(&self.name, args).unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// `ip netns exec <name> bash -c script`.
    pub fn bash(&self, script: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, "bash", "-c", script]);
        command
    }

    /// Runs `f` on a thread that entered this namespace (sockets it creates live there).
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let file = self.file();
        std::thread::spawn(move || {
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .expect("netns thread panicked")
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        if let Err(e) = primitives::delete_netns(&self.name) {
            eprintln!("warning: deleting netns {}: {e:#}", self.name);
        }
    }
}

/// `ip ARGS...`, which must succeed.
pub fn ip(args: &[&str]) {
    primitives::ip(args).unwrap_or_else(|e| panic!("{e:#}"));
}

/// Connects a veth pair between two namespaces with addresses (`10.x.y.z/24` style).
pub fn veth_pair(a: &TestNetns, a_addr: &str, b: &TestNetns, b_addr: &str) {
    let (a_if, b_if) = ("veth-a", "veth-b");
    a.ip(&[
        "link",
        "add",
        a_if,
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ]);
    a.ip(&["addr", "add", a_addr, "dev", a_if]);
    b.ip(&["addr", "add", b_addr, "dev", b_if]);
    a.ip(&["link", "set", a_if, "up"]);
    b.ip(&["link", "set", b_if, "up"]);
}
