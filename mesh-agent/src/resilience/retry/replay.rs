//! The retry buffer, as Envoy keeps it: the first try streams the request body as the client
//! sends it while a copy is kept up to a bound; a retry replays the copy, then reads on from the
//! client. Once the body passes the bound the copy is dropped and the request can no longer be
//! retried; the try in flight still gets every byte.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::errors::BoxError;

/// The largest request body kept to make a request retryable (Envoy buffers up to its
/// connection buffer limit; we keep the node's memory per request small).
pub const DEFAULT_BUFFER_LIMIT: usize = 64 * 1024;

/// A try's body was read after a retry took its place.
#[derive(Debug, thiserror::Error)]
#[error("request body superseded by a retry")]
pub struct Superseded;

/// The retry layer's handle on one request's body: hands out each try's [`RetryBody`].
/// Dropping it stops the copying; the try in flight reads on.
pub struct ReplayBuffer<B> {
    shared: Arc<Mutex<Recorded<B>>>,
}

/// Whether the body read so far can still be replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keeping {
    /// Every byte read so far is kept.
    Kept,
    /// The body passed the bound.
    Overflowed,
    /// The client's body failed: a retry could not read it either.
    Failed,
    /// No retry will come (the layer is done with the request).
    Released,
}

/// One request's body as the tries share it.
pub struct Recorded<B> {
    source: Pin<Box<B>>,
    /// Kept chunks; the first is chunk number `discarded`.
    kept: VecDeque<Bytes>,
    discarded: usize,
    size: usize,
    limit: usize,
    trailers: Option<HeaderMap>,
    ended: bool,
    keeping: Keeping,
    /// The try allowed to read; earlier ones get [`Superseded`].
    reader: u32,
}

pin_project! {
    /// The request body of one try.
    #[project = RetryBodyProj]
    pub enum RetryBody<B> {
        /// A try of a request that is never retried: the client's body, untouched.
        Passthrough { #[pin] body: B },
        /// A try of a retryable request: the kept copy from `next` on, then the client's body.
        Replayed { shared: Arc<Mutex<Recorded<B>>>, try_number: u32, next: usize, trailers_sent: bool },
    }
}

impl<B> ReplayBuffer<B> {
    /// Keeps up to `limit` bytes of `body` for retries.
    pub fn new(body: B, limit: usize) -> Self {
        let recorded = Recorded {
            source: Box::pin(body),
            kept: VecDeque::new(),
            discarded: 0,
            size: 0,
            limit,
            trailers: None,
            ended: false,
            keeping: Keeping::Kept,
            reader: 0,
        };
        Self {
            shared: Arc::new(Mutex::new(recorded)),
        }
    }

    /// The first try's body.
    pub fn first_try(&self) -> RetryBody<B> {
        self.body_for(0)
    }

    /// Whether the body read so far is all kept, so a retry can replay it.
    pub fn replayable(&self) -> bool {
        lock(&self.shared).keeping == Keeping::Kept
    }

    /// The next try's body, or `None` when the body can no longer be replayed. Earlier tries
    /// read no more of the client's body from here on.
    pub fn retry(&self) -> Option<RetryBody<B>> {
        let mut recorded = lock(&self.shared);
        if recorded.keeping != Keeping::Kept {
            return None;
        }
        recorded.reader += 1;
        let try_number = recorded.reader;
        drop(recorded);
        Some(self.body_for(try_number))
    }

    fn body_for(&self, try_number: u32) -> RetryBody<B> {
        RetryBody::Replayed {
            shared: self.shared.clone(),
            try_number,
            next: 0,
            trailers_sent: false,
        }
    }
}

impl<B> Drop for ReplayBuffer<B> {
    fn drop(&mut self) {
        let mut recorded = lock(&self.shared);
        if recorded.keeping == Keeping::Kept {
            recorded.keeping = Keeping::Released;
        }
    }
}

fn lock<B>(shared: &Mutex<Recorded<B>>) -> MutexGuard<'_, Recorded<B>> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

impl<B> Recorded<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    /// The next frame for a reader that has read up to chunk `next`.
    fn frame(
        &mut self,
        next: &mut usize,
        trailers_sent: &mut bool,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.keeping != Keeping::Kept {
            // Nobody will replay what this reader has passed.
            let passed = next.saturating_sub(self.discarded).min(self.kept.len());
            self.kept.drain(..passed);
            self.discarded += passed;
        }
        if let Some(chunk) = self.kept.get(next.saturating_sub(self.discarded)) {
            *next += 1;
            return Poll::Ready(Some(Ok(Frame::data(chunk.clone()))));
        }
        if self.ended {
            let trailers = self.trailers.clone().filter(|_| !*trailers_sent);
            *trailers_sent = true;
            return Poll::Ready(trailers.map(|t| Ok(Frame::trailers(t))));
        }
        let frame = match std::task::ready!(self.source.as_mut().poll_frame(cx)) {
            None => {
                self.ended = true;
                return Poll::Ready(None);
            }
            Some(Err(error)) => {
                self.keeping = Keeping::Failed;
                return Poll::Ready(Some(Err(error.into())));
            }
            Some(Ok(frame)) => frame,
        };
        if let Some(data) = frame.data_ref() {
            self.keep(data.clone());
            *next = self.discarded + self.kept.len();
        } else if let Some(trailers) = frame.trailers_ref() {
            self.trailers = Some(trailers.clone());
            self.ended = true;
            *trailers_sent = true;
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn keep(&mut self, data: Bytes) {
        if self.keeping != Keeping::Kept {
            return;
        }
        self.size = self.size.saturating_add(data.len());
        if self.size > self.limit {
            self.keeping = Keeping::Overflowed;
            self.discarded += self.kept.len();
            self.kept = VecDeque::new();
            return;
        }
        self.kept.push_back(data);
    }

    fn unread(&self, next: usize) -> u64 {
        let from = next.saturating_sub(self.discarded).min(self.kept.len());
        self.kept.range(from..).map(|c| c.len() as u64).sum()
    }
}

impl<B> Body for RetryBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project() {
            RetryBodyProj::Passthrough { body } => body.poll_frame(cx).map_err(Into::into),
            RetryBodyProj::Replayed {
                shared,
                try_number,
                next,
                trailers_sent,
            } => {
                let mut recorded = lock(shared);
                if recorded.reader != *try_number {
                    return Poll::Ready(Some(Err(Superseded.into())));
                }
                recorded.frame(next, trailers_sent, cx)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RetryBody::Passthrough { body } => body.is_end_stream(),
            RetryBody::Replayed {
                shared,
                next,
                trailers_sent,
                ..
            } => {
                let recorded = lock(shared);
                let source_done = recorded.ended || recorded.source.is_end_stream();
                let trailers_done = *trailers_sent || recorded.trailers.is_none();
                recorded.unread(*next) == 0 && source_done && trailers_done
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RetryBody::Passthrough { body } => body.size_hint(),
            RetryBody::Replayed { shared, next, .. } => {
                let recorded = lock(shared);
                let unread = recorded.unread(*next);
                if recorded.ended {
                    return SizeHint::with_exact(unread);
                }
                let source = recorded.source.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(source.lower().saturating_add(unread));
                if let Some(upper) = source.upper() {
                    hint.set_upper(upper.saturating_add(unread));
                }
                hint
            }
        }
    }
}

#[cfg(test)]
#[path = "replay_tests.rs"]
mod tests;
