//! The exchange between two agents over a socket pair, in one process: the successor receives
//! the very sockets the predecessor listens on, and a predecessor whose successor goes away
//! before ready hears of it.

use std::io::{Read as _, Write as _};
use std::os::fd::OwnedFd;

use super::predecessor::{hand_over, send_listeners};
use super::successor::take_listeners;
use super::wire::{Message, Peer};
use crate::net::{listen, Netns};

fn local_addr(fd: &OwnedFd) -> std::net::SocketAddr {
    let socket = socket2::SockRef::from(fd);
    socket.local_addr().unwrap().as_socket().unwrap()
}

#[tokio::test]
async fn successor_receives_the_listening_sockets_themselves() {
    let listener = listen(&Netns::current().unwrap(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (old, new) = Peer::pair().unwrap();
    let predecessor = std::thread::spawn(move || hand_over(&old));
    let fds = take_listeners(&new).unwrap();
    let inherited = fds.into_iter().find(|fd| local_addr(fd) == addr);
    let inherited = std::net::TcpListener::from(inherited.expect("our listener is handed over"));
    new.send(&Message::Ready, &[]).unwrap();
    predecessor.join().unwrap().unwrap();

    // A client queued on the predecessor's socket is accepted through the successor's fd.
    drop(listener);
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client.write_all(b"x").unwrap();
    let (mut accepted, _) = inherited.accept().unwrap();
    let mut byte = [0u8; 1];
    accepted.read_exact(&mut byte).unwrap();
    assert_eq!(&byte, b"x");
}

#[test]
fn a_successor_gone_before_ready_fails_the_hand_over() {
    let (old, new) = Peer::pair().unwrap();
    let predecessor = std::thread::spawn(move || hand_over(&old));
    take_listeners(&new).unwrap();
    drop(new);
    let error = predecessor.join().unwrap().unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof, "{error}");
}

#[test]
fn more_listeners_than_one_message_carries_arrive_in_batches() {
    let fds: Vec<OwnedFd> = (0..250)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap().into())
        .collect();
    let (old, new) = Peer::pair().unwrap();
    let sender = std::thread::spawn(move || {
        old.expect(&Message::TakeOver).unwrap();
        send_listeners(&old, &fds)
    });
    assert_eq!(take_listeners(&new).unwrap().len(), 250);
    sender.join().unwrap().unwrap();
}

#[test]
fn a_message_out_of_turn_is_named() {
    let (old, new) = Peer::pair().unwrap();
    new.send(&Message::Ready, &[]).unwrap();
    let error = hand_over(&old).unwrap_err();
    assert!(
        error.to_string().contains("expected TakeOver, got Ready"),
        "{error}"
    );
}

#[test]
fn with_nobody_on_the_socket_an_agent_starts_on_its_own() {
    let dir = std::env::temp_dir().join(format!("mesh-handover-nobody-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("handover.sock");
    assert!(
        super::Inheritance::take_over(&path).unwrap().is_none(),
        "no file"
    );
    // A crashed agent's socket file: nobody accepts on it.
    drop(super::wire::listen(&path).unwrap());
    assert!(path.exists());
    assert!(
        super::Inheritance::take_over(&path).unwrap().is_none(),
        "stale file"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
