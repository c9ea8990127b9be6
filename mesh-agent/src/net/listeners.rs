//! The agent's listening sockets as one set, for the hand-over on upgrade: every listener bound
//! through [`listen`](super::listen) is on record while it lives (a duplicate of its fd, so a
//! predecessor can pass them all to its successor over `SCM_RIGHTS`), and a successor binds
//! nothing it inherited: `listen` takes the inherited socket of the same netns and address
//! instead (the same kernel socket, so its accept queue is shared and nothing is refused).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::ops::Deref;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard};

use tokio::net::TcpListener;

use super::netns_cookie;

/// Where a listener is: the netns (its cookie) and the bound address.
pub type ListenerKey = (u64, SocketAddr);

/// The set of this process: listeners alive, listeners inherited and not taken yet.
#[derive(Default)]
struct ListenerSet {
    alive: HashMap<u64, OwnedFd>,
    inherited: HashMap<ListenerKey, std::net::TcpListener>,
}

static LISTENERS: LazyLock<Mutex<ListenerSet>> = LazyLock::new(Mutex::default);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn set() -> MutexGuard<'static, ListenerSet> {
    LISTENERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A listening socket on record; leaves the record when dropped (its socket closes with it
/// unless a successor holds it too).
#[derive(Debug)]
pub struct Listener {
    listener: TcpListener,
    id: u64,
}

impl Listener {
    /// Puts `listener` on record.
    pub(super) fn record(listener: TcpListener) -> io::Result<Self> {
        let copy = socket2::SockRef::from(&listener).try_clone()?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        set().alive.insert(id, copy.into());
        Ok(Self { listener, id })
    }
}

impl Deref for Listener {
    type Target = TcpListener;
    fn deref(&self) -> &TcpListener {
        &self.listener
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        set().alive.remove(&self.id);
    }
}

/// Duplicates of every listener alive, to hand to a successor.
pub fn alive_listeners() -> io::Result<Vec<OwnedFd>> {
    set().alive.values().map(OwnedFd::try_clone).collect()
}

/// Keeps `sockets` (a predecessor's listeners) for [`listen`](super::listen) to take; each is
/// keyed by its own netns cookie and address. Sockets that are not TCP listeners are refused.
pub fn inherit(sockets: Vec<OwnedFd>) -> io::Result<usize> {
    let mut keyed = Vec::with_capacity(sockets.len());
    for fd in sockets {
        let socket = socket2::Socket::from(fd);
        if socket.r#type()? != socket2::Type::STREAM || !socket.is_listener()? {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a handed-over socket is not a listening TCP socket",
            ));
        }
        let addr = socket.local_addr()?.as_socket().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "a handed-over socket has no IP address",
            )
        })?;
        let cookie = netns_cookie(&socket)?;
        socket.set_nonblocking(true)?;
        keyed.push(((cookie, addr), std::net::TcpListener::from(socket)));
    }
    let count = keyed.len();
    set().inherited.extend(keyed);
    Ok(count)
}

/// The inherited listener of `key`, taken out of the set.
pub(super) fn take_inherited(key: ListenerKey) -> Option<std::net::TcpListener> {
    set().inherited.remove(&key)
}

/// How many inherited listeners are not taken yet.
pub fn untaken() -> usize {
    set().inherited.len()
}

/// Closes the inherited listeners nobody took (pods gone while the agents changed hands, gateway
/// ports no longer configured); their keys.
pub fn close_untaken() -> Vec<ListenerKey> {
    let untaken = std::mem::take(&mut set().inherited);
    untaken.into_keys().collect()
}
