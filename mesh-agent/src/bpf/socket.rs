//! The socket options the capture layer relies on: a socket's netns cookie and its own cookie.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `SO_NETNS_COOKIE` (include/uapi/asm-generic/socket.h); not in every libc release yet.
const SO_NETNS_COOKIE: libc::c_int = 71;
/// `SO_COOKIE` (include/uapi/asm-generic/socket.h).
const SO_COOKIE: libc::c_int = 57;

/// The cookie of the network namespace a socket lives in (what `bpf_get_netns_cookie` sees).
pub fn socket_netns_cookie(fd: BorrowedFd<'_>) -> io::Result<u64> {
    u64_option(fd, SO_NETNS_COOKIE)
}

/// The socket's own cookie (what `bpf_get_socket_cookie` sees).
pub fn socket_cookie(fd: BorrowedFd<'_>) -> io::Result<u64> {
    u64_option(fd, SO_COOKIE)
}

/// A `SOL_SOCKET` option whose value is a u64.
fn u64_option(fd: BorrowedFd<'_>, option: libc::c_int) -> io::Result<u64> {
    let mut value: u64 = 0;
    let mut len = size_of::<u64>() as libc::socklen_t;
    // SAFETY: a valid fd and a pointer to a u64 of the advertised length.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&mut value as *mut u64).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}
