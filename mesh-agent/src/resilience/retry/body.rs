//! Request bodies read whole before they are sent (the mirror's copies): buffered up to a bound
//! and replayed on every send; a larger body is sent once (its buffered start, then the rest).
//! Retries stream the body instead (`replay.rs`).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use pin_project_lite::pin_project;

use crate::errors::BoxError;

pin_project! {
    /// A request body read up to a bound before it is sent.
    #[project = BufferedBodyProj]
    pub enum BufferedBody<B> {
        /// A complete buffered body, replayed.
        Replay { data: Option<Bytes>, trailers: Option<HeaderMap> },
        /// A body larger than the bound: the buffered start, then the rest, once.
        Prefixed { prefix: VecDeque<Bytes>, rest: Pin<Box<B>> },
    }
}

/// A complete request body, kept to be replayed on each try.
#[derive(Clone, Debug, Default)]
pub struct Buffered {
    data: Bytes,
    trailers: Option<HeaderMap>,
}

/// What reading a body up to the bound came to.
pub enum Buffering<B> {
    /// The whole body fits: replayable.
    Complete(Buffered),
    /// It does not: to be sent once.
    TooLarge(BufferedBody<B>),
}

impl Buffered {
    /// The body for one more try.
    pub fn replay<B>(&self) -> BufferedBody<B> {
        let data = (!self.data.is_empty()).then(|| self.data.clone());
        BufferedBody::Replay {
            data,
            trailers: self.trailers.clone(),
        }
    }
}

/// Reads `body` until it ends or passes `limit` bytes.
pub async fn buffer<B>(body: B, limit: usize) -> Result<Buffering<B>, BoxError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let mut body = Box::pin(body);
    let mut chunks = VecDeque::new();
    let mut size = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(Into::into)?;
        match frame.into_data() {
            Ok(data) => {
                size += data.len();
                chunks.push_back(data);
            }
            Err(frame) => return Ok(complete(chunks, frame.into_trailers().ok())),
        }
        if size > limit {
            return Ok(Buffering::TooLarge(BufferedBody::Prefixed {
                prefix: chunks,
                rest: body,
            }));
        }
    }
    Ok(complete(chunks, None))
}

fn complete<B>(chunks: VecDeque<Bytes>, trailers: Option<HeaderMap>) -> Buffering<B> {
    let data = match chunks.len() {
        0 => Bytes::new(),
        1 => chunks[0].clone(),
        _ => chunks
            .iter()
            .fold(BytesMut::new(), |mut all, c| {
                all.extend_from_slice(c);
                all
            })
            .freeze(),
    };
    Buffering::Complete(Buffered { data, trailers })
}

impl<B> Body for BufferedBody<B>
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
            BufferedBodyProj::Replay { data, trailers } => {
                let frame = data
                    .take()
                    .map(Frame::data)
                    .or_else(|| trailers.take().map(Frame::trailers));
                Poll::Ready(frame.map(Ok))
            }
            BufferedBodyProj::Prefixed { prefix, rest } => match prefix.pop_front() {
                Some(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                None => rest.as_mut().poll_frame(cx).map_err(Into::into),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            BufferedBody::Replay { data, trailers } => data.is_none() && trailers.is_none(),
            BufferedBody::Prefixed { prefix, rest } => prefix.is_empty() && rest.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            BufferedBody::Replay { data, .. } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            BufferedBody::Prefixed { prefix, rest } => {
                let buffered: u64 = prefix.iter().map(|c| c.len() as u64).sum();
                let rest = rest.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(rest.lower() + buffered);
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper + buffered);
                }
                hint
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;
    use http_body_util::{Full, StreamBody};

    fn chunked(parts: &[&'static str]) -> impl Body<Data = Bytes, Error = BoxError> {
        let frames = parts
            .iter()
            .map(|p| Ok::<_, BoxError>(Frame::data(Bytes::from_static(p.as_bytes()))));
        StreamBody::new(stream::iter(frames.collect::<Vec<_>>()))
    }

    async fn read<B: Body<Data = Bytes, Error = BoxError>>(body: B) -> Bytes {
        body.collect().await.unwrap().to_bytes()
    }

    #[tokio::test]
    async fn a_body_within_the_bound_replays_every_time() {
        let Buffering::Complete(buffered) = buffer(chunked(&["ab", "cd"]), 4).await.unwrap() else {
            panic!("4 bytes fit a 4-byte bound")
        };
        for _ in 0..3 {
            assert_eq!(read(buffered.replay::<Full<Bytes>>()).await, "abcd");
        }
    }

    #[tokio::test]
    async fn a_body_over_the_bound_is_sent_whole_once() {
        let Buffering::TooLarge(body) = buffer(chunked(&["ab", "cd", "ef"]), 3).await.unwrap()
        else {
            panic!("6 bytes do not fit a 3-byte bound")
        };
        assert_eq!(read(body).await, "abcdef");
    }

    #[tokio::test]
    async fn trailers_are_replayed() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-timeout", "1S".parse().unwrap());
        let frames = vec![
            Ok::<_, BoxError>(Frame::data(Bytes::from_static(b"x"))),
            Ok(Frame::trailers(trailers.clone())),
        ];
        let Buffering::Complete(buffered) = buffer(StreamBody::new(stream::iter(frames)), 10)
            .await
            .unwrap()
        else {
            panic!("fits")
        };
        let collected = buffered.replay::<Full<Bytes>>().collect().await.unwrap();
        assert_eq!(collected.trailers(), Some(&trailers));
    }
}
