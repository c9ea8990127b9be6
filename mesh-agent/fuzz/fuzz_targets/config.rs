//! A resource file's bytes through the whole configuration path: documents read, typed,
//! validated and compiled into a snapshot, then compiled again on top of it (the reload path
//! that keeps last good versions). Bad input may be rejected, never panic.

#![no_main]

use std::path::Path;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use mesh_agent::document::parse_documents;
use mesh_agent::snapshot::build;
use mesh_agent::validate::outlier_warnings;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.yaml");
    let documents = match parse_documents(path, text) {
        Ok(documents) => documents,
        Err(error) => {
            assert!(error.to_string().starts_with("fuzz.yaml:"), "{error}");
            return;
        }
    };
    let hints: Vec<_> = documents.iter().flat_map(outlier_warnings).collect();
    let set = Arc::new(documents);
    let (first, problems) = build(&set, None);
    let (_, again) = build(&set, Some(&first));
    for problem in problems.iter().chain(&again).chain(&hints) {
        assert!(problem.to_string().starts_with("fuzz.yaml:"), "{problem}");
    }
});
