//! Plain HTTP GETs to `127.0.0.1:<port>` inside a node's network namespace (the agent's
//! `/healthz/ready` and `/metrics`), from a helper thread that entered it with `setns`.

use anyhow::{anyhow, bail, Context, Result};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

/// How long connecting, sending and reading may each take.
const IO_TIMEOUT: Duration = Duration::from_secs(3);

/// An answer: status code and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// `GET http://127.0.0.1:<port><path>` from inside the network namespace `netns`.
pub fn get(netns: &str, port: u16, path: &str) -> Result<Answer> {
    let netns_path = Path::new("/run/netns").join(netns);
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let thread = std::thread::spawn(move || -> Result<String> {
        let ns = std::fs::File::open(&netns_path)
            .with_context(|| format!("opening {}", netns_path.display()))?;
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
            .with_context(|| format!("entering {}", netns_path.display()))?;
        exchange(port, &request)
    });
    let raw = thread
        .join()
        .map_err(|_| anyhow!("the netns helper thread panicked"))??;
    parse(&raw).with_context(|| format!("GET 127.0.0.1:{port}{path} in {netns}"))
}

/// Sends `request` to `127.0.0.1:port` and reads the whole answer (the server closes).
fn exchange(port: u16, request: &str) -> Result<String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    Ok(String::from_utf8_lossy(&raw).into_owned())
}

/// The status code and body of a raw HTTP/1.1 answer (`Content-Length` bodies, as the agent's).
fn parse(raw: &str) -> Result<Answer> {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok());
    match status {
        Some(status) if head.starts_with("HTTP/") => Ok(Answer {
            status,
            body: body.to_string(),
        }),
        _ => bail!(
            "not an HTTP answer: {:?}",
            head.lines().next().unwrap_or("")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_into_status_and_body() {
        let answer = parse("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nready").unwrap();
        assert_eq!((answer.status, answer.body.as_str()), (200, "ready"));
        let answer = parse("HTTP/1.1 503 Service Unavailable\r\n\r\n").unwrap();
        assert_eq!(answer.status, 503);
        assert!(parse("garbage").is_err());
        assert!(parse("").is_err());
    }
}
