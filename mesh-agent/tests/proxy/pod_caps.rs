//! Per-pod caps set by annotation, through the real outbound proxy in-process: a pod annotated
//! `mesh.io/max-connections` is refused past its own cap while a pod without it is served up to
//! the flag's; a pod annotated `mesh.io/max-requests-in-flight` gets 503 `OM` past its cap while
//! another pod's request goes through.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;

use crate::harness::proxy::Client;
use crate::harness::upstream::Behaviour;
use crate::harness::web::{get, web_with, WEB};
use crate::harness::GUARD;
use mesh_agent::proxy::Cap;

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// The pod `greedy-0` at 127.0.0.9 with `annotations` (YAML flow mapping entries).
fn greedy(annotations: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: greedy-0, namespace: shop, \
         labels: {{app: greedy}}, annotations: {{{annotations}}}}}\n\
         status: {{podIP: 127.0.0.9}}\n---\n"
    )
}

async fn connection(client: &Client) -> Sender {
    let stream = client.connect(WEB).await;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

async fn status(sender: &mut Sender) -> Result<u16, hyper::Error> {
    let response = tokio::time::timeout(GUARD, sender.send_request(get("/", &[])));
    Ok(response.await.expect("no hang")?.status().as_u16())
}

#[tokio::test]
async fn a_pod_past_its_annotated_connection_cap_is_refused_while_another_is_served() {
    let yaml = greedy("mesh.io/max-connections: \"1\"");
    let h = web_with(&[Behaviour::Healthy], &yaml, |inputs| inputs).await;
    let greedy = h.agent.outbound("greedy-0", "127.0.0.9").await;
    let mut first = connection(&greedy).await;
    assert_eq!(status(&mut first).await.unwrap(), 200);
    let mut second = connection(&greedy).await;
    assert!(
        status(&mut second).await.is_err(),
        "its second connection is closed"
    );
    assert_eq!(h.agent.inputs.caps.refused(Cap::pod), 1);
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut sender = connection(&h.client).await;
        assert_eq!(
            status(&mut sender).await.unwrap(),
            200,
            "sleep-0 has the flag's cap"
        );
        held.push(sender);
    }
    assert_eq!(h.agent.inputs.caps.refused(Cap::pod), 1);
}

#[tokio::test]
async fn a_pod_past_its_requests_in_flight_gets_503_om_while_another_pod_is_served() {
    let yaml = greedy("mesh.io/max-requests-in-flight: \"1\"");
    let h = web_with(&[Behaviour::Hang], &yaml, |inputs| inputs).await;
    let greedy = h.agent.outbound("greedy-0", "127.0.0.9").await;
    let mut parked = connection(&greedy).await;
    let parked = tokio::spawn(async move { status(&mut parked).await.unwrap() });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut more = connection(&greedy).await;
    assert_eq!(
        status(&mut more).await.unwrap(),
        503,
        "its second request in flight"
    );
    let mut other = connection(&h.client).await;
    let other = tokio::spawn(async move { status(&mut other).await.unwrap() });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !other.is_finished(),
        "sleep-0's request waits for the upstream, not refused"
    );
    h.pods[0].heal();
    assert_eq!((parked.await.unwrap(), other.await.unwrap()), (200, 200));
    let flagged = ["response_code=\"503\"", "response_flags=\"OM\""];
    assert_eq!(h.requests_total(&flagged, 1).await, 1);
    assert_eq!(h.agent.inputs.http.request_caps.refused(), 1);
}
