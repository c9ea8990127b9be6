//! Privileged: the enrollment socket serves root only. A client thread that dropped to uid
//! 65534 (its own credentials only: a raw `setresuid`, not libc's process-wide one) is answered
//! with a refusal, even when the socket file would let it connect.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use mesh_agent::enroll::EnrollServer;

use crate::harness::config::compile;
use crate::harness::enrollment::Setup;
use crate::harness::namespaced::running_as_root_for;
use crate::harness::TempDir;

const NOBODY: libc::uid_t = 65534;

/// Connects as uid 65534 from a thread of its own and returns the answer to `list`.
fn list_as_nobody(socket: PathBuf) -> String {
    std::thread::spawn(move || {
        // SAFETY: a raw syscall changing only this thread's credentials.
        let rc = unsafe { libc::syscall(libc::SYS_setresuid, NOBODY, NOBODY, NOBODY) };
        assert_eq!(rc, 0, "setresuid: {}", std::io::Error::last_os_error());
        let mut stream = UnixStream::connect(&socket).expect("connect as nobody");
        // The agent may have answered and closed before the request is written (broken pipe).
        let _ = stream.write_all(b"{\"op\":\"list\"}\n");
        let mut answer = String::new();
        BufReader::new(stream).read_line(&mut answer).unwrap();
        answer
    })
    .join()
    .expect("client thread")
}

#[tokio::test]
async fn a_non_root_peer_is_refused() {
    if !running_as_root_for("(setresuid)") {
        return;
    }
    let state = TempDir::new("enroll-peer-state");
    let enrollment = Setup::new(compile(""), &state).start();
    let dir = TempDir::new("enroll-peer");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = dir.path().join("enroll.sock");
    let server = EnrollServer::new(&socket).unwrap();
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "root only on disk");
    // Open the file to everyone: the peer check alone must refuse.
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let serving = tokio::spawn(server.run(enrollment.enrollment.clone()));

    let answer = tokio::task::spawn_blocking(move || list_as_nobody(socket))
        .await
        .unwrap();
    assert!(
        answer.starts_with(r#"{"ok":false,"error":"refused: peer uid 65534 (pid "#)
            && answer.contains("is not root; the enrollment socket serves root only"),
        "{answer}"
    );
    serving.abort();
}
