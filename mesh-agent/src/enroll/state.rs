//! The agent's record of its enrolled pods on the node (`--state-dir`): one JSON file per pod,
//! `<namespace>_<name>.json`, written whole (temp file + rename) when it is enrolled and removed
//! when it is released. A restarted agent reads them to find its pods' netns again. A file that
//! cannot be read is reported by name and skipped, never fatal.

use std::io;
use std::path::{Path, PathBuf};

use crate::pods::PodToEnroll;

/// The state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// The directory at `dir`, created (root only) if missing.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn file(&self, namespace: &str, name: &str) -> PathBuf {
        // Namespaces and pod names are DNS labels/subdomains: no `_` or `/` in either.
        self.dir.join(format!("{namespace}_{name}.json"))
    }

    /// Records `pod`, replacing its previous record at once.
    pub fn write(&self, pod: &PodToEnroll) -> io::Result<()> {
        let path = self.file(&pod.namespace, &pod.name);
        let temp = path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(pod).map_err(io::Error::other)?;
        std::fs::write(&temp, text)?;
        std::fs::rename(&temp, &path)
    }

    /// Forgets `namespace/name` (also when it had no record).
    pub fn remove(&self, namespace: &str, name: &str) -> io::Result<()> {
        match std::fs::remove_file(self.file(namespace, name)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    /// Every record, and a line per file that could not be read (`file: what is wrong`).
    pub fn read_all(&self) -> (Vec<PodToEnroll>, Vec<String>) {
        let (mut records, mut problems) = (Vec::new(), Vec::new());
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) => return (records, vec![format!("{}: {error}", self.dir.display())]),
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
        {
            match read_record(path) {
                Ok(record) => records.push(record),
                Err(error) => problems.push(format!("{}: {error}", path.display())),
            }
        }
        (records, problems)
    }
}

fn read_record(path: &Path) -> Result<PodToEnroll, String> {
    let text = std::fs::read(path).map_err(|e| e.to_string())?;
    let record: PodToEnroll = serde_json::from_slice(&text).map_err(|e| e.to_string())?;
    let expected = format!("{}_{}.json", record.namespace, record.name);
    if path.file_name().and_then(|n| n.to_str()) != Some(expected.as_str()) {
        return Err(format!(
            "holds pod {} (expected file {expected})",
            record.key()
        ));
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str) -> PodToEnroll {
        PodToEnroll {
            namespace: "shop".into(),
            name: name.into(),
            uid: "u1".into(),
            container_id: Some("c1".into()),
            netns: "/var/run/netns/cni-1".into(),
            ips: vec!["10.244.1.5".parse().unwrap(), "fd00::5".parse().unwrap()],
            node_ips: vec!["10.244.1.1".parse().unwrap()],
        }
    }

    fn temp_dir(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mesh-state-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn records_round_trip_and_go_on_remove() {
        let dir = temp_dir("round-trip");
        let state = StateDir::open(&dir).unwrap();
        state.write(&record("web-0")).unwrap();
        state.write(&record("web-1")).unwrap();
        let (records, problems) = state.read_all();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(records, [record("web-0"), record("web-1")]);
        state.remove("shop", "web-0").unwrap();
        state.remove("shop", "web-0").unwrap();
        assert_eq!(state.read_all().0, [record("web-1")]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn corrupt_and_misnamed_files_are_reported_by_name() {
        let dir = temp_dir("corrupt");
        let state = StateDir::open(&dir).unwrap();
        state.write(&record("web-0")).unwrap();
        std::fs::write(dir.join("shop_broken.json"), "{not json").unwrap();
        std::fs::copy(dir.join("shop_web-0.json"), dir.join("shop_other.json")).unwrap();
        let (records, problems) = state.read_all();
        assert_eq!(records, [record("web-0")]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("shop_broken.json: key must be a string"),
            "{problems:?}"
        );
        assert!(
            problems[1]
                .ends_with("shop_other.json: holds pod shop/web-0 (expected file shop_web-0.json)"),
            "{problems:?}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
