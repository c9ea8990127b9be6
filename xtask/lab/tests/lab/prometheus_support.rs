//! A real Prometheus for the lab tests: started in node-1's netns scraping every agent each
//! second, queried over its HTTP API from inside the netns, stopped and wiped on drop.

use crate::support::{stdout, TestLab};
use mesh_lab::lab::ExecTarget;
use serde_json::Value;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

/// Where the Debian package installs it.
pub const PROMETHEUS: &str = "/usr/bin/prometheus";
const API: &str = "http://127.0.0.1:9090/api/v1/query";
/// Polls of Prometheus (every 500 ms) before giving up.
const POLLS: usize = 120;

/// Prometheus running in node-1's netns, in its own process group; killed and its data
/// removed on drop.
pub struct RunningPrometheus {
    child: Child,
    dir: PathBuf,
}

impl RunningPrometheus {
    /// Starts Prometheus for lab `lab` of `nodes` nodes.
    pub fn start(lab: &TestLab, nodes: u8) -> Self {
        let dir =
            std::env::temp_dir().join(format!("{}-prometheus-{}", lab.name, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(dir.join("prometheus.yml"), config(nodes)).unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = lab
            .command(&ExecTarget::Node("node-1".into()), &[PROMETHEUS])
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg("--web.listen-address=127.0.0.1:9090")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("starting prometheus");
        Self { child, dir }
    }

    /// What Prometheus logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for RunningPrometheus {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Scrape every node's agent (10.250.0.N:15020) each second.
fn config(nodes: u8) -> String {
    let targets: Vec<String> = (1..=nodes)
        .map(|n| format!("'10.250.0.{n}:15020'"))
        .collect();
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: mesh-agent\n    static_configs:\n      - targets: [{}]\n",
        targets.join(", ")
    )
}

/// Runs `query` against Prometheus inside node-1's netns: the result vector, or `None` when
/// Prometheus does not answer (yet).
pub fn query(lab: &TestLab, promql: &str) -> Option<Vec<Value>> {
    let data = format!("query={promql}");
    let out = lab.exec_node(
        "node-1",
        &["curl", "-sS", "-m", "5", API, "--data-urlencode", &data],
    );
    let answer: Value = serde_json::from_str(&stdout(&out)).ok()?;
    (answer["status"] == "success").then(|| answer["data"]["result"].as_array().cloned())?
}

/// Each series of a result as (the value of label `by`, the sample value).
pub fn by_label(result: &[Value], by: &str) -> Vec<(String, f64)> {
    let mut rows: Vec<(String, f64)> = result
        .iter()
        .map(|series| {
            let label = series["metric"][by]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let value = series["value"][1]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN);
            (label, value)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// Polls `promql` until `done` accepts its result; panics with the last one otherwise.
pub fn await_answer(
    lab: &TestLab,
    prom: &RunningPrometheus,
    promql: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mut last = None;
    for _ in 0..POLLS {
        last = query(lab, promql);
        if last.as_deref().is_some_and(&done) {
            return last.unwrap();
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!(
        "no satisfying answer to {promql}: {last:?}\nprometheus log:\n{}",
        prom.log()
    );
}
