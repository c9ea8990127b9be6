//! The seam between sources and the configuration pipeline: untyped documents with their origin.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a document came from, for error messages (`file:line: kind/ns/name: field: message`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Origin {
    /// A document in a file; `line` is the 1-based line of the document's first line.
    File { path: PathBuf, line: usize },
    /// An object read from the Kubernetes API.
    Cluster { resource_version: String },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Cluster { resource_version } => {
                write!(f, "cluster (resourceVersion {resource_version})")
            }
        }
    }
}

/// One document as a source read it: identity and body, not yet typed or validated.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RawResource {
    pub origin: Origin,
    /// `apiVersion`, e.g. `networking.istio.io/v1beta1` or `v1`.
    pub api_version: String,
    pub kind: String,
    /// `metadata.namespace`; `None` when absent (the pipeline applies the default).
    pub namespace: Option<String>,
    pub name: String,
    /// The whole document.
    pub body: serde_json::Value,
}

/// Everything a source currently holds. Sources always publish whole sets.
pub type ResourceSet = Arc<Vec<RawResource>>;

/// A document or file a source could not read, with why; its previous documents stay in the set.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SourceProblem {
    pub origin: Origin,
    pub message: String,
}

impl fmt::Display for SourceProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

/// What a source publishes on its watch channel: the whole set and, beside it, what it could
/// not read this time.
#[derive(Clone, Debug, Default)]
pub struct SourceUpdate {
    pub resources: ResourceSet,
    pub problems: Arc<Vec<SourceProblem>>,
}
