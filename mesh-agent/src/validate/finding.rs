//! What a rule says about one field: an error (the resource is rejected and its last good
//! version keeps serving) or a warning (it applies), at a dotted field path such as
//! `spec.http[0].retries.retryOn`.

use crate::document::{Problem, RawResource, Severity};

/// One rule's verdict on one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    pub severity: Severity,
    /// Dotted path of the field at fault.
    pub field: String,
    /// What is wrong, in one line.
    pub message: String,
}

impl Finding {
    /// The finding as a problem of `raw`.
    pub fn about(self, raw: &RawResource) -> Problem {
        match self.severity {
            Severity::Error => Problem::error(raw, self.field, self.message),
            Severity::Warning => Problem::warning(raw, self.field, self.message),
        }
    }
}

/// The findings about one resource, in the order its fields are checked.
#[derive(Debug, Default)]
pub(crate) struct Findings(pub Vec<Finding>);

impl Findings {
    /// An error at `field`.
    pub fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Error, field.into(), message.into());
    }

    /// A warning at `field`.
    pub fn warning(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Warning, field.into(), message.into());
    }

    /// An error at `field` when `check` found something wrong.
    pub fn error_if(&mut self, field: impl Into<String>, check: Result<(), String>) {
        if let Err(message) = check {
            self.error(field, message);
        }
    }

    fn push(&mut self, severity: Severity, field: String, message: String) {
        self.0.push(Finding {
            severity,
            field,
            message,
        });
    }
}

#[cfg(test)]
pub(crate) mod table {
    //! Helpers for the rules' table tests: a spec read from YAML, its findings as lines.

    use super::{Finding, Findings};
    use crate::document::Severity;

    /// `field: message` (errors) or `field: warning: message` for each finding.
    pub fn lines(findings: &Findings) -> Vec<String> {
        findings.0.iter().map(line).collect()
    }

    fn line(finding: &Finding) -> String {
        match finding.severity {
            Severity::Error => format!("{}: {}", finding.field, finding.message),
            Severity::Warning => format!("{}: warning: {}", finding.field, finding.message),
        }
    }

    /// The spec `T` written in YAML.
    pub fn spec<T: serde::de::DeserializeOwned>(yaml: &str) -> T {
        serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
    }
}
