//! Shadow requests on their way: at most [`DEFAULT_MAX_SHADOWS`] in flight on the node (a
//! mirror past it is dropped and counted, `mesh_mirror_overflow_total`), each bounded by
//! [`SHADOW_DEADLINE`], its answer's body discarded frame by frame as it arrives — never
//! collected, so a large or endless mirror answer holds no memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::{Request, Response};
use tower::{Service, ServiceExt};

use super::body::Body;
use crate::errors::BoxError;

/// Shadow requests in flight at most, by default.
pub const DEFAULT_MAX_SHADOWS: usize = 1024;

/// How long a shadow request may take before it is dropped.
pub const SHADOW_DEADLINE: Duration = Duration::from_secs(30);

/// The node's places for shadows in flight.
#[derive(Clone, Debug)]
pub struct ShadowSlots {
    in_flight: Arc<AtomicUsize>,
    max: usize,
}

impl Default for ShadowSlots {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_SHADOWS)
    }
}

impl ShadowSlots {
    /// At most `max` in flight.
    pub fn new(max: usize) -> Self {
        Self {
            in_flight: Arc::default(),
            max,
        }
    }

    /// A place for one more shadow, `None` when all are taken.
    pub fn take(&self) -> Option<ShadowSlot> {
        let taken = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            });
        taken.ok().map(|_| ShadowSlot(self.in_flight.clone()))
    }

    /// Shadows in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }
}

/// One shadow's place, given back when dropped.
#[derive(Debug)]
pub struct ShadowSlot(Arc<AtomicUsize>);

impl Drop for ShadowSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Sends a shadow holding `slot`, discards its answer as it arrives, bounded in time;
/// failures are only logged.
pub async fn send_shadow<S>(inner: S, shadow: Request<Body>, slot: ShadowSlot)
where
    S: Service<Request<Body>, Response = Response<Body>, Error = BoxError>,
{
    let exchange = async {
        let mut body = inner.oneshot(shadow).await?.into_body();
        while let Some(frame) = body.frame().await {
            drop(frame?);
        }
        Ok::<(), BoxError>(())
    };
    match tokio::time::timeout(SHADOW_DEADLINE, exchange).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::debug!(%error, "shadow request failed"),
        Err(_) => tracing::debug!("shadow request passed its deadline"),
    }
    drop(slot);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_bound_no_slot_until_one_comes_back() {
        let slots = ShadowSlots::new(2);
        let first = slots.take().unwrap();
        let _second = slots.take().unwrap();
        assert!(slots.take().is_none());
        drop(first);
        assert_eq!(slots.in_flight(), 1);
        assert!(slots.take().is_some());
    }
}
