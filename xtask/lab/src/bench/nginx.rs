//! nginx as a reverse proxy, the second reference proxy of `bench http`: run in a node's netns
//! in the foreground (`daemon off`), its config, pid file, logs and temp files under
//! `target/bench/`, one server block per frontend with keep-alive to its upstream.

use super::haproxy::HttpFrontend;
use super::release::target_dir;
use super::topology::wait_listening;
use crate::packages::{self, Tool};
use anyhow::{Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Debian package that brings `nginx`.
const NGINX: Tool = Tool {
    command: "nginx",
    package: "nginx",
};
/// How long the master gets to stop its workers before they are killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// A running nginx (master and workers); stopped on drop.
pub struct Nginx {
    master: Child,
}

impl Nginx {
    /// Installs nginx if missing and starts it in `netns` with `frontends`.
    pub fn start(netns: &str, frontends: &[HttpFrontend]) -> Result<Nginx> {
        packages::ensure(&[NGINX])?;
        let dir = target_dir().join("bench").join("nginx");
        std::fs::create_dir_all(&dir)?;
        let config = dir.join("nginx.conf");
        std::fs::write(&config, config_text(&dir, frontends))?;
        let master = Command::new("ip")
            .args(["netns", "exec", netns, "nginx", "-p"])
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&config)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nginx")?;
        let nginx = Nginx { master };
        for frontend in frontends {
            wait_listening(netns, frontend.port)
                .with_context(|| format!("nginx: see {}", dir.join("error.log").display()))?;
        }
        Ok(nginx)
    }

    /// The master and its workers (`ip netns exec` replaces itself with nginx).
    pub fn pids(&self) -> Vec<i32> {
        let master = self.master.id() as i32;
        let mut pids = vec![master];
        pids.extend(children(master));
        pids
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let workers = children(self.master.id() as i32);
        // SIGTERM: nginx's fast shutdown, which stops the workers too.
        let _ = kill(Pid::from_raw(self.master.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline && matches!(self.master.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.master.kill();
        let _ = self.master.wait();
        for worker in workers {
            let _ = kill(Pid::from_raw(worker), Signal::SIGKILL);
        }
    }
}

/// The processes whose parent is `pid`.
fn children(pid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&child| parent(child) == Some(pid))
        .collect()
}

/// The parent of `pid`, from `/proc/<pid>/stat` (the field after the state).
fn parent(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// One worker per core, no access log, keep-alive to every upstream (HTTP/1.1: nginx does not
/// speak h2 to upstreams); an h2 frontend is `listen PORT http2` (h2c, prior knowledge).
fn config_text(dir: &Path, frontends: &[HttpFrontend]) -> String {
    let dir = dir.display();
    let mut text = format!(
        "worker_processes auto;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\nhttp {{\n  access_log off;\n  \
         keepalive_requests 1000000;\n  client_body_temp_path {dir}/tmp-body;\n  \
         proxy_temp_path {dir}/tmp-proxy;\n  fastcgi_temp_path {dir}/tmp-fastcgi;\n  \
         uwsgi_temp_path {dir}/tmp-uwsgi;\n  scgi_temp_path {dir}/tmp-scgi;\n"
    );
    for (i, f) in frontends.iter().enumerate() {
        let http2 = if f.h2 { " http2" } else { "" };
        let _ = write!(
            text,
            "\n  upstream b{i} {{\n    server {};\n    keepalive 128;\n    \
             keepalive_requests 1000000;\n  }}\n  server {{\n    listen {}{http2};\n    \
             location / {{\n      proxy_pass http://b{i};\n      proxy_http_version 1.1;\n      \
             proxy_set_header Connection \"\";\n    }}\n  }}\n",
            f.backend, f.port
        );
    }
    text.push_str("}\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_proxies_each_frontend_with_upstream_keepalive_and_h2c_where_asked() {
        let frontends = [
            HttpFrontend {
                port: 18201,
                backend: "10.244.2.2:9000".into(),
                h2: false,
            },
            HttpFrontend {
                port: 18202,
                backend: "10.244.2.3:9000".into(),
                h2: true,
            },
        ];
        let text = config_text(Path::new("/t/bench/nginx"), &frontends);
        assert!(text.contains("pid /t/bench/nginx/nginx.pid;"));
        assert!(text.contains("error_log /t/bench/nginx/error.log warn;"));
        assert!(
            !text.contains("daemon"),
            "daemon off is given on the command line"
        );
        assert!(text.contains("upstream b0 {\n    server 10.244.2.2:9000;\n    keepalive 128;"));
        assert!(text.contains("listen 18201;"));
        assert!(text.contains("listen 18202 http2;"));
        assert!(text.contains("proxy_pass http://b1;"));
        assert_eq!(text.matches("proxy_http_version 1.1;").count(), 2);
        assert_eq!(text.matches("proxy_set_header Connection \"\";").count(), 2);
        assert_eq!(text.matches('{').count(), text.matches('}').count());
    }

    #[test]
    fn the_parent_of_this_process_is_found() {
        let me = std::process::id() as i32;
        assert_eq!(parent(me), Some(nix::unistd::getppid().as_raw()));
    }
}
