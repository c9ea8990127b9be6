//! Request routing in the lab with real eBPF: `lab apply` / `lab delete` of a VirtualService
//! changes where live traffic goes, without restarting anything.

use crate::mesh_support::{curl, mesh_lab_of};
use crate::support::{stdout, TestLab};
use std::collections::BTreeMap;
use std::thread::sleep;
use std::time::Duration;

const CLIENT: (&str, &str) = ("shop", "client");
const URL: &str = "http://backend/";

/// The backend versions answering `count` requests sent with `user_agent`.
fn versions(lab: &TestLab, user_agent: &str, count: usize) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..count {
        let out = curl(lab, CLIENT.0, CLIENT.1, &["-A", user_agent, URL]);
        let body = stdout(&out);
        let answer: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("not a backend answer ({e}): {body:?}"));
        let version = answer["version"].as_str().unwrap_or("none").to_string();
        *seen.entry(version).or_default() += 1;
    }
    seen
}

/// Polls (bounded) until every answer for `user_agent` comes from `version`: the agents pick up
/// a changed config directory within a few polls, not at once.
fn settles_on(lab: &TestLab, user_agent: &str, version: &str) -> BTreeMap<String, usize> {
    let mut last = BTreeMap::new();
    for _ in 0..40 {
        last = versions(lab, user_agent, 10);
        if last.len() == 1 && last.contains_key(version) {
            return last;
        }
        sleep(Duration::from_millis(250));
    }
    panic!("traffic for {user_agent:?} never settled on {version}: last {last:?}");
}

#[test]
fn applying_and_deleting_a_virtual_service_moves_live_traffic() {
    let Some(lab) = mesh_lab_of("t-routing", 2, "lab-routing.yaml") else {
        return;
    };
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &["curl", "-fsS", "-m", "5", URL]);

    let before = versions(&lab, "curl", 40);
    assert!(
        before.contains_key("v1") && before.contains_key("v2"),
        "{before:?}"
    );

    lab.kubectl("apply", "lab-routing-all-v2.yaml");
    settles_on(&lab, "curl", "v2");
    let all_v2 = versions(&lab, "curl", 30);
    assert_eq!(all_v2, BTreeMap::from([("v2".to_string(), 30)]));

    lab.kubectl("apply", "lab-routing-mobile.yaml");
    settles_on(&lab, "curl", "v1");
    let mobile = versions(&lab, "Mozilla/5.0 (iPhone) Mobile Safari", 20);
    assert_eq!(mobile, BTreeMap::from([("v2".to_string(), 20)]));

    lab.kubectl("delete", "lab-routing-mobile.yaml");
    let mut after = versions(&lab, "curl", 40);
    for _ in 0..40 {
        if after.len() == 2 {
            break;
        }
        sleep(Duration::from_millis(250));
        after = versions(&lab, "curl", 40);
    }
    assert!(
        after.contains_key("v1") && after.contains_key("v2"),
        "{after:?}"
    );
}
