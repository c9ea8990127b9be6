//! Helpers for the configuration tests: fixtures as resource sets.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mesh_agent::document::Problem;
use mesh_agent::document::{parse_documents, read_documents};
use mesh_agent::document::{RawResource, ResourceSet};
use mesh_agent::snapshot::{build, Snapshot};

/// `tests/data/config/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/config")
        .join(name)
}

/// Bookinfo's services and pods.
pub fn bookinfo() -> Vec<RawResource> {
    read_documents(&fixture("valid/bookinfo.yaml")).expect("bookinfo fixture")
}

/// Documents of `text`, named `name` in messages.
pub fn documents(name: &str, text: &str) -> Vec<RawResource> {
    parse_documents(Path::new(name), text).expect("fixture parses")
}

/// The traffic-management task shapes at `api_version` (`v1alpha3`, `v1beta1`, `v1`).
pub fn tasks(api_version: &str) -> Vec<RawResource> {
    let template = std::fs::read_to_string(fixture("tasks.yaml.in")).unwrap();
    documents("tasks.yaml", &template.replace("APIVERSION", api_version))
}

/// Bookinfo plus `extra`, compiled without a previous snapshot.
pub fn compile_with(extra: Vec<RawResource>) -> (Snapshot, Vec<Problem>) {
    let mut set = bookinfo();
    set.extend(extra);
    build(&Arc::new(set), None)
}

/// Compiles `set` on top of `previous`.
pub fn rebuild(set: Vec<RawResource>, previous: &Snapshot) -> (Snapshot, Vec<Problem>) {
    build(&ResourceSet::new(set), Some(previous))
}

/// The problems as `check` prints them.
pub fn lines(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}
