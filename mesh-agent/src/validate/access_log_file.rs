//! `accessLogFile` (MeshConfig) confined: `/dev/stdout`, `/dev/stderr`, or a file under the
//! agent's access-log directory (`--access-log-dir`). Anything else — a path elsewhere, a `..`
//! — is an error when the MeshConfig is read, so the agent never opens it; a symlink leaving the
//! directory is refused when the file is opened (`access_log::writer`, `RESOLVE_BENEATH`).

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::document::{Problem, RawResource};
use crate::resources::{Resource, MESH_CONFIG_KEY};

/// Where access-log files may go when the agent is not told otherwise.
pub const DEFAULT_ACCESS_LOG_DIR: &str = "/var/log/mesh";

/// Where `accessLogFile` sends access logs, once checked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub enum AccessLogTarget {
    /// Empty: no access log (unless a Telemetry resource turns it on: stdout).
    #[default]
    Off,
    Stdout,
    Stderr,
    /// `relative` opened beneath `dir`, never outside it.
    File {
        dir: PathBuf,
        relative: PathBuf,
    },
}

/// `value` checked against `dir`: the target, or why it is refused.
pub fn access_log_target(value: &str, dir: &Path) -> Result<AccessLogTarget, String> {
    let path = Path::new(value.trim());
    match value.trim() {
        "" => return Ok(AccessLogTarget::Off),
        "/dev/stdout" => return Ok(AccessLogTarget::Stdout),
        "/dev/stderr" => return Ok(AccessLogTarget::Stderr),
        _ => {}
    }
    let refused = |why: &str| {
        format!(
            "{value:?} refused: {why}; use /dev/stdout, /dev/stderr or a file under {} \
             (the agent's --access-log-dir)",
            dir.display()
        )
    };
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(refused("\"..\" is not allowed"));
    }
    match path.strip_prefix(dir) {
        Ok(relative) if path.is_absolute() && relative.components().next().is_some() => {
            Ok(AccessLogTarget::File {
                dir: dir.to_path_buf(),
                relative: relative.to_path_buf(),
            })
        }
        _ => Err(refused("not under the access log directory")),
    }
}

/// The error about `accessLogFile` when `resource` is a MeshConfig whose value `dir` refuses.
pub fn check(raw: &RawResource, resource: &Resource, dir: &Path) -> Option<Problem> {
    let Resource::MeshConfig(mesh) = resource else {
        return None;
    };
    let why = access_log_target(&mesh.access_log_file, dir).err()?;
    let field = format!("data.{MESH_CONFIG_KEY}.accessLogFile");
    Some(Problem::error(raw, field, why))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(value: &str) -> Result<AccessLogTarget, String> {
        access_log_target(value, Path::new("/var/log/mesh"))
    }

    #[test]
    fn stdout_stderr_and_empty_are_taken() {
        assert_eq!(target(""), Ok(AccessLogTarget::Off));
        assert_eq!(target("/dev/stdout"), Ok(AccessLogTarget::Stdout));
        assert_eq!(target(" /dev/stderr "), Ok(AccessLogTarget::Stderr));
    }

    #[test]
    fn a_file_under_the_directory_is_taken_relative_to_it() {
        let expected = AccessLogTarget::File {
            dir: "/var/log/mesh".into(),
            relative: "shop/access.log".into(),
        };
        assert_eq!(target("/var/log/mesh/shop/access.log"), Ok(expected));
    }

    #[test]
    fn anything_else_is_refused_naming_the_value_and_the_directory() {
        for value in [
            "/etc/shadow",
            "/var/log/mesh",
            "/var/log/mesh/",
            "/var/log/meshes/x.log",
            "/var/log/mesh/../../etc/cron.d/x",
            "/var/log/mesh/a/../b.log",
            "var/log/mesh/x.log",
            "access.log",
            "/dev/null",
        ] {
            let why = target(value).expect_err(value);
            assert!(why.starts_with(&format!("{value:?} refused: ")), "{why}");
            assert!(why.contains("/var/log/mesh"), "{why}");
        }
    }
}
