//! The seam between sources and the configuration pipeline: untyped documents with their origin.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::FieldSpots;

/// Where a document (or, in a problem, one of its fields) came from, for error messages
/// (`file:line:column: kind/ns/name: field: message`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Origin {
    /// A place in a file: 1-based line and column where the document's content (or the field)
    /// starts, and where each of the document's fields is written.
    File {
        path: PathBuf,
        line: usize,
        column: usize,
        #[serde(skip)]
        fields: FieldSpots,
    },
    /// An object read from the Kubernetes API.
    Cluster { resource_version: String },
}

impl Origin {
    /// Line `line`, column 1 of the file at `path`, without the places of any fields.
    pub fn file(path: impl Into<PathBuf>, line: usize) -> Self {
        Origin::File {
            path: path.into(),
            line,
            column: 1,
            fields: FieldSpots::default(),
        }
    }

    /// Where `field` (a dotted path, `spec.http[0].timeout`) of this document is written: its
    /// own place, else its nearest written ancestor's, else the document's. A cluster object
    /// has no places: its origin is kept.
    pub fn locate(&self, field: &str) -> Origin {
        match self {
            Origin::File {
                path,
                line,
                column,
                fields,
            } => {
                let spot = fields.locate(field);
                Origin::File {
                    path: path.clone(),
                    line: spot.map_or(*line, |s| s.line),
                    column: spot.map_or(*column, |s| s.column),
                    fields: FieldSpots::default(),
                }
            }
            Origin::Cluster { .. } => self.clone(),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File {
                path, line, column, ..
            } => write!(f, "{}:{line}:{column}", path.display()),
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
    /// The whole document, shared: a source hands the same `Arc` for a document it did not
    /// change, so a build knows it unchanged without reading it (see `snapshot/build.rs`).
    pub body: Arc<serde_json::Value>,
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
