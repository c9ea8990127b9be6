//! Trace and span identities, and the context one hop hands to the next.

use std::fmt;

/// A trace's 16-byte id; never all zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceId(pub [u8; 16]);

/// A span's 8-byte id; never all zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpanId(pub [u8; 8]);

impl TraceId {
    /// A fresh random id.
    pub fn random() -> Self {
        loop {
            let id = fastrand::u128(..);
            if id != 0 {
                return Self(id.to_be_bytes());
            }
        }
    }

    /// Parses 32 lower-hex digits, or 16 (a 64-bit B3 id, left-padded with zeros).
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = match text.len() {
            32 => parse_hex::<16>(text)?,
            16 => {
                let low = parse_hex::<8>(text)?;
                let mut bytes = [0; 16];
                bytes[8..].copy_from_slice(&low);
                bytes
            }
            _ => return None,
        };
        (bytes != [0; 16]).then_some(Self(bytes))
    }
}

impl SpanId {
    /// A fresh random id.
    pub fn random() -> Self {
        loop {
            let id = fastrand::u64(..);
            if id != 0 {
                return Self(id.to_be_bytes());
            }
        }
    }

    /// Parses 16 lower-hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = parse_hex::<8>(text)?;
        (bytes != [0; 8]).then_some(Self(bytes))
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

/// The span a request continues, as an incoming header named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentContext {
    /// The trace the request belongs to.
    pub trace_id: TraceId,
    /// The caller's span.
    pub span_id: SpanId,
    /// W3C `tracestate`, passed on unchanged.
    pub tracestate: Option<String>,
}

/// The span a hop opens for a request: what it tells the next hop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanContext {
    /// The trace, continued or new.
    pub trace_id: TraceId,
    /// This hop's span.
    pub span_id: SpanId,
    /// The span this one is a child of, when the request carried one.
    pub parent_id: Option<SpanId>,
    /// Whether the trace is recorded.
    pub sampled: bool,
    /// W3C `tracestate`, passed on unchanged.
    pub tracestate: Option<String>,
}

impl SpanContext {
    /// A child of `parent` (or the root of a new trace), with a fresh span id.
    pub fn child_of(parent: Option<&ParentContext>, sampled: bool) -> Self {
        Self {
            trace_id: parent.map_or_else(TraceId::random, |p| p.trace_id),
            span_id: SpanId::random(),
            parent_id: parent.map(|p| p.span_id),
            sampled,
            tracestate: parent.and_then(|p| p.tracestate.clone()),
        }
    }
}

/// `N` bytes from exactly `2 * N` lower-hex digits.
fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let mut bytes = [0; N];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(bytes)
}

fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_hex() {
        let trace = TraceId::random();
        assert_eq!(TraceId::from_hex(&trace.to_string()), Some(trace));
        let span = SpanId::random();
        assert_eq!(SpanId::from_hex(&span.to_string()), Some(span));
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "00000000000000000000000000000000",
            "4BF92F3577B34DA6A3CE929D0E0E4736",
        ] {
            assert_eq!(TraceId::from_hex(bad), None, "{bad:?}");
        }
        assert_eq!(SpanId::from_hex("00f067aa0ba902b"), None);
        assert_eq!(SpanId::from_hex("00f067aa0ba902bz"), None);
        assert_eq!(SpanId::from_hex("0000000000000000"), None);
    }

    #[test]
    fn a_64_bit_trace_id_is_left_padded() {
        let id = TraceId::from_hex("a3ce929d0e0e4736").unwrap();
        assert_eq!(id.to_string(), "0000000000000000a3ce929d0e0e4736");
    }
}
