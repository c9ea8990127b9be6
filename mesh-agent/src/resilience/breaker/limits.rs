//! The accounting of one destination's limits, shared by every request the node sends there.
//! Everything is held through RAII permits, so a finished, failed or cancelled request gives
//! back what it held; waiting is bounded by the pending limit, so no queue grows unbounded.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::connections::ConnectionCap;
pub use super::connections::ConnectionPermit;
use super::{ConnectionPoolPolicy, Overflow, PoolLimit, UpstreamProtocol};
use crate::resilience::retry::RetryBudget;

/// A destination whose limits are shared: a host and, when a DestinationRule names one, a subset.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct Destination {
    /// The service's canonical host, such as `reviews.default.svc.cluster.local`.
    pub host: String,
    /// The subset, when routed to one.
    pub subset: Option<String>,
}

/// The live accounting of one destination. Clones share it.
#[derive(Clone, Debug)]
pub struct DestinationPool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    destination: Destination,
    policy: ConnectionPoolPolicy,
    protocol: UpstreamProtocol,
    requests: Arc<Count>,
    pending: Arc<Count>,
    connections: ConnectionCap,
    slots: Arc<Semaphore>,
    retries: RetryBudget,
}

/// A counter with a ceiling: the decision behind each limit.
#[derive(Debug)]
struct Count {
    limit: PoolLimit,
    max: u32,
    active: AtomicU32,
}

/// One unit of a [`Count`], given back on drop.
#[derive(Debug)]
struct Held(Arc<Count>);

/// What an admitted request holds until its response ends (or it is dropped).
#[derive(Debug)]
pub struct PoolPermit {
    _request: Held,
    _slot: OwnedSemaphorePermit,
}

/// Counts in use now, for `/clusters` and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Requests admitted and not finished.
    pub requests: u32,
    /// Requests waiting for a connection.
    pub pending: u32,
    /// Connections counted by [`DestinationPool::open_connection`].
    pub connections: u32,
}

impl Count {
    fn new(limit: PoolLimit, max: u32) -> Arc<Self> {
        Arc::new(Self {
            limit,
            max,
            active: AtomicU32::new(0),
        })
    }

    fn take(self: &Arc<Self>) -> Result<Held, Overflow> {
        let admit = |active: u32| (active < self.max).then_some(active + 1);
        match self
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, admit)
        {
            Ok(_) => Ok(Held(self.clone())),
            Err(_) => Err(Overflow {
                limit: self.limit,
                max: self.max,
            }),
        }
    }

    fn get(&self) -> u32 {
        self.active.load(Ordering::Acquire)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

impl DestinationPool {
    /// Fresh accounting for a destination with `policy`, spoken to in `protocol`.
    pub fn new(policy: ConnectionPoolPolicy, protocol: UpstreamProtocol) -> Self {
        let nowhere = Destination {
            host: String::new(),
            subset: None,
        };
        Self::of(nowhere, policy, protocol)
    }

    /// Fresh accounting for `destination`.
    pub fn of(
        destination: Destination,
        policy: ConnectionPoolPolicy,
        protocol: UpstreamProtocol,
    ) -> Self {
        let permits = |n: u64| n.min(Semaphore::MAX_PERMITS as u64) as usize;
        let slots = permits(policy.request_slots(protocol));
        let inner = Inner {
            destination,
            policy,
            protocol,
            requests: Count::new(PoolLimit::Requests, policy.max_requests),
            pending: Count::new(PoolLimit::PendingRequests, policy.max_pending_requests),
            connections: ConnectionCap::new(policy.max_connections),
            slots: Arc::new(Semaphore::new(slots)),
            retries: RetryBudget::new(policy.max_retries),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Admits a request: within `http2MaxRequests`, on a free connection slot, else waiting
    /// among at most `http1MaxPendingRequests` others; otherwise [`Overflow`] at once.
    pub async fn admit(&self) -> Result<PoolPermit, Overflow> {
        let request = self.inner.requests.take()?;
        let slot = match self.inner.slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                let _pending = self.inner.pending.take()?;
                self.inner
                    .slots
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the slot semaphore is never closed")
            }
        };
        Ok(PoolPermit {
            _request: request,
            _slot: slot,
        })
    }

    /// Counts a new connection against `tcp.maxConnections` (an opaque TCP connection), or
    /// [`Overflow`] at once.
    pub fn open_connection(&self) -> Result<ConnectionPermit, Overflow> {
        self.inner.connections.open()
    }

    /// Counts a new HTTP pool socket against `tcp.maxConnections`, waiting at most `within`
    /// for one to close, else [`Overflow`]. The wait is bounded twice: in time, and in
    /// number, since only requests the circuit breaker admitted get this far; it covers a
    /// socket that is closing (`maxRequestsPerConnection`) while the next request needs one.
    pub async fn wait_for_connection(
        &self,
        within: Duration,
    ) -> Result<ConnectionPermit, Overflow> {
        self.inner.connections.wait(within).await
    }

    /// The destination (host + subset) this accounting is for.
    pub fn destination(&self) -> &Destination {
        &self.inner.destination
    }

    /// Whether `other` is this very accounting (not a later one for the same destination).
    pub fn same(&self, other: &DestinationPool) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The destination's `maxRetries` budget.
    pub fn retry_budget(&self) -> RetryBudget {
        self.inner.retries.clone()
    }

    /// The settings this accounting enforces.
    pub fn policy(&self) -> &ConnectionPoolPolicy {
        &self.inner.policy
    }

    /// The protocol whose request slots this accounting counts.
    pub fn protocol(&self) -> UpstreamProtocol {
        self.inner.protocol
    }

    /// Counts in use now.
    pub fn stats(&self) -> PoolStats {
        let inner = &self.inner;
        PoolStats {
            requests: inner.requests.get(),
            pending: inner.pending.get(),
            connections: inner.connections.open_now(),
        }
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
