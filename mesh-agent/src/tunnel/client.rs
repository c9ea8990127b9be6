//! The source side of the tunnel: HTTP/2 connections over TLS to destination pods' tunnel
//! port, pooled per (source identity, destination pod, destination identity), at most
//! `max_streams` CONNECT streams each, pinged, closed once idle.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use super::stream::TunnelStream;
use super::{client_config, TunnelError, TunnelHeaders, HBONE_PORT, L7_REPORTER, SOURCE_REPORTS};
use crate::identity::{Identity, WorkloadCertificates};
use crate::net::{connect, Netns, UpstreamSockets};

/// How tunnels are opened and kept.
#[derive(Clone, Copy, Debug)]
pub struct TunnelSettings {
    /// The destination pods' tunnel port (15008).
    pub port: u16,
    /// CONNECT streams per HTTP/2 connection at most (ztunnel's 100).
    pub max_streams: usize,
    /// An HTTP/2 connection with no stream for this long is closed.
    pub idle_timeout: Duration,
    /// PING interval on each connection (a dead peer is found without traffic).
    pub ping_interval: Duration,
    /// The HTTP path's CONNECTs offer to report the destination side of their requests
    /// (`mesh-l7-reporter`), so a destination that needs no L7 carries them at L4.
    pub offer_l7_report: bool,
}

impl Default for TunnelSettings {
    fn default() -> Self {
        Self {
            port: HBONE_PORT,
            max_streams: 100,
            idle_timeout: Duration::from_secs(60),
            ping_interval: Duration::from_secs(30),
            offer_l7_report: true,
        }
    }
}

/// Where one proxied connection goes through the tunnel, and as whom.
#[derive(Clone, Debug)]
pub struct TunnelTarget {
    /// The source workload, whose certificate is presented.
    pub source: Identity,
    /// The destination workload: the only identity accepted from the server.
    pub destination: Identity,
    /// The destination pod's address: the tunnel goes to its tunnel port.
    pub pod: IpAddr,
    /// The CONNECT authority: the original destination `ip:port` (the pod's endpoint).
    pub authority: SocketAddr,
}

/// A connection's way through the tunnel: where, as whom, and what the CONNECT says.
#[derive(Clone, Debug)]
pub struct TunnelPlan {
    pub target: TunnelTarget,
    pub headers: TunnelHeaders,
}

/// Which upstream endpoints of one source pod go through the tunnel, and how (`None`: plain
/// text). The connection level decides from the snapshot; the HTTP pool asks it per endpoint.
pub type TunnelPlanner = Arc<dyn Fn(SocketAddr) -> Option<TunnelPlan> + Send + Sync>;

type PoolKey = (Identity, SocketAddr, Identity);

/// The pooled tunnels of this agent. Cheap to share (`Arc`).
pub struct Tunnels {
    certificates: Arc<dyn WorkloadCertificates>,
    settings: TunnelSettings,
    pool: Mutex<HashMap<PoolKey, Vec<Arc<Pooled>>>>,
    /// One dial at a time per key: connections opened together share the first new one.
    dialing: Mutex<HashMap<PoolKey, Arc<tokio::sync::Mutex<()>>>>,
}

/// One HTTP/2 connection of the pool.
struct Pooled {
    sender: SendRequest<Empty<Bytes>>,
    streams: AtomicUsize,
    closed: AtomicBool,
    last_used: Mutex<Instant>,
}

impl Tunnels {
    /// Tunnels whose certificates come from `certificates`.
    pub fn new(certificates: Arc<dyn WorkloadCertificates>, settings: TunnelSettings) -> Self {
        Self {
            certificates,
            settings,
            pool: Mutex::default(),
            dialing: Mutex::default(),
        }
    }

    /// The destination pods' tunnel port.
    pub fn port(&self) -> u16 {
        self.settings.port
    }

    /// Whether the HTTP path offers to report the destination side of its requests.
    pub fn offers_l7_report(&self) -> bool {
        self.settings.offer_l7_report
    }

    /// Where certificates come from (the inbound side's too).
    pub fn certificates(&self) -> &Arc<dyn WorkloadCertificates> {
        &self.certificates
    }

    /// The HTTP/2 connections open now (all keys).
    pub fn open_connections(&self) -> usize {
        let pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        let all = pool.values().flatten();
        all.filter(|p| !p.is_closed()).count()
    }

    /// A CONNECT stream as `plan` says, its socket opened from `netns` (the source pod's).
    pub async fn open(
        &self,
        netns: &Netns,
        sockets: &UpstreamSockets,
        plan: &TunnelPlan,
    ) -> Result<TunnelStream, TunnelError> {
        let (target, headers) = (&plan.target, &plan.headers);
        if let Some(pooled) = self.checkout(target) {
            match connect_stream(&pooled, target, headers).await {
                // A pooled connection the peer is closing (GOAWAY: its agent drains) or lost:
                // once more on a fresh one.
                Err(TunnelError::Http(error)) => {
                    tracing::debug!(%error, "pooled tunnel connection failed; dialling again");
                    pooled.closed.store(true, Ordering::Release);
                }
                done => return done,
            }
        }
        let pooled = self.checkout_or_dial(netns, sockets, target).await?;
        connect_stream(&pooled, target, headers).await
    }

    /// A pooled connection to the target with room for a stream (counted taken).
    fn checkout(&self, target: &TunnelTarget) -> Option<Arc<Pooled>> {
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        let connections = pool.get_mut(&self.key(target))?;
        connections.retain(|p| !p.is_closed());
        let max = self.settings.max_streams;
        let free = connections.iter().find(|p| p.take_stream(max))?;
        Some(free.clone())
    }

    /// A connection with room for a stream, dialled unless another dial made one meanwhile.
    async fn checkout_or_dial(
        &self,
        netns: &Netns,
        sockets: &UpstreamSockets,
        target: &TunnelTarget,
    ) -> Result<Arc<Pooled>, TunnelError> {
        let gate = {
            let mut dialing = self.dialing.lock().unwrap_or_else(PoisonError::into_inner);
            dialing.entry(self.key(target)).or_default().clone()
        };
        let _turn = gate.lock().await;
        match self.checkout(target) {
            Some(pooled) => Ok(pooled),
            None => self.dial(netns, sockets, target).await,
        }
    }

    /// A new connection to the target, pooled with its first stream taken.
    async fn dial(
        &self,
        netns: &Netns,
        sockets: &UpstreamSockets,
        target: &TunnelTarget,
    ) -> Result<Arc<Pooled>, TunnelError> {
        let address = SocketAddr::new(target.pod, self.settings.port);
        let certificate = self.certificates.certificate(&target.source).await?;
        let config = client_config(&certificate, target.destination.clone())?;
        let tcp = connect(netns, address, sockets)
            .await
            .map_err(|source| TunnelError::Connect { address, source })?;
        let _ = tcp.set_nodelay(true);
        let server_name = rustls::pki_types::ServerName::IpAddress(target.pod.into());
        let tls = TlsConnector::from(config)
            .connect(server_name, tcp)
            .await
            .map_err(|source| TunnelError::Handshake { address, source })?;
        let (sender, connection) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(self.settings.ping_interval)
            .keep_alive_while_idle(true)
            .handshake(TokioIo::new(tls))
            .await?;
        let pooled = Arc::new(Pooled {
            sender,
            streams: AtomicUsize::new(1),
            closed: AtomicBool::new(false),
            last_used: Mutex::new(Instant::now()),
        });
        tokio::spawn(drive(
            connection,
            pooled.clone(),
            self.settings.idle_timeout,
        ));
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        pool.entry(self.key(target))
            .or_default()
            .push(pooled.clone());
        Ok(pooled)
    }

    fn key(&self, target: &TunnelTarget) -> PoolKey {
        let address = SocketAddr::new(target.pod, self.settings.port);
        (target.source.clone(), address, target.destination.clone())
    }
}

impl Pooled {
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) || self.sender.is_closed()
    }

    /// Takes a stream when fewer than `max` are open.
    fn take_stream(&self, max: usize) -> bool {
        let taken = self
            .streams
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        taken.is_ok() && !self.is_closed()
    }
}

/// A CONNECT stream on `pooled` (a stream of it taken already, given back with the stream).
async fn connect_stream(
    pooled: &Arc<Pooled>,
    target: &TunnelTarget,
    headers: &TunnelHeaders,
) -> Result<TunnelStream, TunnelError> {
    let mut request = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(target.authority.to_string())
        .version(http::Version::HTTP_2)
        .body(Empty::new())
        .expect("a CONNECT to an ip:port is a valid request");
    request.headers_mut().extend(headers.to_map());
    let lease = Lease(pooled.clone());
    let response = pooled.sender.clone().send_request(request).await?;
    if response.status() != http::StatusCode::OK {
        return Err(TunnelError::Refused(response.status()));
    }
    let accepted = response.headers().get(L7_REPORTER);
    let source_reports = accepted.is_some_and(|v| v == SOURCE_REPORTS);
    let upgraded = hyper::upgrade::on(response).await?;
    let stream = TunnelStream::new(upgraded, Some(Box::new(lease)));
    Ok(stream.reported_by_source(source_reports))
}

/// A stream taken on a pooled connection, given back when dropped (with the stream, or at
/// once when the CONNECT failed).
struct Lease(Arc<Pooled>);

impl Drop for Lease {
    fn drop(&mut self) {
        let mut last_used = self
            .0
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *last_used = Instant::now();
        self.0.streams.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs the HTTP/2 connection until it ends or has been idle (no stream) for `idle`.
async fn drive<F>(connection: F, pooled: Arc<Pooled>, idle: Duration)
where
    F: std::future::Future<Output = Result<(), hyper::Error>>,
{
    let idle_close = async {
        let tick = (idle / 4).max(Duration::from_millis(10));
        loop {
            tokio::time::sleep(tick).await;
            let last = *pooled
                .last_used
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if pooled.streams.load(Ordering::Acquire) == 0 && last.elapsed() >= idle {
                return;
            }
        }
    };
    tokio::select! {
        ended = connection => if let Err(error) = ended {
            tracing::debug!(%error, "tunnel connection ended");
        },
        () = idle_close => tracing::debug!("idle tunnel connection closed"),
    }
    pooled.closed.store(true, Ordering::Release);
}
