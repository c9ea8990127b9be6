//! The enrollment socket in-process, and the `mesh-agent enroll` client talking to it: `list`,
//! `add` with several IPs and node IPs, `check` of a pod nobody knows.

use mesh_agent::enroll::{self, EnrollServer, Request};

use crate::enroll_api::{start, IP, OWN_NETNS};
use crate::harness::TempDir;

#[tokio::test]
async fn socket_server_answers_the_client_and_the_cli() {
    let state = TempDir::new("enroll-socket");
    let enrollment = start(&state);
    let dir = TempDir::new("enroll");
    let socket = dir.path().join("agent.sock");
    let server = EnrollServer::new(&socket).unwrap();
    let serving = tokio::spawn(server.run(enrollment.enrollment.clone()));

    let listed = enroll::request(&socket, &Request::List).await.unwrap();
    assert_eq!(listed.pods, Some(vec![]));

    let socket_arg = socket.to_str().unwrap().to_string();
    let add = [
        "enroll",
        "--socket",
        &socket_arg,
        "add",
        "--namespace",
        "shop",
        "--name",
        "web-0",
        "--uid",
        "uid-web-0",
        "--netns",
        OWN_NETNS,
        "--ip",
        IP,
        "--ip",
        "fd00::5",
        "--node-ip",
        "10.244.1.1",
    ];
    let output = cli(&add).await;
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with(r#"{"ok":true,"enrolled":true"#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#""ips":["127.0.0.1","fd00::5"]"#),
        "{stdout}"
    );
    let check = [
        "enroll",
        "--socket",
        &socket_arg,
        "check",
        "--namespace",
        "plain",
        "--name",
        "x",
    ];
    let output = cli(&check).await;
    assert!(!output.status.success(), "a pod nobody knows fails check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("not in the agent's view"), "{stdout}");
    assert_eq!(enrollment.enrolled().await, ["shop/web-0"]);

    serving.abort();
    let _ = serving.await;
    assert!(!socket.exists(), "socket file removed with the server");
}

async fn cli(args: &[&str]) -> std::process::Output {
    let binary = env!("CARGO_BIN_EXE_mesh-agent");
    tokio::process::Command::new(binary)
        .args(args)
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_request_over_64_kib_is_refused_with_its_limit() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let state = TempDir::new("enroll-long-state");
    let enrollment = start(&state);
    let dir = TempDir::new("enroll-long");
    let socket = dir.path().join("agent.sock");
    let server = EnrollServer::new(&socket).unwrap();
    let serving = tokio::spawn(server.run(enrollment.enrollment.clone()));
    let stream = tokio::net::UnixStream::connect(&socket).await.unwrap();
    let (read, mut write) = stream.into_split();
    let long = format!("{{\"op\":\"list\",\"pad\":\"{}\"}}\n", "x".repeat(70_000));
    // The agent answers after 64 KiB and closes; the rest of the line may not be taken.
    let _ = write.write_all(long.as_bytes()).await;
    let answer = BufReader::new(read).lines().next_line().await.unwrap();
    assert_eq!(
        answer.as_deref(),
        Some(r#"{"ok":false,"error":"request longer than 65536 bytes; refused"}"#)
    );
    serving.abort();
}
