//! The mTLS tunnel (HBONE) in-process: two agents on loopback, each with its node's
//! certificates from one test CA, the destination pod's inbound listener on its tunnel port;
//! and each agent against an HBONE peer written from the protocol alone.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use mesh_agent::drain::Phase;
use mesh_agent::tunnel::TunnelSettings;

use crate::harness::certificates::{identity, TestCa, TestCertificates};
use crate::harness::config::{compile, pod};
use crate::harness::hbone;
use crate::harness::metrics;
use crate::harness::proxy::Agent;
use crate::harness::upstream::{echo_server, echoes, streaming_echo_server, Upstream};

const AMBIENT: &str = "istio.io/dataplane-mode: ambient";

/// `sleep-0` (127.0.0.1) and `web-0` at `web_ip`, both meshed unless `web_meshed` is false.
fn pods(web_ip: &str, web_meshed: bool) -> String {
    let web_labels = match web_meshed {
        true => format!("app: web, {AMBIENT}"),
        false => "app: web".to_string(),
    };
    pod(
        "sleep-0",
        &format!("app: sleep, version: v1, {AMBIENT}"),
        "127.0.0.1",
    ) + &pod("web-0", &web_labels, web_ip)
}

/// The TCP label set of the first `istio_tcp_connections_closed_total` line reported by
/// `reporter`.
async fn closed_labels(agent: &Agent, reporter: &str) -> String {
    let prefix = format!("istio_tcp_connections_closed_total{{reporter=\"{reporter}\"");
    metrics::recorded(&agent.registry, &prefix).await
}

#[tokio::test]
async fn tcp_crosses_to_a_meshed_pod_in_the_tunnel_with_both_identities() {
    let ca = TestCa::new();
    let yaml = pods("127.0.0.21", true);
    let source = Agent::with_tunnels(compile(&yaml), TestCertificates::new(ca.clone()));
    let destination = Agent::with_tunnels(compile(&yaml), TestCertificates::new(ca));
    destination.tunnel_inbound("web-0", "127.0.0.21").await;
    let app = echo_server("127.0.0.21:0".parse().unwrap(), "web").await;
    let client = source.sleep().await;
    let answer = client.exchange(&app.to_string(), b"hello").await.unwrap();
    assert_eq!(answer, b"web:hello");
    let sent = closed_labels(&source, "source").await;
    let received = closed_labels(&destination, "destination").await;
    for labels in [&sent, &received] {
        for label in [
            r#"connection_security_policy="mutual_tls""#,
            r#"source_principal="spiffe://cluster.local/ns/shop/sa/default""#,
            r#"destination_principal="spiffe://cluster.local/ns/shop/sa/default""#,
            r#"source_workload="sleep""#,
            r#"destination_workload="web""#,
        ] {
            assert!(labels.contains(label), "{label} missing in {labels}");
        }
    }
}

#[tokio::test]
async fn an_unmeshed_pod_is_reached_in_plain_text() {
    let ca = TestCa::new();
    let source = Agent::with_tunnels(
        compile(&pods("127.0.0.22", false)),
        TestCertificates::new(ca),
    );
    let app = echo_server("127.0.0.22:0".parse().unwrap(), "web").await;
    let answer = source.sleep().await.exchange(&app.to_string(), b"hi").await;
    assert_eq!(answer.unwrap(), b"web:hi");
    let labels = closed_labels(&source, "source").await;
    assert!(
        labels.contains(r#"connection_security_policy="none""#),
        "{labels}"
    );
}

#[tokio::test]
async fn a_server_proving_another_identity_is_refused() {
    let ca = TestCa::new();
    let yaml = pods("127.0.0.23", true);
    let web = identity("shop", "default");
    let impostor = TestCertificates::new(ca.clone());
    impostor.set(
        &web,
        ca.issue_uri(&web, "spiffe://cluster.local/ns/shop/sa/other"),
    );
    let destination = Agent::with_tunnels(compile(&yaml), impostor);
    destination.tunnel_inbound("web-0", "127.0.0.23").await;
    let app = echo_server("127.0.0.23:0".parse().unwrap(), "web").await;
    let source = Agent::with_tunnels(compile(&yaml), TestCertificates::new(ca));
    let answer = source.sleep().await.exchange(&app.to_string(), b"hi").await;
    assert!(
        answer.as_ref().is_ok_and(Vec::is_empty) || answer.is_err(),
        "{answer:?}"
    );
}

#[tokio::test]
async fn the_agent_serves_an_independent_hbone_client() {
    let ca = TestCa::new();
    let agent = Agent::with_tunnels(
        compile(&pods("127.0.0.24", true)),
        TestCertificates::new(ca.clone()),
    );
    let tunnel = agent.tunnel_inbound("web-0", "127.0.0.24").await;
    let app = echo_server("127.0.0.24:0".parse().unwrap(), "web").await;
    let sleep = ca.issue(&identity("shop", "sleep"));
    let mut client = hbone::Client::connect(tunnel, &sleep).await.unwrap();
    assert_eq!(client.server_identity, identity("shop", "default"));
    let (status, answer) = client.exchange(&app.to_string(), b"hello").await;
    assert_eq!((status, answer.as_slice()), (200, &b"web:hello"[..]));
    // Another pod's address: 400; a port nobody listens on: 503 once the app refused.
    assert_eq!(client.exchange("127.0.0.99:80", b"").await.0, 400);
    let closed = std::net::TcpListener::bind("127.0.0.24:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert_eq!(client.exchange(&closed.to_string(), b"").await.0, 503);
    let labels = closed_labels(&agent, "destination").await;
    let principal = r#"source_principal="spiffe://cluster.local/ns/shop/sa/sleep""#;
    assert!(labels.contains(principal), "{labels}");
}

#[tokio::test]
async fn a_client_certificate_of_another_ca_or_trust_domain_is_refused() {
    let ca = TestCa::new();
    let agent = Agent::with_tunnels(
        compile(&pods("127.0.0.25", true)),
        TestCertificates::new(ca.clone()),
    );
    let tunnel = agent.tunnel_inbound("web-0", "127.0.0.25").await;
    let app = echo_server("127.0.0.25:0".parse().unwrap(), "web").await;
    let stranger = TestCa::new().issue(&identity("shop", "sleep"));
    let foreign_domain = ca.issue_uri(
        &identity("shop", "sleep"),
        "spiffe://other.domain/ns/shop/sa/sleep",
    );
    for certificate in [stranger, foreign_domain] {
        let uri = hbone::identity_in(&certificate.chain[0]);
        let attempt = async {
            let mut client = hbone::Client::connect(tunnel, &certificate).await?;
            let exchanged = client.try_exchange(&app.to_string(), b"x").await;
            exchanged.map_err(|e| e.to_string())
        };
        let outcome = tokio::time::timeout(crate::harness::GUARD, attempt).await;
        assert!(outcome.expect("no hang").is_err(), "{uri} got through");
    }
}

#[tokio::test]
async fn the_agent_tunnels_to_an_independent_hbone_server() {
    let ca = TestCa::new();
    let server_addr: SocketAddr = "127.0.0.26:15008".parse().unwrap();
    let seen = hbone::server(server_addr, ca.issue(&identity("shop", "default")), "peer").await;
    let agent = Agent::with_tunnels(
        compile(&pods("127.0.0.26", true)),
        TestCertificates::new(ca),
    );
    let answer = agent
        .sleep()
        .await
        .exchange("127.0.0.26:8080", b"hello")
        .await;
    assert_eq!(answer.unwrap(), b"peer:hello");
    let seen = seen.lock().unwrap().clone();
    let [connect] = seen.as_slice() else {
        panic!("one CONNECT expected: {seen:?}")
    };
    assert_eq!(connect.authority, "127.0.0.26:8080");
    assert_eq!(connect.client, identity("shop", "default"));
    assert_eq!(connect.headers["forwarded"], "for=127.0.0.1");
    let baggage = connect.headers["baggage"].to_str().unwrap();
    assert!(baggage.contains("k8s.namespace.name=shop"), "{baggage}");
    assert!(baggage.contains("service.name=sleep"), "{baggage}");
    assert!(connect.headers.contains_key("traceparent"));
}

#[tokio::test]
async fn http_crosses_in_the_tunnel_and_both_sides_report_mutual_tls() {
    let ca = TestCa::new();
    let yaml = pods("127.0.0.27", true);
    // Each agent reports its own side (`l7_once.rs`: the source reports both).
    let settings = TunnelSettings {
        offer_l7_report: false,
        ..TunnelSettings::default()
    };
    let certificates = TestCertificates::new(ca.clone());
    let source = Agent::with_tunnel_settings(compile(&yaml), certificates, settings);
    let destination = Agent::with_tunnels(compile(&yaml), TestCertificates::new(ca));
    destination.tunnel_inbound("web-0", "127.0.0.27").await;
    let web = Upstream::healthy("127.0.0.27:0".parse().unwrap(), "web").await;
    let mut client = source.sleep().await.http1(&web.address.to_string()).await;
    for _ in 0..3 {
        let request = http::Request::get("/").body(Empty::new().boxed()).unwrap();
        let response = client.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let tunnelled = [
        r#"connection_security_policy="mutual_tls""#,
        r#"source_principal="spiffe://cluster.local/ns/shop/sa/default""#,
    ];
    for (agent, reporter) in [(&source, "source"), (&destination, "destination")] {
        let reporter = format!("reporter=\"{reporter}\"");
        let labels = [&tunnelled[..], &[reporter.as_str()]].concat();
        let counted = metrics::requests_total(&agent.registry, &labels, 3).await;
        assert_eq!(counted, 3, "{reporter}: {}", agent.metrics());
    }
    let tunnels = source.inputs.tunnels.as_ref().unwrap();
    assert_eq!(
        tunnels.open_connections(),
        1,
        "one pooled tunnel connection"
    );
}

#[tokio::test]
async fn connections_share_one_pooled_tunnel_which_closes_once_idle() {
    let ca = TestCa::new();
    let yaml = pods("127.0.0.28", true);
    let settings = TunnelSettings {
        idle_timeout: Duration::from_millis(300),
        ..TunnelSettings::default()
    };
    let source =
        Agent::with_tunnel_settings(compile(&yaml), TestCertificates::new(ca.clone()), settings);
    let destination = Agent::with_tunnels(compile(&yaml), TestCertificates::new(ca));
    destination.tunnel_inbound("web-0", "127.0.0.28").await;
    let app = echo_server("127.0.0.28:0".parse().unwrap(), "web").await;
    let client = source.sleep().await;
    let app = app.to_string();
    let exchanges = (0..5).map(|_| client.exchange(&app, b"hi"));
    for answer in futures::future::join_all(exchanges).await {
        assert_eq!(answer.unwrap(), b"web:hi");
    }
    let tunnels = source.inputs.tunnels.as_ref().unwrap();
    assert_eq!(tunnels.open_connections(), 1);
    crate::harness::wait_until("idle tunnel closed", || tunnels.open_connections() == 0).await;
}

#[tokio::test]
async fn with_no_agent_on_the_tunnel_port_the_connection_fails_open_in_plain_text() {
    let ca = TestCa::new();
    let source = Agent::with_tunnels(
        compile(&pods("127.0.0.29", true)),
        TestCertificates::new(ca),
    );
    let app = echo_server("127.0.0.29:0".parse().unwrap(), "web").await;
    let answer = source.sleep().await.exchange(&app.to_string(), b"hi").await;
    assert_eq!(answer.unwrap(), b"web:hi");
    let labels = closed_labels(&source, "source").await;
    assert!(
        labels.contains(r#"connection_security_policy="none""#),
        "{labels}"
    );
}

#[tokio::test]
async fn http_failing_open_in_plain_text_is_reported_none_not_mutual_tls() {
    let ca = TestCa::new();
    let source = Agent::with_tunnels(
        compile(&pods("127.0.0.33", true)),
        TestCertificates::new(ca),
    );
    // No agent serves web-0's tunnel port: the request goes in plain text.
    let web = Upstream::healthy("127.0.0.33:0".parse().unwrap(), "web").await;
    let mut client = source.sleep().await.http1(&web.address.to_string()).await;
    for _ in 0..2 {
        let request = http::Request::get("/").body(Empty::new().boxed()).unwrap();
        let response = client.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let plain = [
        r#"reporter="source""#,
        r#"connection_security_policy="none""#,
    ];
    let counted = metrics::requests_total(&source.registry, &plain, 2).await;
    assert_eq!(counted, 2, "{}", source.metrics());
    assert!(
        !source
            .metrics()
            .contains(r#"connection_security_policy="mutual_tls""#),
        "{}",
        source.metrics()
    );
}

#[tokio::test]
async fn a_tunnel_connection_carries_at_most_max_streams_then_another_is_dialled() {
    let ca = TestCa::new();
    let yaml = pods("127.0.0.30", true);
    let settings = TunnelSettings {
        max_streams: 2,
        ..TunnelSettings::default()
    };
    let source =
        Agent::with_tunnel_settings(compile(&yaml), TestCertificates::new(ca.clone()), settings);
    let destination = Agent::with_tunnels(compile(&yaml), TestCertificates::new(ca));
    destination.tunnel_inbound("web-0", "127.0.0.30").await;
    let app = streaming_echo_server("127.0.0.30:0".parse().unwrap()).await;
    let client = source.sleep().await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut stream = client.connect(&app.to_string()).await;
        echoes(&mut stream, b"ping").await;
        open.push(stream);
    }
    let tunnels = source.inputs.tunnels.as_ref().unwrap();
    assert_eq!(
        tunnels.open_connections(),
        2,
        "3 streams at 2 per connection"
    );
}

#[tokio::test]
async fn a_draining_destination_sends_goaway_and_the_next_stream_reaches_its_successor() {
    let ca = TestCa::new();
    let yaml = pods("127.0.0.31", true);
    let source = Agent::with_tunnels(compile(&yaml), TestCertificates::new(ca.clone()));
    let old = Agent::with_tunnels(compile(&yaml), TestCertificates::new(ca.clone()));
    old.tunnel_inbound("web-0", "127.0.0.31").await;
    let app = echo_server("127.0.0.31:0".parse().unwrap(), "web")
        .await
        .to_string();
    let client = source.sleep().await;
    assert_eq!(client.exchange(&app, b"one").await.unwrap(), b"web:one");
    old.drain().enter(Phase::Draining);
    // The old listener closes as it drains; the successor binds the tunnel port again.
    let successor = Agent::with_tunnels(compile(&yaml), TestCertificates::new(ca));
    let bound = async {
        loop {
            match tokio::net::TcpListener::bind("127.0.0.31:15008").await {
                Ok(probe) => return drop(probe),
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    };
    tokio::time::timeout(crate::harness::GUARD, bound)
        .await
        .expect("the old listener closes");
    successor.tunnel_inbound("web-0", "127.0.0.31").await;
    assert_eq!(client.exchange(&app, b"two").await.unwrap(), b"web:two");
    let served = closed_labels(&successor, "destination").await;
    assert!(served.contains("mutual_tls"), "{served}");
}

#[tokio::test]
async fn a_stream_open_when_the_destination_drains_goes_on_to_its_end() {
    let ca = TestCa::new();
    let yaml = pods("127.0.0.32", true);
    let source = Agent::with_tunnels(compile(&yaml), TestCertificates::new(ca.clone()));
    let old = Agent::with_tunnels(compile(&yaml), TestCertificates::new(ca));
    old.tunnel_inbound("web-0", "127.0.0.32").await;
    let app = streaming_echo_server("127.0.0.32:0".parse().unwrap()).await;
    let client = source.sleep().await;
    let mut stream = client.connect(&app.to_string()).await;
    echoes(&mut stream, b"before").await;
    old.drain().enter(Phase::Draining);
    tokio::time::sleep(Duration::from_millis(200)).await;
    echoes(&mut stream, b"after the drain began").await;
}
