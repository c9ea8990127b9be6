//! The span export path without the proxy: the bounded queue drops and counts on overload,
//! the exporter delivers what the queue kept to an OTLP collector, failures are counted.

use std::time::{Duration, SystemTime};

use mesh_agent::spans::{
    run_exporter, BatchSettings, CollectorAddress, SpanContext, SpanKind, SpanQueue, SpanRecord,
    TraceMetrics,
};
use prometheus_client::registry::Registry;

use crate::harness::collector::Collector;
use crate::harness::GUARD;

fn record(name: &str) -> SpanRecord {
    SpanRecord {
        context: SpanContext::child_of(None, true),
        name: name.into(),
        kind: SpanKind::Client,
        service: "frontend.shop".into(),
        start: SystemTime::now(),
        end: SystemTime::now(),
        attributes: vec![("component", "proxy".into())],
        error: false,
    }
}

fn counter(registry: &Registry, name: &str) -> u64 {
    let text = mesh_agent::metrics::encode(registry).unwrap();
    let line = text.lines().find(|l| l.starts_with(&format!("{name} ")));
    line.map_or(0, |l| l.rsplit(' ').next().unwrap().parse().unwrap())
}

fn batch() -> BatchSettings {
    BatchSettings {
        max_batch: 100,
        delay: Duration::from_millis(20),
        timeout: GUARD,
    }
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_and_the_rest_is_exported() {
    let mut registry = Registry::default();
    let metrics = TraceMetrics::register(&mut registry);
    let (queue, receiver) = SpanQueue::bounded(2, &metrics);
    for i in 0..5 {
        queue.push(record(&format!("span-{i}")));
    }
    assert_eq!(counter(&registry, "mesh_trace_spans_dropped_total"), 3);

    let collector = Collector::start().await;
    let address = CollectorAddress {
        host: collector.address.ip().to_string(),
        port: collector.address.port(),
    };
    tokio::spawn(run_exporter(receiver, address, batch(), metrics.clone()));
    let spans = collector.wait_for(2, GUARD).await;
    let mut names: Vec<String> = spans.iter().map(|s| s.span.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["span-0", "span-1"]);
    assert_eq!(spans[0].service, "frontend.shop");
    drop(queue);
    let exported = || counter(&registry, "mesh_trace_spans_exported_total");
    let _ = tokio::time::timeout(GUARD, async {
        while exported() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(exported(), 2);
}

#[tokio::test]
async fn an_unreachable_collector_counts_a_failed_export() {
    let mut registry = Registry::default();
    let metrics = TraceMetrics::register(&mut registry);
    let (queue, receiver) = SpanQueue::bounded(8, &metrics);
    // A loopback port nobody listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = CollectorAddress {
        host: "127.0.0.1".into(),
        port,
    };
    queue.push(record("lost"));
    drop(queue);
    // The exporter ends once the queue is closed and drained.
    tokio::time::timeout(GUARD, run_exporter(receiver, address, batch(), metrics))
        .await
        .unwrap();
    assert_eq!(counter(&registry, "mesh_trace_export_failures_total"), 1);
    assert_eq!(counter(&registry, "mesh_trace_spans_exported_total"), 0);
}
