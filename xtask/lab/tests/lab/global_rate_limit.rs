//! Istio's global rate-limit task in the lab with real eBPF, across two nodes: both clients'
//! agents (node-1 and node-2) ask one rate limit service (`sample-app rls`, Envoy's RLS API, 4
//! hits per descriptor, on node-2 outside the mesh) over gRPC, so its count is shared: of 10
//! requests alternating between the nodes exactly 4 pass, and both nodes answer the rest 429
//! with `x-envoy-ratelimited: true`, flagged `RL`.

use crate::mesh_support::{config_dump_shows, curl, mesh_lab_of, metrics, sum};
use crate::support::stdout;

const CLIENTS: [(&str, &str); 2] = [("default", "client-1"), ("default", "client-2")];
const URL: &str = "http://productpage:9080/";

#[test]
fn a_global_limit_through_the_rate_limit_service_is_shared_by_two_nodes() {
    let Some(lab) = mesh_lab_of("t-rlglobal", 2, "lab-global-rate-limit.yaml") else {
        return;
    };
    for (ns, pod) in CLIENTS {
        lab.exec_until_ok(ns, pod, &["curl", "-fsS", "-m", "5", URL]);
    }
    lab.kubectl("apply", "lab-global-rate-limit-filter.yaml");
    for node in ["node-1", "node-2"] {
        let applied = config_dump_shows(&lab, node, "filter-ratelimit#0");
        assert!(applied, "{node}'s agent never took the EnvoyFilter");
    }

    let mut statuses = Vec::new();
    for i in 0..10 {
        let (ns, pod) = CLIENTS[i % 2];
        let answer = stdout(&curl(&lab, ns, pod, &["-i", URL]));
        let status = answer
            .split_whitespace()
            .nth(1)
            .unwrap_or("none")
            .to_string();
        if status == "429" {
            assert!(answer.contains("x-envoy-ratelimited: true"), "{answer}");
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses,
        ["200", "200", "200", "200", "429", "429", "429", "429", "429", "429"],
        "4 hits for the descriptor, counted once for both nodes"
    );
    for node in ["node-1", "node-2"] {
        let text = metrics(&lab, node);
        let over = sum(
            &text,
            "mesh_global_rate_limit_requests_total",
            r#"decision="over_limit""#,
        );
        assert_eq!(
            over, 3,
            "{node} refused its 3 requests past the shared limit"
        );
    }
}
