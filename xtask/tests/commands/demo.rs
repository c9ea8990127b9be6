//! `cargo xtask demo` end to end (root only): the lab comes up, the story's steps each show the
//! visitor's traffic through the ingress gateway with their own figures (all v1, a 90/10 and a
//! 50/50 canary, header routing, a fault, a mirror), and after `--duration` the demo takes the
//! lab down, leaving nothing behind.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");
/// Seconds of traffic, shared over the six steps.
const DURATION: &str = "30";
/// Far more than lab up + 30 s of traffic + lab down; only reached if the demo hangs.
const DEMO_TIMEOUT: Duration = Duration::from_secs(300);

/// Takes the demo's lab down whatever happens to the test.
struct DemoLabDown;

impl Drop for DemoLabDown {
    fn drop(&mut self) {
        if let Err(err) = mesh_lab::lab::down("demo") {
            eprintln!("lab demo down failed: {err:#}");
        }
    }
}

fn demo_netns() -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| l.starts_with("demo-"))
        .map(String::from)
        .collect()
}

/// The total of `<key>N` (e.g. `version:v1=`) over the `traffic` lines of step `step` (the
/// lines after `step N/6 <step>: …`).
fn figure(stdout: &str, step: &str, key: &str) -> u64 {
    let mut current = "";
    let mut total = 0;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("step ") {
            current = rest.split([' ', ':']).nth(1).unwrap_or_default();
        } else if line.starts_with("traffic ") && current == step {
            total += line
                .split_whitespace()
                .filter_map(|word| word.strip_prefix(key)?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    total
}

/// Requests answered by backend `version` in step `step`.
fn by_version(stdout: &str, step: &str, version: &str) -> u64 {
    figure(stdout, step, &format!("version:{version}="))
}

/// The demo lab's directory (`target/lab/demo`), removed by `lab down`.
fn lab_dir() -> PathBuf {
    mesh_lab::lab::labs_dir().join("demo")
}

fn missing_prerequisite() -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("the demo's lab needs root".into());
    }
    let target = mesh_lab::lab::target_dir().join("debug");
    for binary in ["sample-app", "mesh-agent", "mesh-cni"] {
        if !target.join(binary).exists() {
            return Some(format!(
                "{binary} not built (cargo build --bins -p mesh-agent -p mesh-cni -p mesh-workloads)"
            ));
        }
    }
    None
}

/// Runs `xtask demo --duration 30 --no-build`, killing it if it does not stop by itself.
fn run_demo() -> Output {
    let demo = Command::new(XTASK)
        .args(["demo", "--duration", DURATION, "--no-build"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xtask demo starts");
    let pid = Pid::from_raw(demo.id() as i32);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(demo.wait_with_output()));
    match rx.recv_timeout(DEMO_TIMEOUT) {
        Ok(output) => output.expect("the demo's output"),
        Err(_) => {
            let _ = kill(pid, Signal::SIGKILL);
            panic!("the demo did not stop by itself within {DEMO_TIMEOUT:?}");
        }
    }
}

#[test]
fn the_demo_tells_the_story_step_by_step_and_takes_its_lab_down() {
    if let Some(why) = missing_prerequisite() {
        eprintln!("skipped: {why}");
        return;
    }
    let _guard = DemoLabDown;
    let output = run_demo();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    eprintln!("{stderr}{stdout}");
    assert!(output.status.success(), "demo failed: {:?}", output.status);
    assert!(
        stdout.lines().any(|l| l.starts_with("mesh ")),
        "the mesh lines are shown"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("traffic ")),
        "per-second traffic lines"
    );
    // The live top view (`lab top`'s table): the gateway → frontend pair, from the agents.
    let top: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("mesh   "))
        .collect();
    assert!(
        top.iter().any(|l| l.contains("SOURCE")),
        "the top table is shown"
    );
    assert!(
        top.iter()
            .any(|l| l.contains("istio-ingressgateway") && l.contains("/frontend")),
        "the gateway → frontend pair is in the top table: {top:#?}"
    );
    assert!(stdout
        .lines()
        .any(|l| l.starts_with("total ") && !l.contains(" requests=0 ")));
    assert!(
        demo_netns().is_empty(),
        "namespaces left behind: {:?}",
        demo_netns()
    );
    assert!(!lab_dir().exists(), "{} left behind", lab_dir().display());
    let v = |step, version| by_version(&stdout, step, version);
    assert!(
        stdout.contains("kind: VirtualService"),
        "each step's YAML is printed"
    );
    assert!(v("1-all-to-v1", "v1") > 0 && v("1-all-to-v1", "v2") == 0);
    let (v1, v2) = (v("2-canary-90-10", "v1"), v("2-canary-90-10", "v2"));
    assert!(v2 > 0 && v1 > 3 * v2, "90/10: v1={v1} v2={v2}");
    let (v1, v2) = (v("3-canary-50-50", "v1"), v("3-canary-50-50", "v2"));
    assert!(
        v1 > 0 && v2 > 0 && v1 < 3 * v2 && v2 < 3 * v1,
        "50/50: v1={v1} v2={v2}"
    );
    assert!(v("4-header", "v2") > 0 && v("4-header", "v1") == 0);
    assert!(
        figure(&stdout, "5-fault", "code:502=") > 0,
        "the fault fails calls"
    );
    assert!(v("6-mirror", "v1") > 0 && v("6-mirror", "v2") == 0);
    // Each step ends on a frame of the whole step, the story on a table of every step; an HTTP
    // demo shows the requests the agents counted, not a TCP count of 0.
    assert!(
        stdout.contains("mesh top pairs, whole step"),
        "whole-step frames"
    );
    let table = stdout
        .split_once("the steps side by side")
        .map(|(_, table)| table)
        .expect("the table of the steps");
    for step in ["1-all-to-v1", "5-fault", "6-mirror"] {
        assert!(table.contains(step), "{step} in the table:\n{table}");
    }
    assert!(
        stdout.contains("mesh istio_requests_total "),
        "requests counted"
    );
    assert!(!stdout.contains("istio_tcp_connections_opened_total 0"));
}
