//! Raw TCP connects for tests: from a forked child placed in a cgroup (the lab's own
//! `enter_hook`) and a netns (so the
//! cgroup hooks see it), optionally with `SO_MARK` or a source address.

use mesh_lab::primitives;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::Path;

/// How the child connects.
#[derive(Clone, Copy, Debug)]
pub struct Connect {
    /// Where to.
    pub to: SocketAddr,
    /// Use an `AF_INET6` socket (for IPv4-mapped destinations).
    pub ipv6_socket: bool,
    /// `SO_MARK` to set first.
    pub mark: Option<u32>,
    /// Source address to bind first.
    pub from: Option<SocketAddr>,
    /// After connecting, read `pong` (4 bytes) and answer `ping`.
    pub ping_pong: bool,
}

impl Connect {
    /// A plain connect to `to`.
    pub fn to(to: SocketAddr) -> Self {
        Connect {
            to,
            ipv6_socket: to.is_ipv6(),
            mark: None,
            from: None,
            ping_pong: false,
        }
    }
}

/// Forks a child that joins `cgroup` when given (writing `0` to its `cgroup.procs`) and the
/// netns `netns`, then connects as `how` says and exits; returns the child's errno (0 =
/// connected).
pub fn connect_in(cgroup: Option<&Path>, netns: &impl AsRawFd, how: Connect) -> i32 {
    let mut enter = cgroup.map(|c| primitives::enter_hook(c).unwrap_or_else(|e| panic!("{e:#}")));
    let to = sockaddr(how.to, how.ipv6_socket);
    let from = how.from.map(|from| sockaddr(from, how.ipv6_socket));
    let netns = netns.as_raw_fd();
    // SAFETY: the child only makes async-signal-safe libc calls, then `_exit`s.
    unsafe {
        match libc::fork() {
            -1 => panic!("fork: {}", io::Error::last_os_error()),
            0 => libc::_exit(child(enter.as_mut(), netns, to, from, how)),
            pid => wait(pid),
        }
    }
}

/// The child's work; returns an errno (0 = connected).
unsafe fn child(
    enter_cgroup: Option<&mut (impl FnMut() -> io::Result<()> + ?Sized)>,
    netns: i32,
    to: RawSockaddr,
    from: Option<RawSockaddr>,
    how: Connect,
) -> i32 {
    let errno = || io::Error::last_os_error().raw_os_error().unwrap_or(1);
    unsafe {
        if let Some(enter) = enter_cgroup {
            if let Err(e) = enter() {
                return e.raw_os_error().unwrap_or(1);
            }
        }
        if libc::setns(netns, libc::CLONE_NEWNET) != 0 {
            return errno();
        }
        let family = if how.ipv6_socket {
            libc::AF_INET6
        } else {
            libc::AF_INET
        };
        let sock = libc::socket(family, libc::SOCK_STREAM, 0);
        if sock < 0 {
            return errno();
        }
        if let Some(mark) = how.mark {
            let mark = mark as libc::c_int;
            let size = size_of::<libc::c_int>() as libc::socklen_t;
            let ptr = (&mark as *const libc::c_int).cast();
            if libc::setsockopt(sock, libc::SOL_SOCKET, libc::SO_MARK, ptr, size) != 0 {
                return errno();
            }
        }
        if let Some((addr, len)) = &from {
            if libc::bind(sock, (addr as *const libc::sockaddr_storage).cast(), *len) != 0 {
                return errno();
            }
        }
        let (addr, len) = &to;
        if libc::connect(sock, (addr as *const libc::sockaddr_storage).cast(), *len) != 0 {
            return errno();
        }
        if how.ping_pong {
            return ping_pong(sock);
        }
        0
    }
}

/// Errno-like exit codes of `ping_pong`.
pub const NO_PONG: i32 = 200;
/// The `ping` could not be written.
pub const NO_PING: i32 = 201;

/// Reads `pong`, writes `ping`.
unsafe fn ping_pong(sock: i32) -> i32 {
    let mut buf = [0u8; 4];
    unsafe {
        if libc::recv(sock, buf.as_mut_ptr().cast(), 4, libc::MSG_WAITALL) != 4 || &buf != b"pong" {
            return NO_PONG;
        }
        if libc::send(sock, b"ping".as_ptr().cast(), 4, 0) != 4 {
            return NO_PING;
        }
    }
    0
}

/// A C socket address and its length.
type RawSockaddr = (libc::sockaddr_storage, libc::socklen_t);

unsafe fn wait(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status), "connect child died: {status}");
    libc::WEXITSTATUS(status)
}

/// `to` as a C socket address; IPv4 as `::ffff:a.b.c.d` when `ipv6_socket`.
fn sockaddr(to: SocketAddr, ipv6_socket: bool) -> RawSockaddr {
    let to = match (to, ipv6_socket) {
        (SocketAddr::V4(v4), true) => SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port()),
        (other, _) => other,
    };
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match to {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}
