//! Where the agent finds the compiled kernel programs.

use std::path::{Path, PathBuf};

/// Environment variable naming the object (the `--bpf-object` flag reads it too).
pub const BPF_OBJECT_ENV: &str = "MESH_BPF_OBJECT";

/// File name of the object when shipped next to the agent.
const SHIPPED_NAME: &str = "mesh-ebpf.o";

/// The object to load: `flag` (the `--bpf-object` flag) when given, else `$MESH_BPF_OBJECT`,
/// else `<exe dir>/mesh-ebpf.o`, else the dev layout
/// `<exe dir>/../bpfel-unknown-none/release/mesh-ebpf` (`cargo xtask build-ebpf --release`).
/// The last candidate is returned even when missing, so the error names where it looked.
pub fn resolve_object(flag: Option<&Path>) -> PathBuf {
    if let Some(path) = flag {
        return path.to_path_buf();
    }
    if let Some(path) = std::env::var_os(BPF_OBJECT_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(path);
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    candidates(&exe_dir)
        .into_iter()
        .find(|path| path.is_file())
        .unwrap_or_else(|| dev_object(&exe_dir))
}

/// The default places, in order, relative to the executable's directory.
fn candidates(exe_dir: &Path) -> [PathBuf; 2] {
    [exe_dir.join(SHIPPED_NAME), dev_object(exe_dir)]
}

fn dev_object(exe_dir: &Path) -> PathBuf {
    exe_dir.join("../bpfel-unknown-none/release/mesh-ebpf")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_wins() {
        let flag = Path::new("/opt/mesh/custom.o");
        assert_eq!(resolve_object(Some(flag)), flag);
    }

    #[test]
    fn shipped_object_comes_before_the_dev_layout() {
        let [shipped, dev] = candidates(Path::new("/opt/mesh/bin"));
        assert_eq!(shipped, Path::new("/opt/mesh/bin/mesh-ebpf.o"));
        assert_eq!(
            dev,
            Path::new("/opt/mesh/bin/../bpfel-unknown-none/release/mesh-ebpf")
        );
    }
}
