//! The file source: Services and Pods from every `*.yaml`/`*.yml` in a directory (multi-doc).
//! Other kinds are ignored.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use k8s_openapi::api::core::v1::{Pod, Service};
use serde::Deserialize;

use super::Snapshot;

/// Why a directory could not be read into a snapshot; names the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The directory or a file in it could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The directory or file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A document is not valid YAML or not a valid resource of its kind.
    #[error("{path}: document {document}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based index of the document in the file.
        document: usize,
        /// The parser's message.
        message: String,
    },
}

/// What the files held that discovery uses.
#[derive(Debug, Default)]
pub struct Resources {
    /// Every Service.
    pub services: Vec<Service>,
    /// Every Pod.
    pub pods: Vec<Pod>,
}

/// Reads every YAML file of `dir` into a snapshot.
pub fn load_dir(dir: &Path) -> Result<Snapshot, LoadError> {
    let mut resources = Resources::default();
    for path in yaml_files(dir)? {
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Read {
            path: path.clone(),
            source,
        })?;
        parse_into(&path, &text, &mut resources)?;
    }
    Ok(Snapshot::build(&resources.services, &resources.pods))
}

/// What changes when a file is added, removed or written: path, mtime and length of each file.
pub type Fingerprint = Vec<(PathBuf, SystemTime, u64)>;

/// The directory's current [`Fingerprint`].
pub fn fingerprint(dir: &Path) -> Result<Fingerprint, LoadError> {
    yaml_files(dir)?
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(&path).map_err(|source| LoadError::Read {
                path: path.clone(),
                source,
            })?;
            let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            Ok((path, mtime, meta.len()))
        })
        .collect()
}

/// Parses one file's documents, keeping Services and Pods.
pub fn parse_into(path: &Path, text: &str, resources: &mut Resources) -> Result<(), LoadError> {
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let parse_error = |message: String| LoadError::Parse {
            path: path.to_path_buf(),
            document: index + 1,
            message,
        };
        let value =
            serde_yaml::Value::deserialize(document).map_err(|e| parse_error(e.to_string()))?;
        let kind = value
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or_default();
        match kind {
            "Service" => resources.services.push(
                serde_yaml::from_value(value).map_err(|e| parse_error(format!("Service: {e}")))?,
            ),
            "Pod" => resources
                .pods
                .push(serde_yaml::from_value(value).map_err(|e| parse_error(format!("Pod: {e}")))?),
            _ => {}
        }
    }
    Ok(())
}

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let read_error = |source| LoadError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        let is_yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        if is_yaml && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
