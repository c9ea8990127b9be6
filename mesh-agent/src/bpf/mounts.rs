//! The filesystems the capture layer needs, found through `/proc/mounts`: the cgroup2 hierarchy
//! (where pods' cgroups live) and bpffs (where maps are pinned).

use std::io;
use std::path::{Path, PathBuf};

/// Where bpffs is conventionally mounted.
pub const BPFFS_ROOT: &str = "/sys/fs/bpf";

/// Mount points of filesystems of type `fs_type`, in `/proc/mounts` order.
pub(super) fn mount_points(mounts: &str, fs_type: &str) -> Vec<PathBuf> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            (kind == fs_type).then(|| PathBuf::from(unescape(point)))
        })
        .collect()
}

/// `/proc/mounts` escapes spaces, tabs, newlines and backslashes as octal (`\040`).
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let code = rest.get(pos + 1..pos + 4);
        match code.and_then(|c| u8::from_str_radix(c, 8).ok()) {
            Some(byte) => {
                out.push(byte as char);
                rest = &rest[pos + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[pos + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The mount point of the cgroup2 (unified) hierarchy.
pub fn cgroup2_mount() -> io::Result<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts")?;
    mount_points(&mounts, "cgroup2")
        .into_iter()
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no cgroup2 mount in /proc/mounts"))
}

/// Whether `dir` is where a bpffs is mounted (e.g. `/sys/fs/bpf` itself).
pub fn is_bpffs_mount_point(dir: &Path) -> io::Result<bool> {
    let mounts = std::fs::read_to_string("/proc/mounts")?;
    let dir = std::fs::canonicalize(dir)?;
    Ok(mount_points(&mounts, "bpf").contains(&dir))
}

/// Mounts bpffs at `/sys/fs/bpf` unless it is mounted there already.
pub fn ensure_bpffs() -> io::Result<()> {
    let mounts = std::fs::read_to_string("/proc/mounts")?;
    let root = Path::new(BPFFS_ROOT);
    if mount_points(&mounts, "bpf").iter().any(|p| p == root) {
        return Ok(());
    }
    std::fs::create_dir_all(root)?;
    nix::mount::mount(
        Some("bpf"),
        root,
        Some("bpf"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS: &str = "\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
bpf /sys/fs/bpf bpf rw 0 0
cgroup2 /mnt/my\\040cgroups cgroup2 rw 0 0
";

    #[test]
    fn finds_cgroup2_mounts_in_order() {
        assert_eq!(
            mount_points(MOUNTS, "cgroup2"),
            [
                PathBuf::from("/sys/fs/cgroup/unified"),
                PathBuf::from("/mnt/my cgroups")
            ]
        );
    }

    #[test]
    fn finds_bpffs() {
        assert_eq!(mount_points(MOUNTS, "bpf"), [PathBuf::from("/sys/fs/bpf")]);
        assert!(mount_points("", "bpf").is_empty());
    }
}
