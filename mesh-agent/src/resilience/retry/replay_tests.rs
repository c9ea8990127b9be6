//! The retry buffer with a client body the test feeds frame by frame.

use futures::channel::mpsc;
use futures::FutureExt;
use http_body_util::{BodyExt, StreamBody};

use super::*;

type Sent = Result<Frame<Bytes>, BoxError>;
type Client = StreamBody<mpsc::UnboundedReceiver<Sent>>;

/// A client body fed through the returned sender.
fn client() -> (mpsc::UnboundedSender<Sent>, Client) {
    let (tx, rx) = mpsc::unbounded();
    (tx, StreamBody::new(rx))
}

fn send(tx: &mpsc::UnboundedSender<Sent>, data: &'static str) {
    tx.unbounded_send(Ok(Frame::data(Bytes::from_static(data.as_bytes()))))
        .unwrap();
}

/// The next data frame of `body` if one is ready now.
fn ready_data(body: &mut RetryBody<Client>) -> Option<Bytes> {
    let frame = body.frame().now_or_never()?;
    Some(frame.unwrap().unwrap().into_data().unwrap())
}

async fn rest(body: RetryBody<Client>) -> Bytes {
    body.collect().await.unwrap().to_bytes()
}

#[tokio::test]
async fn the_first_try_reads_each_chunk_as_the_client_sends_it() {
    let (tx, body) = client();
    let replay = ReplayBuffer::new(body, 100);
    let mut first = replay.first_try();
    assert_eq!(ready_data(&mut first), None, "nothing sent yet");
    send(&tx, "ab");
    assert_eq!(ready_data(&mut first).unwrap(), "ab");
    send(&tx, "cd");
    assert_eq!(ready_data(&mut first).unwrap(), "cd");
    drop(tx);
    assert_eq!(rest(first).await, "");
}

#[tokio::test]
async fn a_retry_replays_the_copy_then_reads_on_from_the_client() {
    let (tx, body) = client();
    let replay = ReplayBuffer::new(body, 100);
    let mut first = replay.first_try();
    send(&tx, "ab");
    send(&tx, "cd");
    assert_eq!(ready_data(&mut first).unwrap(), "ab");
    assert_eq!(ready_data(&mut first).unwrap(), "cd");
    let mut second = replay.retry().expect("4 bytes of 100 kept");
    assert_eq!(ready_data(&mut second).unwrap(), "ab");
    send(&tx, "ef");
    drop(tx);
    assert!(first.frame().await.unwrap().unwrap_err().is::<Superseded>());
    assert_eq!(rest(second).await, "cdef");
    let third = replay.retry().expect("the whole body is kept");
    assert_eq!(rest(third).await, "abcdef");
}

#[tokio::test]
async fn a_body_past_the_bound_reaches_the_try_whole_and_is_not_replayable() {
    let (tx, body) = client();
    let replay = ReplayBuffer::new(body, 3);
    let mut first = replay.first_try();
    send(&tx, "ab");
    assert_eq!(ready_data(&mut first).unwrap(), "ab");
    assert!(replay.replayable());
    for part in ["cd", "ef"] {
        send(&tx, part);
    }
    drop(tx);
    assert_eq!(rest(first).await, "cdef");
    assert!(!replay.replayable());
    assert!(replay.retry().is_none());
}

#[tokio::test]
async fn trailers_are_replayed_and_end_the_body() {
    let (tx, body) = client();
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", "0".parse().unwrap());
    send(&tx, "x");
    tx.unbounded_send(Ok(Frame::trailers(trailers.clone())))
        .unwrap();
    let replay = ReplayBuffer::new(body, 10);
    let first = replay.first_try().collect().await.unwrap();
    assert_eq!(first.trailers(), Some(&trailers));
    let second = replay.retry().unwrap();
    let collected = second.collect().await.unwrap();
    assert_eq!(collected.trailers(), Some(&trailers));
    assert_eq!(collected.to_bytes(), "x");
}

#[tokio::test]
async fn a_failed_client_body_is_not_replayed() {
    let (tx, body) = client();
    tx.unbounded_send(Err("client reset".into())).unwrap();
    let replay = ReplayBuffer::new(body, 10);
    assert!(replay.first_try().collect().await.is_err());
    assert!(replay.retry().is_none());
}

#[tokio::test]
async fn once_released_the_try_in_flight_reads_on_and_the_copy_is_let_go() {
    let (tx, body) = client();
    let replay = ReplayBuffer::new(body, 100);
    let mut first = replay.first_try();
    send(&tx, "ab");
    assert_eq!(ready_data(&mut first).unwrap(), "ab");
    let mut second = replay.retry().unwrap();
    let RetryBody::Replayed { shared, .. } = &second else {
        panic!("a retryable try")
    };
    let shared = shared.clone();
    drop(replay);
    assert_eq!(ready_data(&mut second).unwrap(), "ab");
    send(&tx, "cd");
    drop(tx);
    assert_eq!(rest(second).await, "cd");
    assert!(lock(&shared).kept.is_empty(), "nothing kept once released");
}

#[tokio::test]
async fn an_empty_body_ends_at_once_and_hints_its_size() {
    let replay = ReplayBuffer::new(http_body_util::Empty::<Bytes>::new(), 10);
    let first = replay.first_try();
    assert!(first.is_end_stream());
    assert_eq!(first.size_hint().exact(), Some(0));
    let full = ReplayBuffer::new(http_body_util::Full::new(Bytes::from_static(b"abc")), 10);
    assert_eq!(full.first_try().size_hint().exact(), Some(3));
}
