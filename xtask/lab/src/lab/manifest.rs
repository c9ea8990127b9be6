//! Kubernetes YAML input: files (or directories of them) split into documents that know where
//! they came from, so every error names the file, the document and the object.

use anyhow::{bail, Context, Result};
use serde_yaml::Value;
use std::path::{Path, PathBuf};

/// One YAML document of an input file.
pub struct Document {
    /// The file as the user named it.
    pub file: String,
    /// 1-based, counting non-empty documents.
    pub index: usize,
    /// The line where the document's content starts.
    pub line: usize,
    pub value: Value,
}

/// Problems found while reading or validating input; reported together.
#[derive(Default)]
pub struct Problems(Vec<String>);

impl Problems {
    /// Records one problem.
    pub fn push(&mut self, problem: String) {
        self.0.push(problem);
    }

    /// `Ok` when nothing was recorded, else one error listing every problem.
    pub fn into_result(self) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        bail!("{}", self.0.join("\n"))
    }
}

impl Document {
    /// `file: document N (line L)`.
    pub fn place(&self) -> String {
        format!(
            "{}: document {} (line {})",
            self.file, self.index, self.line
        )
    }

    /// `file: document N (line L): Kind/namespace/name: message`.
    pub fn problem(&self, message: impl std::fmt::Display) -> String {
        format!("{}: {}: {message}", self.place(), self.object())
    }

    /// The `apiVersion`, or "".
    pub fn api_version(&self) -> &str {
        self.value["apiVersion"].as_str().unwrap_or("")
    }

    /// The `kind`, or "".
    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }

    /// The API group (`networking.istio.io`), "" for the core group.
    pub fn group(&self) -> &str {
        self.api_version().rsplit_once('/').map_or("", |(g, _)| g)
    }

    /// `metadata.name`, or "".
    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }

    /// `metadata.namespace`, defaulting to `default`.
    pub fn namespace(&self) -> &str {
        let ns = self.value["metadata"]["namespace"].as_str();
        ns.filter(|ns| !ns.is_empty()).unwrap_or("default")
    }

    /// `Kind/namespace/name` (`Namespace/name` for a Namespace).
    pub fn object(&self) -> String {
        let name = if self.name().is_empty() {
            "<no name>"
        } else {
            self.name()
        };
        match self.kind() {
            "Namespace" => format!("Namespace/{name}"),
            "" => format!("<no kind>/{}/{name}", self.namespace()),
            kind => format!("{kind}/{}/{name}", self.namespace()),
        }
    }
}

/// Reads every document of `paths` (files, or directories of `*.yaml`/`*.yml`).
pub fn read_documents(paths: &[PathBuf]) -> Result<Vec<Document>> {
    if paths.is_empty() {
        bail!("no input: name at least one YAML file or directory");
    }
    let mut docs = Vec::new();
    let mut problems = Problems::default();
    for file in expand(paths)? {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("{}: cannot read", file.display()))?;
        parse_file(&file.display().to_string(), &text, &mut docs, &mut problems);
    }
    problems.into_result()?;
    Ok(docs)
}

fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("{}: cannot read directory", path.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| is_yaml(p))
            .collect();
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

pub(super) fn parse_file(
    file: &str,
    text: &str,
    docs: &mut Vec<Document>,
    problems: &mut Problems,
) {
    let mut index = 0;
    for (start, chunk) in split_documents(text) {
        let line = start + first_content_line(&chunk);
        match serde_yaml::from_str::<Value>(&chunk) {
            Ok(Value::Null) => {}
            Ok(value) => {
                index += 1;
                let file = file.to_string();
                docs.push(Document {
                    file,
                    index,
                    line,
                    value,
                });
            }
            Err(err) => {
                index += 1;
                let at = err.location().map_or(line, |l| start + l.line() - 1);
                let message = err.to_string();
                let message = message.split(" at line ").next().unwrap_or_default();
                problems.push(format!(
                    "{file}: document {index} (line {at}): YAML syntax error: {message}"
                ));
            }
        }
    }
}

/// Splits on `---` lines; each chunk comes with the file line of its first line.
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut chunks = Vec::new();
    let (mut start, mut chunk) = (1, String::new());
    for (i, line) in text.lines().enumerate() {
        if let Some(rest) = line
            .strip_prefix("---")
            .filter(|r| r.is_empty() || r.starts_with(' '))
        {
            chunks.push((start, std::mem::take(&mut chunk)));
            start = i + 1;
            let rest = rest.trim();
            chunk.push_str(if rest.starts_with('#') { "" } else { rest });
        } else if line != "..." {
            chunk.push_str(line);
        }
        chunk.push('\n');
    }
    chunks.push((start, chunk));
    chunks
}

/// 0-based offset of the first line that is neither blank nor a comment.
fn first_content_line(chunk: &str) -> usize {
    chunk
        .lines()
        .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .unwrap_or(0)
}
