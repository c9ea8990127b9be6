//! Shared by the lab tests: a named test lab driven through the `mesh-lab` library (every call
//! bounded in time), torn down by a Drop guard, and checks for anything left behind.

use mesh_lab::lab::{self, ExecTarget, IpFamily, Lab, UpOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long one lab call (up, apply, exec, down …) may run before the test fails.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// A lab named for one test; `down` runs when it is dropped (also on panic).
pub struct TestLab {
    pub name: String,
}

impl TestLab {
    /// A fresh lab, or `None` (after printing `skipped: …`) without root or the tools it runs.
    pub fn new(name: &str) -> Option<TestLab> {
        if !is_root() {
            eprintln!("skipped: needs root");
            return None;
        }
        for tool in ["ip", "curl", "getent"] {
            if !has_command(tool) {
                eprintln!("skipped: no {tool} command");
                return None;
            }
        }
        let lab = TestLab {
            name: name.to_string(),
        };
        // A lab of this name left by an earlier run: removed (a failure shows in `up`).
        let _ = lab.try_down();
        Some(lab)
    }

    /// `lab up --no-build --nodes N FILES...` (files of `tests/data/`), which must succeed.
    pub fn up(&self, nodes: u8, files: &[&str]) {
        let paths: Vec<PathBuf> = files.iter().map(|f| data(f)).collect();
        require_workloads(&paths);
        if let Err(err) = self.try_up(nodes, &paths) {
            panic!("lab {} up failed: {err:#}", self.name);
        }
    }

    /// `lab up --no-build --ip-family FAMILY --nodes N FILES...` (files of `tests/data/`),
    /// which must succeed.
    pub fn up_in(&self, ip_family: IpFamily, nodes: u8, files: &[&str]) {
        let paths: Vec<PathBuf> = files.iter().map(|f| data(f)).collect();
        require_workloads(&paths);
        if let Err(err) = self.try_up_in(ip_family, nodes, &paths) {
            panic!("lab {} up failed: {err:#}", self.name);
        }
    }

    /// `lab up --no-build --nodes N PATHS...`.
    pub fn try_up(&self, nodes: u8, paths: &[PathBuf]) -> anyhow::Result<()> {
        self.try_up_in(IpFamily::Ipv4, nodes, paths)
    }

    /// `lab up --no-build --ip-family FAMILY --nodes N PATHS...`.
    pub fn try_up_in(
        &self,
        ip_family: IpFamily,
        nodes: u8,
        paths: &[PathBuf],
    ) -> anyhow::Result<()> {
        let opts = UpOptions {
            name: self.name.clone(),
            nodes,
            build: false,
            ip_family,
            fail_closed: false,
            ca_dir: None,
            node_labels: Vec::new(),
            cert_ttl_secs: None,
            agent_args: Vec::new(),
            plaintext: false,
        };
        let paths = paths.to_vec();
        within("lab up", move || Lab::up(&opts, &paths).map(drop))
    }

    /// `lab up --no-build --fail-closed --nodes N FILES...` (files of `tests/data/`), which
    /// must succeed.
    pub fn up_failing_closed(&self, nodes: u8, files: &[&str]) {
        let paths: Vec<PathBuf> = files.iter().map(|f| data(f)).collect();
        require_workloads(&paths);
        let opts = UpOptions {
            name: self.name.clone(),
            nodes,
            build: false,
            ip_family: IpFamily::Ipv4,
            fail_closed: true,
            ca_dir: None,
            node_labels: Vec::new(),
            cert_ttl_secs: None,
            agent_args: Vec::new(),
            plaintext: false,
        };
        within("lab up", move || Lab::up(&opts, &paths).map(drop))
            .unwrap_or_else(|err| panic!("lab {} up failed: {err:#}", self.name));
    }

    /// `lab up --no-build --cert-ttl-secs SECS --nodes N FILES...` (files of `tests/data/`):
    /// the agents ask for certificates of that lifetime; must succeed.
    pub fn up_with_cert_ttl(&self, nodes: u8, files: &[&str], secs: u64) {
        let opts = UpOptions {
            name: self.name.clone(),
            nodes,
            build: false,
            ip_family: IpFamily::Ipv4,
            fail_closed: false,
            ca_dir: None,
            node_labels: Vec::new(),
            cert_ttl_secs: Some(secs),
            agent_args: Vec::new(),
            plaintext: false,
        };
        let paths: Vec<PathBuf> = files.iter().map(|f| data(f)).collect();
        require_workloads(&paths);
        within("lab up", move || Lab::up(&opts, &paths).map(drop))
            .unwrap_or_else(|err| panic!("lab {} up failed: {err:#}", self.name));
    }

    /// `lab up --no-build --ca-dir DIR --nodes N FILES...` (files of `tests/data/`): the lab's
    /// CA signs with Istio's plug-in files in `ca_dir`; must succeed.
    pub fn up_with_ca_dir(&self, nodes: u8, files: &[&str], ca_dir: &Path) {
        let opts = UpOptions {
            name: self.name.clone(),
            nodes,
            build: false,
            ip_family: IpFamily::Ipv4,
            fail_closed: false,
            ca_dir: Some(ca_dir.to_path_buf()),
            node_labels: Vec::new(),
            cert_ttl_secs: None,
            agent_args: Vec::new(),
            plaintext: false,
        };
        let paths: Vec<PathBuf> = files.iter().map(|f| data(f)).collect();
        within("lab up", move || Lab::up(&opts, &paths).map(drop))
            .unwrap_or_else(|err| panic!("lab {} up failed: {err:#}", self.name));
    }

    /// `lab up --no-build --node-label L... --nodes N FILES...` (files of `tests/data/`; labels
    /// `NODE:KEY=VALUE`), which must succeed.
    pub fn up_with_node_labels(&self, nodes: u8, files: &[&str], labels: &[&str]) {
        let paths: Vec<PathBuf> = files.iter().map(|f| data(f)).collect();
        require_workloads(&paths);
        let opts = UpOptions {
            name: self.name.clone(),
            nodes,
            build: false,
            ip_family: IpFamily::Ipv4,
            fail_closed: false,
            ca_dir: None,
            node_labels: labels
                .iter()
                .map(|l| l.parse().expect("NODE:KEY=VALUE"))
                .collect(),
            cert_ttl_secs: None,
            agent_args: Vec::new(),
            plaintext: false,
        };
        within("lab up", move || Lab::up(&opts, &paths).map(drop))
            .unwrap_or_else(|err| panic!("lab {} up failed: {err:#}", self.name));
    }

    /// `lab up --no-build --nodes N PATHS...` with `agent_args` added to this lab's agents (and
    /// without certificates when `plaintext`), which must succeed.
    pub fn up_with_agents(
        &self,
        nodes: u8,
        paths: &[PathBuf],
        agent_args: &[&str],
        plaintext: bool,
    ) {
        require_workloads(paths);
        let opts = UpOptions {
            name: self.name.clone(),
            nodes,
            build: false,
            ip_family: IpFamily::Ipv4,
            fail_closed: false,
            ca_dir: None,
            node_labels: Vec::new(),
            cert_ttl_secs: None,
            agent_args: agent_args.iter().map(|a| a.to_string()).collect(),
            plaintext,
        };
        let paths = paths.to_vec();
        within("lab up", move || Lab::up(&opts, &paths).map(drop))
            .unwrap_or_else(|err| panic!("lab {} up failed: {err:#}", self.name));
    }

    /// `lab dns set NAME ADDRESS...`, which must succeed.
    pub fn set_dns_name(&self, host: &str, addresses: &[std::net::IpAddr]) {
        let (name, host, addresses) = (self.name.clone(), host.to_string(), addresses.to_vec());
        within("lab dns set", move || {
            Lab::open(&name)?.set_dns_name(&host, addresses)
        })
        .unwrap_or_else(|err| panic!("lab dns set failed: {err:#}"));
    }

    /// The running lab, opened.
    pub fn open(&self) -> Lab {
        Lab::open(&self.name).unwrap_or_else(|err| panic!("lab {}: {err:#}", self.name))
    }

    /// `lab apply|delete FILE` (a file of `tests/data/`), which must succeed.
    pub fn kubectl(&self, verb: &str, file: &str) {
        let path = data(file);
        let done = match verb {
            "apply" => self.try_apply(&path),
            "delete" => self.try_delete(&path),
            _ => panic!("no lab verb {verb:?}"),
        };
        if let Err(err) = done {
            panic!("lab {verb} {file} failed: {err:#}");
        }
    }

    /// `lab apply PATH`.
    pub fn try_apply(&self, path: &Path) -> anyhow::Result<()> {
        let (name, paths) = (self.name.clone(), vec![path.to_path_buf()]);
        within("lab apply", move || Lab::open(&name)?.apply(&paths))
    }

    /// `lab delete PATH`.
    pub fn try_delete(&self, path: &Path) -> anyhow::Result<()> {
        let (name, paths) = (self.name.clone(), vec![path.to_path_buf()]);
        within("lab delete", move || Lab::open(&name)?.delete(&paths))
    }

    /// `lab exec -n NS POD -- ARGV...`.
    pub fn exec(&self, ns: &str, pod: &str, argv: &[&str]) -> Output {
        let target = ExecTarget::Pod {
            namespace: ns.into(),
            name: pod.into(),
        };
        output_within(self.command(&target, argv))
    }

    /// `lab exec --node NODE -- ARGV...`.
    pub fn exec_node(&self, node: &str, argv: &[&str]) -> Output {
        output_within(self.command(&ExecTarget::Node(node.into()), argv))
    }

    /// The command `lab exec` runs for `argv` in `target`, not started.
    pub fn command(&self, target: &ExecTarget, argv: &[&str]) -> Command {
        let argv: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
        let lab = Lab::open(&self.name).unwrap_or_else(|e| panic!("{e:#}"));
        lab.exec_command(target, &argv)
            .unwrap_or_else(|e| panic!("lab exec {argv:?}: {e:#}"))
    }

    /// Like `exec`, retried (bounded) until it succeeds: servers take a moment to listen.
    pub fn exec_until_ok(&self, ns: &str, pod: &str, argv: &[&str]) -> Output {
        let mut out = self.exec(ns, pod, argv);
        for _ in 0..100 {
            if out.status.success() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            out = self.exec(ns, pod, argv);
        }
        ok(out)
    }

    /// `lab status` output, which must succeed.
    pub fn status(&self) -> String {
        self.try_status()
            .unwrap_or_else(|e| panic!("lab status: {e:#}"))
    }

    /// `lab status` output.
    pub fn try_status(&self) -> anyhow::Result<String> {
        Ok(Lab::open(&self.name)?.status().to_string())
    }

    /// `lab agent stop NODE`, which must succeed.
    pub fn stop_agent(&self, node: &str) {
        let (name, node) = (self.name.clone(), node.to_string());
        within("lab agent stop", move || {
            Lab::open(&name)?.stop_agent(&node)
        })
        .unwrap_or_else(|e| panic!("lab agent stop: {e:#}"));
    }

    /// `lab agent start NODE`, which must succeed.
    pub fn start_agent(&self, node: &str) {
        let (name, node) = (self.name.clone(), node.to_string());
        within("lab agent start", move || {
            Lab::open(&name)?.start_agent(&node)
        })
        .unwrap_or_else(|e| panic!("lab agent start: {e:#}"));
    }

    /// `lab agent start NODE --fail-closed`, which must succeed.
    pub fn start_agent_failing_closed(&self, node: &str) {
        let (name, node) = (self.name.clone(), node.to_string());
        within("lab agent start --fail-closed", move || {
            Lab::open(&name)?.start_agent_failing_closed(&node)
        })
        .unwrap_or_else(|e| panic!("lab agent start --fail-closed: {e:#}"));
    }

    /// `lab agent upgrade NODE` (with another eBPF object for the successor, when given): the
    /// successor's pid, or why it did not take over.
    pub fn try_upgrade_agent(&self, node: &str, object: Option<PathBuf>) -> anyhow::Result<u32> {
        let (name, node) = (self.name.clone(), node.to_string());
        within("lab agent upgrade", move || {
            Lab::open(&name)?.upgrade_agent(&node, object.as_deref())
        })
    }

    /// `lab agent kill NODE`, which must succeed.
    pub fn kill_agent(&self, node: &str) {
        let (name, node) = (self.name.clone(), node.to_string());
        within("lab agent kill", move || {
            Lab::open(&name)?.kill_agent(&node)
        })
        .unwrap_or_else(|e| panic!("lab agent kill: {e:#}"));
    }

    /// `lab top --once`: the table over the next second.
    pub fn top(&self) -> String {
        let name = self.name.clone();
        within("lab top", move || Ok(Lab::open(&name)?.top()))
            .unwrap_or_else(|e: anyhow::Error| panic!("lab top: {e:#}"))
    }

    /// `lab down`, which must succeed.
    pub fn down(&self) {
        if let Err(err) = self.try_down() {
            panic!("lab {} down failed: {err:#}", self.name);
        }
    }

    /// `lab down`.
    pub fn try_down(&self) -> anyhow::Result<()> {
        let name = self.name.clone();
        within("lab down", move || lab::down(&name))
    }

    /// Everything of this lab still present: netns, /etc/netns entries, its cgroup root.
    pub fn leftovers(&self) -> Vec<String> {
        let prefix = format!("{}-", self.name);
        let mut left: Vec<String> = netns_names()
            .into_iter()
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("netns {n}"))
            .collect();
        for entry in std::fs::read_dir("/etc/netns")
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) {
                left.push(format!("/etc/netns/{name}"));
            }
        }
        let root = self.cgroup_root();
        if root.exists() {
            left.push(format!("cgroup {}", root.display()));
        }
        left
    }

    /// `<cgroup2>/<lab>-lab`.
    pub fn cgroup_root(&self) -> PathBuf {
        cgroup2_mount().join(format!("{}-lab", self.name))
    }

    /// Pids in a pod's cgroup.
    pub fn pod_pids(&self, node: &str, ns: &str, pod: &str) -> Vec<i32> {
        let procs = self
            .cgroup_root()
            .join(node)
            .join(format!("{ns}.{pod}"))
            .join("cgroup.procs");
        let text = std::fs::read_to_string(procs).unwrap_or_default();
        text.lines().filter_map(|l| l.trim().parse().ok()).collect()
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        if let Err(err) = self.try_down() {
            eprintln!("lab {} down failed: {err:#}", self.name);
        }
    }
}

/// Runs `call` on a thread of its own and waits for it at most [`CALL_TIMEOUT`]; fails the
/// test if it takes longer (the call is left running: something in the lab hangs).
fn within<T: Send + 'static>(
    what: &str,
    call: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(call()));
    rx.recv_timeout(CALL_TIMEOUT)
        .unwrap_or_else(|_| panic!("{what} did not finish within {CALL_TIMEOUT:?}"))
}

/// Runs `cmd` with its output captured; killed, and the test failed, after [`CALL_TIMEOUT`].
pub fn output_within(mut cmd: Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(CALL_TIMEOUT) {
        Ok(output) => output.expect("reading the command's output"),
        Err(_) => {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("{cmd:?} did not finish within {CALL_TIMEOUT:?}");
        }
    }
}

/// A binary of the workspace's dev build (`target/debug/NAME`), where the lab finds it.
pub fn built(binary: &str) -> PathBuf {
    lab::target_dir().join("debug").join(binary)
}

/// Panics, saying how to build them, when workloads the YAML in `paths` runs are not built.
fn require_workloads(paths: &[PathBuf]) {
    for binary in ["sample-app", "mesh-load"] {
        let used = paths
            .iter()
            .any(|p| std::fs::read_to_string(p).is_ok_and(|text| text.contains(binary)));
        assert!(
            !used || built(binary).is_file(),
            "{} is not built: run `cargo build --bins -p mesh-workloads -p mesh-agent`",
            built(binary).display()
        );
    }
}

/// A test data file.
pub fn data(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file)
}

/// Asserts success, showing stdout and stderr otherwise.
pub fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    out
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Whether a process is gone (or a zombie nobody reaped yet).
pub fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

pub fn netns_names() -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    stdout(&out)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect()
}

fn cgroup2_mount() -> PathBuf {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let line = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some("cgroup2"));
    PathBuf::from(
        line.and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("/sys/fs/cgroup"),
    )
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub fn has_command(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `target/lab/<name>/`, the lab's directory.
pub fn lab_dir(name: &str) -> PathBuf {
    lab::labs_dir().join(name)
}

/// The line of `lab status` for pod `ns/name`.
pub fn status_line<'s>(status: &'s str, pod: &str) -> &'s str {
    let key = format!("{pod} ");
    status
        .lines()
        .find(|l| l.starts_with(&key))
        .unwrap_or_else(|| panic!("no {pod} in:\n{status}"))
}
