//! Which files of a config directory hold resources, and a stamp per file that changes when the
//! file is written, replaced or removed.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The file extensions read: YAML (multi-document) and JSON.
pub const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// What changes when a file changes: modification time, length and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    modified: SystemTime,
    len: u64,
    inode: u64,
}

/// Every resource file under a directory with its stamp, in path order.
pub type Fingerprint = BTreeMap<PathBuf, FileStamp>;

/// Walks `dir` recursively. Names starting with `.` are skipped: editors' swap files, and the
/// `..data` directories of a mounted ConfigMap (its files are read through their top-level links).
pub fn fingerprint(dir: &Path) -> io::Result<Fingerprint> {
    let mut files = Fingerprint::new();
    walk(dir, &mut files)?;
    Ok(files)
}

fn walk(dir: &Path, files: &mut Fingerprint) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if is_hidden(&path) {
            continue;
        }
        // Follows symbolic links; a dangling link is simply not a file.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(&path, files)?;
        } else if meta.is_file() && has_resource_extension(&path) {
            files.insert(path, stamp(&meta));
        }
    }
    Ok(())
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with('.'))
}

fn has_resource_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| EXTENSIONS.contains(&ext))
}

fn stamp(meta: &std::fs::Metadata) -> FileStamp {
    use std::os::unix::fs::MetadataExt as _;
    FileStamp {
        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        len: meta.len(),
        inode: meta.ino(),
    }
}
