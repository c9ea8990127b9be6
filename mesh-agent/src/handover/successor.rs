//! The new agent's side: find the running agent on the hand-over socket, take its listeners
//! (kept in `net::` for `listen` to take), and once ready, tell it so and wait until it has
//! stopped accepting.

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Duration;

use super::wire::{self, Message, Peer};

/// How long the predecessor may take to answer.
const ANSWER_WAIT: Duration = Duration::from_secs(30);

/// What a successor took over, until it is ready.
pub struct Inheritance {
    peer: Peer,
    /// How many listeners came.
    pub listeners: usize,
}

impl Inheritance {
    /// Asks the agent on `path` to hand over; `None` when no agent listens there (no socket file,
    /// or nobody accepting on it: a first start, or after a crash).
    pub fn take_over(path: &Path) -> io::Result<Option<Self>> {
        let peer = match wire::connect(path) {
            Ok(peer) => peer,
            Err(e) if is_nobody(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let fds = take_listeners(&peer)?;
        let listeners = crate::net::inherit(fds)?;
        Ok(Some(Self { peer, listeners }))
    }

    /// Says this agent is ready and waits until the predecessor accepts nothing more.
    pub fn ready(self) -> io::Result<()> {
        self.peer.send(&Message::Ready, &[])?;
        self.peer.expect(&Message::Released)?;
        Ok(())
    }
}

fn is_nobody(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
    )
}

/// Sends `TakeOver` and receives every batch of listeners.
pub fn take_listeners(peer: &Peer) -> io::Result<Vec<OwnedFd>> {
    peer.set_timeout(Some(ANSWER_WAIT))?;
    peer.send(&Message::TakeOver, &[])?;
    let mut listeners = Vec::new();
    loop {
        let (message, fds) = peer.receive()?;
        let Message::Listeners { count, last } = message else {
            let error = format!("hand-over: expected listeners, got {message:?}");
            return Err(io::Error::new(io::ErrorKind::InvalidData, error));
        };
        if fds.len() != count {
            let error = format!("hand-over: {count} listeners announced, {} came", fds.len());
            return Err(io::Error::new(io::ErrorKind::InvalidData, error));
        }
        listeners.extend(fds);
        if last {
            return Ok(listeners);
        }
    }
}
