//! Test cgroups under the cgroup2 mount, and processes spawned into them, with the lab's own
//! primitives (`mesh_lab::primitives`).

use mesh_lab::primitives;
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
        let root = primitives::cgroup2_mount().unwrap_or_else(|e| panic!("{e:#}"));
        Self::create(root.join(name))
    }

    fn create(path: PathBuf) -> Self {
        primitives::create_cgroup(&path).unwrap_or_else(|e| panic!("{e:#}"));
        TestCgroup { path }
    }

    /// The cgroup's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the child cgroup `name` (drop it before its parent).
    pub fn child(&self, name: &str) -> TestCgroup {
        Self::create(self.path.join(name))
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
        let enter = primitives::enter_hook(&self.path).unwrap_or_else(|e| panic!("{e:#}"));
        // SAFETY: the hook only calls async-signal-safe functions (open, write, close).
        unsafe { command.pre_exec(enter) };
        command
            .status()
            .expect("spawning a process into the test cgroup")
    }
}

impl Drop for TestCgroup {
    /// Kills what is left in it and removes it (with any child cgroup).
    fn drop(&mut self) {
        if let Err(e) = primitives::remove_tree(&self.path) {
            eprintln!("warning: removing cgroup {}: {e:#}", self.path.display());
        }
    }
}

/// `bash -c script`.
pub fn bash(script: &str) -> Command {
    let mut command = Command::new("bash");
    command.arg("-c").arg(script);
    command
}
