//! W3C Trace Context: the `traceparent` and `tracestate` headers.

use super::context::{ParentContext, SpanContext, SpanId, TraceId};

/// The longest `tracestate` passed on; a longer one is dropped (the spec allows that).
const MAX_TRACESTATE: usize = 512;

/// A parsed `traceparent`: the caller's span and its sampled flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceParent {
    /// The caller's span (with `tracestate`, when given alongside).
    pub parent: ParentContext,
    /// Bit 0 of the trace flags.
    pub sampled: bool,
}

/// Parses `traceparent` (`version-traceid-spanid-flags`) and attaches `tracestate`. Version
/// `ff`, all-zero ids and anything malformed give `None`; a future version is read by its
/// version-00 prefix, as the spec asks.
pub fn parse(traceparent: &str, tracestate: Option<&str>) -> Option<TraceParent> {
    let text = traceparent.trim();
    let version = u8::from_str_radix(text.get(..2)?, 16).ok()?;
    let fits = match version {
        0 => text.len() == 55,
        0xff => false,
        _ => text.len() == 55 || text.as_bytes().get(55) == Some(&b'-'),
    };
    if !fits || !text.get(..2)?.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut fields = text[..55].split('-');
    let _version = fields.next()?;
    let trace_id = TraceId::from_hex(fields.next()?)?;
    let span_id = SpanId::from_hex(fields.next()?)?;
    let flags = fields.next()?;
    if flags.len() != 2
        || !flags
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    let tracestate = tracestate
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= MAX_TRACESTATE)
        .map(str::to_string);
    let parent = ParentContext {
        trace_id,
        span_id,
        tracestate,
    };
    Some(TraceParent {
        parent,
        sampled: flags & 1 == 1,
    })
}

/// The `traceparent` value that names `span` to the next hop.
pub fn traceparent(span: &SpanContext) -> String {
    let flags = if span.sampled { "01" } else { "00" };
    format!("00-{}-{}-{flags}", span.trace_id, span.span_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_read() {
        let read = parse(VALID, Some("congo=t61rcWkgMzE")).unwrap();
        assert_eq!(
            read.parent.trace_id.to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(read.parent.span_id.to_string(), "00f067aa0ba902b7");
        assert!(read.sampled);
        assert_eq!(read.parent.tracestate.as_deref(), Some("congo=t61rcWkgMzE"));
    }

    #[test]
    fn the_sampled_flag_is_bit_zero() {
        let unsampled = VALID.replace("-01", "-00");
        assert!(!parse(&unsampled, None).unwrap().sampled);
        let other_bits = VALID.replace("-01", "-03");
        assert!(parse(&other_bits, None).unwrap().sampled);
    }

    #[test]
    fn malformed_traceparents_are_ignored() {
        let table = [
            "",
            "garbage",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
            "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
        ];
        for bad in table {
            assert_eq!(parse(bad, None), None, "{bad:?}");
        }
    }

    #[test]
    fn a_future_version_is_read_by_its_prefix() {
        let future = VALID.replacen("00", "01", 1) + "-what-comes-next";
        assert!(parse(&future, None).is_some());
    }

    #[test]
    fn an_oversized_tracestate_is_dropped() {
        let huge = "a=".to_string() + &"b".repeat(600);
        assert_eq!(parse(VALID, Some(&huge)).unwrap().parent.tracestate, None);
    }

    #[test]
    fn traceparent_round_trips() {
        let read = parse(VALID, None).unwrap();
        let span = SpanContext {
            trace_id: read.parent.trace_id,
            span_id: read.parent.span_id,
            parent_id: None,
            sampled: true,
            tracestate: None,
        };
        assert_eq!(traceparent(&span), VALID);
    }
}
