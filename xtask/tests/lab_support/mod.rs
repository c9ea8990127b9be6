//! Shared by the lab tests: a named test lab driven through the built `xtask` binary, torn down
//! by a Drop guard, and checks for anything left behind.

#![allow(dead_code)] // each test file uses a different part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// How long one xtask invocation may run before `timeout` kills it.
const XTASK_TIMEOUT_SECS: &str = "120";

/// A lab named for one test; `down` runs when it is dropped (also on panic).
pub struct TestLab {
    pub name: String,
}

impl TestLab {
    /// A fresh lab, or `None` (after printing `skipped: …`) without root or `ip`.
    pub fn new(name: &str) -> Option<TestLab> {
        if !is_root() {
            eprintln!("skipped: needs root");
            return None;
        }
        for tool in ["ip", "curl", "getent", "timeout"] {
            if !has_command(tool) {
                eprintln!("skipped: no {tool} command");
                return None;
            }
        }
        let lab = TestLab {
            name: name.to_string(),
        };
        lab.xtask(&["down"]);
        Some(lab)
    }

    /// Runs `xtask lab --lab NAME ARGS...` (killed after a timeout).
    pub fn xtask(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("timeout");
        cmd.arg(XTASK_TIMEOUT_SECS)
            .arg(env!("CARGO_BIN_EXE_xtask"))
            .args(["lab", "--lab", &self.name])
            .args(args);
        cmd.output().expect("running xtask")
    }

    /// `lab up --no-build --nodes N FILES...`, which must succeed.
    pub fn up(&self, nodes: u8, files: &[&str]) -> Output {
        let nodes = nodes.to_string();
        let mut args = vec!["up", "--no-build", "--nodes", &nodes];
        let paths: Vec<String> = files
            .iter()
            .map(|f| data(f).display().to_string())
            .collect();
        args.extend(paths.iter().map(String::as_str));
        ok(self.xtask(&args))
    }

    /// `lab apply|delete FILE`, which must succeed.
    pub fn kubectl(&self, verb: &str, file: &str) -> Output {
        ok(self.xtask(&[verb, &data(file).display().to_string()]))
    }

    /// `lab exec -n NS POD -- ARGV...`.
    pub fn exec(&self, ns: &str, pod: &str, argv: &[&str]) -> Output {
        let mut args = vec!["exec", "-n", ns, pod, "--"];
        args.extend_from_slice(argv);
        self.xtask(&args)
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
        stdout(&ok(self.xtask(&["status"])))
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
        let out = self.xtask(&["down"]);
        if !out.status.success() {
            eprintln!("lab down failed: {}", stderr(&out));
        }
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

/// `target/lab/<name>/` as the lab computes it.
pub fn lab_dir(name: &str) -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
    };
    target.join("lab").join(name)
}

/// The line of `lab status` for pod `ns/name`.
pub fn status_line<'s>(status: &'s str, pod: &str) -> &'s str {
    let key = format!("{pod} ");
    status
        .lines()
        .find(|l| l.starts_with(&key))
        .unwrap_or_else(|| panic!("no {pod} in:\n{status}"))
}
