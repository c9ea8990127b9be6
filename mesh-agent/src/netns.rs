//! Network namespaces of pods: code that must run inside one (creating a socket binds it to the
//! creating thread's netns) runs on a helper thread that entered it with `setns`, as ztunnel does.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::thread;

use nix::sched::CloneFlags;

/// `SO_NETNS_COOKIE` (include/uapi/asm-generic/socket.h); not in every libc release yet.
const SO_NETNS_COOKIE: libc::c_int = 71;

/// Work sent to a namespace's helper thread.
type Job = Box<dyn FnOnce() + Send>;

/// An open network namespace. Cheap to clone; the helper thread stops with the last clone.
#[derive(Clone)]
pub struct Netns {
    inner: Arc<Inner>,
}

struct Inner {
    fd: OwnedFd,
    /// `None` when the namespace is the agent's own: jobs then run on the caller's thread.
    helper: Option<mpsc::Sender<Job>>,
}

impl Netns {
    /// The namespace the agent itself runs in (used by in-process tests).
    pub fn current() -> io::Result<Self> {
        let fd = File::open("/proc/thread-self/ns/net")?.into();
        Ok(Self::from_parts(fd, None))
    }

    /// Opens the namespace at `path` (`/var/run/netns/<n>`, `/proc/<pid>/ns/net`) and starts its
    /// helper thread; a path naming the agent's own namespace needs no helper (and no privilege).
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let own = std::fs::metadata("/proc/thread-self/ns/net")?;
        let target = file.metadata()?;
        if (own.dev(), own.ino()) == (target.dev(), target.ino()) {
            return Ok(Self::from_parts(file.into(), None));
        }
        let fd: OwnedFd = file.into();
        let helper = spawn_helper(fd.try_clone()?)?;
        Ok(Self::from_parts(fd, Some(helper)))
    }

    fn from_parts(fd: OwnedFd, helper: Option<mpsc::Sender<Job>>) -> Self {
        Self {
            inner: Arc::new(Inner { fd, helper }),
        }
    }

    /// The namespace's file descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inner.fd.as_fd()
    }

    /// Runs `f` inside the namespace and returns its result.
    pub async fn run<T, F>(&self, f: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let Some(helper) = &self.inner.helper else {
            return Ok(f());
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        helper.send(job).map_err(|_| helper_gone())?;
        rx.await.map_err(|_| helper_gone())
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

/// Starts a thread that enters the namespace and then runs the jobs it is sent until every
/// sender is gone. Fails when `setns` does.
fn spawn_helper(fd: OwnedFd) -> io::Result<mpsc::Sender<Job>> {
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let (ready_tx, ready_rx) = mpsc::sync_channel::<io::Result<()>>(1);
    thread::Builder::new()
        .name("netns-helper".into())
        .spawn(move || {
            let entered = nix::sched::setns(&fd, CloneFlags::CLONE_NEWNET).map_err(io::Error::from);
            let ok = entered.is_ok();
            let _ = ready_tx.send(entered);
            if ok {
                jobs_rx.into_iter().for_each(|job| job());
            }
        })?;
    ready_rx.recv().map_err(|_| helper_gone())??;
    Ok(jobs_tx)
}

fn helper_gone() -> io::Error {
    io::Error::other("netns helper thread is gone")
}
