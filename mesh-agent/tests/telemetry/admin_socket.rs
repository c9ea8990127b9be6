//! The admin endpoints on their Unix socket, asked through `mesh-agent admin` as an operator
//! on the node would: the configuration dump, the log level changed, and a clear failure (exit
//! 1) when no agent is there.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use mesh_agent::admin::{self, AdminServer};
use mesh_agent::admin_routes::AgentEndpoints;
use mesh_agent::logging::LogLevels;
use prometheus_client::registry::Registry;

use crate::harness::config::compile;

/// A private directory for one test's socket.
fn socket_path(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mesh-admin-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("admin.sock")
}

/// `mesh-agent admin --socket SOCKET ARGS...`, run off the test's runtime.
async fn admin_command(socket: &Path, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mesh-agent"));
    command.arg("admin").arg("--socket").arg(socket).args(args);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn mesh_agent_admin_reads_the_dump_and_changes_the_log_level_over_the_socket() {
    let socket = socket_path("client");
    let config = compile(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: shop}\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n",
    );
    let levels = LogLevels::new("info".into(), |_| Ok(()));
    let endpoints = AgentEndpoints::new(Arc::new(Registry::default()), Some(levels));
    let server = AdminServer::unix(&socket, admin::config_dump_routes(config))
        .unwrap()
        .with_agent_endpoints(endpoints);
    assert_eq!(server.address(), socket.display().to_string());
    let serving = tokio::spawn(server.run());

    let dump = admin_command(&socket, &["config-dump"]).await;
    assert!(dump.status.success(), "{}", text(&dump.stderr));
    assert!(
        text(&dump.stdout).contains("reviews"),
        "{}",
        text(&dump.stdout)
    );

    let changed = admin_command(&socket, &["logging", "debug"]).await;
    assert!(changed.status.success(), "{}", text(&changed.stderr));
    assert_eq!(text(&changed.stdout), "active log filter:\n  debug\n");

    let refused = admin_command(&socket, &["logging", "loud"]).await;
    assert_eq!(refused.status.code(), Some(1));
    let message = text(&refused.stderr);
    assert!(
        message.contains("the agent answered 400 Bad Request"),
        "{message}"
    );

    serving.abort();
    let _ = serving.await;
    assert!(!socket.exists(), "the socket goes with the server");
    let gone = admin_command(&socket, &["clusters"]).await;
    assert_eq!(gone.status.code(), Some(1));
    let message = text(&gone.stderr);
    assert!(
        message.contains(&format!("no agent answers on {}", socket.display())),
        "{message}"
    );
}
