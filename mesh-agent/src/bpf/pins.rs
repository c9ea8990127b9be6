//! Map pins under the agent's per-node directory (`/sys/fs/bpf/mesh/<node>/<MAP>`), so
//! operators and tools can read the maps, and several agents on one kernel don't collide.
//! The pins are removed when the agent's programs are unloaded; pins a crashed agent left
//! (maps of its run, of any name) are removed when the next one starts — unless it hands over:
//! then its successor loads the maps from the pins and they stay.

use aya::Ebpf;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The pinned maps of one loaded object; removes them on drop.
#[derive(Debug)]
pub struct MapPins {
    dir: PathBuf,
    files: Vec<PathBuf>,
    /// Left in place on drop: a successor agent uses the maps now.
    left: AtomicBool,
}

impl MapPins {
    /// Pins every named map of `ebpf` under `dir` (created if needed), after removing every
    /// pin a previous agent of this node left behind (a crash leaves them: the maps and their
    /// stale entries live on while pinned). `dir` is this node's agent's alone; a bpffs mount
    /// point itself is refused, so other tools' pins are never touched.
    ///
    /// With `shared`, the pins are a running predecessor's, whose maps this agent shares (the
    /// loader reused them, [`pinned_maps`]): nothing is cleared.
    pub fn pin_all(ebpf: &Ebpf, dir: &Path, shared: bool) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let stale = match shared {
            true => Vec::new(),
            false => clear_stale(dir)?,
        };
        if !stale.is_empty() {
            tracing::info!(dir = %dir.display(), ?stale, "removed the pins a previous agent of this node left");
        }
        let mut pins = MapPins {
            dir: dir.to_path_buf(),
            files: Vec::new(),
            left: AtomicBool::new(false),
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

    /// Leaves the pins in place when dropped: a successor shares the maps.
    pub fn leave(&self) {
        self.left.store(true, Ordering::Relaxed);
    }
}

/// The maps pinned in `dir` (the names of its pin files), for a successor to load them from.
pub fn pinned_maps(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(names)
}

/// Removes the pinned objects directly in `dir` (subdirectories are left alone); their names.
/// Refuses a bpffs mount point: only a directory of the agent's own is cleared.
pub fn clear_stale(dir: &Path) -> io::Result<Vec<String>> {
    if super::mounts::is_bpffs_mount_point(dir)? {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a bpffs mount point: pin the maps in a directory of their own (the default \
                 is /sys/fs/bpf/mesh/<node>)",
                dir.display()
            ),
        ));
    }
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            continue;
        }
        remove_if_present(&entry.path())?;
        removed.push(entry.file_name().to_string_lossy().into_owned());
    }
    removed.sort();
    Ok(removed)
}

fn remove_if_present(file: &Path) -> io::Result<()> {
    match std::fs::remove_file(file) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

impl Drop for MapPins {
    fn drop(&mut self) {
        if self.left.load(Ordering::Relaxed) {
            return;
        }
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
        // Only succeeds when nothing else lives there.
        let _ = std::fs::remove_dir(&self.dir);
    }
}
