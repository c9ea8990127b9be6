//! One finding about one resource, worded as `file:line:column: kind/namespace/name: field:
//! message`, the place being where the field at fault is written (or its nearest written
//! ancestor; a cluster object's problems name the object's resourceVersion instead).

use std::fmt;

use super::{Origin, RawResource, ResourceKey};

/// How bad a [`Problem`] is: an error rejects the resource, a warning only informs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Likely a typo or a reference to something absent; the resource still applies.
    Warning,
    /// The resource is rejected (or its last good version keeps serving).
    Error,
}

/// A finding about one resource, naming where it came from and which field is at fault.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Problem {
    /// File, line and column of the field at fault, or the cluster object.
    pub origin: Origin,
    /// `VirtualService`, `Service`, ...
    pub kind: String,
    /// The resource's namespace (after defaulting).
    pub namespace: String,
    /// The resource's name.
    pub name: String,
    /// Dotted path of the field at fault, e.g. `spec.http[0].route[1].weight`.
    pub field: String,
    /// What is wrong, in one line.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl Problem {
    /// An error about `raw` at `field`.
    pub fn error(raw: &RawResource, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(raw, Severity::Error, field.into(), message.into())
    }

    /// A warning about `raw` at `field`.
    pub fn warning(
        raw: &RawResource,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(raw, Severity::Warning, field.into(), message.into())
    }

    fn new(raw: &RawResource, severity: Severity, field: String, message: String) -> Self {
        Self::about(&raw.origin, &ResourceKey::of(raw), severity, field, message)
    }

    /// A problem about the resource `key` read at `origin`, placed where `field` is written.
    pub fn about(
        origin: &Origin,
        key: &ResourceKey,
        severity: Severity,
        field: String,
        message: String,
    ) -> Self {
        Self {
            origin: origin.locate(&field),
            kind: key.kind.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            field,
            message,
            severity,
        }
    }

    /// Whether this problem rejects its resource.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (origin, kind, ns, name) = (&self.origin, &self.kind, &self.namespace, &self.name);
        let label = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        write!(
            f,
            "{origin}: {kind}/{ns}/{name}: {}: {label}{}",
            self.field, self.message
        )
    }
}
