//! The CA's answer read back: the chain split from the root, the serial and validity, and the
//! checks that it is for our key and our identity.

use std::time::Duration;

use super::*;
use crate::ca::signer::Signer;

fn signer() -> Signer {
    let (root, key) = Signer::create_root("cluster.local").unwrap();
    Signer::new(&root, &key, &[], &root).unwrap()
}

fn cart() -> Identity {
    Identity::parse("spiffe://cluster.local/ns/shop/sa/cart").unwrap()
}

#[test]
fn reads_the_signed_chain_for_our_key() {
    let signer = signer();
    let (key, csr) = key_and_csr(&cart()).unwrap();
    let answer = signer
        .sign(&csr, &cart(), Duration::from_secs(86_400))
        .unwrap();
    let cert = certificate(cart(), &answer, &key).unwrap();
    assert_eq!(cert.chain.len(), 1, "the leaf, the root apart");
    assert_eq!(cert.roots.len(), 1);
    let (_, root) = x509_parser::pem::parse_x509_pem(signer.root().as_bytes()).unwrap();
    assert_eq!(cert.roots[0].as_ref(), root.contents.as_slice());
    assert_eq!(cert.serial.len(), 32, "16 bytes, hex: {}", cert.serial);
    let lifetime = cert.not_after.duration_since(cert.not_before).unwrap();
    assert_eq!(
        lifetime,
        Duration::from_secs(86_400 + 60),
        "valid from a minute ago"
    );
    assert!(matches!(cert.key, PrivateKeyDer::Pkcs8(_)));
}

#[test]
fn refuses_a_chain_for_another_key_or_identity() {
    let signer = signer();
    let (key, csr) = key_and_csr(&cart()).unwrap();
    let answer = signer.sign(&csr, &cart(), Duration::from_secs(60)).unwrap();
    let (other_key, _) = key_and_csr(&cart()).unwrap();
    let err = certificate(cart(), &answer, &other_key)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not for the key the agent sent"), "{err}");
    let payments = Identity::parse("spiffe://cluster.local/ns/shop/sa/payments").unwrap();
    let err = certificate(payments, &answer, &key)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not spiffe://cluster.local/ns/shop/sa/payments"),
        "{err}"
    );
    let err = certificate(cart(), &["no pem".into()], &key)
        .unwrap_err()
        .to_string();
    assert!(err.contains("answered no certificate"), "{err}");
}

#[test]
fn the_csr_names_the_identity_only() {
    let (_, csr) = key_and_csr(&cart()).unwrap();
    let parsed = rcgen::CertificateSigningRequestParams::from_pem(&csr).unwrap();
    let uris: Vec<String> = parsed
        .params
        .subject_alt_names
        .iter()
        .map(|san| format!("{san:?}"))
        .collect();
    assert_eq!(uris.len(), 1);
    assert!(
        uris[0].contains("spiffe://cluster.local/ns/shop/sa/cart"),
        "{uris:?}"
    );
}

#[test]
fn refusals_and_outages_are_told_apart() {
    let denied = tonic::Status::permission_denied("not on node-1");
    let down = tonic::Status::unavailable("connection refused");
    assert!(matches!(
        refusal(&cart(), "https://ca:15012", &denied),
        CertificateError::Refused { .. }
    ));
    let err = refusal(&cart(), "https://ca:15012", &down);
    assert!(matches!(err, CertificateError::Unavailable { .. }));
    assert!(err.to_string().contains("https://ca:15012"), "{err}");
}

#[tokio::test]
async fn a_missing_token_or_root_is_an_outage_naming_the_file() {
    let issuer = CaIssuer {
        address: "https://127.0.0.1:1".into(),
        server_name: "localhost".into(),
        root_file: "/nonexistent/root-cert.pem".into(),
        token_file: "/nonexistent/istio-token".into(),
        validity: Duration::from_secs(60),
    };
    let err = issuer.issue(&cart()).await.unwrap_err();
    assert!(matches!(err, CertificateError::Unavailable { .. }), "{err}");
    assert!(
        err.to_string().contains("/nonexistent/istio-token"),
        "{err}"
    );
}
