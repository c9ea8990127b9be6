//! A namespace's `Sidecar` narrows that namespace alone, with real eBPF: `shop` sees only its
//! own services (`egress.hosts: ["./*"]`) under REGISTRY_ONLY, so its client's connection to
//! `bank`'s Service is refused in `connect()` (counted), while `bank`, without a Sidecar,
//! reaches both namespaces.

use crate::mesh_support::{curl, mesh_lab_of, metrics, sum};
use crate::support::{stdout, TestLab};

/// `curl`'s exit code and the HTTP status it printed (`000`: none), from `ns/pod` to `url`.
fn outcome(lab: &TestLab, (ns, pod): (&str, &str), url: &str) -> (Option<i32>, String) {
    let out = curl(
        lab,
        ns,
        pod,
        &["-o", "/dev/null", "-w", "%{http_code}", url],
    );
    (out.status.code(), stdout(&out))
}

#[test]
fn a_sidecar_narrows_one_namespace() {
    let Some(lab) = mesh_lab_of("t-sidecar", 1, "lab-sidecar.yaml") else {
        return;
    };
    let (shop, bank) = (("shop", "client"), ("bank", "teller"));
    lab.exec_until_ok(
        "shop",
        "client",
        &["curl", "-fsS", "-m", "5", "http://web.shop/"],
    );
    lab.exec_until_ok(
        "bank",
        "teller",
        &["curl", "-fsS", "-m", "5", "http://vault.bank/"],
    );
    let ok = (Some(0), "200".to_string());
    assert_eq!(
        outcome(&lab, bank, "http://web.shop/"),
        ok,
        "bank sees shop"
    );
    assert_eq!(
        outcome(&lab, shop, "http://web.shop/"),
        ok,
        "shop sees itself"
    );
    let before = sum(
        &metrics(&lab, "node-1"),
        "mesh_ebpf_egress_refused_total",
        "",
    );
    // curl exit 7: the connect itself failed (the hook refused it), no HTTP status. Until the
    // agent has written the namespace's addresses into the hook's maps, the proxy refuses it
    // (502, BlackHoleCluster); never is it answered.
    let refused = (Some(7), "000".to_string());
    let mut last = outcome(&lab, shop, "http://vault.bank/");
    for _ in 0..40 {
        if last == refused {
            break;
        }
        assert_eq!(last.1, "502", "shop does not see bank");
        std::thread::sleep(std::time::Duration::from_millis(250));
        last = outcome(&lab, shop, "http://vault.bank/");
    }
    assert_eq!(
        last, refused,
        "shop's connection to bank is refused in connect()"
    );
    let after = sum(
        &metrics(&lab, "node-1"),
        "mesh_ebpf_egress_refused_total",
        "",
    );
    assert!(
        after > before,
        "the hook counted the refusal: {before} → {after}"
    );
}
