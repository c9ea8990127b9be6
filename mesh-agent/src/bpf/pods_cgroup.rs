//! The cgroup the connect hooks attach to: the pods' subtree, never the root of the cgroup2
//! hierarchy. The root is where Cilium's socket load balancer attaches its own `connect4`/
//! `connect6`, and Cilium may detach programs it does not own there; a hook on the pods'
//! subtree runs beside Cilium's, whichever order the kernel gives them.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::mounts::mount_points;

/// The pods' subtrees kubelet creates under the cgroup2 root: the systemd cgroup driver's
/// (`kubepods.slice`, AKS and most distributions), then cgroupfs's (`kubepods`).
pub const KUBEPODS: [&str; 2] = ["kubepods.slice", "kubepods"];

/// Why a cgroup cannot take the capture programs.
#[derive(Debug, thiserror::Error)]
pub enum PodsCgroupError {
    /// The cgroup named is the root of the cgroup2 hierarchy.
    #[error("--cgroup {0} is the cgroup2 root: Cilium's socket load balancer attaches there and may detach programs it does not own; pass the pods' subtree, e.g. {0}/kubepods.slice")]
    Root(PathBuf),
    /// No pods' subtree found under any cgroup2 root.
    #[error("no kubepods.slice or kubepods under the cgroup2 root ({0}); pass --cgroup with the pods' cgroup subtree")]
    NoPodsSubtree(String),
    /// The mounts table or a cgroup directory could not be read.
    #[error("{context}: {source}")]
    Io {
        /// What was read.
        context: String,
        /// Why it failed.
        source: io::Error,
    },
}

/// Refuses `cgroup` when it is the root of a cgroup2 hierarchy mounted per `mounts` (a table
/// such as `/proc/mounts`): a cgroup2 mount point (the same directory, however spelled) without
/// `cgroup.events`, which the kernel gives every cgroup but the root. A container's own
/// `/sys/fs/cgroup` in a cgroup namespace is a mount point but not the root, so it passes.
pub fn refuse_root(cgroup: &Path, mounts: &Path) -> Result<(), PodsCgroupError> {
    let id = |path: &Path| fs::metadata(path).map(|m| (m.dev(), m.ino()));
    let wanted = id(cgroup).map_err(io_error(format!("reading cgroup {}", cgroup.display())))?;
    let is_root = cgroup2_roots(mounts)?
        .iter()
        .any(|root| id(root).ok() == Some(wanted));
    match is_root {
        true => Err(PodsCgroupError::Root(cgroup.to_path_buf())),
        false => Ok(()),
    }
}

/// The pods' subtree under the first cgroup2 root that has one ([`KUBEPODS`], in that order).
pub fn detect_pods_cgroup(mounts: &Path) -> Result<PathBuf, PodsCgroupError> {
    let roots = cgroup2_roots(mounts)?;
    roots
        .iter()
        .flat_map(|root| KUBEPODS.iter().map(move |name| root.join(name)))
        .find(|dir| dir.is_dir())
        .ok_or_else(|| {
            let shown: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
            PodsCgroupError::NoPodsSubtree(shown.join(", "))
        })
}

/// The cgroup2 mount points of `mounts` that show the hierarchy's root.
fn cgroup2_roots(mounts: &Path) -> Result<Vec<PathBuf>, PodsCgroupError> {
    let table =
        fs::read_to_string(mounts).map_err(io_error(format!("reading {}", mounts.display())))?;
    let mut roots = mount_points(&table, "cgroup2");
    roots.retain(|point| point.is_dir() && !point.join("cgroup.events").exists());
    Ok(roots)
}

fn io_error(context: String) -> impl FnOnce(io::Error) -> PodsCgroupError {
    move |source| PodsCgroupError::Io { context, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A fake hierarchy: `root` (no `cgroup.events`) with `kubepods.slice`, and a namespaced
    /// mount `ns` (with `cgroup.events`), both listed as cgroup2 mounts.
    fn hierarchy(test: &str) -> (Scratch, PathBuf) {
        let name = format!("mesh-pods-cgroup-{}-{test}", std::process::id());
        let dir = Scratch(std::env::temp_dir().join(name));
        let root = dir.path().join("root");
        let pods = root.join("kubepods.slice");
        let ns = dir.path().join("ns");
        for d in [&pods, &ns] {
            fs::create_dir_all(d).unwrap();
            fs::write(d.join("cgroup.events"), "populated 0\n").unwrap();
        }
        let mounts = dir.path().join("mounts");
        let table = format!(
            "tmpfs /tmp tmpfs rw 0 0\ncgroup2 {} cgroup2 rw 0 0\ncgroup2 {} cgroup2 rw 0 0\n",
            ns.display(),
            root.display()
        );
        fs::write(&mounts, table).unwrap();
        (dir, mounts)
    }

    #[test]
    fn the_root_is_refused_however_spelled_and_says_what_to_pass() {
        let (dir, mounts) = hierarchy("root");
        let root = dir.path().join("root");
        let spelled = dir.path().join("root/kubepods.slice/..");
        for cgroup in [&root, &spelled] {
            let err = refuse_root(cgroup, &mounts).unwrap_err().to_string();
            assert!(err.contains("is the cgroup2 root"), "{err}");
            assert!(err.contains("Cilium"), "{err}");
            assert!(err.contains("kubepods.slice"), "{err}");
        }
    }

    #[test]
    fn a_subtree_and_a_namespaced_mount_are_accepted() {
        let (dir, mounts) = hierarchy("subtree");
        refuse_root(&dir.path().join("root/kubepods.slice"), &mounts).unwrap();
        refuse_root(&dir.path().join("ns"), &mounts).unwrap();
    }

    #[test]
    fn the_pods_subtree_is_found_under_the_root_only() {
        let (dir, mounts) = hierarchy("detect");
        let found = detect_pods_cgroup(&mounts).unwrap();
        assert_eq!(found, dir.path().join("root/kubepods.slice"));
        fs::remove_dir_all(dir.path().join("root/kubepods.slice")).unwrap();
        fs::create_dir_all(dir.path().join("ns/kubepods.slice")).unwrap();
        let err = detect_pods_cgroup(&mounts).unwrap_err().to_string();
        assert!(err.contains("pass --cgroup"), "{err}");
    }

    #[test]
    fn this_machines_cgroup2_root_is_refused() {
        let mounts = Path::new("/proc/mounts");
        let Some(root) = cgroup2_roots(mounts).unwrap().into_iter().next() else {
            return eprintln!("skipped: no cgroup2 root mounted here");
        };
        assert!(matches!(
            refuse_root(&root, mounts),
            Err(PodsCgroupError::Root(_))
        ));
    }
}
