//! The built `mesh-cni` binary run as a container runtime runs it (CNI_* environment, network
//! configuration on stdin) against a fake node agent: a Unix socket in the test that records
//! each request and gives a chosen answer.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// A scratch directory per test, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("mesh-cni-plugin-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn socket(&self) -> PathBuf {
        self.0.join("enroll.sock")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fake agent answering every connection's one request with `answer`; the requests it got.
fn fake_agent(socket: &Path, answer: Value) -> mpsc::Receiver<Value> {
    let listener = UnixListener::bind(socket).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut line = String::new();
            BufReader::new(&stream).read_line(&mut line).unwrap();
            tx.send(serde_json::from_str(&line).unwrap()).unwrap();
            (&stream)
                .write_all(format!("{answer}\n").as_bytes())
                .unwrap();
        }
    });
    rx
}

fn prev_result() -> Value {
    json!({
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "veth7"}, {"name": "eth0", "sandbox": "/var/run/netns/cart"}],
        "ips": [{"address": "10.244.1.5/24", "gateway": "10.244.1.1", "interface": 1}],
        "routes": [{"dst": "0.0.0.0/0", "gw": "10.244.1.1"}],
        "dns": {}
    })
}

fn netconf(socket: &Path) -> Value {
    json!({"cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "mesh-cni",
           "agent_socket": socket, "prevResult": prev_result()})
}

struct Run {
    code: i32,
    stdout: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", self.stdout))
    }
}

/// Runs the plugin for pod `ns/cart-0` with `command` and `stdin`.
fn cni(command: &str, ns: &str, stdin: &Value, extra: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mesh-cni"));
    cmd.env_clear()
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", "c0ffee")
        .env("CNI_NETNS", "/var/run/netns/cart")
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", "/opt/cni/bin")
        .env(
            "CNI_ARGS",
            format!("IgnoreUnknown=1;K8S_POD_NAMESPACE={ns};K8S_POD_NAME=cart-0;K8S_POD_UID=u-1"),
        )
        .envs(extra.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
    }
}

#[test]
fn add_sends_the_pod_and_returns_prev_result_unchanged() {
    let dir = Scratch::new();
    let got = fake_agent(
        &dir.socket(),
        json!({"ok": true, "enrolled": true, "pod": {}}),
    );
    let run = cni("ADD", "shop", &netconf(&dir.socket()), &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.json(), prev_result());
    let request = got.try_recv().unwrap();
    let want = json!({"op": "add", "namespace": "shop", "name": "cart-0", "uid": "u-1",
                      "container_id": "c0ffee", "netns": "/var/run/netns/cart",
                      "ips": ["10.244.1.5"], "node_ips": ["10.244.1.1"]});
    assert_eq!(request, want);
}

#[test]
fn add_lets_a_pod_the_agent_does_not_mesh_start() {
    let dir = Scratch::new();
    let answer =
        json!({"ok": true, "enrolled": false, "reason": "namespace shop is not in the mesh"});
    let got = fake_agent(&dir.socket(), answer);
    let run = cni("ADD", "shop", &netconf(&dir.socket()), &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.json(), prev_result());
    assert_eq!(got.try_recv().unwrap()["op"], "add");
}

#[test]
fn add_fails_with_the_agents_error() {
    let dir = Scratch::new();
    let _got = fake_agent(
        &dir.socket(),
        json!({"ok": false, "error": "netns holds no 10.244.1.5"}),
    );
    let run = cni("ADD", "shop", &netconf(&dir.socket()), &[]);
    assert_ne!(run.code, 0);
    let error = run.json();
    assert_eq!(error["code"], 100);
    assert_eq!(error["cniVersion"], "1.0.0");
    let details = error["details"].as_str().unwrap();
    assert!(details.contains("pod shop/cart-0"), "{details}");
    assert!(
        details.contains(dir.socket().to_str().unwrap()),
        "{details}"
    );
    assert!(details.contains("netns holds no 10.244.1.5"), "{details}");
}

#[test]
fn add_fails_when_the_agent_is_unreachable() {
    let dir = Scratch::new();
    let run = cni("ADD", "shop", &netconf(&dir.socket()), &[]);
    assert_ne!(run.code, 0);
    let error = run.json();
    assert_eq!(
        error["code"], 11,
        "try again later: the runtime retries the sandbox"
    );
    let details = error["details"].as_str().unwrap();
    assert!(details.contains("pod shop/cart-0"), "{details}");
    assert!(
        details.contains("unreachable") && details.contains(dir.socket().to_str().unwrap()),
        "{details}"
    );
}

#[test]
fn excluded_namespaces_are_never_sent_nor_blocked() {
    let dir = Scratch::new(); // no agent at all
    for command in ["ADD", "DEL", "CHECK"] {
        let run = cni(command, "kube-system", &netconf(&dir.socket()), &[]);
        assert_eq!(run.code, 0, "{command}: {}", run.stdout);
    }
    assert_eq!(
        cni("ADD", "kube-system", &netconf(&dir.socket()), &[]).json(),
        prev_result()
    );
    let mut conf = netconf(&dir.socket());
    conf["exclude_namespaces"] = json!(["infra"]);
    assert_eq!(cni("ADD", "infra", &conf, &[]).code, 0);
    assert_ne!(
        cni("ADD", "kube-system", &conf, &[]).code,
        0,
        "the list replaces the default"
    );
}

#[test]
fn del_succeeds_with_the_agent_down_and_sends_remove_when_up() {
    let dir = Scratch::new();
    let mut conf = netconf(&dir.socket());
    conf.as_object_mut().unwrap().remove("prevResult");
    let run = cni("DEL", "shop", &conf, &[("CNI_NETNS", "")]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""));
    let got = fake_agent(&dir.socket(), json!({"ok": true}));
    assert_eq!(cni("DEL", "shop", &conf, &[]).code, 0);
    let want = json!({"op": "remove", "namespace": "shop", "name": "cart-0", "uid": "u-1"});
    assert_eq!(got.try_recv().unwrap(), want);
}

#[test]
fn check_asks_the_agent() {
    let dir = Scratch::new();
    let got = fake_agent(
        &dir.socket(),
        json!({"ok": false, "error": "pod shop/cart-0 is not enrolled"}),
    );
    let run = cni("CHECK", "shop", &netconf(&dir.socket()), &[]);
    assert_ne!(run.code, 0);
    assert!(run.json()["details"]
        .as_str()
        .unwrap()
        .contains("is not enrolled"));
    assert_eq!(got.try_recv().unwrap()["op"], "check");
}

#[test]
fn version_lists_the_spec_versions() {
    let run = cni("VERSION", "shop", &json!({"cniVersion": "1.0.0"}), &[]);
    assert_eq!(run.code, 0);
    let versions = run.json()["supportedVersions"].clone();
    for v in ["0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
        assert!(
            versions.as_array().unwrap().contains(&json!(v)),
            "{versions}"
        );
    }
}

#[test]
fn a_0_3_1_configuration_gets_its_result_in_0_3_1() {
    let dir = Scratch::new();
    let _got = fake_agent(&dir.socket(), json!({"ok": true, "enrolled": true}));
    let prev = json!({"cniVersion": "0.3.1",
                      "ips": [{"version": "4", "address": "10.244.1.5/24", "gateway": "10.244.1.1"}]});
    let conf = json!({"cniVersion": "0.3.1", "name": "k8s", "type": "mesh-cni",
                      "agent_socket": dir.socket(), "prevResult": prev});
    let run = cni("ADD", "shop", &conf, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.json(), prev);
}

#[test]
fn bad_input_names_the_field() {
    let dir = Scratch::new();
    let mut conf = netconf(&dir.socket());
    conf.as_object_mut().unwrap().remove("prevResult");
    let error = cni("ADD", "shop", &conf, &[]).json();
    assert_eq!(error["code"], 7);
    assert!(
        error["details"].as_str().unwrap().contains("prevResult"),
        "{error}"
    );
    let error = cni("ADD", "shop", &netconf(&dir.socket()), &[("CNI_NETNS", "")]).json();
    assert_eq!(error["code"], 4);
    assert!(
        error["details"].as_str().unwrap().contains("CNI_NETNS"),
        "{error}"
    );
    let error = cni("ADD", "shop", &json!("not an object"), &[]).json();
    assert_eq!(error["code"], 6, "{error}");
}

#[test]
fn log_file_gets_a_line_per_call() {
    let dir = Scratch::new();
    let log = dir.0.join("cni.log");
    let mut conf = netconf(&dir.socket());
    conf["log_file"] = json!(log);
    cni("ADD", "kube-system", &conf, &[]);
    cni("ADD", "shop", &conf, &[]);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("c0ffee: ADD pod kube-system/cart-0: namespace excluded"),
        "{text}"
    );
    assert!(
        lines[1].contains("failed") && lines[1].contains("unreachable"),
        "{text}"
    );
}
