//! How many sockets the agent may hold: every proxied connection is two descriptors (the
//! client's and the upstream's), so the default soft limit of 1,024 open files caps the agent at
//! a few hundred connections. At start the soft limit is raised to the hard one, and the hard one
//! to the kernel's `fs.nr_open` when the agent may (root with `CAP_SYS_RESOURCE`).

use std::io;

/// Open files the agent asks for at most.
const WANTED: u64 = 1 << 20;

/// The open-files limit before and after [`raise_open_files_limit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenFiles {
    pub before: u64,
    pub after: u64,
}

fn get() -> io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(limit)
}

fn set(soft: u64, hard: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The kernel's ceiling for one process's open files (`/proc/sys/fs/nr_open`).
fn kernel_ceiling() -> u64 {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(WANTED)
        .min(WANTED)
}

/// Raises this process's open-files soft limit as far as it may go: to the kernel's ceiling
/// when the hard limit can be raised, else to the hard limit.
pub fn raise_open_files_limit() -> io::Result<OpenFiles> {
    let limit = get()?;
    let before = limit.rlim_cur;
    let ceiling = kernel_ceiling().max(limit.rlim_max);
    if set(ceiling, ceiling).is_err() && limit.rlim_cur < limit.rlim_max {
        set(limit.rlim_max, limit.rlim_max)?;
    }
    Ok(OpenFiles {
        before,
        after: get()?.rlim_cur,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_raised_to_at_least_the_hard_one() {
        let hard = get().unwrap().rlim_max;
        let raised = raise_open_files_limit().unwrap();
        assert!(raised.after >= hard, "{raised:?}, hard limit {hard}");
        assert_eq!(get().unwrap().rlim_cur, raised.after);
    }
}
