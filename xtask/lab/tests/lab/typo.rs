//! An unknown field in the lab with real eBPF: with a route serving, `lab apply` of the same
//! VirtualService with `timout: 2s` is rejected (the agent counts it in
//! `mesh_config_rejected_resources`) and the last good route keeps serving; the typo fixed
//! (retries written with protobuf field names) then applies.

use crate::mesh_support::mesh_lab_of;
use crate::poison::{config_metrics, reports_rejected, settles_on, versions};
use std::collections::BTreeMap;

const CLIENT: (&str, &str) = ("shop", "client");
const URL: &str = "http://backend/";

#[test]
fn a_typo_is_rejected_and_the_last_good_route_keeps_serving() {
    let Some(lab) = mesh_lab_of("t-typo", 1, "lab-poison.yaml") else {
        return;
    };
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &["curl", "-fsS", "-m", "5", URL]);
    settles_on(&lab, "v1");
    assert_eq!(config_metrics(&lab).0, 0, "nothing rejected at start");

    lab.kubectl("apply", "lab-typo-timout.yaml");
    let reloads = reports_rejected(&lab, 1);
    eprintln!("after the typo: reloads {reloads:?}");
    assert_eq!(reloads["failed"], 0, "no reload may fail");
    let served = versions(&lab, 20);
    assert_eq!(served, BTreeMap::from([("v1".to_string(), 20)]));

    lab.kubectl("apply", "lab-typo-fixed.yaml");
    settles_on(&lab, "v2");
    reports_rejected(&lab, 0);
}
