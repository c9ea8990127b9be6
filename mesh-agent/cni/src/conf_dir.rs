//! The node's CNI configuration directory: which file is the primary network's (the first by
//! name among `*.conflist`, `*.conf`, `*.json`, as containerd and CRI-O pick it), mesh-cni
//! appended to it (a lone `.conf` is replaced by a `.conflist`), and taken out again. Every
//! write is a temp file + rename in the same directory. The primary's own text is kept beside it
//! (`.<file>.mesh-cni-orig`, an extension no runtime reads) so that uninstalling gives back the
//! file exactly as it was, unless its owner rewrote it meanwhile.

use crate::conflist::{self, Primary};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io;
use std::path::{Path, PathBuf};

/// The extensions a runtime reads network configurations from.
const CONF_EXTENSIONS: [&str; 3] = ["conflist", "conf", "json"];
/// The suffix of the kept original.
const ORIGINAL_SUFFIX: &str = ".mesh-cni-orig";

/// What [`ensure_installed`] found or did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Installed {
    /// No network configuration yet (the primary plugin has not written one).
    NoPrimary,
    /// Our entry was already in this file.
    Already(PathBuf),
    /// Our entry was added to (or updated in) this file.
    Appended(PathBuf),
}

/// The primary network's text before we appended to it.
#[derive(Debug, Serialize, Deserialize)]
struct Original {
    /// Its file name (a `.conf` we replaced by a `.conflist` is restored under its own name).
    file: String,
    text: String,
}

/// The runtime's network configuration files, by name.
pub fn conf_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| CONF_EXTENSIONS.iter().any(|c| e == *c))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Makes the primary configuration end with `entry`; idempotent.
pub fn ensure_installed(dir: &Path, entry: &Value) -> Result<Installed, String> {
    let files = conf_files(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let Some(path) = files.first() else {
        return Ok(Installed::NoPrimary);
    };
    let name = file_name(path);
    let text = read(path)?;
    let primary = Primary::parse(&name, &text)?;
    let converted = matches!(primary, Primary::Single(_));
    let list = primary.into_list();
    let current = conflist::find_mesh(&list);
    if current == Some(entry) {
        return Ok(Installed::Already(path.clone()));
    }
    let target = if converted {
        path.with_extension("conflist")
    } else {
        path.clone()
    };
    if current.is_none() {
        keep_original(dir, &file_name(&target), &Original { file: name, text })?;
    }
    write_atomically(
        &target,
        &conflist::render(&conflist::with_mesh(&list, entry)),
    )?;
    if converted {
        std::fs::remove_file(path).map_err(|e| format!("removing {}: {e}", path.display()))?;
    }
    Ok(Installed::Appended(target))
}

/// Takes our entry out of every configuration file: the kept original comes back when the file
/// is as we left it, else only our entry is removed. The files changed.
pub fn uninstall(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut changed = Vec::new();
    let files = conf_files(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for path in files {
        let name = file_name(&path);
        let text = read(&path)?;
        let Ok(primary) = Primary::parse(&name, &text) else {
            continue; // not ours to judge
        };
        let list = primary.into_list();
        let Some(entry) = conflist::find_mesh(&list).cloned() else {
            continue;
        };
        match take_original(dir, &name) {
            Some(original) if is_as_we_left(&original, &entry, &text) => {
                write_atomically(&dir.join(&original.file), &original.text)?;
                if original.file != name {
                    std::fs::remove_file(&path)
                        .map_err(|e| format!("removing {}: {e}", path.display()))?;
                }
            }
            _ => write_atomically(&path, &conflist::render(&conflist::without_mesh(&list)))?,
        }
        changed.push(path);
    }
    Ok(changed)
}

/// Whether `text` is exactly what appending `entry` to the original produced.
fn is_as_we_left(original: &Original, entry: &Value, text: &str) -> bool {
    Primary::parse(&original.file, &original.text)
        .is_ok_and(|p| conflist::render(&conflist::with_mesh(&p.into_list(), entry)) == text)
}

fn original_path(dir: &Path, file: &str) -> PathBuf {
    dir.join(format!(".{file}{ORIGINAL_SUFFIX}"))
}

fn keep_original(dir: &Path, file: &str, original: &Original) -> Result<(), String> {
    let json = serde_json::to_string(original).expect("an original serializes");
    write_atomically(&original_path(dir, file), &json)
}

/// The kept original of `file`, removed from the directory.
fn take_original(dir: &Path, file: &str) -> Option<Original> {
    let path = original_path(dir, file);
    let text = std::fs::read_to_string(&path).ok();
    let _ = std::fs::remove_file(&path);
    serde_json::from_str(&text?).ok()
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// Writes `text` to `path` through a temp file in the same directory and a rename, so a runtime
/// never reads half a file; an existing file's permissions are kept.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_file_name(format!(".{}.mesh-cni-tmp", file_name(path)));
    let write = || -> io::Result<()> {
        std::fs::write(&tmp, text)?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("writing {}: {e}", path.display())
    })
}

#[cfg(test)]
#[path = "conf_dir_tests.rs"]
mod tests;
