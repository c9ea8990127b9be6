//! Privileged: L4 splicing. Two loopback connections stand for a proxied one (app ⇄ agent's
//! client socket, agent's upstream socket ⇄ server); joined, the kernel's verdict carries
//! bytes both ways — those queued before the join first, in order — counts them per socket,
//! leaves a bare FIN to the agent, and the entries go when the pair parts. Needs root and the
//! built object.

use crate::harness::namespaced;
use mesh_agent::bpf::{LoadOptions, MeshBpf};
use mesh_agent::capture::Splicer;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::thread;
use std::time::Duration;

/// A connected loopback pair: (the dialling end, the accepted end).
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let dialled = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    for s in [&dialled, &accepted] {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
    (dialled, accepted)
}

/// `len` bytes of a pattern that shows a reordering.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn joined_sockets_carry_bytes_both_ways_in_the_kernel_and_count_them() {
    if !namespaced::running_as_root() {
        return;
    }
    let options = LoadOptions {
        splice: true,
        ..LoadOptions::default()
    };
    let bpf = MeshBpf::load_with(&namespaced::object_path(), &options).expect("load");
    assert!(bpf.splices(), "the verdict loaded and attached");
    let (mut app, agent_client) = pair();
    let (agent_upstream, mut server) = pair();
    // Sent before the join (what detection peeked at): it must arrive first.
    app.write_all(b"first bytes|").unwrap();
    thread::sleep(Duration::from_millis(50));
    let joined = bpf
        .join(agent_client.as_fd(), agent_upstream.as_fd())
        .expect("join");
    assert_eq!(bpf.spliced_entries(), 2);

    let up = pattern(4 << 20);
    let sending = {
        let (mut app, up) = (app.try_clone().unwrap(), up.clone());
        thread::spawn(move || app.write_all(&up).unwrap())
    };
    let mut got = vec![0; 12 + up.len()];
    server.read_exact(&mut got).unwrap();
    sending.join().unwrap();
    assert_eq!(&got[..12], b"first bytes|");
    assert!(
        got[12..] == up[..],
        "the upstream got the client's bytes in order"
    );

    let down = pattern(1 << 20);
    let answering = {
        let (mut server, down) = (server.try_clone().unwrap(), down.clone());
        thread::spawn(move || server.write_all(&down).unwrap())
    };
    let mut back = vec![0; down.len()];
    app.read_exact(&mut back).unwrap();
    answering.join().unwrap();
    assert!(back == down, "the client got the upstream's bytes in order");

    // A bare FIN is not carried (the agent passes half-closes on): the peer stays writable.
    app.shutdown(Shutdown::Write).unwrap();
    thread::sleep(Duration::from_millis(100));
    let broken = agent_upstream.take_error().unwrap();
    assert!(broken.is_none(), "the upstream socket broke: {broken:?}");

    let moved = bpf.moved(joined);
    assert_eq!(moved, (12 + up.len() as u64, down.len() as u64));
    assert!(bpf.counters().unwrap().spliced > 0);
    assert_eq!(bpf.part(joined), moved);
    assert_eq!(bpf.spliced_entries(), 0, "parted: no entry left");
}
