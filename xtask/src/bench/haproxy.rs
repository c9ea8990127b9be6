//! HAProxy in TCP mode, the reference proxy: run as a process in a node's netns (where a node
//! proxy sits), one frontend per path, each forwarding to one server pod.

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

/// A running HAProxy; killed on drop.
pub struct Haproxy {
    child: Child,
}

impl Haproxy {
    /// Installs HAProxy if missing and starts it in `netns` with `frontends`.
    pub fn start(netns: &str, frontends: &[Frontend]) -> Result<Haproxy> {
        packages::ensure(&[HAPROXY])?;
        let dir = target_dir().join("bench");
        std::fs::create_dir_all(&dir)?;
        let config = dir.join("haproxy.cfg");
        std::fs::write(&config, config_text(frontends))?;
        let child = Command::new("ip")
            .args(["netns", "exec", netns, "haproxy", "-db", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting haproxy")?;
        let proxy = Haproxy { child };
        for frontend in frontends {
            wait_listening(netns, frontend.port)?;
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
}
