//! Reading a file beneath a directory the agent was told to read from (`--tls-file-dir`):
//! `openat2(RESOLVE_BENEATH)`, so a symlink or any component leading out of the directory fails
//! the read instead of handing a node file to whoever named it in a resource.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};

/// The bytes of `relative` inside `dir`, never of a file outside it.
pub fn read_beneath(dir: &Path, relative: &Path) -> std::io::Result<Vec<u8>> {
    let directory = File::open(dir)?;
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = openat2(&directory, relative, how).map_err(|errno| {
        let why = format!(
            "{} beneath {}: {errno} (a link out of the directory?)",
            relative.display(),
            dir.display()
        );
        std::io::Error::new(std::io::Error::from(errno).kind(), why)
    })?;
    let mut bytes = Vec::new();
    File::from(fd).read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_inside_is_read_and_a_link_out_is_refused() {
        let dir = std::env::temp_dir().join(format!("mesh-beneath-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (certs, outside) = (dir.join("certs"), dir.join("outside"));
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(certs.join("ca.pem"), "ca").unwrap();
        std::fs::write(outside.join("secret"), "node secret").unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), certs.join("key.pem")).unwrap();
        std::os::unix::fs::symlink(&outside, certs.join("escape")).unwrap();
        let inside = read_beneath(&certs, Path::new("ca.pem"));
        let through_file = read_beneath(&certs, Path::new("key.pem"));
        let through_dir = read_beneath(&certs, Path::new("escape/secret"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(inside.unwrap(), b"ca");
        assert!(through_file.is_err(), "{through_file:?}");
        let error = through_dir.expect_err("a link out of the directory");
        assert!(
            error.to_string().contains("escape/secret beneath"),
            "{error}"
        );
    }
}
