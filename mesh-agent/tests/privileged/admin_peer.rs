//! Privileged: the admin socket checks its peer with `SO_PEERCRED`. Even with the file opened
//! to everyone (mode 0666), a client running as `nobody` gets a 403 naming its uid, and `mesh-agent
//! admin` exits 1 with it; root is served. Needs root (to run a client as another user).

use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::process::Output;

use mesh_agent::admin::{self, AdminServer};

use crate::harness::config::compile;
use crate::harness::namespaced::{running_as_root_for, unique_name};

const NOBODY: u32 = 65534;

async fn config_dump(socket: std::path::PathBuf, uid: u32) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mesh-agent"));
    command
        .args(["admin", "--socket"])
        .arg(socket)
        .arg("config-dump");
    command.uid(uid).gid(uid);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_peer_that_is_not_root_is_refused_even_when_the_file_mode_lets_it_connect() {
    if !running_as_root_for("(running a client as another user)") {
        return;
    }
    let dir = std::env::temp_dir().join(unique_name("mesh-admin-peer"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = dir.join("admin.sock");
    let server = AdminServer::unix(&socket, admin::config_dump_routes(compile(""))).unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let serving = tokio::spawn(server.run());

    let refused = config_dump(socket.clone(), NOBODY).await;
    let message = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{message}");
    assert!(
        message
            .contains("403 Forbidden: the admin socket serves root only; the peer's uid is 65534"),
        "{message}"
    );
    let served = config_dump(socket.clone(), 0).await;
    let stderr = String::from_utf8_lossy(&served.stderr);
    assert!(served.status.success(), "root is served: {stderr}");

    serving.abort();
    let _ = serving.await;
    let _ = std::fs::remove_dir_all(&dir);
}
