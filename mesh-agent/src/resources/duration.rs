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

const UNITS: [(&str, f64); 7] = [
    ("ns", 1e-9),
    ("us", 1e-6),
    ("µs", 1e-6),
    ("ms", 1e-3),
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3600.0),
];

/// Parses `text` as a sequence of decimal numbers each followed by a unit (h, m, s, ms, us, ns).
pub fn parse_duration(text: &str) -> Result<StdDuration, DurationError> {
    let fail = |reason| DurationError {
        text: text.to_string(),
        reason,
    };
    if text.is_empty() {
        return Err(fail("empty"));
    }
    let mut rest = text;
    let mut seconds = 0.0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| fail("missing unit (use h, m, s, ms, us or ns)"))?;
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| fail("expected a number"))?;
        let after = &rest[digits..];
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let scale = UNITS
            .iter()
            .find(|(unit, _)| *unit == &after[..unit_len])
            .map(|(_, scale)| *scale)
            .ok_or_else(|| fail("unknown unit (use h, m, s, ms, us or ns)"))?;
        seconds += number * scale;
        rest = &after[unit_len..];
    }
    Ok(StdDuration::from_secs_f64(seconds))
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
}
