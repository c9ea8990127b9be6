//! The server name a TLS client asks for, read from its ClientHello by peeking (rustls parses
//! it): the bytes stay in the socket and go upstream untouched.

use std::time::Duration;

use rustls::server::Acceptor;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The largest ClientHello read: one TLS record.
const MAX_HELLO: usize = 5 + (1 << 14);

/// The ClientHello's SNI, when the connection starts with a TLS handshake record that names
/// one: its first byte within `silence` (zero: only if already there), the whole hello within
/// `wait`; `None` for anything else (not TLS, no SNI, too slow, malformed).
pub async fn peek(stream: &TcpStream, silence: Duration, wait: Duration) -> Option<String> {
    let mut first = [0u8; 1];
    // Polled once before the timer: a zero `silence` takes only bytes already there.
    let started = tokio::time::timeout(silence, stream.peek(&mut first)).await;
    if started.ok()?.ok()? == 0 || first[0] != 0x16 {
        return None;
    }
    let deadline = Instant::now() + wait;
    let mut buffer = vec![0u8; MAX_HELLO];
    let mut seen = 0;
    loop {
        let read = tokio::time::timeout_at(deadline, stream.peek(&mut buffer)).await;
        let n = read.ok()?.ok()?;
        if n == 0 || buffer[0] != 0x16 {
            return None;
        }
        if n > seen {
            match server_name(&buffer[..n]) {
                Hello::Complete(name) => return name,
                Hello::Partial if n < MAX_HELLO => seen = n,
                Hello::Partial | Hello::Malformed => return None,
            }
        }
        // The rest of the ClientHello is on its way: look again shortly.
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// What the bytes seen so far say.
#[derive(Debug, PartialEq, Eq)]
enum Hello {
    /// A whole ClientHello, with its server name if it sent one.
    Complete(Option<String>),
    /// More bytes are needed.
    Partial,
    Malformed,
}

fn server_name(mut bytes: &[u8]) -> Hello {
    let mut acceptor = Acceptor::default();
    while !bytes.is_empty() {
        match acceptor.read_tls(&mut bytes) {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => return Hello::Malformed,
        }
    }
    match acceptor.accept() {
        Ok(Some(accepted)) => {
            Hello::Complete(accepted.client_hello().server_name().map(str::to_string))
        }
        Ok(None) => Hello::Partial,
        Err(_) => Hello::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// The first flight of a rustls client asking for `name`.
    fn client_hello(name: &str) -> Vec<u8> {
        let roots = rustls::RootCertStore::empty();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = name.to_string().try_into().unwrap();
        let mut client = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut out = Vec::new();
        client.write_tls(&mut out).unwrap();
        out
    }

    #[test]
    fn the_server_name_is_read_from_a_whole_hello_and_waits_for_a_cut_one() {
        let hello = client_hello("api.example.com");
        assert_eq!(
            server_name(&hello),
            Hello::Complete(Some("api.example.com".into()))
        );
        assert_eq!(server_name(&hello[..hello.len() - 10]), Hello::Partial);
        assert_eq!(server_name(b"\x16\x03\x01\x00\x05hello"), Hello::Malformed);
    }

    #[tokio::test]
    async fn peeking_leaves_the_bytes_for_upstream() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let hello = client_hello("db.example.com");
        let (first, rest) = hello.split_at(20);
        client.write_all(first).await.unwrap();
        let later = rest.to_vec();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            client.write_all(&later).await.unwrap();
            client
        });
        let name = peek(&server, Duration::ZERO, Duration::from_secs(5)).await;
        assert_eq!(name.as_deref(), Some("db.example.com"));
        let mut all = vec![0; hello.len()];
        server.read_exact(&mut all).await.unwrap();
        assert_eq!(all, hello, "untouched");
    }
}
