//! The pooled copy over in-memory pipes: bytes pass both ways with half-close and counts, and
//! an idle copy holds no buffer (both went back to the thread's spares).

use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;

fn spares() -> usize {
    SPARE.with(|spare| spare.borrow().len())
}

/// A copy between two pipes, started: the client's end, the upstream's end, the copy.
fn piped() -> (
    DuplexStream,
    DuplexStream,
    tokio::task::JoinHandle<io::Result<(u64, u64)>>,
) {
    let (client, mut near) = duplex(64 * 1024);
    let (mut far, upstream) = duplex(64 * 1024);
    let copy = tokio::spawn(async move { copy_both_ways(&mut near, &mut far).await });
    (client, upstream, copy)
}

#[tokio::test]
async fn bytes_pass_both_ways_and_an_end_is_passed_on_as_a_half_close() {
    let (mut client, mut upstream, copy) = piped();
    client.write_all(b"request").await.unwrap();
    client.shutdown().await.unwrap();
    let mut asked = Vec::new();
    upstream.read_to_end(&mut asked).await.unwrap();
    assert_eq!(asked, b"request");
    upstream.write_all(b"a longer answer").await.unwrap();
    upstream.shutdown().await.unwrap();
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).await.unwrap();
    assert_eq!(answer, b"a longer answer");
    assert_eq!(copy.await.unwrap().unwrap(), (7, 15));
}

#[tokio::test]
async fn more_than_a_buffer_passes_whole() {
    let (mut client, mut upstream, copy) = piped();
    let sent: Vec<u8> = (0..5 * BUFFER_SIZE).map(|i| (i % 251) as u8).collect();
    let writer = {
        let sent = sent.clone();
        tokio::spawn(async move {
            client.write_all(&sent).await.unwrap();
            client.shutdown().await.unwrap();
            client
        })
    };
    let mut received = Vec::new();
    upstream.read_to_end(&mut received).await.unwrap();
    assert_eq!(received, sent);
    drop(upstream);
    drop(writer.await.unwrap());
    let (there, _) = copy.await.unwrap().unwrap();
    assert_eq!(there, sent.len() as u64);
}

#[tokio::test]
async fn an_idle_copy_holds_no_buffer() {
    // One thread (the test's runtime): the one buffer both directions borrowed in turn is back
    // among the spares once both wait for bytes (a copy holding its buffers leaves none).
    let (mut client, mut upstream, _copy) = piped();
    client.write_all(b"ping").await.unwrap();
    let mut ping = [0; 4];
    upstream.read_exact(&mut ping).await.unwrap();
    upstream.write_all(b"pong").await.unwrap();
    client.read_exact(&mut ping).await.unwrap();
    tokio::task::yield_now().await;
    assert_eq!(spares(), 1, "the buffer went back to the spares");
}

#[tokio::test]
async fn the_spares_kept_are_bounded() {
    for _ in 0..SPARE_KEPT + 5 {
        give_back(vec![0; BUFFER_SIZE].into_boxed_slice());
    }
    assert_eq!(spares(), SPARE_KEPT);
}
