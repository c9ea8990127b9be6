//! DNS ServiceEntries resolved by the agent, in-process: a test DNS server on loopback answers
//! with TTLs; the agent's resolver task feeds its answers to the pipeline, and a connection to
//! the entry's address reaches the address the name resolves to now.

use std::time::Duration;

use mesh_agent::dns::{self, NameLookup, MIN_REFRESH};
use mesh_agent::pipeline::ConfigState;

use crate::harness::config::{compile, sleep};
use crate::harness::dns::DnsServer;
use crate::harness::proxy::Agent;
use crate::harness::upstream::echo_server;
use crate::harness::wait_until;

/// `api.example.test`, resolved by DNS, at the address 127.0.0.30 the app dials, port `port`.
fn entry(port: u16) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
         metadata: {{name: api, namespace: shop}}\nspec:\n  hosts: [api.example.test]\n\
         \x20 addresses: [127.0.0.30]\n  location: MESH_EXTERNAL\n  resolution: DNS\n\
         \x20 ports: [{{number: {port}, name: tcp, protocol: TCP}}]\n---\n"
    ) + &sleep()
}

fn endpoint_ips(state: &ConfigState, port: u16) -> Vec<String> {
    let snapshot = state.snapshot();
    let cluster = snapshot.cluster("api.example.test", port, None).unwrap();
    let ips = cluster
        .endpoints
        .iter()
        .map(|(a, _)| serde_json::to_string(a).unwrap());
    ips.collect()
}

#[tokio::test]
async fn a_lookup_answers_the_addresses_and_asks_again_when_the_ttl_runs_out() {
    let server = DnsServer::start().await;
    server.set("api.example.test", &["192.0.2.1", "192.0.2.2"], 30);
    let lookup = NameLookup::with_server(server.address);
    let before = tokio::time::Instant::now();
    let answer = lookup.lookup("api.example.test").await.unwrap();
    let mut addresses: Vec<String> = answer.addresses.iter().map(|a| a.to_string()).collect();
    addresses.sort();
    assert_eq!(addresses, ["192.0.2.1", "192.0.2.2"]);
    let ttl = answer.refresh_at - before;
    assert!(
        ttl > Duration::from_secs(28) && ttl <= Duration::from_secs(31),
        "{ttl:?}"
    );
    let missing = lookup.lookup("gone.example.test").await.unwrap();
    assert!(missing.addresses.is_empty(), "NXDOMAIN: no endpoints");
}

#[tokio::test]
async fn a_dns_entry_follows_its_changed_address() {
    let first = echo_server("127.0.0.31:0".parse().unwrap(), "first").await;
    let port = first.port();
    echo_server(format!("127.0.0.32:{port}").parse().unwrap(), "second").await;
    let server = DnsServer::start().await;
    server.set("api.example.test", &["127.0.0.31"], 1);
    let state = compile(&entry(port));
    assert_eq!(
        endpoint_ips(&state, port),
        ["\"api.example.test\""],
        "not resolved yet"
    );
    tokio::spawn(dns::run(
        state.clone(),
        NameLookup::with_server(server.address),
    ));
    let agent = Agent::new(state.clone());
    let client = agent.sleep().await;
    let dialled = format!("127.0.0.30:{port}");
    wait_until("resolved", || {
        endpoint_ips(&state, port) == ["\"127.0.0.31\""]
    })
    .await;
    assert_eq!(client.exchange(&dialled, b"hi").await.unwrap(), b"first:hi");

    server.set("api.example.test", &["127.0.0.32"], 1);
    wait_until("re-resolved", || {
        endpoint_ips(&state, port) == ["\"127.0.0.32\""]
    })
    .await;
    assert_eq!(
        client.exchange(&dialled, b"hi").await.unwrap(),
        b"second:hi"
    );
    let asked = server.queries("api.example.test");
    assert!(asked >= 2, "asked again after the TTL: {asked}");
    tokio::time::sleep(MIN_REFRESH).await;
    let later = server.queries("api.example.test");
    assert!(later <= asked + 4, "not in a loop: {asked} then {later}");
}
