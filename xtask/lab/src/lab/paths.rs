//! Where a lab keeps its files: `target/lab/<name>/` (state.json, logs/, config/, exit/).

use crate::build_ebpf::workspace_root;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// The longest lab name: every kernel object name starts with it.
const MAX_LAB_NAME: usize = 24;

/// The directory holding one lab's state, logs and mesh configuration.
#[derive(Clone, Debug)]
pub struct LabDir {
    root: PathBuf,
}

impl LabDir {
    /// The directory of lab `name` (not created).
    pub fn new(name: &str) -> Self {
        LabDir {
            root: labs_dir().join(name),
        }
    }

    /// `target/lab/<name>/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The lab's state (`state.json`).
    pub fn state_file(&self) -> PathBuf {
        self.root.join("state.json")
    }

    /// The mesh resources applied, one file per object (read by the agent).
    pub fn config_dir(&self) -> PathBuf {
        self.root.join("config")
    }

    /// One log per pod: stdout and stderr of all its containers.
    pub fn log_file(&self, namespace: &str, pod: &str) -> PathBuf {
        self.root
            .join("logs")
            .join(format!("{namespace}.{pod}.log"))
    }

    /// Where a container's exit code is written when it exits.
    pub fn exit_file(&self, namespace: &str, pod: &str, container: &str) -> PathBuf {
        self.exit_dir()
            .join(format!("{namespace}.{pod}.{container}"))
    }

    /// The agents' enrollment sockets, one per node.
    pub fn agents_dir(&self) -> PathBuf {
        self.root.join("agents")
    }

    /// The enrollment socket of the agent on `node` (`agents/node-N.sock`).
    pub fn agent_socket(&self, node: &str) -> PathBuf {
        self.agents_dir().join(format!("{node}.sock"))
    }

    /// The admin socket of the agent on `node` (`agents/node-N.admin.sock`).
    pub fn admin_socket(&self, node: &str) -> PathBuf {
        self.agents_dir().join(format!("{node}.admin.sock"))
    }

    /// The log of the agent on `node` (`logs/agent-node-N.log`).
    pub fn agent_log(&self, node: &str) -> PathBuf {
        self.root.join("logs").join(format!("agent-{node}.log"))
    }

    /// The directory of exit-code files.
    pub fn exit_dir(&self) -> PathBuf {
        self.root.join("exit")
    }

    /// Creates the directory tree.
    pub fn create(&self) -> Result<()> {
        let dirs = [
            self.root.join("logs"),
            self.config_dir(),
            self.exit_dir(),
            self.agents_dir(),
        ];
        for dir in dirs {
            std::fs::create_dir_all(&dir)?;
        }
        Ok(())
    }
}

/// `target/lab/`: one directory per lab.
pub fn labs_dir() -> PathBuf {
    target_dir().join("lab")
}

/// The cargo target directory (`CARGO_TARGET_DIR`, else the workspace's `target/`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("target"),
    }
}

/// Directories holding the workspace's binaries, put first on pods' PATH: the running
/// program's profile directory (`target/release` for the benchmarks; for a test binary in
/// `target/debug/deps`, `target/debug`), then `target/debug`.
pub fn bin_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| profile_dir(&exe))
    {
        dirs.push(dir);
    }
    let debug = target_dir().join("debug");
    if !dirs.contains(&debug) {
        dirs.push(debug);
    }
    dirs
}

/// The profile directory a binary was built into: its own directory, or the parent of `deps/`.
fn profile_dir(exe: &Path) -> Option<PathBuf> {
    let dir = exe.parent()?;
    match dir.file_name() {
        Some(name) if name == "deps" => dir.parent().map(Into::into),
        _ => Some(dir.into()),
    }
}

/// A lab name: lowercase letters, digits and `-`, starting with a letter.
pub fn check_lab_name(name: &str) -> Result<()> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let starts_with_letter = name.starts_with(|c: char| c.is_ascii_lowercase());
    if !valid_chars || !starts_with_letter || name.len() > MAX_LAB_NAME || name.ends_with('-') {
        bail!(
            "bad lab name {name:?}: use up to {MAX_LAB_NAME} lowercase letters, digits and '-', \
             starting with a letter"
        );
    }
    Ok(())
}
