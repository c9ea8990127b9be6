//! Durations as Istio resources spell them: `2s`, `0.5s`, `100ms`, `3m`, `1h`, `1m30s`.

use std::fmt;
use std::time::Duration as StdDuration;

/// A duration read from a resource; keeps its spelling for `/config_dump`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duration {
    /// The spelling in the resource.
    pub text: String,
    /// Its value.
    pub value: StdDuration,
}

/// Why a duration could not be read; the message names the spelling.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid duration {text:?}: {reason}")]
pub struct DurationError {
    text: String,
    reason: &'static str,
}

/// Units and their length in nanoseconds (Go's `time.ParseDuration` spellings).
const UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000), // micro sign
    ("μs", 1_000), // Greek mu
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// The longest duration read: Go's `time.Duration` (what Kubernetes validates with), about
/// 292 years; it also keeps `Instant + duration` and the sum of two durations from overflowing.
const MAX_NANOS: u128 = i64::MAX as u128;

/// Why a duration past [`MAX_NANOS`] is refused.
const OUT_OF_RANGE: &str = "out of range (at most 2562047h47m16.854775807s)";

/// Fraction digits read per number; later ones are below a nanosecond even in hours.
const FRACTION_DIGITS: usize = 18;

/// Parses `text` as a sequence of decimal numbers each followed by a unit (h, m, s, ms, us, ns).
/// Never panics: a negative value, a value past [`MAX_NANOS`] and anything not a number (`NaN`,
/// `inf`, `1e3s`) are errors.
pub fn parse_duration(text: &str) -> Result<StdDuration, DurationError> {
    let fail = |reason| DurationError {
        text: text.to_string(),
        reason,
    };
    if text.is_empty() {
        return Err(fail("empty"));
    }
    if text.starts_with('-') {
        return Err(fail("negative"));
    }
    let mut rest = text;
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| fail("missing unit (use h, m, s, ms, us or ns)"))?;
        if digits == 0 {
            return Err(fail("expected a number"));
        }
        let after = &rest[digits..];
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let scale = UNITS
            .iter()
            .find(|(unit, _)| *unit == &after[..unit_len])
            .map(|(_, scale)| *scale)
            .ok_or_else(|| fail("unknown unit (use h, m, s, ms, us or ns)"))?;
        let segment = segment_nanos(&rest[..digits], scale).map_err(fail)?;
        nanos = nanos
            .checked_add(segment)
            .filter(|n| *n <= MAX_NANOS)
            .ok_or_else(|| fail(OUT_OF_RANGE))?;
        rest = &after[unit_len..];
    }
    let nanos = u64::try_from(nanos).map_err(|_| fail(OUT_OF_RANGE))?;
    Ok(StdDuration::from_nanos(nanos))
}

/// `number` (digits with at most one `.`) times `scale` nanoseconds, exactly, truncated to
/// whole nanoseconds.
fn segment_nanos(number: &str, scale: u128) -> Result<u128, &'static str> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err("expected a number");
    }
    let whole = whole.trim_start_matches('0');
    // 39 digits overflow u128: anything that long is far past the range anyway.
    if whole.len() > 30 {
        return Err(OUT_OF_RANGE);
    }
    let whole = digits_value(whole);
    let fraction = &fraction[..fraction.len().min(FRACTION_DIGITS)];
    let part = digits_value(fraction) * scale / 10u128.pow(fraction.len() as u32);
    whole
        .checked_mul(scale)
        .and_then(|n| n.checked_add(part))
        .filter(|n| *n <= MAX_NANOS)
        .ok_or(OUT_OF_RANGE)
}

/// The value of at most 38 ASCII digits (none: 0).
fn digits_value(digits: &str) -> u128 {
    digits
        .bytes()
        .fold(0, |value, digit| value * 10 + u128::from(digit - b'0'))
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let value = parse_duration(&text).map_err(serde::de::Error::custom)?;
        Ok(Self { text, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_the_tutorials_parses() {
        let ms = StdDuration::from_millis;
        for (text, want) in [
            ("2s", ms(2000)),
            ("0.5s", ms(500)),
            ("100ms", ms(100)),
            ("3m", ms(180_000)),
            ("1h", ms(3_600_000)),
            ("1m30s", ms(90_000)),
        ] {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn bad_spellings_say_why() {
        let message = |text| parse_duration(text).unwrap_err().to_string();
        assert_eq!(
            message("2x"),
            "invalid duration \"2x\": unknown unit (use h, m, s, ms, us or ns)"
        );
        assert_eq!(
            message("10"),
            "invalid duration \"10\": missing unit (use h, m, s, ms, us or ns)"
        );
        assert_eq!(message("s"), "invalid duration \"s\": expected a number");
        assert_eq!(message(""), "invalid duration \"\": empty");
    }

    #[test]
    fn exact_values_and_go_spellings() {
        let ns = StdDuration::from_nanos;
        for (text, want) in [
            ("1.5h", ns(5_400_000_000_000)),
            ("1h.5m", ns(3_630_000_000_000)),
            (".5s", ns(500_000_000)),
            ("5.s", ns(5_000_000_000)),
            ("0.1ns", ns(0)),
            ("1.0000000001s", ns(1_000_000_000)),
            ("2µs", ns(2_000)),
            ("2μs", ns(2_000)),
            ("0.333333333333333333333333333333333s", ns(333_333_333)),
            ("2562047h47m16.854775807s", ns(i64::MAX as u64)),
            (
                "000000000000000000000000000000000000000001s",
                ns(1_000_000_000),
            ),
        ] {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn values_past_the_range_or_not_numbers_are_errors_never_panics() {
        let huge = "9".repeat(400) + "s";
        let many = "2562047h".repeat(2);
        let table: [(&str, &str); 13] = [
            ("100000000000000000000s", OUT_OF_RANGE),
            ("2562047h47m16.854775808s", OUT_OF_RANGE),
            ("2562048h", OUT_OF_RANGE),
            ("18446744073709551616ns", OUT_OF_RANGE),
            (&huge, OUT_OF_RANGE),
            (&many, OUT_OF_RANGE),
            ("-1s", "negative"),
            ("-0s", "negative"),
            ("NaN", "expected a number"),
            ("inf", "expected a number"),
            ("1e30s", "unknown unit (use h, m, s, ms, us or ns)"),
            ("1.2.3s", "expected a number"),
            (".s", "expected a number"),
        ];
        for (text, reason) in table {
            let error = parse_duration(text).expect_err(text);
            assert_eq!(error.reason, reason, "{text}");
        }
    }
}
