//! The agent's one in-process test harness, shared by every integration test binary (each
//! `tests/<group>/main.rs` includes it with `#[path = "../harness/mod.rs"] mod harness;`).
//!
//! - [`config`]: compiled configurations and the YAML builders and fixtures they come from.
//! - [`proxy`]: the agent's proxy stack in-process (fake capture layer, outbound and inbound
//!   listeners of pods living in the test's own netns) and clients whose connections it captures.
//! - [`enrollment`]: the agent's enrollment over a fake capture layer, its view fed as YAML
//!   (Pods on the test node, Namespaces), a state dir of its own.
//! - [`upstream`]: upstream pods: one HTTP server whose answers a test sets, a TCP echo server.
//! - [`streaming`]: gRPC-shaped streaming calls (the upstream's answers, the client's body).
//! - [`tls_upstream`]: HTTPS upstreams with a test CA (TLS origination).
//! - [`web`]: the `web` Service over upstream pods behind the outbound proxy of `sleep-0`.
//! - [`hbone`]: an HBONE client and server written from the protocol alone.
//! - [`gateway`]: the ingress gateway in front of upstream pods.
//! - [`inbound`]: a pod's inbound request stack called directly (no `sk_lookup` in-process),
//!   with the client's address and proven identity a test chooses.
//! - [`ext_authz`]: external authorizers (HTTP and gRPC) for CUSTOM policies.
//! - [`jwt`]: end-user tokens, their signing key and an issuer serving its key set.
//! - [`metrics`]: reading the Prometheus registry text.
//! - [`allocations`]: bytes live per thread, for a binary that installs its counting allocator.
//! - [`certificates`]: a test CA and the workload certificates a node's manager would hold.
//! - [`client`]: answers as a client reads them (hyper, or raw HTTP/1.1 text).
//! - [`dns`]: a DNS server answering A queries from a table the test changes.
//! - [`rls`]: a rate limit service (Envoy's RLS API) counting hits per descriptor.
//! - [`collector`] (OTLP) and [`fake_api`] (Kubernetes API server, serving what
//!   [`fake_discovery`] says): test servers the agent calls.
//! - [`namespaced`]: the privileged pieces (netns, cgroups, eBPF object), root only.
//!
//! Items of `mesh_agent` are named here rather than in the tests where that is easy, so a move
//! in the agent's module tree is fixed in one place.

pub mod allocations;
pub mod certificates;
pub mod client;
pub mod collector;
pub mod config;
pub mod dns;
pub mod enrollment;
pub mod ext_authz;
pub mod fake_api;
pub mod fake_discovery;
pub mod gateway;
pub mod hbone;
pub mod inbound;
pub mod jwt;
pub mod metrics;
pub mod namespaced;
pub mod proxy;
pub mod rls;
pub mod streaming;
pub mod tls_upstream;
pub mod upstream;
pub mod web;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A test guard against hangs; never asserted on.
pub const GUARD: Duration = Duration::from_secs(10);

/// Polls `done` until it holds; panics naming `what` once the guard passes.
pub async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let poll = async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(GUARD, poll)
        .await
        .unwrap_or_else(|_| panic!("{what}"));
}

/// Polls `value` until it reaches `want` or the guard passes; its last value.
pub async fn wait_for<T: PartialOrd>(want: T, value: impl Fn() -> T) -> T {
    let poll = async {
        while value() < want {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let _ = tokio::time::timeout(GUARD, poll).await;
    value()
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("mesh-agent-{tag}-{}-{n}", std::process::id());
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
