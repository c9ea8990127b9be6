//! The connection pool, innermost: upstream connections per endpoint, opened the way the L4
//! path opens them (inside the pod's netns, marked), kept alive and reused across requests and
//! client connections. HTTP/1.1 keeps a set of idle connections per endpoint; HTTP/2
//! multiplexes over one. A destination with a DestinationRule `connectionPool` gets pools of
//! its own, which apply its connection settings: `connectTimeout`, `maxConnections` (sockets,
//! per source pod), `idleTimeout`, `maxRequestsPerConnection`, `maxConnectionDuration`. A
//! destination whose DestinationRule originates TLS gets clients of its own too.

mod connection;
mod connector;
mod origination;
mod originations;
mod send;
mod verify;

pub use origination::{Origination, OriginationError};
pub use originations::Originations;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tower::Service;

use super::body::Body;
use crate::errors::BoxError;
use crate::net::Netns;
use crate::net::{NodeLocalGuard, UpstreamSockets};
use crate::resilience::breaker::Destination;
use crate::resilience::DestinationPool;
pub use connection::{CarriedInTunnel, SourceReportsDestination};
use connector::PodConnector;
pub use connector::PoolTunnel;

/// How long an idle upstream connection is kept, for destinations without `connectionPool`.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The upstream pools of one pod (one listener): HTTP/1.1 and HTTP/2, for requests to no
/// configured destination and per destination with a `connectionPool`. Cheap to clone: every
/// layer above clones its inner service for each request, so the pool is one shared value.
#[derive(Clone)]
pub struct Pool(Arc<Pools>);

/// What the clones of one [`Pool`] share.
struct Pools {
    netns: Netns,
    sockets: UpstreamSockets,
    tunnel: Option<PoolTunnel>,
    guard: Option<Arc<NodeLocalGuard>>,
    unconfigured: Arc<Clients>,
    destinations: Mutex<HashMap<Destination, (DestinationPool, Arc<Clients>)>>,
    originated: Mutex<HashMap<usize, Originated>>,
}

/// The clients of one TLS origination (the key is its address; the entry holds it, so the
/// address stays its own), with the connection accounting they were made under.
struct Originated {
    _origination: Arc<Origination>,
    limits: Option<DestinationPool>,
    clients: Arc<Clients>,
}

/// How many originations' clients a pool keeps before forgetting them all (ones replaced by
/// a changed DestinationRule or Secret; requests in flight keep theirs).
const MAX_ORIGINATIONS: usize = 256;

/// How many endpoints' HTTP/2 clients one set of settings keeps before forgetting them all
/// (clients of endpoints long gone; requests in flight keep theirs).
const MAX_HTTP2_ENDPOINTS: usize = 1024;

/// The HTTP/1.1 and HTTP/2 clients of one set of connection settings. HTTP/1.1 requests name
/// their endpoint in the URI (the client's authority stays in `Host`); HTTP/2 requests keep
/// the client's authority as `:authority`, so each endpoint gets a client of its own.
struct Clients {
    connector: PodConnector,
    http1: Client<PodConnector, Body>,
    http2: Arc<Mutex<HashMap<SocketAddr, Client<PodConnector, Body>>>>,
}

impl Clients {
    fn new(connector: PodConnector) -> Self {
        let http1 = Self::builder(&connector).build(connector.clone());
        Self {
            connector,
            http1,
            http2: Arc::default(),
        }
    }

    fn builder(connector: &PodConnector) -> hyper_util::client::legacy::Builder {
        let mut builder = Client::builder(TokioExecutor::new());
        // Without a timer the pool closes idle connections only when it next looks at them.
        builder.pool_timer(TokioTimer::new());
        builder.pool_idle_timeout(connector.idle_timeout(IDLE_TIMEOUT));
        builder
    }

    /// The HTTP/2 client whose connections go to `endpoint`.
    fn http2(&self, endpoint: SocketAddr) -> Client<PodConnector, Body> {
        let mut clients = self.http2.lock().unwrap_or_else(|p| p.into_inner());
        if clients.len() >= MAX_HTTP2_ENDPOINTS && !clients.contains_key(&endpoint) {
            clients.clear();
        }
        let client = clients.entry(endpoint).or_insert_with(|| {
            Self::builder(&self.connector)
                .http2_only(true)
                .build(self.connector.pinned_to(endpoint))
        });
        client.clone()
    }
}

impl Pool {
    /// Pools whose connections are opened inside `netns` with `sockets`' settings.
    pub fn new(netns: Netns, sockets: UpstreamSockets) -> Self {
        Self::with(netns, sockets, None, None)
    }

    /// [`Pool::new`] whose connections to the endpoints `tunnel`'s planner names go through
    /// the mTLS tunnel, and whose other connections `guard` checks first (a gateway's: never
    /// node-local).
    pub fn with(
        netns: Netns,
        sockets: UpstreamSockets,
        tunnel: Option<PoolTunnel>,
        guard: Option<Arc<NodeLocalGuard>>,
    ) -> Self {
        let connector = PodConnector::new(
            netns.clone(),
            sockets.clone(),
            None,
            tunnel.clone(),
            guard.clone(),
        );
        Self(Arc::new(Pools {
            netns,
            sockets,
            tunnel,
            guard,
            unconfigured: Arc::new(Clients::new(connector)),
            destinations: Mutex::default(),
            originated: Mutex::default(),
        }))
    }

    /// The clients for requests accounted in `limits` (none: no `connectionPool`); fresh ones
    /// when the destination's accounting was replaced (its policy changed).
    fn clients(&self, limits: Option<&DestinationPool>) -> Arc<Clients> {
        let pools = &self.0;
        let Some(limits) = limits else {
            return pools.unconfigured.clone();
        };
        let mut destinations = pools.destinations.lock().unwrap_or_else(|p| p.into_inner());
        let current = destinations
            .get(limits.destination())
            .filter(|(pool, _)| pool.same(limits));
        if let Some((_, clients)) = current {
            return clients.clone();
        }
        let connector = PodConnector::new(
            pools.netns.clone(),
            pools.sockets.clone(),
            Some(limits.clone()),
            pools.tunnel.clone(),
            pools.guard.clone(),
        );
        let clients = Arc::new(Clients::new(connector));
        let entry = (limits.clone(), clients.clone());
        destinations.insert(limits.destination().clone(), entry);
        clients
    }
}

impl Pool {
    /// The clients speaking TLS as `origination` says, accounted in `limits`.
    fn originating(
        &self,
        origination: &Arc<Origination>,
        limits: Option<&DestinationPool>,
    ) -> Arc<Clients> {
        let pools = &self.0;
        let key = Arc::as_ptr(origination) as usize;
        let mut originated = pools.originated.lock().unwrap_or_else(|p| p.into_inner());
        let same_limits = |o: &Originated| match (&o.limits, limits) {
            (None, None) => true,
            (Some(had), Some(now)) => had.same(now),
            _ => false,
        };
        if let Some(known) = originated.get(&key).filter(|o| same_limits(o)) {
            return known.clients.clone();
        }
        if originated.len() >= MAX_ORIGINATIONS {
            originated.clear();
        }
        let connector = PodConnector::new(
            pools.netns.clone(),
            pools.sockets.clone(),
            limits.cloned(),
            None,
            pools.guard.clone(),
        );
        let clients = Arc::new(Clients::new(connector.originating(origination.clone())));
        let entry = Originated {
            _origination: origination.clone(),
            limits: limits.cloned(),
            clients: clients.clone(),
        };
        originated.insert(key, entry);
        clients
    }
}

impl Service<Request<Body>> for Pool {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response<Body>, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let limits = request.extensions().get::<DestinationPool>().cloned();
        let clients = match request.extensions().get::<Arc<Origination>>() {
            Some(origination) => self.originating(origination, limits.as_ref()),
            None => self.clients(limits.as_ref()),
        };
        Box::pin(send::send(clients, limits, request))
    }
}
