//! `rewrite.uriRegexRewrite`, compiled once when the VirtualService is read (not per request):
//! every match of `match` in the path is replaced by `rewrite`, whose RE2-style `\1` references
//! are turned into the regex crate's `${1}`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A compiled `uriRegexRewrite`; serializes as written.
#[derive(Clone)]
pub struct RegexRewrite {
    source: RegexRewriteSource,
    regex: regex::Regex,
    replacement: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct RegexRewriteSource {
    #[serde(rename = "match")]
    pattern: String,
    rewrite: String,
}

impl RegexRewrite {
    /// Compiles `pattern`; the error names the expression.
    pub fn new(pattern: &str, rewrite: &str) -> Result<Self, String> {
        let regex = regex::Regex::new(pattern)
            .map_err(|e| format!("invalid regex {pattern:?}: {}", first_line(&e.to_string())))?;
        let references = regex::Regex::new(r"\\(\d)").expect("a valid expression");
        let replacement = references.replace_all(rewrite, "$${${1}}").into_owned();
        let source = RegexRewriteSource {
            pattern: pattern.to_string(),
            rewrite: rewrite.to_string(),
        };
        Ok(Self {
            source,
            regex,
            replacement,
        })
    }

    /// The expression as written.
    pub fn pattern(&self) -> &str {
        &self.source.pattern
    }

    /// The replacement as written.
    pub fn rewrite(&self) -> &str {
        &self.source.rewrite
    }

    /// `path` with every match replaced.
    pub fn apply(&self, path: &str) -> String {
        self.regex
            .replace_all(path, self.replacement.as_str())
            .into_owned()
    }
}

fn first_line(error: &str) -> &str {
    let last = error.lines().last().unwrap_or_default().trim();
    last.strip_prefix("error: ").unwrap_or(last)
}

impl fmt::Debug for RegexRewrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegexRewrite({:?})", self.source)
    }
}

impl PartialEq for RegexRewrite {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Serialize for RegexRewrite {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.source.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RegexRewrite {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = RegexRewriteSource::deserialize(deserializer)?;
        Self::new(&source.pattern, &source.rewrite).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::RegexRewrite;

    #[test]
    fn references_are_substituted_for_every_match() {
        let rewrite = RegexRewrite::new("^/service/([^/]+)(/.*)$", r"\2/instance/\1").unwrap();
        assert_eq!(rewrite.apply("/service/foo/v1/api"), "/v1/api/instance/foo");
    }

    #[test]
    fn an_invalid_expression_is_named() {
        let error = RegexRewrite::new("(", "/").unwrap_err();
        assert!(error.starts_with("invalid regex \"(\""), "{error}");
    }
}
