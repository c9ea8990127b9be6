//! The inbound proxy in-process. Without `sk_lookup` nothing can be steered to it, so this
//! checks that a connection to the listener itself is refused.

use tokio::io::AsyncReadExt;

use crate::harness::config::compile;
use crate::harness::proxy::Agent;
use crate::harness::GUARD;

#[tokio::test]
async fn a_connection_addressed_to_the_listener_itself_is_reset_not_looped() {
    let addr = Agent::new(compile("")).inbound("web-0", "127.0.0.1").await;
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
