//! A finished span as the mesh records it, before it is encoded for the collector.

use std::time::SystemTime;

use super::context::SpanContext;

/// Which side of a hop a span describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    /// The source side (outbound): the call as the caller's proxy saw it.
    Client,
    /// The destination side (inbound): the call as the callee's proxy saw it.
    Server,
}

/// One finished span.
#[derive(Clone, Debug)]
pub struct SpanRecord {
    /// Ids, parent and sampling.
    pub context: SpanContext,
    /// Envoy's name: `<host>:<port>/*` (outbound) or the same, seen inbound.
    pub name: String,
    /// Client or server.
    pub kind: SpanKind,
    /// The `service.name` of the resource: `<canonical service>.<namespace>`, as Istio names it.
    pub service: String,
    /// When the request arrived.
    pub start: SystemTime,
    /// When its response ended.
    pub end: SystemTime,
    /// Istio's span tags (all strings, as Envoy sends them).
    pub attributes: Vec<(&'static str, String)>,
    /// Whether the request failed (a 5xx, or a response flag set).
    pub error: bool,
}

impl SpanRecord {
    /// The value of attribute `key`.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        let found = self.attributes.iter().find(|(k, _)| *k == key);
        found.map(|(_, v)| v.as_str())
    }
}
