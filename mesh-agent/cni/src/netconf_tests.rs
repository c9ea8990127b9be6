//! Parsing the runtime's configuration: our keys, defaults, and prevResult of every version.

use super::*;
use serde_json::json;

fn parse(value: &Value) -> Result<PluginConf, Error> {
    PluginConf::parse(value.to_string().as_bytes())
}

#[test]
fn defaults_when_our_keys_are_absent() {
    let conf = parse(&json!({"cniVersion": "1.0.0", "name": "k8s", "type": "mesh-cni"})).unwrap();
    assert_eq!(conf.agent_socket, PathBuf::from(DEFAULT_AGENT_SOCKET));
    assert!(conf.is_excluded("kube-system") && conf.is_excluded("mesh-system"));
    assert!(!conf.is_excluded("default"));
    assert_eq!(conf.log_file, None);
    let err = conf.require_prev_result().unwrap_err();
    assert!(err.details().contains("prevResult"), "{err:?}");
}

#[test]
fn reads_our_keys() {
    let conf = parse(&json!({
        "cniVersion": "1.0.0", "name": "k8s", "type": "mesh-cni",
        "agent_socket": "/tmp/a.sock", "exclude_namespaces": ["infra"], "log_file": "/tmp/cni.log"
    }))
    .unwrap();
    assert_eq!(conf.agent_socket, PathBuf::from("/tmp/a.sock"));
    assert!(conf.is_excluded("infra") && !conf.is_excluded("kube-system"));
    assert_eq!(conf.log_file, Some(PathBuf::from("/tmp/cni.log")));
}

#[test]
fn names_the_bad_key() {
    let err =
        parse(&json!({"cniVersion": "1.0.0", "type": "mesh-cni", "agent_socket": 3})).unwrap_err();
    assert!(err.details().contains("agent_socket"), "{err:?}");
    let err = parse(&json!({"type": "mesh-cni", "exclude_namespaces": "kube-system"})).unwrap_err();
    assert!(err.details().contains("exclude_namespaces"), "{err:?}");
    let err = PluginConf::parse(b"{not json").unwrap_err();
    assert!(err.details().contains("stdin"), "{err:?}");
}

#[test]
fn addresses_of_a_1_0_result() {
    let conf = parse(&json!({
        "cniVersion": "1.0.0", "name": "k8s", "type": "mesh-cni",
        "prevResult": {
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name": "veth1", "mac": "aa:bb:cc:dd:ee:ff"},
                {"name": "eth0", "sandbox": "/var/run/netns/p"}
            ],
            "ips": [
                {"address": "10.244.1.5/24", "gateway": "10.244.1.1", "interface": 1},
                {"address": "fd00:10:244:1::5/64", "gateway": "fd00:10:244:1::1", "interface": 1},
                {"address": "169.254.1.1/32", "interface": 0}
            ]
        }
    }))
    .unwrap();
    let got = conf.pod_addresses().unwrap();
    let ips: Vec<String> = got.ips.iter().map(ToString::to_string).collect();
    let gateways: Vec<String> = got.gateways.iter().map(ToString::to_string).collect();
    assert_eq!(
        ips,
        ["10.244.1.5", "fd00:10:244:1::5"],
        "the host-side IP is not the pod's"
    );
    assert_eq!(gateways, ["10.244.1.1", "fd00:10:244:1::1"]);
}

#[test]
fn addresses_of_a_0_3_result() {
    // 0.3.x/0.4.0 results carry `version` per IP and may name no interface.
    let conf = parse(&json!({
        "cniVersion": "0.3.1", "name": "k8s", "type": "mesh-cni",
        "prevResult": {
            "cniVersion": "0.3.1",
            "ips": [{"version": "4", "address": "10.244.2.7/24", "gateway": "10.244.2.1"}],
            "dns": {}
        }
    }))
    .unwrap();
    let got = conf.pod_addresses().unwrap();
    assert_eq!(got.ips, ["10.244.2.7".parse::<IpAddr>().unwrap()]);
    assert_eq!(got.gateways, ["10.244.2.1".parse::<IpAddr>().unwrap()]);
}

#[test]
fn a_bad_prev_result_is_named() {
    let conf = parse(&json!({
        "cniVersion": "1.0.0", "type": "mesh-cni", "prevResult": {"ips": [{"address": "nope"}]}
    }))
    .unwrap();
    let err = conf.pod_addresses().unwrap_err();
    assert!(err.details().contains("prevResult"), "{err:?}");
}
