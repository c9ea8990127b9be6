//! Network namespaces of pods: code that must run inside one (creating a socket binds it to the
//! creating thread's netns) runs on the calling thread after `setns` into the pod's namespace,
//! which is left again before the call returns, as ztunnel does. No thread hop: a connection's
//! upstream socket costs two `setns` calls instead of a channel round trip to a helper thread.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use nix::sched::CloneFlags;

/// `SO_NETNS_COOKIE` (include/uapi/asm-generic/socket.h); not in every libc release yet.
const SO_NETNS_COOKIE: libc::c_int = 71;

/// An open network namespace. Cheap to clone.
#[derive(Clone)]
pub struct Netns {
    inner: Arc<Inner>,
}

struct Inner {
    fd: OwnedFd,
    /// The agent's own namespace, entered again after each job; `None` when `fd` is the agent's
    /// own namespace: jobs then run as they are.
    home: Option<OwnedFd>,
}

impl Netns {
    /// The namespace the agent itself runs in (used by in-process tests).
    pub fn current() -> io::Result<Self> {
        let fd = File::open("/proc/thread-self/ns/net")?.into();
        Ok(Self::from_parts(fd, None))
    }

    /// Opens the namespace at `path` (`/var/run/netns/<n>`, `/proc/<pid>/ns/net`) and checks that
    /// it can be entered; a path naming the agent's own namespace needs no `setns` (and no
    /// privilege).
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let home = File::open("/proc/thread-self/ns/net")?;
        let (own, target) = (home.metadata()?, file.metadata()?);
        if (own.dev(), own.ino()) == (target.dev(), target.ino()) {
            return Ok(Self::from_parts(file.into(), None));
        }
        let netns = Self::from_parts(file.into(), Some(home.into()));
        netns.enter(|| ())?;
        Ok(netns)
    }

    fn from_parts(fd: OwnedFd, home: Option<OwnedFd>) -> Self {
        Self {
            inner: Arc::new(Inner { fd, home }),
        }
    }

    /// The namespace's file descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inner.fd.as_fd()
    }

    /// Runs `f` inside the namespace and returns its result (on the calling thread: see
    /// [`Netns::enter`]).
    pub async fn run<T, F>(&self, f: F) -> io::Result<T>
    where
        F: FnOnce() -> T,
    {
        self.enter(f)
    }

    /// Runs `f` on the calling thread inside the namespace, then returns the thread to the
    /// agent's own namespace, also when `f` panics. `f` must be short and must not block or
    /// yield (create and bind sockets, nothing more): nothing else runs on the thread meanwhile.
    pub fn enter<T>(&self, f: impl FnOnce() -> T) -> io::Result<T> {
        let Some(home) = &self.inner.home else {
            return Ok(f());
        };
        setns(self.inner.fd.as_fd())?;
        let _back_home = BackHome(home.as_fd());
        Ok(f())
    }

    /// The namespace's cookie (`SO_NETNS_COOKIE`), the key the capture programs use for it.
    pub async fn cookie(&self) -> io::Result<u64> {
        self.run(|| {
            let probe = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
            netns_cookie(&probe)
        })
        .await?
    }
}

/// `SO_NETNS_COOKIE` of the namespace a socket belongs to.
pub fn netns_cookie(socket: &impl AsFd) -> io::Result<u64> {
    let mut cookie: u64 = 0;
    let mut len = size_of::<u64>() as libc::socklen_t;
    // SAFETY: the fd is open for the call; `cookie` and `len` are valid for writes of `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cookie)
}

fn setns(fd: BorrowedFd<'_>) -> io::Result<()> {
    nix::sched::setns(fd, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)
}

/// Returns the thread to the agent's namespace when dropped.
struct BackHome<'a>(BorrowedFd<'a>);

impl Drop for BackHome<'_> {
    fn drop(&mut self) {
        if let Err(error) = setns(self.0) {
            // A worker thread stuck in a pod's namespace would open every later socket there.
            eprintln!("mesh-agent: cannot return to the agent's netns ({error}); aborting");
            std::process::abort();
        }
    }
}
