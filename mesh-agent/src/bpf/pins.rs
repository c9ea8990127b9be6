//! Map pins under the agent's per-node directory (`/sys/fs/bpf/mesh/<node>/<MAP>`), so
//! operators and tools can read the maps, and several agents on one kernel don't collide.
//! The pins are removed when the agent's programs are unloaded.

use aya::Ebpf;
use std::io;
use std::path::{Path, PathBuf};

/// The pinned maps of one loaded object; removes them on drop.
#[derive(Debug)]
pub struct MapPins {
    dir: PathBuf,
    files: Vec<PathBuf>,
}

impl MapPins {
    /// Pins every named map of `ebpf` under `dir` (created if needed), replacing stale pins
    /// a previous agent of this node left behind.
    pub fn pin_all(ebpf: &Ebpf, dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut pins = MapPins {
            dir: dir.to_path_buf(),
            files: Vec::new(),
        };
        // Sections such as `.rodata` are not maps of ours.
        for (name, map) in ebpf.maps().filter(|(name, _)| !name.starts_with('.')) {
            let file = dir.join(name);
            remove_if_present(&file)?;
            map.pin(&file).map_err(io::Error::other)?;
            pins.files.push(file);
        }
        Ok(pins)
    }

    /// The directory holding the pins.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn remove_if_present(file: &Path) -> io::Result<()> {
    match std::fs::remove_file(file) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

impl Drop for MapPins {
    fn drop(&mut self) {
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
        // Only succeeds when nothing else lives there.
        let _ = std::fs::remove_dir(&self.dir);
    }
}
