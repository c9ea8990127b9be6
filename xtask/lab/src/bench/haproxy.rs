//! HAProxy, the reference proxy, in TCP mode (`bench l4`) or HTTP mode (`bench http`): run as a
//! process in a node's netns (where a node proxy sits), one frontend per path, each forwarding
//! to one server pod.

use super::release::target_dir;
use super::topology::wait_listening;
use crate::packages::{self, Tool};
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};

/// The Debian package that brings `haproxy`.
const HAPROXY: Tool = Tool {
    command: "haproxy",
    package: "haproxy",
};

/// One listening port forwarding to one backend address.
pub struct Frontend {
    pub port: u16,
    pub backend: String,
}

/// One HTTP listening port proxying to one backend address: HTTP/1.1, or h2c on both sides.
#[derive(Clone, Debug)]
pub struct HttpFrontend {
    pub port: u16,
    pub backend: String,
    pub h2: bool,
}

/// A running HAProxy; killed on drop.
pub struct Haproxy {
    child: Child,
}

impl Haproxy {
    /// Installs HAProxy if missing and starts it in `netns` with `frontends`.
    pub fn start(netns: &str, frontends: &[Frontend]) -> Result<Haproxy> {
        let ports: Vec<u16> = frontends.iter().map(|f| f.port).collect();
        Self::start_with(netns, "haproxy.cfg", &config_text(frontends), &ports)
    }

    /// Installs HAProxy if missing and starts it in `netns` in HTTP mode with `frontends`.
    pub fn start_http(netns: &str, frontends: &[HttpFrontend]) -> Result<Haproxy> {
        let ports: Vec<u16> = frontends.iter().map(|f| f.port).collect();
        Self::start_with(
            netns,
            "haproxy-http.cfg",
            &http_config_text(frontends),
            &ports,
        )
    }

    /// Writes `text` to `target/bench/<file>` and runs HAProxy on it until `ports` listen.
    fn start_with(netns: &str, file: &str, text: &str, ports: &[u16]) -> Result<Haproxy> {
        packages::ensure(&[HAPROXY])?;
        let dir = target_dir().join("bench");
        std::fs::create_dir_all(&dir)?;
        let config = dir.join(file);
        std::fs::write(&config, text)?;
        let child = Command::new("ip")
            .args(["netns", "exec", netns, "haproxy", "-db", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting haproxy")?;
        let proxy = Haproxy { child };
        for &port in ports {
            wait_listening(netns, port)?;
        }
        Ok(proxy)
    }

    /// The HAProxy process (`ip netns exec` replaces itself with haproxy).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain TCP-mode configuration: no logging, one backend per frontend; `maxconn` stays under
/// the file-descriptor limit of this machine (20000).
fn config_text(frontends: &[Frontend]) -> String {
    let mut text = String::from(
        "global\n  maxconn 4000\n\ndefaults\n  mode tcp\n  timeout connect 5s\n  \
         timeout client 60s\n  timeout server 60s\n",
    );
    for (i, f) in frontends.iter().enumerate() {
        let _ = write!(
            text,
            "\nfrontend f{i}\n  bind 0.0.0.0:{}\n  default_backend b{i}\n\
             \nbackend b{i}\n  server s{i} {}\n",
            f.port, f.backend
        );
    }
    text
}

/// HTTP mode: keep-alive on both sides with connections to the server reused across
/// clients; an h2 frontend takes h2c (prior knowledge) and speaks h2c to its server.
fn http_config_text(frontends: &[HttpFrontend]) -> String {
    let mut text = String::from(
        "global\n  maxconn 4000\n\ndefaults\n  mode http\n  option http-keep-alive\n  \
         http-reuse always\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n",
    );
    for (i, f) in frontends.iter().enumerate() {
        let proto = if f.h2 { " proto h2" } else { "" };
        let _ = write!(
            text,
            "\nfrontend f{i}\n  bind 0.0.0.0:{}{proto}\n  default_backend b{i}\n\
             \nbackend b{i}\n  server s{i} {}{proto}\n",
            f.port, f.backend
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_one_backend_per_frontend() {
        let text = config_text(&[
            Frontend {
                port: 18001,
                backend: "10.244.2.2:9000".into(),
            },
            Frontend {
                port: 18002,
                backend: "10.244.1.3:9000".into(),
            },
        ]);
        assert!(text.contains("mode tcp"));
        assert!(text.contains("bind 0.0.0.0:18001\n  default_backend b0"));
        assert!(text.contains("server s1 10.244.1.3:9000"));
    }

    #[test]
    fn http_config_keeps_connections_alive_and_speaks_h2_where_asked() {
        let text = http_config_text(&[
            HttpFrontend {
                port: 18101,
                backend: "10.244.2.2:9000".into(),
                h2: false,
            },
            HttpFrontend {
                port: 18102,
                backend: "10.244.2.2:9000".into(),
                h2: true,
            },
        ]);
        assert!(text.contains("mode http\n  option http-keep-alive\n  http-reuse always"));
        assert!(text.contains("bind 0.0.0.0:18101\n  default_backend b0"));
        assert!(text.contains("server s0 10.244.2.2:9000\n"));
        assert!(text.contains("bind 0.0.0.0:18102 proto h2\n  default_backend b1"));
        assert!(text.contains("server s1 10.244.2.2:9000 proto h2\n"));
        assert!(!text.contains("mode tcp"));
    }
}
