//! TLS origination in-process on loopback: the client calls `http://web.shop`, and the agent
//! speaks TLS to the HTTPS pod as the DestinationRule's `tls` says — SIMPLE with the CA of a
//! file, the name checked against `sni` or `subjectAltNames`, `insecureSkipVerify`, MUTUAL with
//! the `credentialName` Secret; a server it cannot trust answers 503 `UF`.

use crate::harness::config::{compile, pod, service, sleep};
use crate::harness::proxy::Agent;
use crate::harness::tls_upstream::{https_upstream, Issued, TestCa};
use crate::harness::web::Web;

/// `web` over one HTTPS pod at 127.0.0.2 presenting `issued` (asking `clients` for a client
/// certificate), with the DestinationRule `policy` (YAML under `trafficPolicy:`) and `extra`.
async fn https_web(issued: &Issued, clients: Option<&TestCa>, policy: &str, extra: &str) -> Web {
    https_web_on("http-web", issued, clients, policy, extra).await
}

/// [`https_web`] with the Service port named `port_name` (`http2-*`: HTTP/2 upstream).
async fn https_web_on(
    port_name: &str,
    issued: &Issued,
    clients: Option<&TestCa>,
    policy: &str,
    extra: &str,
) -> Web {
    let upstream = https_upstream("127.0.0.2", "v1", issued, clients).await;
    let rule = format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
         metadata: {{name: web, namespace: shop}}\nspec:\n  host: web\n  trafficPolicy:\n{policy}---\n"
    );
    let yaml = service("web", "10.96.0.10", port_name, upstream.port())
        + &sleep()
        + &pod("web-0", "app: web, version: v1", "127.0.0.2")
        + &rule
        + extra;
    let agent = Agent::new(compile(&yaml));
    let client = agent.sleep().await;
    Web {
        agent,
        client,
        pods: Vec::new(),
    }
}

fn simple(fields: &str) -> String {
    format!("    tls: {{mode: SIMPLE, {fields}}}\n")
}

#[tokio::test]
async fn simple_tls_is_spoken_to_the_endpoint_with_the_ca_file_and_sni() {
    let ca = TestCa::new();
    let ca_file = ca.write("origination-simple-ca");
    let issued = ca.issue(&["partner.example.com"]);
    let policy = simple(&format!(
        "caCertificates: {}, sni: partner.example.com",
        ca_file.display()
    ));
    let web = https_web(&issued, None, &policy, "").await;
    let answer = web.get("/orders", &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.body,
        "v1 /orders sni=partner.example.com client=no alpn=http/1.1"
    );
}

/// A CA file reached through a symlink out of the agent's --tls-file-dir (the temp dir in the
/// harness) is not read: the origination is unusable (503 `UF`); the same file inside works.
#[tokio::test]
async fn a_ca_file_linked_from_outside_the_tls_file_dir_is_not_read() {
    let ca = TestCa::new();
    let issued = ca.issue(&["partner.example.com"]);
    let outside = std::path::Path::new("/var/tmp")
        .join(format!("mesh-outside-ca-{}.pem", std::process::id()));
    std::fs::write(&outside, ca.pem()).unwrap();
    let link = std::env::temp_dir().join(format!("mesh-linked-ca-{}.pem", std::process::id()));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    let policy = |file: &std::path::Path| {
        simple(&format!(
            "caCertificates: {}, sni: partner.example.com",
            file.display()
        ))
    };
    let linked = https_web(&issued, None, &policy(&link), "").await;
    let through_link = linked.get("/", &[]).await;
    let flagged = ["response_code=\"503\"", "response_flags=\"UF,URX\""];
    let counted = linked.requests_total(&flagged, 1).await;
    let inside = https_web(
        &issued,
        None,
        &policy(&ca.write("origination-inside-ca")),
        "",
    )
    .await;
    let direct = inside.get("/", &[]).await;
    let _ = std::fs::remove_file(&link);
    let _ = std::fs::remove_file(&outside);
    assert_eq!(through_link.status, 503, "{through_link:?}");
    assert_eq!(counted, 1);
    assert_eq!(direct.status, 200, "{direct:?}");
}

#[tokio::test]
async fn a_server_the_ca_does_not_vouch_for_fails_uf_unless_verification_is_skipped() {
    let (ca, other) = (TestCa::new(), TestCa::new());
    let other_file = other.write("origination-other-ca");
    let issued = ca.issue(&["partner.example.com"]);
    let policy = simple(&format!(
        "caCertificates: {}, sni: partner.example.com",
        other_file.display()
    ));
    let web = https_web(&issued, None, &policy, "").await;
    assert_eq!(web.get("/", &[]).await.status, 503);
    let flagged = ["response_code=\"503\"", "response_flags=\"UF,URX\""];
    assert_eq!(web.requests_total(&flagged, 1).await, 1);

    let policy = simple("insecureSkipVerify: true, sni: partner.example.com");
    let web = https_web(&issued, None, &policy, "").await;
    assert_eq!(web.get("/", &[]).await.status, 200);
}

#[tokio::test]
async fn subject_alt_names_replace_the_sni_as_the_names_accepted() {
    let ca = TestCa::new();
    let ca_file = ca.write("origination-san-ca");
    let issued = ca.issue(&["partner.example.com"]);
    // The SNI defaults to the destination host, which the certificate does not name.
    let base = format!("caCertificates: {}", ca_file.display());
    let web = https_web(&issued, None, &simple(&base), "").await;
    assert_eq!(web.get("/", &[]).await.status, 503);
    let sans = format!("{base}, subjectAltNames: [other.example.com, partner.example.com]");
    let web = https_web(&issued, None, &simple(&sans), "").await;
    let answer = web.get("/", &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer.body.contains("sni=web.shop.svc.cluster.local"),
        "{answer:?}"
    );
}

/// A `kubernetes.io/tls` Secret `shop/<name>` with a client certificate and the CA.
fn client_secret(name: &str, client: &Issued, ca: &TestCa) -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: shop}}\n\
         type: kubernetes.io/tls\ndata:\n  tls.crt: {}\n  tls.key: {}\n  ca.crt: {}\n---\n",
        b64(&client.cert),
        b64(&client.key),
        b64(&ca.pem())
    )
}

#[tokio::test]
async fn mutual_tls_presents_the_credential_secret_certificate() {
    let ca = TestCa::new();
    let issued = ca.issue(&["partner.example.com"]);
    let client = ca.issue(&["sleep.shop"]);
    let secret = client_secret("partner-client", &client, &ca);
    let mutual =
        "    tls: {mode: MUTUAL, credentialName: partner-client, sni: partner.example.com}\n";
    let web = https_web(&issued, Some(&ca), mutual, &secret).await;
    let answer = web.get("/", &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer.body.ends_with("client=yes alpn=http/1.1"),
        "{answer:?}"
    );

    // SIMPLE to the same server presents nothing: the server refuses the handshake.
    let ca_file = ca.write("origination-mutual-ca");
    let policy = simple(&format!(
        "caCertificates: {}, sni: partner.example.com",
        ca_file.display()
    ));
    let web = https_web(&issued, Some(&ca), &policy, "").await;
    assert_eq!(web.get("/", &[]).await.status, 503);
}

#[tokio::test]
async fn mutual_without_its_secret_fails_uf() {
    let ca = TestCa::new();
    let issued = ca.issue(&["partner.example.com"]);
    let mutual = "    tls: {mode: MUTUAL, credentialName: missing, sni: partner.example.com}\n";
    let web = https_web(&issued, Some(&ca), mutual, "").await;
    assert_eq!(web.get("/", &[]).await.status, 503);
}

#[tokio::test]
async fn an_http2_destination_offers_h2_by_alpn() {
    let ca = TestCa::new();
    let ca_file = ca.write("origination-h2-ca");
    let issued = ca.issue(&["partner.example.com"]);
    let policy = simple(&format!(
        "caCertificates: {}, sni: partner.example.com",
        ca_file.display()
    ));
    let web = https_web_on("http2-web", &issued, None, &policy, "").await;
    let answer = web.get("/", &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.ends_with("alpn=h2"), "{answer:?}");
}
