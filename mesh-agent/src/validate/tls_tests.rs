//! Each TLS rule with a valid and an invalid case.

use super::*;
use crate::validate::finding::table::{lines, spec};

fn client(yaml: &str) -> Vec<String> {
    let mut found = Findings::default();
    client_tls(&mut found, "t", &spec(yaml));
    lines(&found)
}

fn server(yaml: &str) -> Vec<String> {
    let mut found = Findings::default();
    server_tls(&mut found, "t", &spec(yaml));
    lines(&found)
}

#[test]
fn client_tls_modes_and_their_files() {
    for good in [
        "{mode: ISTIO_MUTUAL}",
        "{mode: SIMPLE, sni: a.example}",
        "{mode: MUTUAL, clientCertificate: /c, privateKey: /k}",
        "{mode: MUTUAL, credentialName: client-cert}",
        "{mode: SIMPLE, insecureSkipVerify: true}",
    ] {
        assert_eq!(client(good), Vec::<String>::new(), "{good}");
    }
    assert_eq!(
        client("{mode: MUTUAL}"),
        [
            "t.clientCertificate: client certificate required for MUTUAL TLS",
            "t.privateKey: private key required for MUTUAL TLS",
        ]
    );
    assert_eq!(
        client("{mode: SIMPLE, credentialName: c, caCertificates: /ca, insecureSkipVerify: true}"),
        [
            "t: insecureSkipVerify: true verifies nothing: remove caCertificates, credentialName and subjectAltNames",
            "t: with credentialName, certificates, keys and CRLs come from the credential: remove clientCertificate, privateKey, caCertificates and caCrl",
        ]
    );
}

#[test]
fn server_tls_modes_and_their_files() {
    for good in [
        "{mode: SIMPLE, credentialName: web-cert}",
        "{mode: SIMPLE, serverCertificate: /c, privateKey: /k}",
        "{mode: MUTUAL, serverCertificate: /c, privateKey: /k, caCertificates: /ca}",
        "{mode: PASSTHROUGH}",
        "{mode: ISTIO_MUTUAL}",
        "{httpsRedirect: true}",
    ] {
        assert_eq!(server(good), Vec::<String>::new(), "{good}");
    }
    assert_eq!(
        server("{mode: SIMPLE}"),
        [
            "t.serverCertificate: SIMPLE TLS requires a server certificate (or a credentialName)",
            "t.privateKey: SIMPLE TLS requires a private key (or a credentialName)",
        ]
    );
    assert_eq!(
        server("{mode: OPTIONAL_MUTUAL, serverCertificate: /c, privateKey: /k}"),
        ["t.caCertificates: MUTUAL TLS requires a client CA bundle (or a credentialName)"]
    );
    assert_eq!(
        server("{mode: ISTIO_MUTUAL, credentialName: c}"),
        ["t.credentialName: ISTIO_MUTUAL TLS cannot have credentialName: the mesh's certificates are used"]
    );
    assert_eq!(
        server("{mode: AUTO_PASSTHROUGH, credentialName: c}"),
        ["t: warning: passthrough modes do not use certificates; they are ignored"]
    );
    assert_eq!(
        server("{mode: SIMPLE, serverCertificate: /c, privateKey: /k, caCrl: /crl}"),
        ["t.caCrl: a CRL is not supported with SIMPLE TLS"]
    );
}
