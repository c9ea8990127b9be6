//! Reading resource files: multi-document YAML (`---`-separated) and JSON, each document with
//! where it starts and where each of its fields is written, so every later message can say
//! `file:line:column` of the field at fault. A document whose aliases would expand it past its
//! bounds is refused before it is built. Used by `mesh-agent check` and the directory source.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::outline::outline;
use super::{FieldSpots, Origin, RawResource, Spot};

/// Why a file could not be read into documents; displays as `file:line:column: message`.
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
    /// A document is not valid YAML/JSON, expands past its bounds, or lacks `apiVersion`,
    /// `kind` or `metadata.name`.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the fault (the document's first line when not known better).
        line: usize,
        /// 1-based column of the fault.
        column: usize,
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
        let fail = |at: Spot, message: String| ReadError::Syntax {
            path: path.to_path_buf(),
            line: at.line,
            column: at.column,
            message,
        };
        let written = outline(chunk, start).map_err(|e| fail(e.at, e.message))?;
        let value: Value = serde_yaml::from_str(chunk).map_err(|e| {
            let at = e.location().map_or(Spot { line, column: 1 }, |l| Spot {
                line: start + l.line() - 1,
                column: l.column(),
            });
            let message = e.to_string();
            // serde_yaml's own positions count from the document's start: drop them.
            let message = message.split(" at line ").next().unwrap_or_default();
            fail(at, message.to_string())
        })?;
        if value.is_null() {
            continue;
        }
        let at = written.as_ref().map_or(Spot { line, column: 1 }, |w| w.at);
        let origin = Origin::File {
            path: path.to_path_buf(),
            line: at.line,
            column: at.column,
            fields: written.map(FieldSpots::new).unwrap_or_default(),
        };
        collect(origin, value, &mut resources).map_err(|message| fail(at, message))?;
    }
    Ok(resources)
}

/// The value of the YAML document `text` (a MeshConfig inside a ConfigMap), refused like a
/// file's document when its aliases would expand it past its bounds; the error says the line.
pub fn yaml_value(text: &str) -> Result<Value, String> {
    outline(text, 1).map_err(|e| format!("line {}: {}", e.at.line, e.message))?;
    serde_yaml::from_str(text).map_err(|e| e.to_string())
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
        for (i, item) in items.unwrap_or_default().into_iter().enumerate() {
            collect(list_item(&origin, i), item, out)?;
        }
        return Ok(());
    }
    out.push(raw_resource(origin, value)?);
    Ok(())
}

/// The origin of item `i` of a `kind: List`: where the item is written, its own fields' places.
fn list_item(list: &Origin, i: usize) -> Origin {
    let field = format!("items[{i}]");
    match (list.locate(&field), list) {
        (
            Origin::File {
                path, line, column, ..
            },
            Origin::File { fields, .. },
        ) => Origin::File {
            path,
            line,
            column,
            fields: fields.at(&field),
        },
        (located, _) => located,
    }
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
        body: body.into(),
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
        assert_eq!(lines, ["f.yaml:2:1 a", "f.yaml:9:1 b"]);
    }

    #[test]
    fn a_syntax_error_names_file_and_line() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: [unclosed\n";
        let error = parse_documents(Path::new("bad.yaml"), text).unwrap_err();
        assert_eq!(error.to_string(), "bad.yaml:6:7: unclosed bracket '['");
    }

    #[test]
    fn json_and_lists_are_read() {
        let text = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}}]}"#;
        let docs = parse_documents(Path::new("l.json"), text).unwrap();
        assert_eq!(docs[0].name, "x");
        assert_eq!(docs[0].origin.to_string(), "l.json:1:43");
        assert_eq!(
            docs[0].origin.locate("metadata.name").to_string(),
            "l.json:1:93"
        );
    }

    #[test]
    fn a_document_without_name_is_refused() {
        let error =
            parse_documents(Path::new("n.yaml"), "apiVersion: v1\nkind: Pod\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "n.yaml:1:1: document has no metadata.name"
        );
    }

    #[test]
    fn a_field_is_placed_at_its_line_and_column() {
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports:\n  - port: 80\n    targetPort: 8080\n";
        let docs = parse_documents(Path::new("s.yaml"), text).unwrap();
        let at = |field: &str| docs[0].origin.locate(field).to_string();
        assert_eq!(at("spec.ports[0].targetPort"), "s.yaml:7:5");
        assert_eq!(at("spec.ports[0].protocol"), "s.yaml:6:5");
        assert_eq!(at("spec.selector"), "s.yaml:4:1");
    }

    /// Ten levels of ten aliases each: 10^10 nodes once expanded, from 11 lines.
    fn billion_laughs() -> String {
        let mut text =
            String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\nl0: &l0 [lol]\n");
        for level in 1..=10 {
            let aliases = vec![format!("*l{}", level - 1); 10].join(", ");
            text += &format!("l{level}: &l{level} [{aliases}]\n");
        }
        text
    }

    #[test]
    fn billion_laughs_are_refused_at_once_naming_file_and_line() {
        let started = std::time::Instant::now();
        let error = parse_documents(Path::new("lol.yaml"), &billion_laughs()).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let error = error.to_string();
        assert!(error.starts_with("lol.yaml:8:45: "), "{error}");
        assert!(
            error.ends_with("expands more than 10000 YAML aliases; refused"),
            "{error}"
        );
    }

    #[test]
    fn a_document_expanding_past_its_size_is_refused() {
        let big = "x".repeat(64 << 10);
        let uses = vec!["*big"; 50].join(", ");
        let text = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\nbig: &big {big}\nuses: [{uses}]\n");
        let error = parse_documents(Path::new("big.yaml"), &text)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("big.yaml:5:"), "{error}");
        assert!(error.contains("expands past 3 MiB"), "{error}");
    }

    #[test]
    fn a_list_item_is_placed_where_written() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: b\n";
        let docs = parse_documents(Path::new("l.yaml"), text).unwrap();
        assert_eq!(docs[1].origin.to_string(), "l.yaml:7:3");
        assert_eq!(
            docs[1].origin.locate("metadata.name").to_string(),
            "l.yaml:10:5"
        );
    }
}
