//! Finished spans as OTLP protobuf (the official definitions from `opentelemetry-proto`),
//! one resource per proxied service, framed for the gRPC `TraceService/Export` call.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as OtlpKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

use super::span::{SpanKind, SpanRecord};

/// The gRPC method a collector serves OTLP traces on.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The export request for `spans`, grouped by the service they describe.
pub fn export_request(spans: Vec<SpanRecord>) -> ExportTraceServiceRequest {
    let mut by_service: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    for record in spans {
        let service = record.service.clone();
        by_service.entry(service).or_default().push(span(record));
    }
    let resource_spans = by_service
        .into_iter()
        .map(|(service, spans)| ResourceSpans {
            resource: Some(resource(service)),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

/// `message` as one gRPC length-prefixed, uncompressed message.
pub fn grpc_frame(message: &impl Message) -> Bytes {
    let len = message.encoded_len();
    let mut frame = BytesMut::with_capacity(5 + len);
    frame.put_u8(0);
    frame.put_u32(len as u32);
    message
        .encode(&mut frame)
        .expect("a BytesMut with enough capacity");
    frame.freeze()
}

fn span(record: SpanRecord) -> Span {
    let context = &record.context;
    let status = Status {
        code: if record.error {
            StatusCode::Error
        } else {
            StatusCode::Unset
        } as i32,
        ..Default::default()
    };
    Span {
        trace_id: context.trace_id.0.to_vec(),
        span_id: context.span_id.0.to_vec(),
        trace_state: context.tracestate.clone().unwrap_or_default(),
        parent_span_id: context.parent_id.map(|p| p.0.to_vec()).unwrap_or_default(),
        flags: 1,
        name: record.name,
        kind: match record.kind {
            SpanKind::Client => OtlpKind::Client,
            SpanKind::Server => OtlpKind::Server,
        } as i32,
        start_time_unix_nano: unix_nanos(record.start),
        end_time_unix_nano: unix_nanos(record.end),
        attributes: record
            .attributes
            .into_iter()
            .map(|(key, value)| string_value(key, value))
            .collect(),
        status: Some(status),
        ..Default::default()
    }
}

fn resource(service: String) -> Resource {
    Resource {
        attributes: vec![string_value("service.name", service)],
        ..Default::default()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "mesh-agent".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    }
}

fn string_value(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..Default::default()
    }
}

fn unix_nanos(time: SystemTime) -> u64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    since.as_nanos() as u64
}
