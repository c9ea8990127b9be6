//! Workload certificates with real eBPF: `lab up` starts the mesh CA like a control plane (no
//! API server: its static token file), and each node's agent holds one certificate per
//! ServiceAccount of its enrolled pods (`/certs`), chains verified against `lab ca-root`'s root;
//! the last pod of an identity leaving drops it; `lab down` leaves no CA process behind. With
//! `lab up --ca-dir`, the CA signs with Istio's plug-in files: chains go through their
//! intermediate to their root.

use crate::mesh_support::{admin, mesh_lab_of};
use crate::support::TestLab;
use mesh_lab::lab::Lab;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;
use x509_parser::prelude::*;

const LAB: &str = "t-certs";

/// Node `node`'s `/certs`, polled (bounded) until it lists exactly `identities`, each signed.
fn certs_settle(lab: &TestLab, node: &str, identities: &[&str]) -> Vec<Value> {
    let mut last = Value::Null;
    for _ in 0..60 {
        last = serde_json::from_str(&admin(lab, node, "/certs")).expect("/certs is JSON");
        let listed = last["certificates"].as_array().cloned().unwrap_or_default();
        let names: Vec<&str> = listed
            .iter()
            .filter_map(|c| c["identity"].as_str())
            .collect();
        let signed = listed.iter().all(|c| c["serial"].is_string());
        if names == identities && signed {
            return listed;
        }
        sleep(Duration::from_millis(250));
    }
    panic!("{node}'s /certs never listed {identities:?} signed: last {last:#}");
}

/// The leaf's URI SAN, after checking each certificate of `chain` + `roots` is signed by the
/// next and the last is `root`.
fn verified(cert: &Value, root: &str) -> String {
    let pems: Vec<&str> = ["chain", "roots"]
        .iter()
        .flat_map(|key| cert[key].as_array().unwrap().iter())
        .map(|pem| pem.as_str().unwrap())
        .collect();
    assert_eq!(
        pems.last().map(|p| p.trim()),
        Some(root.trim()),
        "ends at the lab's root"
    );
    let ders: Vec<Pem> = pems
        .iter()
        .map(|p| parse_x509_pem(p.as_bytes()).unwrap().1)
        .collect();
    let certs: Vec<X509Certificate> = ders.iter().map(|d| d.parse_x509().unwrap()).collect();
    for pair in certs.windows(2) {
        pair[0]
            .verify_signature(Some(pair[1].public_key()))
            .expect("each certificate signed by the next");
    }
    let sans = certs[0].subject_alternative_name().unwrap().unwrap();
    match sans.value.general_names.as_slice() {
        [GeneralName::URI(uri)] => (*uri).to_owned(),
        other => panic!("one URI SAN, not {other:?}"),
    }
}

/// Pids whose command line names this lab's CA token file.
fn ca_pids() -> Vec<String> {
    let needle = format!("lab/{LAB}/ca/callers.yaml");
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(&needle)
        })
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn agents_hold_their_pods_identities_signed_by_the_labs_root() {
    let Some(lab) = mesh_lab_of(LAB, 2, "lab-certs.yaml") else {
        return;
    };
    let root = Lab::open(LAB)
        .and_then(|lab| lab.ca_root())
        .expect("lab ca-root");
    assert!(root.starts_with("-----BEGIN CERTIFICATE-----"), "{root}");
    assert!(!ca_pids().is_empty(), "the CA runs");

    let id = |sa: &str| format!("spiffe://cluster.local/ns/shop/sa/{sa}");
    let node1 = certs_settle(&lab, "node-1", &[&id("cart"), &id("default")]);
    let node2 = certs_settle(&lab, "node-2", &[&id("cart"), &id("payments")]);
    for cert in node1.iter().chain(&node2) {
        assert_eq!(verified(cert, &root), cert["identity"].as_str().unwrap());
        assert!(!cert.to_string().contains("PRIVATE KEY"), "never a key");
    }
    assert_eq!(node1[0]["pods"], serde_json::json!(["shop/cart-0"]));
    assert_ne!(
        node1[0]["serial"], node2[0]["serial"],
        "each node its own key and certificate"
    );

    lab.kubectl("delete", "lab-certs-payments.yaml");
    certs_settle(&lab, "node-2", &[&id("cart")]);

    lab.down();
    assert_eq!(
        ca_pids(),
        Vec::<String>::new(),
        "no CA process after lab down"
    );
    assert_eq!(lab.leftovers(), Vec::<String>::new());
}

/// Istio's plug-in CA files in `dir`: a root, and an intermediate that signs; the root's PEM.
fn plug_in_files(dir: &Path) -> String {
    let root_key = rcgen::KeyPair::generate().unwrap();
    let mut root = rcgen::CertificateParams::default();
    root.distinguished_name
        .push(rcgen::DnType::CommonName, "plug-in root");
    root.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let root = root.self_signed(&root_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut intermediate = rcgen::CertificateParams::default();
    intermediate
        .distinguished_name
        .push(rcgen::DnType::CommonName, "lab intermediate");
    intermediate.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    let intermediate = intermediate.signed_by(&key, &root, &root_key).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let write = |name: &str, text: String| std::fs::write(dir.join(name), text).unwrap();
    write("ca-cert.pem", intermediate.pem());
    write("ca-key.pem", key.serialize_pem());
    write("cert-chain.pem", intermediate.pem() + &root.pem());
    write("root-cert.pem", root.pem());
    root.pem()
}

#[test]
fn with_istios_plug_in_files_the_chains_end_at_their_root() {
    const PLUG_IN_LAB: &str = "t-plugin";
    let Some(lab) = TestLab::new(PLUG_IN_LAB) else {
        return;
    };
    let dir: PathBuf = std::env::temp_dir().join("mesh-lab-t-plugin-cacerts");
    let root = plug_in_files(&dir);
    lab.up_with_ca_dir(2, &["lab-certs.yaml"], &dir);
    let printed = Lab::open(PLUG_IN_LAB)
        .and_then(|lab| lab.ca_root())
        .expect("lab ca-root");
    assert_eq!(
        printed.trim(),
        root.trim(),
        "lab ca-root prints the plug-in root"
    );
    let id = |sa: &str| format!("spiffe://cluster.local/ns/shop/sa/{sa}");
    let listed = certs_settle(&lab, "node-1", &[&id("cart"), &id("default")]);
    for cert in &listed {
        assert_eq!(
            cert["chain"].as_array().unwrap().len(),
            2,
            "leaf and intermediate"
        );
        assert_eq!(verified(cert, &root), cert["identity"].as_str().unwrap());
    }
    drop(lab);
    std::fs::remove_dir_all(&dir).unwrap();
}
