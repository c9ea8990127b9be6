//! Bodies that count the bytes passing through them, for Istio's size histograms; the response
//! side records the request when it ends or is dropped.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use hyper::HeaderMap;

use super::record::PendingRecord;
use crate::errors::BoxError;
use crate::http::body::Body;

/// The size of `headers` as sent on HTTP/1: `name: value\r\n` each.
pub fn headers_size(headers: &HeaderMap) -> u64 {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().len() + value.len() + 4) as u64)
        .sum()
}

/// A request body adding the bytes read from it to a shared count.
pub struct MeteredRequest {
    inner: Body,
    bytes: Arc<AtomicU64>,
}

impl MeteredRequest {
    /// Counts `inner`'s bytes into `bytes`.
    pub fn new(inner: Body, bytes: Arc<AtomicU64>) -> Self {
        Self { inner, bytes }
    }
}

impl HttpBody for MeteredRequest {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let poll = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &poll {
            let size = frame_size(frame);
            self.bytes.fetch_add(size, Ordering::Relaxed);
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that records its request once, when it ends or is dropped.
pub struct Metered {
    inner: Body,
    pending: Option<PendingRecord>,
    bytes: u64,
}

impl Metered {
    /// Meters `inner`, whose headers took `header_bytes`.
    pub fn new(inner: Body, pending: PendingRecord, header_bytes: u64) -> Self {
        Self {
            inner,
            pending: Some(pending),
            bytes: header_bytes,
        }
    }

    fn finish(&mut self) {
        if let Some(pending) = self.pending.take() {
            pending.record(self.bytes);
        }
    }
}

impl HttpBody for Metered {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let poll = Pin::new(&mut self.inner).poll_frame(cx);
        match &poll {
            Poll::Ready(Some(Ok(frame))) => {
                self.bytes += frame_size(frame);
                if let (Some(trailers), Some(pending)) = (frame.trailers_ref(), &mut self.pending) {
                    pending.see_grpc_status(trailers);
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.finish(),
            Poll::Pending => {}
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        self.finish();
    }
}

fn frame_size(frame: &Frame<Bytes>) -> u64 {
    match (frame.data_ref(), frame.trailers_ref()) {
        (Some(data), _) => data.len() as u64,
        (None, Some(trailers)) => headers_size(trailers),
        (None, None) => 0,
    }
}
