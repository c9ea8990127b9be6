//! A Unix socket's file, removed when its server goes — unless another agent has bound the path
//! since (a successor after a hand-over replaces the enrollment and admin sockets in place).

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The file a Unix listener was bound to, as it was then (device and inode).
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    id: (u64, u64),
}

fn id(path: &Path) -> io::Result<(u64, u64)> {
    let metadata = std::fs::metadata(path)?;
    Ok((metadata.dev(), metadata.ino()))
}

impl SocketFile {
    /// Records `path`, just bound.
    pub fn bound(path: &Path) -> io::Result<Self> {
        Ok(Self {
            path: path.to_path_buf(),
            id: id(path)?,
        })
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if id(&self.path).is_ok_and(|now| now == self.id) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SocketFile;

    #[test]
    fn a_path_bound_again_by_another_server_is_left_alone() {
        let dir = std::env::temp_dir().join(format!("mesh-socket-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let _first = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let file = SocketFile::bound(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let _second = std::os::unix::net::UnixListener::bind(&path).unwrap();
        drop(file);
        assert!(path.exists(), "the successor's socket stays");
        let file = SocketFile::bound(&path).unwrap();
        drop(file);
        assert!(!path.exists(), "its own socket goes");
        std::fs::remove_dir(&dir).unwrap();
    }
}
