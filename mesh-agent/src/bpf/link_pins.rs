//! Pinned links, so a fail-closed agent's capture outlives it. Its cgroup hooks and each enrolled
//! pod's `sk_lookup` link are pinned under `<pin dir>/links/<agent>/` (`<agent>`: the id of its
//! `connect4` program, unique on the kernel while loaded): they stay attached when the agent
//! stops or crashes, and enrolled pods' new connections are refused until an agent is back. The
//! next agent attaches its own links first, then removes the leftovers its own replace — the
//! cgroup hooks at once, a pod's `sk_lookup` when it enrolls that pod — so capture never lapses.
//! A fail-open agent pins nothing and, on exit, removes every leftover.

use aya::programs::links::{FdLink, PinnedLink};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The subdirectory of the pin directory holding the pinned links (map pins sit beside it).
pub const LINKS_DIR: &str = "links";

/// One agent's pinned links, and the leftovers of the agents before it.
#[derive(Debug)]
pub struct LinkPins {
    /// `<pin dir>/links`.
    root: PathBuf,
    /// `<root>/<agent>` when this agent runs fail-closed; `None` when fail-open.
    own: Option<PathBuf>,
    /// This agent's pinned links by name (dropping one closes our fd, the pin keeps it).
    held: Mutex<HashMap<String, PinnedLink>>,
    /// Handed over to a successor: nothing is removed on drop.
    left: AtomicBool,
}

impl LinkPins {
    /// The links of agent `agent` under `pin_dir`; with `fail_closed`, its own directory is
    /// created (bpffs must be mounted).
    pub fn new(pin_dir: &Path, agent: u32, fail_closed: bool) -> io::Result<Self> {
        let root = pin_dir.join(LINKS_DIR);
        let own = fail_closed.then(|| root.join(agent.to_string()));
        if let Some(own) = &own {
            std::fs::create_dir_all(own)?;
        }
        Ok(LinkPins {
            root,
            own,
            held: Mutex::default(),
            left: AtomicBool::new(false),
        })
    }

    /// Whether a fail-closed agent before this one left links pinned under `pin_dir`: its
    /// programs still capture, with the maps pinned beside them, which the next agent reuses.
    pub fn left_behind(pin_dir: &Path) -> bool {
        let agents = std::fs::read_dir(pin_dir.join(LINKS_DIR))
            .into_iter()
            .flatten();
        agents
            .flatten()
            .any(|agent| std::fs::read_dir(agent.path()).is_ok_and(|mut d| d.next().is_some()))
    }

    /// Whether this agent's links are pinned (it runs fail-closed).
    pub fn fail_closed(&self) -> bool {
        self.own.is_some()
    }

    /// Pins `link` as `name` in this agent's directory and holds it. Fail-open: nothing to do
    /// (the caller keeps its links attached only while it runs).
    pub fn keep(&self, name: &str, link: FdLink) -> io::Result<()> {
        let Some(own) = &self.own else {
            return Ok(());
        };
        let path = own.join(name);
        remove_if_present(&path)?;
        let pinned = link.pin(&path).map_err(io::Error::other)?;
        self.held().insert(name.to_string(), pinned);
        Ok(())
    }

    /// Unpins this agent's link `name` (the link detaches once no fd holds it); none is fine.
    pub fn release(&self, name: &str) -> io::Result<()> {
        let Some(pinned) = self.held().remove(name) else {
            return Ok(());
        };
        match pinned.unpin() {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes the pins named `name` that agents before this one left (their links detach);
    /// an agent directory left empty goes too. The paths removed.
    pub fn remove_leftovers(&self, name: &str) -> io::Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        for dir in self.leftover_dirs()? {
            let path = dir.join(name);
            if path.exists() {
                remove_if_present(&path)?;
                removed.push(path);
            }
            // Only succeeds once nothing else is pinned there.
            let _ = std::fs::remove_dir(&dir);
        }
        Ok(removed)
    }

    /// A successor took over with links of its own: this agent's are unpinned (they detach when
    /// the programs are unloaded), and nothing else is removed when this is dropped.
    pub fn hand_over(&self) {
        self.left.store(true, Ordering::Relaxed);
        let names: Vec<String> = self.held().keys().cloned().collect();
        for name in names {
            let _ = self.release(&name);
        }
        if let Some(own) = &self.own {
            let _ = std::fs::remove_dir(own);
        }
    }

    /// The directories of other agents' links.
    fn leftover_dirs(&self) -> io::Result<Vec<PathBuf>> {
        let entries = match std::fs::read_dir(&self.root) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            entries => entries?,
        };
        let mut dirs = Vec::new();
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() && Some(&path) != self.own.as_ref() {
                dirs.push(path);
            }
        }
        dirs.sort();
        Ok(dirs)
    }

    fn held(&self) -> MutexGuard<'_, HashMap<String, PinnedLink>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

impl Drop for LinkPins {
    /// Fail-closed: the pins stay (only our fds close), the programs stay attached. Fail-open:
    /// every pinned link goes, leftovers of a fail-closed predecessor included.
    fn drop(&mut self) {
        if self.left.load(Ordering::Relaxed) || self.own.is_some() {
            return;
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[cfg(test)]
#[path = "link_pins_tests.rs"]
mod tests;
