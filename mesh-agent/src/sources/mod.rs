//! Where mesh resources come from: a directory of YAML/JSON files or the Kubernetes API. Every
//! source publishes the whole current set of raw documents ([`ResourceSet`](crate::document::ResourceSet)) on a watch channel;
//! the configuration pipeline turns a set into typed resources and one compiled snapshot.

pub mod directory;
pub mod kubernetes;

pub use directory::DirectorySource;
pub use kubernetes::{KubernetesSource, WATCHED_KINDS};
