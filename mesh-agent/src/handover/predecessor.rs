//! The running agent's side: serve the hand-over socket, give a successor every listener on
//! record, and tell the agent once the successor is ready. A successor that goes away (or stays
//! silent past [`READY_WAIT`]) before it says ready is forgotten; the agent never noticed.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;

use super::wire::{self, Message, Peer, FDS_PER_MESSAGE};

/// How long a successor may take from receiving the listeners to being ready.
pub const READY_WAIT: Duration = Duration::from_secs(120);

/// The hand-over socket of the running agent.
pub struct HandoverServer {
    path: PathBuf,
    file: crate::net::SocketFile,
    successors: mpsc::Receiver<Successor>,
}

/// A successor that took the listeners and is ready: the agent stops accepting, then calls
/// [`Successor::release`].
pub struct Successor {
    peer: Peer,
}

impl HandoverServer {
    /// Listens on `path` (root peers only) on a thread of its own.
    pub fn start(path: &Path) -> io::Result<Self> {
        let listener = wire::listen(path)?;
        let file = crate::net::SocketFile::bound(path)?;
        let (sender, successors) = mpsc::channel(1);
        std::thread::Builder::new()
            .name("handover".into())
            .spawn(move || serve(&listener, &sender))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            successors,
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for a ready successor.
    pub async fn successor(&mut self) -> Option<Successor> {
        self.successors.recv().await
    }

    /// Removes the socket file while it is this agent's (an agent stopping without a
    /// successor).
    pub fn remove(self) {
        drop(self.file);
    }
}

impl Successor {
    /// Tells the successor this agent accepts nothing more: the hand-over socket is its own.
    pub fn release(self) -> io::Result<()> {
        self.peer.send(&Message::Released, &[])
    }
}

fn serve(listener: &OwnedFd, successors: &mpsc::Sender<Successor>) {
    loop {
        let peer = match wire::accept(listener.as_fd()) {
            Ok(Some(peer)) => peer,
            Ok(None) => continue,
            Err(error) => {
                tracing::warn!(%error, "hand-over socket accept failed");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        match hand_over(&peer) {
            Ok(()) => {
                tracing::info!("successor ready: handing over");
                let _ = successors.blocking_send(Successor { peer });
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "successor failed before it was ready: carrying on");
            }
        }
    }
}

/// Gives `peer` every listener on record and waits until it says ready.
pub fn hand_over(peer: &Peer) -> io::Result<()> {
    peer.set_timeout(Some(READY_WAIT))?;
    peer.expect(&Message::TakeOver)?;
    let listeners = crate::net::alive_listeners()?;
    tracing::info!(listeners = listeners.len(), "successor asks to take over");
    send_listeners(peer, &listeners)?;
    peer.expect(&Message::Ready)?;
    Ok(())
}

/// Sends `listeners` in batches; an empty set is one empty last batch.
pub fn send_listeners(peer: &Peer, listeners: &[OwnedFd]) -> io::Result<()> {
    let mut batches = listeners.chunks(FDS_PER_MESSAGE).peekable();
    if batches.peek().is_none() {
        let last = Message::Listeners {
            count: 0,
            last: true,
        };
        return peer.send(&last, &[]);
    }
    while let Some(batch) = batches.next() {
        let fds: Vec<_> = batch.iter().map(AsFd::as_fd).collect();
        let message = Message::Listeners {
            count: fds.len(),
            last: batches.peek().is_none(),
        };
        peer.send(&message, &fds)?;
    }
    Ok(())
}
