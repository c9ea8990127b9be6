//! The lab's cgroup2 tree: `<cgroup2>/<lab>-lab/node-N/<ns>.<pod>` (and `external/`), how a
//! child process enters its pod's cgroup, and how a subtree is killed and removed.

use anyhow::{anyhow, bail, Context, Result};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a killed cgroup may take to empty.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// Where cgroup2 is mounted (read from /proc/mounts, never assumed).
pub fn cgroup2_mount() -> Result<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").context("reading /proc/mounts")?;
    mounts
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields.get(2) == Some(&"cgroup2"))
        .and_then(|fields| fields.get(1).map(PathBuf::from))
        .ok_or_else(|| anyhow!("no cgroup2 file system is mounted (see /proc/mounts)"))
}

/// The lab's cgroup root: `<cgroup2>/<lab>-lab`.
pub fn lab_root(lab: &str) -> Result<PathBuf> {
    Ok(cgroup2_mount()?.join(format!("{lab}-lab")))
}

/// Creates a cgroup (and its parents).
pub fn create(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("creating cgroup {}", path.display()))
}

/// Whether any process is left in the cgroup or below it.
pub fn is_populated(path: &Path) -> bool {
    std::fs::read_to_string(path.join("cgroup.events"))
        .map(|events| events.lines().any(|l| l == "populated 1"))
        .unwrap_or(false)
}

/// A `pre_exec` hook body: moves the calling (forked) process into `cgroup`.
/// Only async-signal-safe calls: the path is prepared before the fork.
pub fn enter_hook(cgroup: &Path) -> Result<impl FnMut() -> std::io::Result<()> + Send + Sync> {
    let procs = CString::new(cgroup.join("cgroup.procs").as_os_str().as_bytes())?;
    Ok(move || {
        // SAFETY: open/write/close on a valid C string and a static buffer.
        unsafe {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let written = libc::write(fd, b"0".as_ptr().cast(), 1);
            let err = std::io::Error::last_os_error();
            libc::close(fd);
            if written != 1 {
                return Err(err);
            }
        }
        Ok(())
    })
}

/// Kills every process in the subtree at `root`, waits until it is empty and removes every
/// cgroup of it, deepest first. Nothing to do when it does not exist.
pub fn remove_tree(root: &Path) -> Result<()> {
    if !root.exists() {
        return Ok(());
    }
    kill(root)?;
    let mut dirs = Vec::new();
    collect_dirs(root, &mut dirs)?;
    for dir in dirs.iter().rev() {
        std::fs::remove_dir(dir).with_context(|| format!("removing cgroup {}", dir.display()))?;
    }
    Ok(())
}

/// Kills every process in the subtree (`cgroup.kill`) and waits until it is empty.
fn kill(root: &Path) -> Result<()> {
    let kill_file = root.join("cgroup.kill");
    if kill_file.exists() {
        std::fs::write(&kill_file, "1")
            .with_context(|| format!("writing {}", kill_file.display()))?;
    } else {
        kill_each(root)?;
    }
    let deadline = Instant::now() + KILL_TIMEOUT;
    while is_populated(root) {
        if Instant::now() >= deadline {
            bail!(
                "cgroup {} still has processes after {KILL_TIMEOUT:?}",
                root.display()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Older kernels (no `cgroup.kill`): SIGKILL every pid listed in the subtree.
fn kill_each(root: &Path) -> Result<()> {
    let mut dirs = Vec::new();
    collect_dirs(root, &mut dirs)?;
    for dir in dirs {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    Ok(())
}

/// `root` and every cgroup below it, parents before children.
fn collect_dirs(root: &Path, dirs: &mut Vec<PathBuf>) -> Result<()> {
    dirs.push(root.to_path_buf());
    for entry in std::fs::read_dir(root).with_context(|| format!("reading {}", root.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            collect_dirs(&entry.path(), dirs)?;
        }
    }
    Ok(())
}
