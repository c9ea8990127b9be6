//! Test cgroups under the cgroup2 mount, and processes spawned into them.

use mesh_agent::bpf::cgroup2_mount;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

/// A fresh cgroup, removed on drop (its processes must have exited).
pub struct TestCgroup {
    path: PathBuf,
}

impl TestCgroup {
    /// Creates `<cgroup2 mount>/<name>`.
    pub fn new(name: &str) -> Self {
        let path = cgroup2_mount().expect("cgroup2 mount").join(name);
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TestCgroup { path }
    }

    /// The cgroup's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the child cgroup `name` (drop it before its parent).
    pub fn child(&self, name: &str) -> TestCgroup {
        let path = self.path.join(name);
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TestCgroup { path }
    }

    /// The cgroup's id, as `bpf_get_current_cgroup_id` returns it (its directory's inode).
    pub fn id(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&self.path)
            .expect("cgroup directory")
            .ino()
    }

    /// Runs `command` to completion with the child moved into this cgroup before exec (the
    /// test runner itself stays where it is).
    pub fn run(&self, mut command: Command) -> ExitStatus {
        let procs = CString::new(self.path.join("cgroup.procs").as_os_str().as_bytes()).unwrap();
        // SAFETY: the closure only calls async-signal-safe functions (open, write, close).
        unsafe {
            command.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                libc::close(fd);
                if written != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        command
            .status()
            .expect("spawning a process into the test cgroup")
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir(&self.path) {
            eprintln!("warning: removing cgroup {}: {e}", self.path.display());
        }
    }
}

/// `bash -c script`.
pub fn bash(script: &str) -> Command {
    let mut command = Command::new("bash");
    command.arg("-c").arg(script);
    command
}
