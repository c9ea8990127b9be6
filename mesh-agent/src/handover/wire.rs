//! The hand-over socket's wire: a Unix `SOCK_SEQPACKET` socket (message boundaries kept, so
//! each message's file descriptors arrive with it), one JSON message per packet, fds passed
//! with `SCM_RIGHTS` in batches the kernel accepts. Blocking calls: a hand-over is one short
//! exchange, run on a blocking thread.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Duration;

use nix::sys::socket::{
    self, sockopt, AddressFamily, Backlog, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag,
    SockType, UnixAddr,
};
use serde::{Deserialize, Serialize};

/// Fds per message (the kernel's `SCM_MAX_FD` is 253).
pub const FDS_PER_MESSAGE: usize = 200;
const MAX_MESSAGE: usize = 4096;

/// What the two agents say to each other, in order.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// Successor → predecessor: hand me your listeners.
    TakeOver,
    /// Predecessor → successor: a batch of listeners (the fds ride along); `last` ends them.
    Listeners {
        /// How many fds this message carries.
        count: usize,
        /// No batch follows.
        last: bool,
    },
    /// Successor → predecessor: I accept on every listener and I am ready; stop accepting.
    Ready,
    /// Predecessor → successor: I accept nothing more; the hand-over socket is yours.
    Released,
}

/// One end of a hand-over connection.
pub struct Peer {
    fd: OwnedFd,
}

fn errno(error: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(error as i32)
}

fn seqpacket() -> io::Result<OwnedFd> {
    let flags = SockFlag::SOCK_CLOEXEC;
    socket::socket(AddressFamily::Unix, SockType::SeqPacket, flags, None).map_err(errno)
}

/// Listens on `path` (replacing a socket file left there), file mode 0600.
pub fn listen(path: &Path) -> io::Result<OwnedFd> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let fd = seqpacket()?;
    socket::bind(fd.as_raw_fd(), &UnixAddr::new(path).map_err(errno)?).map_err(errno)?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    socket::listen(&fd, Backlog::new(4).map_err(errno)?).map_err(errno)?;
    Ok(fd)
}

/// Accepts one peer; refuses (closes) peers that are not root.
pub fn accept(listener: BorrowedFd<'_>) -> io::Result<Option<Peer>> {
    let fd = socket::accept4(listener, SockFlag::SOCK_CLOEXEC).map_err(errno)?;
    let credentials = socket::getsockopt(&fd, sockopt::PeerCredentials).map_err(errno)?;
    if credentials.uid() != 0 {
        tracing::warn!(
            uid = credentials.uid(),
            pid = credentials.pid(),
            "hand-over refused: the peer is not root"
        );
        return Ok(None);
    }
    Ok(Some(Peer { fd }))
}

/// Connects to the agent listening on `path`.
pub fn connect(path: &Path) -> io::Result<Peer> {
    let fd = seqpacket()?;
    socket::connect(fd.as_raw_fd(), &UnixAddr::new(path).map_err(errno)?).map_err(errno)?;
    Ok(Peer { fd })
}

impl Peer {
    /// A connected pair, for tests.
    pub fn pair() -> io::Result<(Peer, Peer)> {
        let (a, b) = socket::socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(errno)?;
        Ok((Peer { fd: a }, Peer { fd: b }))
    }

    /// Fails reads that wait longer than `timeout` (none: wait for ever).
    pub fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        let time = timeout.map_or(nix::sys::time::TimeVal::new(0, 0), |t| {
            nix::sys::time::TimeVal::new(t.as_secs() as _, t.subsec_micros() as _)
        });
        socket::setsockopt(&self.fd, sockopt::ReceiveTimeout, &time).map_err(errno)
    }

    /// Sends `message` with `fds`.
    pub fn send(&self, message: &Message, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
        let bytes = serde_json::to_vec(message)?;
        let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
        let rights = [ControlMessage::ScmRights(&raw)];
        let cmsgs: &[ControlMessage] = if raw.is_empty() { &[] } else { &rights };
        let iov = [IoSlice::new(&bytes)];
        socket::sendmsg::<()>(self.fd.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None)
            .map_err(errno)?;
        Ok(())
    }

    /// Receives one message and the fds that came with it. The peer gone is `UnexpectedEof`.
    pub fn receive(&self) -> io::Result<(Message, Vec<OwnedFd>)> {
        let mut buffer = vec![0u8; MAX_MESSAGE];
        let mut space = nix::cmsg_space!([RawFd; FDS_PER_MESSAGE]);
        let mut iov = [IoSliceMut::new(&mut buffer)];
        let flags = MsgFlags::MSG_CMSG_CLOEXEC;
        let received =
            socket::recvmsg::<()>(self.fd.as_raw_fd(), &mut iov, Some(&mut space), flags)
                .map_err(errno)?;
        let mut fds = Vec::new();
        for cmsg in received.cmsgs().map_err(errno)? {
            if let ControlMessageOwned::ScmRights(raw) = cmsg {
                // SAFETY: the kernel just installed these fds in this process for us alone.
                fds.extend(
                    raw.into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        if received.flags.contains(MsgFlags::MSG_CTRUNC) {
            return Err(io::Error::other("hand-over message: fds truncated"));
        }
        let length = received.bytes;
        if length == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let message = serde_json::from_slice(&buffer[..length]).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("hand-over message: {e}"),
            )
        })?;
        Ok((message, fds))
    }

    /// Receives one message and checks it is `expected` (by kind).
    pub fn expect(&self, expected: &Message) -> io::Result<Vec<OwnedFd>> {
        let (message, fds) = self.receive()?;
        if std::mem::discriminant(&message) != std::mem::discriminant(expected) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("hand-over: expected {expected:?}, got {message:?}"),
            ));
        }
        Ok(fds)
    }
}

impl AsFd for Peer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
