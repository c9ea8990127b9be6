//! Configuration as it arrives, before any of it is understood: raw documents with their origin
//! (a file, line and column, with where each field is written, or a Kubernetes object), reading
//! them from YAML or JSON (aliases bounded), the key that names one, and the problems found in
//! one.

mod expansion;
mod json_name;
mod key;
mod outline;
mod problem;
mod raw;
mod read;
mod spots;

pub use expansion::{MAX_ALIAS_EXPANSIONS, MAX_EXPANDED_BYTES};
pub use json_name::json_name;
pub use key::{namespace_of, ResourceKey};
pub use problem::{Problem, Severity};
pub use raw::{Origin, RawResource, ResourceSet, SourceProblem, SourceUpdate};
pub use read::{parse_documents, read_documents, yaml_value, ReadError};
pub use spots::{FieldSpots, Spot};
