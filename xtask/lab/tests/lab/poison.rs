//! A resource past its range in the lab with real eBPF: `lab apply` of the serving
//! VirtualService with `timeout: 100000000000000000000s` is rejected and reported by the agent,
//! its last good version keeps the traffic where it was, and a later good change still applies
//! while the poisoned document is there (a panic used to drop that reload and every later one).

use crate::mesh_support::{curl, mesh_lab_of, metrics, sum};
use crate::support::{stdout, TestLab};
use std::collections::BTreeMap;
use std::thread::sleep;
use std::time::Duration;

pub(crate) const CLIENT: (&str, &str) = ("shop", "client");
pub(crate) const URL: &str = "http://backend/";
const NODE: &str = "node-1";

/// The backend versions answering `count` requests.
pub(crate) fn versions(lab: &TestLab, count: usize) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..count {
        let body = stdout(&curl(lab, CLIENT.0, CLIENT.1, &[URL]));
        let answer: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("not a backend answer ({e}): {body:?}"));
        let version = answer["version"].as_str().unwrap_or("none").to_string();
        *seen.entry(version).or_default() += 1;
    }
    seen
}

/// Polls (bounded) until every answer comes from `version`: the agent reads a changed config
/// directory within a few polls, not at once.
pub(crate) fn settles_on(lab: &TestLab, version: &str) {
    let mut last = BTreeMap::new();
    for _ in 0..40 {
        last = versions(lab, 10);
        if last.len() == 1 && last.contains_key(version) {
            return;
        }
        sleep(Duration::from_millis(250));
    }
    panic!("traffic never settled on {version}: last {last:?}");
}

/// The agent's `mesh_config_rejected_resources` and its reloads by `result`.
pub(crate) fn config_metrics(lab: &TestLab) -> (u64, BTreeMap<&'static str, u64>) {
    let text = metrics(lab, NODE);
    let rejected = sum(&text, "mesh_config_rejected_resources", "");
    let results = ["success", "rejected_resources", "source_errors", "failed"];
    let reloads = results.map(|r| {
        let label = format!("result=\"{r}\"");
        (r, sum(&text, "mesh_config_reloads_total", &label))
    });
    (rejected, reloads.into_iter().collect())
}

/// Polls (bounded) until the agent reports `want` rejected resources.
pub(crate) fn reports_rejected(lab: &TestLab, want: u64) -> BTreeMap<&'static str, u64> {
    let mut last = config_metrics(lab);
    for _ in 0..40 {
        if last.0 == want {
            return last.1;
        }
        sleep(Duration::from_millis(250));
        last = config_metrics(lab);
    }
    panic!("the agent never reported {want} rejected resources: last {last:?}");
}

#[test]
fn a_poisoned_virtual_service_is_rejected_alone_and_later_changes_apply() {
    let Some(lab) = mesh_lab_of("t-poison", 1, "lab-poison.yaml") else {
        return;
    };
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &["curl", "-fsS", "-m", "5", URL]);
    settles_on(&lab, "v1");
    assert_eq!(config_metrics(&lab).0, 0, "nothing rejected at start");

    lab.kubectl("apply", "lab-poison-timeout.yaml");
    let reloads = reports_rejected(&lab, 1);
    eprintln!("after the poisoned VirtualService: reloads {reloads:?}");
    assert_eq!(reloads["failed"], 0, "no reload may fail");
    assert!(reloads["rejected_resources"] >= 1, "{reloads:?}");
    let served = versions(&lab, 20);
    eprintln!("after the poisoned VirtualService: {served:?}");
    assert_eq!(served, BTreeMap::from([("v1".to_string(), 20)]));

    lab.kubectl("apply", "lab-poison-subsets.yaml");
    settles_on(&lab, "v2");
    let (rejected, reloads) = config_metrics(&lab);
    eprintln!("after the later DestinationRule: rejected {rejected}, reloads {reloads:?}");
    assert_eq!(rejected, 1, "the poisoned VirtualService is still reported");
    assert_eq!(reloads["failed"], 0);
}
