//! The handshake rate on the tunnel's inbound side, in-process: a pod annotated
//! `mesh.io/max-handshakes-per-second: "1"` takes one TLS handshake a second — a second
//! tunnel connection at once is reset before its handshake and counted — while another pod on
//! the same agent goes on taking handshakes.
//! Its pods are 127.0.0.61 and .62: no other test binds those on the tunnel port.

use mesh_agent::proxy::HandshakeListener;

use crate::harness::certificates::{identity, TestCa, TestCertificates};
use crate::harness::config::{compile, pod};
use crate::harness::hbone;
use crate::harness::proxy::Agent;

const AMBIENT: &str = "istio.io/dataplane-mode: ambient";

#[tokio::test]
async fn a_pod_past_its_handshakes_per_second_is_reset_while_another_pod_is_served() {
    let capped = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: web-0, namespace: shop, \
         labels: {{app: web, {AMBIENT}}}, \
         annotations: {{mesh.io/max-handshakes-per-second: \"1\"}}}}\n\
         status: {{podIP: 127.0.0.61}}\n---\n"
    );
    let yaml = capped + &pod("web-1", &format!("app: web, {AMBIENT}"), "127.0.0.62");
    let ca = TestCa::new();
    let agent = Agent::with_tunnels(compile(&yaml), TestCertificates::new(ca.clone()));
    let capped = agent.tunnel_inbound("web-0", "127.0.0.61").await;
    let other = agent.tunnel_inbound("web-1", "127.0.0.62").await;
    let sleep = ca.issue(&identity("shop", "sleep"));
    let (first, second) = tokio::join!(
        hbone::Client::connect(capped, &sleep),
        hbone::Client::connect(capped, &sleep)
    );
    assert!(
        first.is_ok() != second.is_ok(),
        "exactly one handshake of two at once: {:?} {:?}",
        first.as_ref().err(),
        second.as_ref().err()
    );
    let refused = agent
        .inputs
        .caps
        .handshakes
        .refused(HandshakeListener::tunnel);
    assert_eq!(refused, 1);
    for _ in 0..3 {
        let served = hbone::Client::connect(other, &sleep).await;
        assert!(
            served.is_ok(),
            "web-1 has the flag's rate: {:?}",
            served.err()
        );
    }
}
