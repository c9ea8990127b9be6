//! Reading a request's trace context from its headers and writing the next hop's back:
//! W3C first, then B3 single, then B3 multi. A malformed header is ignored, never an error.

use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use super::b3::{self, B3};
use super::context::{ParentContext, SpanContext};
use super::w3c;

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
const B3_SINGLE: HeaderName = HeaderName::from_static("b3");
const B3_TRACE_ID: HeaderName = HeaderName::from_static("x-b3-traceid");
const B3_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-spanid");
const B3_PARENT_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-parentspanid");
const B3_SAMPLED: HeaderName = HeaderName::from_static("x-b3-sampled");
const B3_FLAGS: HeaderName = HeaderName::from_static("x-b3-flags");
/// The request id header Envoy generates and logs.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The header formats a request arrived with; the next hop gets the same ones (and W3C).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Formats {
    /// `b3` was present.
    pub b3_single: bool,
    /// `x-b3-*` were present.
    pub b3_multi: bool,
}

/// What a request's headers say about its trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extracted {
    /// The caller's span, when a header named a valid one.
    pub parent: Option<ParentContext>,
    /// The caller's sampling decision, when it made one.
    pub sampled: Option<bool>,
    /// Which B3 forms to write back.
    pub formats: Formats,
}

/// Reads the trace context of a request.
pub fn extract(headers: &HeaderMap) -> Extracted {
    let text = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let formats = Formats {
        b3_single: headers.contains_key(B3_SINGLE),
        b3_multi: headers.contains_key(B3_TRACE_ID) || headers.contains_key(B3_SAMPLED),
    };
    let tracestate = tracestate(headers);
    let w3c = text(&TRACEPARENT).and_then(|tp| w3c::parse(tp, tracestate.as_deref()));
    if let Some(read) = w3c {
        return Extracted {
            parent: Some(read.parent),
            sampled: Some(read.sampled),
            formats,
        };
    }
    let single = text(&B3_SINGLE).and_then(b3::parse_single);
    let multi = || {
        let (trace, span) = (text(&B3_TRACE_ID), text(&B3_SPAN_ID));
        b3::parse_multi(trace, span, text(&B3_SAMPLED), text(&B3_FLAGS))
    };
    let B3 { parent, sampled } = single.or_else(multi).unwrap_or_default();
    Extracted {
        parent,
        sampled,
        formats,
    }
}

/// Writes `span` for the next hop: `traceparent` (and `tracestate`) always, and each B3 form
/// in `formats`; stale values of the formats written are replaced.
pub fn inject(headers: &mut HeaderMap, span: &SpanContext, formats: Formats) {
    set(headers, TRACEPARENT, w3c::traceparent(span));
    match &span.tracestate {
        Some(state) => set(headers, TRACESTATE, state.clone()),
        None => drop(headers.remove(TRACESTATE)),
    }
    if formats.b3_single {
        set(headers, B3_SINGLE, b3::single(span));
    }
    if formats.b3_multi {
        set(headers, B3_TRACE_ID, span.trace_id.to_string());
        set(headers, B3_SPAN_ID, span.span_id.to_string());
        match span.parent_id {
            Some(parent) => set(headers, B3_PARENT_SPAN_ID, parent.to_string()),
            None => drop(headers.remove(B3_PARENT_SPAN_ID)),
        }
        set(
            headers,
            B3_SAMPLED,
            if span.sampled { "1" } else { "0" }.into(),
        );
        headers.remove(B3_FLAGS);
    }
}

/// The request's `x-request-id`, generated (a UUID v4) and set when absent or unreadable.
pub fn ensure_request_id(headers: &mut HeaderMap) -> String {
    let present = headers.get(REQUEST_ID).and_then(|v| v.to_str().ok());
    if let Some(id) = present.filter(|id| !id.is_empty()) {
        return id.to_string();
    }
    let id = uuid_v4();
    set(headers, REQUEST_ID, id.clone());
    id
}

/// A random UUID, version 4, in its hyphenated form.
pub fn uuid_v4() -> String {
    let bits = fastrand::u128(..);
    let bits = (bits & !(0xf << 76)) | (0x4 << 76); // version 4
    let bits = (bits & !(0x3 << 62)) | (0x2 << 62); // variant 10
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Every `tracestate` line, joined as the spec asks.
fn tracestate(headers: &HeaderMap) -> Option<String> {
    let parts: Vec<&str> = headers
        .get_all(TRACESTATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: String) {
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.insert(name, value);
    }
}
