//! A regular expression from a resource, compiled once when the resource is read. Like Envoy's
//! RE2 matcher it must match the whole value.

use std::fmt;

/// A compiled, whole-value regular expression; serializes as its source.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    regex: regex::Regex,
}

impl Pattern {
    /// Compiles `source`; the error is one line naming the expression.
    pub fn new(source: &str) -> Result<Self, String> {
        let regex = regex::Regex::new(&format!("^(?:{source})$")).map_err(|e| {
            let reason = e.to_string();
            let reason = reason.lines().last().unwrap_or_default().trim();
            let reason = reason.strip_prefix("error: ").unwrap_or(reason);
            format!("invalid regex {source:?}: {reason}")
        })?;
        Ok(Self {
            source: source.to_string(),
            regex,
        })
    }

    /// Whether the whole of `value` matches.
    pub fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl serde::Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> serde::Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        Self::new(&source).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_whole_value() {
        let pattern = Pattern::new(".*Chrome.*").unwrap();
        assert!(pattern.is_match("Mozilla Chrome/120"));
        assert!(!Pattern::new("v1").unwrap().is_match("v10"));
    }

    #[test]
    fn an_invalid_regex_is_named() {
        let error = Pattern::new("(unclosed").unwrap_err();
        assert_eq!(error, "invalid regex \"(unclosed\": unclosed group");
    }
}
