//! The ingress gateway over HTTPS, in-process on loopback: `tls.mode: SIMPLE` servers terminate
//! TLS with the certificate and key of the Secret named by `credentialName` (made here with
//! rcgen); SNI picks the server's certificate; ALPN offers h2 and http/1.1.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::harness::client::{get_over, read};
use crate::harness::config::{gateway, virtual_service};
use crate::harness::gateway::{free_port, Gateway};

/// A self-signed certificate for `host`: (certificate PEM, key PEM, certificate DER).
pub(crate) fn certificate(host: &str) -> (String, String, CertificateDer<'static>) {
    let made = rcgen::generate_simple_self_signed(vec![host.to_string()]).unwrap();
    let der = made.cert.der().clone();
    (made.cert.pem(), made.key_pair.serialize_pem(), der)
}

/// A `kubernetes.io/tls` Secret `istio-system/<name>` (the gateway workload's namespace)
/// holding `crt` and `key` (base64 `data`).
pub(crate) fn secret(name: &str, crt: &str, key: &str) -> String {
    secret_in("istio-system", name, crt, key)
}

fn secret_in(namespace: &str, name: &str, crt: &str, key: &str) -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {namespace}}}\n\
         type: kubernetes.io/tls\ndata:\n  tls.crt: {}\n  tls.key: {}\n---\n",
        b64(crt),
        b64(key)
    )
}

pub(crate) fn https_server(port: u16, host: &str, credential: &str) -> String {
    format!(
        "  - port: {{number: {port}, name: https-{host}, protocol: HTTPS}}\n    hosts: [{host}]\n\
         \x20   tls: {{mode: SIMPLE, credentialName: {credential}}}\n"
    )
}

/// Connects to gateway `port` with SNI `host`, trusting only `trusted`, offering `alpn`.
pub(crate) async fn connect_tls(
    port: u16,
    host: &str,
    trusted: &CertificateDer<'static>,
    alpn: &[&[u8]],
) -> std::io::Result<TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let name = ServerName::try_from(host.to_string()).unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

pub(crate) fn to_frontend(hosts: &str) -> String {
    let rules = "  - route: [{destination: {host: frontend}}]\n";
    virtual_service("front", hosts, "[web]", rules)
}

#[tokio::test]
async fn https_terminates_tls_with_the_secret_certificate_over_http1_and_h2() {
    let port = free_port().await;
    let (crt, key, der) = certificate("shop.example.com");
    let _h = Gateway::new(|_| {
        secret("shop-cert", &crt, &key)
            + &gateway(
                "istio: ingressgateway",
                &https_server(port, "shop.example.com", "shop-cert"),
            )
            + &to_frontend("[shop.example.com]")
    })
    .await;
    let tls = connect_tls(port, "shop.example.com", &der, &[b"http/1.1"]).await;
    let answer = get_over(tls.unwrap(), "shop.example.com", "/").await;
    assert_eq!(
        answer.body, "frontend / host=shop.example.com",
        "{answer:?}"
    );

    let tls = connect_tls(port, "shop.example.com", &der, &[b"h2", b"http/1.1"]).await;
    let tls = tls.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = Request::get("https://shop.example.com/h2")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let answer = read(sender.send_request(request).await.unwrap()).await;
    // Upstream HTTP/2 carries the endpoint in `:authority`: the path is what matters here.
    assert!(
        answer.body.starts_with("frontend ") && answer.body.contains("/h2 "),
        "{answer:?}"
    );
}

#[tokio::test]
async fn sni_picks_the_certificate_of_the_matching_server() {
    let port = free_port().await;
    let (a_crt, a_key, a_der) = certificate("a.example.com");
    let (b_crt, b_key, b_der) = certificate("b.example.com");
    let h = Gateway::new(|_| {
        let servers = https_server(port, "a.example.com", "a-cert")
            + &https_server(port, "b.example.com", "b-cert");
        secret("a-cert", &a_crt, &a_key)
            + &secret("b-cert", &b_crt, &b_key)
            + &gateway("istio: ingressgateway", &servers)
            + &to_frontend("[a.example.com, b.example.com]")
    })
    .await;
    assert_eq!(h.ports().len(), 1);
    for (host, der) in [("a.example.com", &a_der), ("b.example.com", &b_der)] {
        let tls = connect_tls(port, host, der, &[b"http/1.1"]).await.unwrap();
        let answer = get_over(tls, host, "/").await;
        assert_eq!(answer.body, format!("frontend / host={host}"));
    }
    // The other server's certificate is not trusted for b: the handshake fails.
    assert!(connect_tls(port, "b.example.com", &a_der, &[])
        .await
        .is_err());
}

#[tokio::test]
async fn an_https_server_listens_once_its_secret_arrives_in_the_gateway_workload_namespace() {
    let port = free_port().await;
    let (crt, key, der) = certificate("shop.example.com");
    let mesh = gateway(
        "istio: ingressgateway",
        &https_server(port, "shop.example.com", "shop-cert"),
    ) + &to_frontend("[shop.example.com]");
    let mesh_now = mesh.clone();
    let mut h = Gateway::new(move |_| mesh_now).await;
    assert!(h.ports().is_empty());
    // In the Gateway's own namespace it is not the gateway workload's Secret: still closed.
    h.reconfigure(&(secret_in("shop", "shop-cert", &crt, &key) + &mesh))
        .await;
    assert!(h.ports().is_empty());
    h.reconfigure(&(secret("shop-cert", &crt, &key) + &mesh))
        .await;
    assert_eq!(h.ports().keys().copied().collect::<Vec<_>>(), [port]);
    let tls = connect_tls(port, "shop.example.com", &der, &[])
        .await
        .unwrap();
    assert_eq!(get_over(tls, "shop.example.com", "/").await.status, 200);
}
