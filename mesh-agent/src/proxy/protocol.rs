//! Which protocol a captured connection speaks: the declared one first (Service port
//! `appProtocol`, then the port name's prefix), else detected by peeking at the first bytes the
//! client sends within a short window. Nothing is consumed: the bytes peeked stay in the socket.

use std::io;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::{sleep, timeout_at, Instant};

use crate::clock;

/// A protocol declared for a Service port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Declared {
    /// `http`, `http-*`: HTTP/1.1 (or HTTP/2 when the client speaks it).
    Http,
    /// `http2`, `http2-*`, `h2c`: HTTP/2 towards the upstream.
    Http2,
    /// `grpc`, `grpc-*`, `grpc-web`: HTTP/2 towards the upstream.
    Grpc,
    /// `tcp`, `tcp-*`, and what Istio treats as opaque (`tls`, `https`, `mongo`, `mysql`, …).
    Tcp,
}

/// How the agent carries a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// An HTTP/1.x request line was seen (or the port is declared HTTP).
    Http1,
    /// The HTTP/2 connection preface was seen (prior knowledge).
    Http2,
    /// Anything else: bytes forwarded as they are.
    Tcp,
}

/// The HTTP/2 client connection preface.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Request methods recognised at the start of an HTTP/1 request line.
const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
];

/// How many bytes are peeked at most: enough for a request line with a long path.
pub const PEEK_LIMIT: usize = 4096;

/// How long to wait between two peeks while the first bytes are still incomplete.
const REPEEK_DELAY: Duration = Duration::from_millis(2);

/// The protocol declared by a port's `appProtocol` (which wins) or its name, Istio's way:
/// `<protocol>` or `<protocol>-<suffix>`, case-insensitive. `None` when neither declares one.
pub fn declared(app_protocol: Option<&str>, port_name: Option<&str>) -> Option<Declared> {
    app_protocol
        .and_then(|p| by_name(&p.to_ascii_lowercase()))
        .or_else(|| {
            let name = port_name?.to_ascii_lowercase();
            let prefix = name.split('-').next().unwrap_or_default();
            by_name(prefix)
        })
}

impl Declared {
    /// The declaration a compiled Service port carries (its `appProtocol` or name, read once
    /// when the snapshot was built). `None` when the port declares nothing.
    pub fn of_port(protocol: crate::snapshot::Protocol) -> Option<Self> {
        use crate::snapshot::Protocol as Port;
        match protocol {
            Port::Http => Some(Self::Http),
            Port::Http2 => Some(Self::Http2),
            Port::Grpc => Some(Self::Grpc),
            Port::Https | Port::Tls | Port::Tcp => Some(Self::Tcp),
            Port::Unknown => None,
        }
    }
}

fn by_name(name: &str) -> Option<Declared> {
    // Kubernetes' standard appProtocol values come prefixed (`kubernetes.io/h2c`).
    let name = name.strip_prefix("kubernetes.io/").unwrap_or(name);
    match name {
        "http" | "http1" => Some(Declared::Http),
        "http2" | "h2c" => Some(Declared::Http2),
        "grpc" | "grpc-web" => Some(Declared::Grpc),
        "tcp" | "tls" | "https" | "mongo" | "mysql" | "redis" | "udp" => Some(Declared::Tcp),
        _ => None,
    }
}

/// What the first bytes of a connection say; `None` while they could still become either.
pub fn classify(first: &[u8]) -> Option<Protocol> {
    if first.is_empty() {
        return None;
    }
    if first.len() < H2_PREFACE.len() && H2_PREFACE.starts_with(first) {
        return None;
    }
    if first.starts_with(H2_PREFACE) {
        return Some(Protocol::Http2);
    }
    classify_http1(first)
}

/// `METHOD SP target SP HTTP/1.x CRLF`, or a prefix that could still become one.
fn classify_http1(first: &[u8]) -> Option<Protocol> {
    let text = String::from_utf8_lossy(&first[..first.len().min(PEEK_LIMIT)]);
    let method = text.split(' ').next().unwrap_or_default();
    let Some(line_end) = text.find("\r\n") else {
        let could_be_method = METHODS.iter().any(|m| m.starts_with(method));
        let method_done = METHODS.contains(&method) && text.len() > method.len();
        return match (could_be_method, first.len() >= PEEK_LIMIT) {
            (true, true) if method_done => Some(Protocol::Http1),
            (true, false) => None,
            _ => Some(Protocol::Tcp),
        };
    };
    let line = &text[..line_end];
    let is_http1 =
        METHODS.contains(&method) && (line.ends_with(" HTTP/1.1") || line.ends_with(" HTTP/1.0"));
    Some(if is_http1 {
        Protocol::Http1
    } else {
        Protocol::Tcp
    })
}

/// The protocol of `stream`: the declared one when there is one, else detected from the first
/// bytes sent within `window`. A client that sends nothing (a server-first protocol) or not
/// enough within the window is carried as TCP.
pub async fn choose(
    stream: &TcpStream,
    declared: Option<Declared>,
    window: Duration,
) -> io::Result<Protocol> {
    // A declared HTTP port needs no peeking: hyper tells HTTP/1 from HTTP/2 by itself.
    match declared {
        Some(Declared::Tcp) => Ok(Protocol::Tcp),
        Some(Declared::Http) => Ok(Protocol::Http1),
        Some(Declared::Http2 | Declared::Grpc) => Ok(Protocol::Http2),
        None => detect(stream, window).await,
    }
}

/// Peeks at `stream` until its first bytes say what it speaks or `window` has passed.
pub async fn detect(stream: &TcpStream, window: Duration) -> io::Result<Protocol> {
    let deadline = clock::deadline(Instant::now(), window);
    let mut buf = vec![0u8; PEEK_LIMIT];
    loop {
        let n = match timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(peeked) => peeked?,
            Err(_elapsed) => return Ok(Protocol::Tcp),
        };
        if n == 0 {
            return Ok(Protocol::Tcp);
        }
        if let Some(protocol) = classify(&buf[..n]) {
            return Ok(protocol);
        }
        // The bytes are readable but incomplete: peek again a little later, not in a spin.
        if Instant::now() >= deadline {
            return Ok(Protocol::Tcp);
        }
        sleep(REPEEK_DELAY).await;
    }
}

/// [`detect`] on a stream that cannot be peeked at (a connection in the tunnel): the first
/// bytes are read, and returned with the protocol for the caller to give back.
pub async fn detect_by_reading<S>(stream: &mut S, window: Duration) -> (Protocol, Vec<u8>)
where
    S: tokio::io::AsyncRead + Unpin,
{
    use tokio::io::AsyncReadExt;
    let deadline = clock::deadline(Instant::now(), window);
    let mut read = Vec::with_capacity(PEEK_LIMIT);
    let mut buf = vec![0u8; PEEK_LIMIT];
    while read.len() < PEEK_LIMIT {
        let room = PEEK_LIMIT - read.len();
        let n = match timeout_at(deadline, stream.read(&mut buf[..room])).await {
            Ok(Ok(n)) => n,
            Ok(Err(_)) | Err(_) => break,
        };
        if n == 0 {
            break;
        }
        read.extend_from_slice(&buf[..n]);
        if let Some(protocol) = classify(&read) {
            return (protocol, read);
        }
    }
    (Protocol::Tcp, read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_protocol_table() {
        let cases: &[(Option<&str>, Option<&str>, Option<Declared>)] = &[
            (None, Some("http"), Some(Declared::Http)),
            (None, Some("http-web"), Some(Declared::Http)),
            (None, Some("HTTP-web"), Some(Declared::Http)),
            (None, Some("http2-api"), Some(Declared::Http2)),
            (None, Some("grpc-api"), Some(Declared::Grpc)),
            (None, Some("grpc-web"), Some(Declared::Grpc)),
            (None, Some("tcp-db"), Some(Declared::Tcp)),
            (None, Some("mysql"), Some(Declared::Tcp)),
            (None, Some("web"), None),
            (None, Some("httpx"), None),
            (None, None, None),
            (Some("http"), Some("tcp-x"), Some(Declared::Http)),
            (Some("kubernetes.io/h2c"), None, Some(Declared::Http2)),
            (Some("grpc"), None, Some(Declared::Grpc)),
            (Some("TCP"), Some("http-x"), Some(Declared::Tcp)),
            (Some("custom"), Some("grpc-x"), Some(Declared::Grpc)),
        ];
        for (app_protocol, name, want) in cases {
            assert_eq!(
                declared(*app_protocol, *name),
                *want,
                "{app_protocol:?} {name:?}"
            );
        }
    }

    #[test]
    fn first_bytes_table() {
        let cases: &[(&[u8], Option<Protocol>)] = &[
            (b"", None),
            (b"G", None),
            (b"GET / HT", None),
            (b"GET / HTTP/1.1\r\n", Some(Protocol::Http1)),
            (
                b"POST /x?y=1 HTTP/1.0\r\nHost: a\r\n",
                Some(Protocol::Http1),
            ),
            (b"PRI * HTTP/2.0\r\n", None),
            (H2_PREFACE, Some(Protocol::Http2)),
            (b"GET / SPDY/3\r\n", Some(Protocol::Tcp)),
            (b"\x16\x03\x01\x02\x00", Some(Protocol::Tcp)),
            (b"SSH-2.0-OpenSSH\r\n", Some(Protocol::Tcp)),
            (b"hello", Some(Protocol::Tcp)),
        ];
        for (first, want) in cases {
            assert_eq!(
                classify(first),
                *want,
                "{:?}",
                String::from_utf8_lossy(first)
            );
        }
    }

    #[test]
    fn a_long_request_line_is_http1_once_the_peek_buffer_is_full() {
        let mut line = b"GET /".to_vec();
        line.resize(PEEK_LIMIT, b'a');
        assert_eq!(classify(&line), Some(Protocol::Http1));
    }
}
