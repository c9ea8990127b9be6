//! The configuration benchmark's measured process (run by `cargo xtask bench config`):
//! generates a large cluster in memory as raw resources — Services with EndpointSlices,
//! VirtualServices, DestinationRules — compiles it with `snapshot::build`, then re-applies a
//! single endpoint change against the first snapshot. Prints times and peak memory (VmHWM).

use std::sync::Arc;
use std::time::Instant;

use mesh_agent::document::{Origin, RawResource, ResourceSet};
use mesh_agent::snapshot::{build, Snapshot};
use serde_json::{json, Value};

const SERVICES: usize = 10_000;
const ENDPOINTS_PER_SERVICE: usize = 5;
const ROUTED: usize = 2_000;
const NAMESPACES: usize = 100;

fn main() {
    let start = Instant::now();
    let mut set = Arc::new(cluster());
    let generated = start.elapsed();
    let before = peak_kib();
    println!(
        "generated   {} resources in {generated:.2?} (VmHWM {} MiB)",
        set.len(),
        before / 1024
    );

    let start = Instant::now();
    let (snapshot, problems) = build(&set, None);
    let compiled = start.elapsed();
    let errors = problems.iter().filter(|p| p.is_error()).count();
    println!(
        "compiled    {} services, {} resources in force, {errors} errors in {compiled:.2?}",
        snapshot.registry().services().len(),
        snapshot.resource_count()
    );
    let peak = peak_kib();
    println!(
        "peak memory VmHWM {} MiB (generated set alone {} MiB, compile added {} MiB)",
        peak / 1024,
        before / 1024,
        (peak - before) / 1024
    );

    move_one_endpoint(Arc::<Vec<RawResource>>::make_mut(&mut set));
    let start = Instant::now();
    let next = reapply(&set, &snapshot);
    let reapplied = start.elapsed();
    let cluster = next.cluster(&host(0), 80, None).expect("svc-0's cluster");
    let moved = cluster
        .endpoints
        .iter()
        .any(|(address, _)| format!("{address:?}").contains("10.250.0.1"));
    println!("re-applied  one endpoint change in {reapplied:.2?} (applied: {moved})");
    println!("aim: compile < 1 s, peak < 300 MiB, one change < 50 ms");
}

/// The set built against the first snapshot: the measured change (a function of its own, so
/// that `valgrind --tool=callgrind --toggle-collect='*reapply*'` counts exactly it).
#[inline(never)]
fn reapply(set: &ResourceSet, previous: &Snapshot) -> Snapshot {
    build(set, Some(previous)).0
}

/// Every resource of the generated cluster.
fn cluster() -> Vec<RawResource> {
    let mut set = Vec::with_capacity(SERVICES * 2 + ROUTED * 2);
    for i in 0..SERVICES {
        set.push(raw("v1", "Service", i, service(i)));
        set.push(raw("discovery.k8s.io/v1", "EndpointSlice", i, slice(i)));
    }
    for i in 0..ROUTED {
        set.push(raw("networking.istio.io/v1", "DestinationRule", i, rule(i)));
        set.push(raw(
            "networking.istio.io/v1",
            "VirtualService",
            i,
            routes(i),
        ));
    }
    set
}

fn namespace(i: usize) -> String {
    format!("ns-{}", i % NAMESPACES)
}

fn host(i: usize) -> String {
    format!("svc-{i}.{}.svc.cluster.local", namespace(i))
}

fn raw(api_version: &str, kind: &str, i: usize, spec: Value) -> RawResource {
    let name = format!("svc-{i}");
    let mut body = json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace(i)},
    });
    let fields = spec.as_object().expect("an object");
    for (key, value) in fields {
        body[key] = value.clone();
    }
    if kind == "EndpointSlice" {
        body["metadata"]["labels"] = json!({"kubernetes.io/service-name": name});
    }
    RawResource {
        origin: Origin::file(format!("{kind}.yaml"), i + 1),
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: Some(namespace(i)),
        name,
        body: Arc::new(body),
    }
}

fn service(i: usize) -> Value {
    let ip = format!("10.96.{}.{}", i / 250, i % 250 + 1);
    json!({"spec": {"clusterIP": ip, "selector": {"app": format!("svc-{i}")},
        "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
}

fn slice(i: usize) -> Value {
    let endpoints: Vec<Value> = (0..ENDPOINTS_PER_SERVICE)
        .map(|e| {
            let n = i * ENDPOINTS_PER_SERVICE + e;
            json!({"addresses": [format!("10.{}.{}.{}", 1 + n / 65_536, n / 256 % 256, n % 256)],
                "conditions": {"ready": true}})
        })
        .collect();
    json!({"addressType": "IPv4", "endpoints": endpoints,
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]})
}

fn rule(i: usize) -> Value {
    json!({"spec": {"host": format!("svc-{i}"),
        "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 100}},
            "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s"}},
        "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                    {"name": "v2", "labels": {"version": "v2"}}]}})
}

fn routes(i: usize) -> Value {
    let host = format!("svc-{i}");
    json!({"spec": {"hosts": [host],
        "http": [
            {"match": [{"headers": {"end-user": {"exact": "jason"}}}],
             "route": [{"destination": {"host": host, "subset": "v2"}}]},
            {"route": [{"destination": {"host": host, "subset": "v1"}, "weight": 90},
                       {"destination": {"host": host, "subset": "v2"}, "weight": 10}],
             "retries": {"attempts": 3, "perTryTimeout": "2s"}, "timeout": "10s"}]}})
}

/// svc-0's first endpoint moves to another address.
fn move_one_endpoint(set: &mut [RawResource]) {
    let slice = set
        .iter_mut()
        .find(|r| r.kind == "EndpointSlice" && r.name == "svc-0")
        .expect("svc-0's slice");
    Arc::make_mut(&mut slice.body)["endpoints"][0]["addresses"][0] = json!("10.250.0.1");
}

/// The process's peak resident set (VmHWM), in KiB.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:"));
    let kib = line.and_then(|l| l.split_whitespace().nth(1));
    kib.and_then(|k| k.parse().ok()).unwrap_or(0)
}
