//! A mistake Istio's validation rejects, in the lab with real eBPF: `lab apply` of the serving
//! VirtualService with `retryOn: 5xx,bogus-condition` is rejected and reported by the agent
//! (`mesh_config_rejected_resources`), its last good version keeps the traffic on v1, and the
//! corrected change applies.

use crate::mesh_support::mesh_lab_of;
use crate::poison::{config_metrics, reports_rejected, settles_on, versions, CLIENT, URL};
use std::collections::BTreeMap;

#[test]
fn a_bogus_retry_condition_is_rejected_and_the_last_good_route_serves() {
    let Some(lab) = mesh_lab_of("t-rules", 1, "lab-poison.yaml") else {
        return;
    };
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &["curl", "-fsS", "-m", "5", URL]);
    settles_on(&lab, "v1");
    assert_eq!(config_metrics(&lab).0, 0, "nothing rejected at start");

    lab.kubectl("apply", "lab-rules-retry-on.yaml");
    let reloads = reports_rejected(&lab, 1);
    eprintln!("after the bogus retryOn: reloads {reloads:?}");
    assert_eq!(reloads["failed"], 0, "no reload may fail");
    let served = versions(&lab, 20);
    assert_eq!(
        served,
        BTreeMap::from([("v1".to_string(), 20)]),
        "the last good route serves"
    );

    lab.kubectl("apply", "lab-rules-fixed.yaml");
    settles_on(&lab, "v2");
    reports_rejected(&lab, 0);
}
