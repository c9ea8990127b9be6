//! `localityLbSetting` and ServiceEntry endpoint localities through `mesh-agent check` and the
//! compiled snapshot: Istio's tasks are valid and nothing of them is reported unsupported;
//! what Istio rejects is an error at its field's line.

use std::process::Command;

use crate::harness::config::{compile, fixture};

fn check(path: &std::path::Path) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_mesh-agent"))
        .arg("check")
        .arg(path)
        .output()
        .unwrap();
    let out = String::from_utf8(output.stdout).unwrap();
    (output.status.code().unwrap(), out)
}

#[test]
fn istio_s_locality_tasks_are_valid_and_acted_on() {
    let (code, out) = check(&fixture("locality/istio-task.yaml"));
    assert_eq!((code, out.as_str()), (0, ""));
    let yaml = std::fs::read_to_string(fixture("locality/istio-task.yaml")).unwrap();
    let snapshot = compile(&yaml).snapshot();
    let cluster = snapshot
        .cluster("api.example.com", 80, None)
        .expect("the ServiceEntry's cluster");
    let localities: Vec<&str> = cluster.localities.iter().map(|l| &**l).collect();
    assert_eq!(localities, ["region1/zone1", "region2/zone3"]);
}

#[test]
fn locality_mistakes_istio_rejects_are_errors_at_their_field() {
    let file = fixture("locality/invalid.yaml");
    let (code, out) = check(&file);
    assert_eq!(code, 1, "{out}");
    let file = file.display();
    let expected = [
        format!("{file}:14:13: DestinationRule/sample/short: spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to: total locality weight 90 != 100"),
        format!("{file}:27:7: DestinationRule/sample/both: spec.trafficPolicy.loadBalancer.localityLbSetting: can not simultaneously specify 'distribute' and 'failover'"),
        format!("{file}:46:13: DestinationRule/sample/zone: spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]: locality lb failover only specify region"),
    ];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, expected, "{out}");
}

#[tokio::test]
async fn the_agent_s_locality_is_its_node_s_topology_labels() {
    let api = crate::harness::fake_api::FakeApi::default();
    let labels = serde_json::json!({
        "topology.kubernetes.io/region": "westeurope",
        "topology.kubernetes.io/zone": "westeurope-2",
    });
    let node = serde_json::json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node-1", "labels": labels, "resourceVersion": "1"}});
    api.set("/api/v1/nodes", vec![node], 1);
    let address = api.serve().await;
    let config = kube::Config::new(format!("http://{address}").parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    let labels = mesh_agent::sources::kubernetes::node_labels(&client, "node-1")
        .await
        .unwrap();
    let locality = mesh_agent::lb::locality::Locality::of_node(&labels).unwrap();
    assert_eq!(
        (
            locality.region.as_str(),
            locality.zone.as_str(),
            locality.subzone.as_str()
        ),
        ("westeurope", "westeurope-2", "")
    );
}
