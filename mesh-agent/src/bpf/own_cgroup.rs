//! The agent's own cgroup id: how the connect hooks know the agent's sockets. A pod cannot move
//! itself into the agent's cgroup, whereas any socket option it can set (a mark) it can forge.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// The cgroup id (what `bpf_get_current_cgroup_id` returns: the kernfs inode of the cgroup's
/// directory) of the cgroup this process runs in.
pub fn own_cgroup_id() -> io::Result<u64> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup")?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    let dir = own_cgroup_dir(&cgroup, &mountinfo)?;
    Ok(std::fs::metadata(&dir)?.ino())
}

/// The directory of this process's cgroup v2 (`0::<path>` in `/proc/self/cgroup`) under a
/// cgroup2 mount that shows it. Both the path and each mount's root (field 4 of `mountinfo`) are
/// relative to this process's cgroup namespace, so this also holds in a container with a
/// private cgroup namespace (its own `/sys/fs/cgroup` is rooted at its cgroup), where a
/// host-path mount of the host's hierarchy shows a root outside the namespace (`/..`).
fn own_cgroup_dir(cgroup: &str, mountinfo: &str) -> io::Result<PathBuf> {
    let path = cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .ok_or_else(|| not_found("no cgroup v2 entry (0::) in /proc/self/cgroup"))?;
    cgroup2_mounts(mountinfo)
        .find_map(|(root, point)| below(path, &root).map(|rest| point.join(rest)))
        .ok_or_else(|| {
            not_found(&format!(
                "no cgroup2 mount shows this process's cgroup {path}"
            ))
        })
}

/// `(root, mount point)` of every cgroup2 mount in a `mountinfo` table.
fn cgroup2_mounts(mountinfo: &str) -> impl Iterator<Item = (String, PathBuf)> + '_ {
    mountinfo.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        let separator = fields.iter().position(|f| *f == "-")?;
        (fields.get(separator + 1) == Some(&"cgroup2"))
            .then(|| (unescape(fields[3]), PathBuf::from(unescape(fields[4]))))
    })
}

/// `path` relative to `root` (without its leading `/`), when `path` lies at or below `root`.
fn below<'a>(path: &'a str, root: &str) -> Option<&'a str> {
    if root.starts_with("/..") {
        return None;
    }
    let rest = path.strip_prefix(root.trim_end_matches('/'))?;
    match rest {
        "" => Some(""),
        rest => rest.strip_prefix('/'),
    }
}

/// `mountinfo` escapes spaces, tabs, newlines and backslashes as octal (`\040`).
fn unescape(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

fn not_found(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "\
25 1 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
26 1 0:24 / /sys/fs/bpf rw - bpf bpf rw
";

    #[test]
    fn on_the_host_the_path_is_joined_to_the_mount() {
        let dir = own_cgroup_dir("0::/mesh-lab/agents/node-1\n", HOST).unwrap();
        assert_eq!(
            dir,
            PathBuf::from("/sys/fs/cgroup/unified/mesh-lab/agents/node-1")
        );
    }

    #[test]
    fn the_root_cgroup_is_the_mount_itself() {
        let dir = own_cgroup_dir("0::/\n", HOST).unwrap();
        assert_eq!(dir, PathBuf::from("/sys/fs/cgroup/unified/"));
    }

    #[test]
    fn in_a_private_cgroup_namespace_the_hosts_hierarchy_is_skipped() {
        let container = "\
700 600 0:30 /../../.. /host/sys/fs/cgroup rw - cgroup2 cgroup2 rw
701 600 0:30 / /sys/fs/cgroup ro - cgroup2 cgroup ro
";
        let dir = own_cgroup_dir("0::/\n", container).unwrap();
        assert_eq!(dir, PathBuf::from("/sys/fs/cgroup/"));
    }

    #[test]
    fn a_mount_of_a_sibling_subtree_does_not_show_the_cgroup() {
        let mounts = "30 1 0:23 /other /mnt/other rw - cgroup2 cgroup2 rw\n";
        assert!(own_cgroup_dir("0::/otherwise/agent\n", mounts).is_err());
        assert!(own_cgroup_dir("0::/agent\n", "").is_err());
    }

    #[test]
    fn cgroup_v1_lines_are_ignored() {
        let err = own_cgroup_dir("1:name=systemd:/user.slice\n", HOST).unwrap_err();
        assert!(err.to_string().contains("0::"), "{err}");
    }

    #[test]
    fn this_process_has_a_cgroup_id() {
        // Every process has one where cgroup v2 is mounted; ids start at 1.
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        if !mounts.contains(" cgroup2 ") {
            println!("skipped: no cgroup2 mount");
            return;
        }
        assert!(own_cgroup_id().unwrap() >= 1);
    }
}
