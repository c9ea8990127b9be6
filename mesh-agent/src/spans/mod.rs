//! Distributed tracing, as Istio's proxies do it: W3C and B3 contexts are read and passed on,
//! each hop records a span (client at the source, server at the destination) with Istio's
//! tags, and sampled spans are exported over OTLP through a bounded queue that drops, and
//! counts, rather than slow a request. The span model is our own; the wire format is the
//! official OTLP protobuf (`opentelemetry-proto`, encoded with prost).

mod attributes;
mod b3;
mod context;
mod export;
mod otlp;
mod propagation;
mod queue;
mod sampling;
mod settings;
mod span;
mod w3c;

use std::time::SystemTime;

use hyper::HeaderMap;

pub use attributes::{istio_attributes, service_name, span_name};
pub use b3::{parse_multi as parse_b3_multi, parse_single as parse_b3_single, B3};
pub use context::{ParentContext, SpanContext, SpanId, TraceId};
pub use export::{run_exporter, BatchSettings, ExportError};
pub use otlp::{export_request, grpc_frame, EXPORT_PATH};
pub use propagation::{ensure_request_id, extract, inject, uuid_v4, Extracted, Formats};
pub use queue::{SpanQueue, SpanReceiver, TraceMetrics};
pub use sampling::Sampler;
pub use settings::{CollectorAddress, TracingSettings, DEFAULT_MESH_ID};
pub use span::{SpanKind, SpanRecord};
pub use w3c::{parse as parse_traceparent, traceparent, TraceParent};

use crate::facts::{HopPeers, RequestFacts, ResponseFacts};

/// Opens, closes and queues the spans of proxied requests.
#[derive(Debug)]
pub struct Tracer {
    sampler: Sampler,
    queue: Option<SpanQueue>,
    mesh_id: String,
}

/// A sampled span, open while its request is in flight.
#[derive(Clone, Debug)]
pub struct OpenSpan {
    context: SpanContext,
    kind: SpanKind,
    start: SystemTime,
}

impl OpenSpan {
    /// The span's ids.
    pub fn context(&self) -> &SpanContext {
        &self.context
    }
}

impl Tracer {
    /// The tracer `settings` ask for, with its exporter task spawned when a collector is set;
    /// `None` when tracing is off. Call inside a tokio runtime.
    pub fn spawn(settings: &TracingSettings, metrics: &TraceMetrics) -> Option<Self> {
        if !settings.enabled {
            return None;
        }
        let queue = settings.collector.clone().map(|collector| {
            let (queue, receiver) = SpanQueue::bounded(settings.queue_capacity, metrics);
            let exporter = run_exporter(receiver, collector, settings.batch, metrics.clone());
            tokio::spawn(exporter);
            queue
        });
        Some(Self::new(
            Sampler::new(settings.sampling_percent),
            queue,
            &settings.mesh_id,
        ))
    }

    /// A tracer sampling with `sampler` into `queue` (no spans are kept without one).
    pub fn new(sampler: Sampler, queue: Option<SpanQueue>, mesh_id: &str) -> Self {
        Self {
            sampler,
            queue,
            mesh_id: mesh_id.into(),
        }
    }

    /// Continues (or starts) the trace of a request arriving with `headers` and rewrites them
    /// to name the new span to the next hop. The span is returned only when sampled and kept.
    pub fn open(&self, headers: &mut HeaderMap, kind: SpanKind) -> Option<OpenSpan> {
        self.open_at(headers, kind, None)
    }

    /// [`Tracer::open`], sampling undecided requests at `sampling_percent` when given (a
    /// Telemetry's `randomSamplingPercentage`) instead of the mesh config's rate.
    pub fn open_at(
        &self,
        headers: &mut HeaderMap,
        kind: SpanKind,
        sampling_percent: Option<f64>,
    ) -> Option<OpenSpan> {
        let extracted = extract(headers);
        let sampler = sampling_percent.map_or(self.sampler, Sampler::new);
        let sampled = sampler.decide(extracted.sampled);
        let context = SpanContext::child_of(extracted.parent.as_ref(), sampled);
        inject(headers, &context, extracted.formats);
        (sampled && self.queue.is_some()).then(|| OpenSpan {
            context,
            kind,
            start: SystemTime::now(),
        })
    }

    /// Closes `span` with the request's facts and queues it for export.
    pub fn close(
        &self,
        span: OpenSpan,
        peers: &HopPeers<'_>,
        facts: &RequestFacts,
        outcome: &ResponseFacts<'_>,
    ) {
        let Some(queue) = &self.queue else { return };
        queue.push(SpanRecord {
            name: span_name(facts, outcome),
            kind: span.kind,
            service: service_name(peers),
            start: span.start,
            end: SystemTime::now(),
            attributes: istio_attributes(&self.mesh_id, peers, facts, outcome),
            error: outcome.failed(),
            context: span.context,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_telemetry_sampling_rate_overrides_the_mesh_s() {
        let (queue, _receiver) = SpanQueue::bounded(8, &TraceMetrics::default());
        let tracer = Tracer::new(Sampler::new(100.0), Some(queue), DEFAULT_MESH_ID);
        let mut headers = HeaderMap::new();
        assert!(tracer.open(&mut headers, SpanKind::Client).is_some());
        let mut headers = HeaderMap::new();
        let off = tracer.open_at(&mut headers, SpanKind::Client, Some(0.0));
        assert!(off.is_none(), "randomSamplingPercentage: 0 samples nothing");
        assert!(
            headers.contains_key("traceparent"),
            "the context still goes on"
        );
    }
}
