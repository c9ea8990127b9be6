//! Configuration as it arrives, before any of it is understood: raw documents with their origin
//! (a file and line, or a Kubernetes object), reading them from YAML or JSON, the key that names
//! one, and the problems found in one.

mod key;
mod problem;
mod raw;
mod read;

pub use key::{namespace_of, ResourceKey};
pub use problem::{Problem, Severity};
pub use raw::{Origin, RawResource, ResourceSet, SourceProblem, SourceUpdate};
pub use read::{parse_documents, read_documents, ReadError};
