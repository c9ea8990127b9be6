//! The enrollment socket: root-only (file mode 0600 and the peer's `SO_PEERCRED` uid checked),
//! one request line of at most [`MAX_REQUEST_BYTES`], one answer line each.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::protocol::{Response, MAX_REQUEST_BYTES};
use super::service::Enrollment;

/// The enrollment socket. The socket file is removed when the server is dropped.
pub struct EnrollServer {
    listener: UnixListener,
    path: PathBuf,
    // Removed with the server, unless a successor bound the path since.
    _file: crate::net::SocketFile,
}

impl EnrollServer {
    /// Binds `path` (creating its directory, replacing a stale socket), readable by root only.
    pub fn new(path: &Path) -> io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        match std::fs::remove_file(path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        Ok(Self {
            listener,
            path: path.to_path_buf(),
            _file: crate::net::SocketFile::bound(path)?,
        })
    }

    /// The socket path.
    pub fn address(&self) -> &Path {
        &self.path
    }

    /// Serves clients until the task is dropped.
    pub async fn run(self, enrollment: Arc<Enrollment>) {
        loop {
            match self.listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(serve_client(stream, enrollment.clone()));
                }
                Err(error) => tracing::warn!(%error, "enrollment accept failed"),
            }
        }
    }
}

/// How long a refused peer's request is waited for before the refusal is sent anyway.
const REFUSED_READ: std::time::Duration = std::time::Duration::from_secs(1);

/// Why a peer is refused, if it is: only root may enroll.
fn refuse_peer(stream: &UnixStream) -> Option<String> {
    match stream.peer_cred() {
        Ok(cred) if cred.uid() == 0 => None,
        Ok(cred) => Some(format!(
            "refused: peer uid {} (pid {}) is not root; the enrollment socket serves root only",
            cred.uid(),
            cred.pid().map_or("?".into(), |p| p.to_string())
        )),
        Err(error) => Some(format!(
            "refused: cannot read the peer's credentials: {error}"
        )),
    }
}

async fn serve_client(stream: UnixStream, enrollment: Arc<Enrollment>) {
    let refused = refuse_peer(&stream);
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    if let Some(error) = refused {
        tracing::warn!(%error, "enrollment client refused");
        // Its request is read (bounded, never acted on) first: closing with unread bytes would
        // reset the connection, and the peer would see a reset instead of the reason.
        let _ = tokio::time::timeout(REFUSED_READ, read_request(&mut reader)).await;
        let _ = answer(&mut write, &Response::failed(error)).await;
        return;
    }
    loop {
        let line = match read_request(&mut reader).await {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(error) => {
                let _ = answer(&mut write, &Response::failed(error)).await;
                return;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let response = enrollment.handle(&line).await;
        if answer(&mut write, &response).await.is_err() {
            return;
        }
    }
}

async fn answer(write: &mut (impl AsyncWriteExt + Unpin), response: &Response) -> io::Result<()> {
    let mut text = serde_json::to_string(response).expect("a response serializes");
    text.push('\n');
    write.write_all(text.as_bytes()).await
}

/// One request line (without its newline), `None` at the end of the stream; an error message
/// for a line over [`MAX_REQUEST_BYTES`] or not UTF-8.
pub async fn read_request(
    reader: &mut (impl AsyncBufRead + Unpin),
) -> Result<Option<String>, String> {
    let mut line = Vec::new();
    let mut capped = reader.take(MAX_REQUEST_BYTES as u64 + 1);
    let read = capped.read_until(b'\n', &mut line).await;
    let read = read.map_err(|e| format!("reading the request: {e}"))?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if line.len() > MAX_REQUEST_BYTES {
        return Err(format!(
            "request longer than {MAX_REQUEST_BYTES} bytes; refused"
        ));
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| "the request is not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_capped() {
        let long = vec![b'x'; MAX_REQUEST_BYTES + 1];
        let error = read_request(&mut long.as_slice()).await.unwrap_err();
        assert_eq!(error, "request longer than 65536 bytes; refused");
        let mut fits = vec![b'x'; MAX_REQUEST_BYTES];
        fits.extend_from_slice(b"\n{\"op\":\"list\"}\n");
        let mut reader = fits.as_slice();
        let first = read_request(&mut reader).await.unwrap().unwrap();
        assert_eq!(first.len(), MAX_REQUEST_BYTES);
        let second = read_request(&mut reader).await.unwrap();
        assert_eq!(second.as_deref(), Some(r#"{"op":"list"}"#));
        assert_eq!(read_request(&mut reader).await.unwrap(), None);
    }
}
