//! `mesh-agent check PATH...`: validates resource files like `istioctl analyze`. One line per
//! problem, `file:line:column: kind/namespace/name: field: message`, placed where the field is
//! written (warnings say `warning:` before the message); the caller exits 1 when there are
//! errors. Fields and kinds the mesh does not act on are warnings
//! ([`crate::validate::unsupported`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::document::read_documents;
use crate::snapshot::{build_with, LoadSettings};
use crate::validate::outlier_warnings;
use crate::validate::unsupported::unsupported_warnings;

/// What a check found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// Problems that reject a resource (syntax errors included).
    pub errors: usize,
    /// Likely typos and dangling references.
    pub warnings: usize,
}

/// Validates every resource under `paths` (files, or directories read recursively for
/// `.yaml`, `.yml` and `.json`) together, as the agent with `settings` would load them; writes
/// one line per problem to `out`, what the mesh does not act on as warnings.
pub fn check(
    paths: &[PathBuf],
    settings: &LoadSettings,
    out: &mut impl Write,
) -> std::io::Result<Findings> {
    let mut outcome = Findings::default();
    let mut documents = Vec::new();
    for file in files(paths)? {
        match read_documents(&file) {
            Ok(found) => documents.extend(found),
            Err(error) => {
                writeln!(out, "{error}")?;
                outcome.errors += 1;
            }
        }
    }
    let hints: Vec<_> = documents
        .iter()
        .flat_map(|raw| {
            outlier_warnings(raw)
                .into_iter()
                .chain(unsupported_warnings(raw))
        })
        .collect();
    let (_, mut problems) = build_with(&Arc::new(documents), None, settings);
    problems.extend(hints);
    problems.sort_by(|a, b| a.origin.cmp(&b.origin));
    for problem in problems {
        writeln!(out, "{problem}")?;
        match problem.is_error() {
            true => outcome.errors += 1,
            false => outcome.warnings += 1,
        }
    }
    Ok(outcome)
}

/// Resource files under `paths`, sorted within each directory.
pub fn files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut found)?;
        } else {
            found.push(path.clone());
        }
    }
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, found)?;
        } else if is_resource_file(&path) {
            found.push(path);
        }
    }
    Ok(())
}

/// Whether a file's extension is `.yaml`, `.yml` or `.json`.
pub fn is_resource_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}
