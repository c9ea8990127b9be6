//! `tcp.maxConnections`: the cap on one destination's open connections, all endpoints and every
//! pod of the node together. Opaque TCP connections are refused at once over it; HTTP pool sockets
//! may wait a bounded time for one to close.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Overflow, PoolLimit};

/// One open connection counted against `tcp.maxConnections`; dropping it closes the count.
#[derive(Debug)]
pub struct ConnectionPermit(#[allow(dead_code)] OwnedSemaphorePermit);

/// The connections open to one destination, under its `tcp.maxConnections`.
#[derive(Debug)]
pub(super) struct ConnectionCap {
    max: u32,
    places: Arc<Semaphore>,
}

impl ConnectionCap {
    /// A cap of `max` connections (clamped to what a semaphore holds).
    pub(super) fn new(max: u32) -> Self {
        Self {
            max,
            places: Arc::new(Semaphore::new(Self::permits(max))),
        }
    }

    fn permits(max: u32) -> usize {
        u64::from(max).min(Semaphore::MAX_PERMITS as u64) as usize
    }

    /// Counts a new connection, or [`Overflow`] at once.
    pub(super) fn open(&self) -> Result<ConnectionPermit, Overflow> {
        self.places
            .clone()
            .try_acquire_owned()
            .map(ConnectionPermit)
            .map_err(|_| self.full())
    }

    /// Counts a new connection, waiting at most `within` for one to close, else [`Overflow`].
    pub(super) async fn wait(&self, within: Duration) -> Result<ConnectionPermit, Overflow> {
        let places = self.places.clone();
        match tokio::time::timeout(within, places.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(ConnectionPermit(permit)),
            _ => Err(self.full()),
        }
    }

    /// Connections counted now.
    pub(super) fn open_now(&self) -> u32 {
        (Self::permits(self.max) - self.places.available_permits()) as u32
    }

    fn full(&self) -> Overflow {
        Overflow {
            limit: PoolLimit::Connections,
            max: self.max,
        }
    }
}
