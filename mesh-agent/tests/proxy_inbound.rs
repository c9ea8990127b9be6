//! The inbound proxy in-process. Without `sk_lookup` nothing can be steered to it, so this
//! checks where the app is dialled and that a connection to the listener itself is refused.

mod agent_support;

use agent_support::*;
use mesh_agent::proxy::Inbound;
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn a_connection_addressed_to_the_listener_itself_is_reset_not_looped() {
    let (inputs, _, _) = inputs(config(""));
    let pod = current_pod("shop", "web-0", "127.0.0.1").await;
    let inbound = Inbound::new(pod, inputs, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = inbound.address();
    tokio::spawn(inbound.run());
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 8];
    let read = tokio::time::timeout(GUARD, stream.read(&mut buf))
        .await
        .expect("no hang");
    assert_eq!(
        read.unwrap_err().kind(),
        std::io::ErrorKind::ConnectionReset
    );
}
