//! Opens an access-log file beneath its directory: `openat2(RESOLVE_BENEATH)`, so a symlink (or
//! any component) leading out of the directory fails the open instead of writing elsewhere as
//! root. The directory itself is the agent's (`--access-log-dir`) and is created when missing.

use std::fs::File;
use std::path::Path;

use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

/// `relative` opened for appending (created when missing) inside `dir`, never outside it.
pub fn open_beneath(dir: &Path, relative: &Path) -> std::io::Result<File> {
    std::fs::create_dir_all(dir)?;
    let directory = File::open(dir)?;
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_APPEND | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    let how = OpenHow::new()
        .flags(flags)
        .mode(Mode::from_bits_truncate(0o640))
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = openat2(&directory, relative, how).map_err(|errno| {
        let why = format!(
            "{} beneath {}: {errno} (a link out of the directory?)",
            relative.display(),
            dir.display()
        );
        std::io::Error::new(std::io::Error::from(errno).kind(), why)
    })?;
    Ok(File::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn scratch(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("mesh-open-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_file_in_the_directory_is_created_and_appended_to() {
        let dir = scratch("in");
        for line in ["one\n", "two\n"] {
            let mut file = open_beneath(&dir.join("logs"), Path::new("access.log")).unwrap();
            file.write_all(line.as_bytes()).unwrap();
        }
        let text = std::fs::read_to_string(dir.join("logs/access.log")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(text, "one\ntwo\n");
    }

    #[test]
    fn a_symlink_out_of_the_directory_is_refused_and_nothing_is_written_there() {
        let dir = scratch("link");
        let (logs, outside) = (dir.join("logs"), dir.join("outside"));
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, logs.join("escape")).unwrap();
        std::os::unix::fs::symlink(outside.join("f.log"), logs.join("f.log")).unwrap();
        let through_dir = open_beneath(&logs, Path::new("escape/x.log"));
        let through_file = open_beneath(&logs, Path::new("f.log"));
        let written = std::fs::read_dir(&outside).unwrap().count();
        std::fs::remove_dir_all(&dir).unwrap();
        let error = through_dir.expect_err("a link out of the directory");
        assert!(
            error.to_string().contains("escape/x.log beneath"),
            "{error}"
        );
        assert!(through_file.is_err());
        assert_eq!(written, 0);
    }
}
