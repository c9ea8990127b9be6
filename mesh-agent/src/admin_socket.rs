//! The admin endpoints' Unix socket (`/run/mesh-agent/admin.sock`): mode 0600 in a directory
//! only root enters, peers checked with `SO_PEERCRED` (root, or the agent's own user), removed
//! when the agent exits. No TCP port: other hostNetwork pods on the node cannot reach it.

use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use tokio::net::{UnixListener, UnixStream};

/// Where the agent serves admin by default.
pub const DEFAULT_ADMIN_SOCKET: &str = "/run/mesh-agent/admin.sock";

/// The bound admin socket; the file goes when it is dropped.
pub struct AdminSocket {
    listener: UnixListener,
    path: PathBuf,
    // Removed with the socket, unless a successor bound the path since.
    _file: crate::net::SocketFile,
}

impl AdminSocket {
    /// Binds `path` (creating its directory, replacing a stale socket a crashed agent left),
    /// readable and writable by its owner only.
    pub fn bind(path: &Path) -> io::Result<Self> {
        let context = |what: &str, error: io::Error| {
            io::Error::new(
                error.kind(),
                format!("admin socket {}: {what}: {error}", path.display()),
            )
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| context("creating its directory", e))?;
        }
        match std::fs::remove_file(path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                return Err(context("removing the stale socket", error))
            }
            _ => {}
        }
        let listener = UnixListener::bind(path).map_err(|e| context("binding", e))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| context("setting mode 0600", e))?;
        Ok(Self {
            listener,
            path: path.to_path_buf(),
            _file: crate::net::SocketFile::bound(path)?,
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next client, and why it is refused (its peer is not root), if it is: the server
    /// answers every request of a refused client with 403 and that reason.
    pub async fn accept(&self) -> io::Result<(UnixStream, Result<(), String>)> {
        let (stream, _) = self.listener.accept().await?;
        let uid = stream.peer_cred()?.uid();
        let allowed = peer_allowed(uid, nix::unistd::geteuid().as_raw());
        if allowed.is_err() {
            tracing::warn!(uid, "admin socket: refused a peer that is not root");
        }
        Ok((stream, allowed))
    }
}

/// Whether a peer of user `uid` may use the admin endpoints of an agent running as `own`:
/// root always, and the agent's own user (a user can read its own processes' memory anyway;
/// on a node the agent is root, so only root gets in).
pub fn peer_allowed(uid: u32, own: u32) -> Result<(), String> {
    if uid == 0 || uid == own {
        Ok(())
    } else {
        Err(format!(
            "the admin socket serves root only; the peer's uid is {uid}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_root_and_the_agents_own_user_get_in() {
        assert!(peer_allowed(0, 0).is_ok());
        assert!(peer_allowed(0, 1000).is_ok());
        assert!(peer_allowed(1000, 1000).is_ok());
        let refused = peer_allowed(65534, 0).unwrap_err();
        assert!(refused.contains("uid is 65534"), "{refused}");
    }

    #[tokio::test]
    async fn the_socket_is_private_replaces_a_stale_one_and_goes_on_drop() {
        let dir = std::env::temp_dir().join(format!("mesh-admin-{}", std::process::id()));
        let path = dir.join("admin.sock");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, "stale").unwrap();
        let socket = AdminSocket::bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(socket);
        assert!(!path.exists(), "the socket file is removed with the server");
        let _ = std::fs::remove_dir(&dir);
    }
}
