//! Zipkin B3 propagation: the single `b3` header and the multi-header `x-b3-*` form.

use super::context::{ParentContext, SpanContext, SpanId, TraceId};

/// What a B3 header carried: the caller's span (absent in a sampling-only header) and its
/// sampling decision (absent when deferred).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct B3 {
    /// The caller's span.
    pub parent: Option<ParentContext>,
    /// `Some(true)` for `1` or debug, `Some(false)` for `0`, `None` when deferred.
    pub sampled: Option<bool>,
}

/// Parses a single `b3` header: `traceid-spanid[-sampling[-parentspanid]]` or just `sampling`.
pub fn parse_single(value: &str) -> Option<B3> {
    let fields: Vec<&str> = value.trim().split('-').collect();
    match fields.as_slice() {
        [sampling] => Some(B3 {
            parent: None,
            sampled: Some(sampling_flag(sampling)?),
        }),
        [trace, span, rest @ ..] if rest.len() <= 2 => {
            let parent = ids(trace, span)?;
            let sampled = match rest.first() {
                Some(flag) => Some(sampling_flag(flag)?),
                None => None,
            };
            if let Some(parent_span) = rest.get(1) {
                SpanId::from_hex(parent_span)?;
            }
            Some(B3 {
                parent: Some(parent),
                sampled,
            })
        }
        _ => None,
    }
}

/// Parses the multi-header form from `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled` and
/// `x-b3-flags`. Ids must come in pairs; a lone sampling decision is kept.
pub fn parse_multi(
    trace: Option<&str>,
    span: Option<&str>,
    sampled: Option<&str>,
    flags: Option<&str>,
) -> Option<B3> {
    let parent = match (trace, span) {
        (Some(trace), Some(span)) => Some(ids(trace.trim(), span.trim())?),
        (None, None) => None,
        _ => return None,
    };
    let debug = flags.map(str::trim) == Some("1");
    let sampled = match sampled.map(str::trim) {
        _ if debug => Some(true),
        Some("1" | "true") => Some(true),
        Some("0" | "false") => Some(false),
        Some(_) => return None,
        None => None,
    };
    (parent.is_some() || sampled.is_some()).then_some(B3 { parent, sampled })
}

/// The single `b3` value that names `span` to the next hop.
pub fn single(span: &SpanContext) -> String {
    let sampled = if span.sampled { "1" } else { "0" };
    let base = format!("{}-{}-{sampled}", span.trace_id, span.span_id);
    match span.parent_id {
        Some(parent) => format!("{base}-{parent}"),
        None => base,
    }
}

fn ids(trace: &str, span: &str) -> Option<ParentContext> {
    Some(ParentContext {
        trace_id: TraceId::from_hex(trace)?,
        span_id: SpanId::from_hex(span)?,
        tracestate: None,
    })
}

fn sampling_flag(text: &str) -> Option<bool> {
    match text {
        "1" | "d" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "80f198ee56343ba864fe8b2a57d3eff7";
    const SPAN: &str = "e457b5a2e4d86bd1";
    const PARENT: &str = "05e3ac9a4f6e3b90";

    #[test]
    fn single_header_forms_are_read() {
        let table = [
            (format!("{TRACE}-{SPAN}-1-{PARENT}"), Some(true), true),
            (format!("{TRACE}-{SPAN}-d"), Some(true), true),
            (format!("{TRACE}-{SPAN}-0"), Some(false), true),
            (format!("{TRACE}-{SPAN}"), None, true),
            ("0".to_string(), Some(false), false),
            ("1".to_string(), Some(true), false),
        ];
        for (value, sampled, has_ids) in table {
            let b3 = parse_single(&value).unwrap_or_else(|| panic!("{value}"));
            assert_eq!(b3.sampled, sampled, "{value}");
            assert_eq!(b3.parent.is_some(), has_ids, "{value}");
        }
    }

    #[test]
    fn malformed_single_headers_are_ignored() {
        let table = [
            String::new(),
            "2".into(),
            TRACE.to_string(),
            format!("{TRACE}-{SPAN}-x"),
            format!("{TRACE}-{SPAN}-1-nothex"),
            format!("{TRACE}-{SPAN}-1-{PARENT}-more"),
            format!("{TRACE}-00000000000000000"),
        ];
        for bad in table {
            assert_eq!(parse_single(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn multi_headers_are_read() {
        let b3 = parse_multi(Some(TRACE), Some(SPAN), Some("1"), None).unwrap();
        assert_eq!(b3.parent.unwrap().span_id.to_string(), SPAN);
        assert_eq!(b3.sampled, Some(true));
        let debug = parse_multi(Some(TRACE), Some(SPAN), Some("0"), Some("1")).unwrap();
        assert_eq!(debug.sampled, Some(true));
        let only_decision = parse_multi(None, None, Some("0"), None).unwrap();
        assert_eq!(
            (only_decision.parent, only_decision.sampled),
            (None, Some(false))
        );
    }

    #[test]
    fn malformed_multi_headers_are_ignored() {
        assert_eq!(parse_multi(Some(TRACE), None, Some("1"), None), None);
        assert_eq!(parse_multi(Some("xyz"), Some(SPAN), None, None), None);
        assert_eq!(
            parse_multi(Some(TRACE), Some(SPAN), Some("maybe"), None),
            None
        );
        assert_eq!(parse_multi(None, None, None, None), None);
    }

    #[test]
    fn single_round_trips() {
        let value = format!("{TRACE}-{SPAN}-1-{PARENT}");
        let parent = parse_single(&value).unwrap().parent.unwrap();
        let span = SpanContext {
            trace_id: parent.trace_id,
            span_id: parent.span_id,
            parent_id: SpanId::from_hex(PARENT),
            sampled: true,
            tracestate: None,
        };
        assert_eq!(single(&span), value);
    }
}
