//! Reading resource files: multi-document YAML (`---`-separated) and JSON, each document with the
//! line where it starts, so every later message can say `file:line`. Used by `mesh-agent check`
//! and by the directory source.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Origin, RawResource};

/// Why a file could not be read into documents; displays as `file:line: message`.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A document is not valid YAML/JSON, or lacks `apiVersion`, `kind` or `metadata.name`.
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the fault (the document's first line when not known better).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Reads every document of the YAML or JSON file at `path` (empty documents are skipped; a
/// `kind: List` is expanded into its items). Any syntax error fails the whole file.
pub fn read_documents(path: &Path) -> Result<Vec<RawResource>, ReadError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_documents(path, &text)
}

/// Like [`read_documents`], from text already read; `path` only names the origin.
pub fn parse_documents(path: &Path, text: &str) -> Result<Vec<RawResource>, ReadError> {
    let mut resources = Vec::new();
    for (start, line, chunk) in split_documents(text) {
        let fail = |at: usize, message: String| ReadError::Syntax {
            path: path.to_path_buf(),
            line: at,
            message,
        };
        let value: Value = serde_yaml::from_str(chunk).map_err(|e| {
            let at = e.location().map_or(line, |l| start + l.line() - 1);
            let message = e.to_string();
            // serde_yaml's own positions count from the document's start: drop them.
            let message = message.split(" at line ").next().unwrap_or_default();
            fail(at, message.to_string())
        })?;
        if value.is_null() {
            continue;
        }
        let origin = Origin::File {
            path: path.to_path_buf(),
            line,
        };
        collect(origin, value, &mut resources).map_err(|message| fail(line, message))?;
    }
    Ok(resources)
}

/// Splits `text` at `---` lines; yields each document with its first line and its first
/// content line (1-based).
fn split_documents(text: &str) -> Vec<(usize, usize, &str)> {
    let mut documents = Vec::new();
    let mut start_byte = 0;
    let mut first_content: Option<usize> = None;
    let mut start_line = 1;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") || trimmed == "..." {
            let chunk = &text[start_byte..offset];
            documents.push((start_line, first_content.unwrap_or(index + 1), chunk));
            start_byte = offset + line.len();
            start_line = index + 2;
            first_content = None;
        } else if first_content.is_none() && !trimmed.is_empty() && !trimmed.starts_with('#') {
            first_content = Some(index + 1);
        }
        offset += line.len();
    }
    if let Some(line) = first_content {
        documents.push((start_line, line, &text[start_byte..]));
    }
    documents.retain(|(_, _, chunk)| !chunk.trim().is_empty());
    documents
}

fn collect(origin: Origin, value: Value, out: &mut Vec<RawResource>) -> Result<(), String> {
    if value.get("kind").and_then(Value::as_str) == Some("List") {
        let items = value.get("items").and_then(Value::as_array).cloned();
        for item in items.unwrap_or_default() {
            collect(origin.clone(), item, out)?;
        }
        return Ok(());
    }
    out.push(raw_resource(origin, value)?);
    Ok(())
}

fn raw_resource(origin: Origin, body: Value) -> Result<RawResource, String> {
    let text = |pointer: &str| {
        body.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let missing = |field: &str| format!("document has no {field}");
    Ok(RawResource {
        origin,
        api_version: text("/apiVersion").ok_or_else(|| missing("apiVersion"))?,
        kind: text("/kind").ok_or_else(|| missing("kind"))?,
        namespace: text("/metadata/namespace"),
        name: text("/metadata/name").ok_or_else(|| missing("metadata.name"))?,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "# leading comment\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n";

    #[test]
    fn each_document_records_its_first_line() {
        let docs = parse_documents(Path::new("f.yaml"), TWO).unwrap();
        let lines: Vec<String> = docs
            .iter()
            .map(|d| format!("{} {}", d.origin, d.name))
            .collect();
        assert_eq!(lines, ["f.yaml:2 a", "f.yaml:9 b"]);
    }

    #[test]
    fn a_syntax_error_names_file_and_line() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: [unclosed\n";
        let error = parse_documents(Path::new("bad.yaml"), text).unwrap_err();
        assert_eq!(
            error.to_string(),
            "bad.yaml:7: did not find expected ',' or ']'"
        );
    }

    #[test]
    fn json_and_lists_are_read() {
        let text = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}}]}"#;
        let docs = parse_documents(Path::new("l.json"), text).unwrap();
        assert_eq!(docs[0].name, "x");
        assert_eq!(docs[0].origin.to_string(), "l.json:1");
    }

    #[test]
    fn a_document_without_name_is_refused() {
        let error =
            parse_documents(Path::new("n.yaml"), "apiVersion: v1\nkind: Pod\n").unwrap_err();
        assert_eq!(error.to_string(), "n.yaml:1: document has no metadata.name");
    }
}
