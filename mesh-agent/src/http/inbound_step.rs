//! The shape the inbound-only layers share (JWT authentication, authorization): a step built
//! per connection when it is inbound to a known workload, run on each request before it goes
//! on; every other connection's requests pass straight through.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use hyper::{Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::body::Body;
use super::route::Direction;
use super::telemetry::Peers;
use crate::errors::BoxError;
use crate::snapshot::Workload;

/// What an inbound step does with a request: fail it (an error the rescue layer maps) or send
/// it on to `next`.
pub trait InboundStep: Send + Sync + 'static {
    fn run<S>(self: Arc<Self>, request: Request<Body>, next: S) -> Answer
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = BoxError> + Send + 'static,
        S::Future: Send;
}

/// What a step's request comes to.
pub type Answer = BoxFuture<'static, Result<Response<Body>, BoxError>>;

/// The destination of an inbound connection to a known workload.
pub(super) struct InboundTo {
    pub workload: Arc<Workload>,
    pub pod_ip: IpAddr,
    /// The pod's IP and the port the client dialled.
    pub destination: SocketAddr,
}

/// `Some` for a connection inbound to a known workload.
pub(super) fn inbound_to(peers: &Peers, direction: Direction) -> Option<InboundTo> {
    match (direction, &peers.destination) {
        (
            Direction::Inbound {
                original_dst,
                pod_ip,
            },
            Some(workload),
        ) => Some(InboundTo {
            workload: workload.clone(),
            pod_ip,
            destination: SocketAddr::new(pod_ip, original_dst.port()),
        }),
        _ => None,
    }
}

/// Runs `step` on each request of an inbound connection; passes others through.
pub struct InboundLayer<T> {
    step: Option<Arc<T>>,
}

impl<T> InboundLayer<T> {
    pub(super) fn with(step: Option<T>) -> Self {
        Self {
            step: step.map(Arc::new),
        }
    }
}

impl<T> Clone for InboundLayer<T> {
    fn clone(&self) -> Self {
        Self {
            step: self.step.clone(),
        }
    }
}

impl<S, T> Layer<S> for InboundLayer<T> {
    type Service = Inbound<S, T>;
    fn layer(&self, inner: S) -> Inbound<S, T> {
        Inbound {
            inner,
            step: self.step.clone(),
        }
    }
}

/// See [`InboundLayer`].
pub struct Inbound<S, T> {
    inner: S,
    step: Option<Arc<T>>,
}

impl<S: Clone, T> Clone for Inbound<S, T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            step: self.step.clone(),
        }
    }
}

impl<S, T> Service<Request<Body>> for Inbound<S, T>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
    T: InboundStep,
{
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Answer {
        let inner = self.inner.clone();
        match self.step.clone() {
            None => Box::pin(inner.oneshot(request)),
            Some(step) => step.run(request, inner),
        }
    }
}
