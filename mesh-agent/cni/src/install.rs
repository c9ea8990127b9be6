//! `mesh-cni install|uninstall`: the plugin binary copied into the node's CNI bin dir and its
//! entry appended to the primary network's configuration; with `--watch`, kept there (checked
//! every second, since a primary plugin such as Cilium rewrites its file) until SIGTERM, which
//! removes both unless `--keep-on-exit`.

use crate::conf_dir::{self, Installed};
use crate::conflist;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often `--watch` looks at the configuration directory.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// The command line, for `--help` and mistakes.
pub const USAGE: &str = "\
usage: mesh-cni install --bin-dir DIR --conf-dir DIR [--agent-socket PATH] [--log-file PATH]
                        [--watch] [--keep-on-exit]
       mesh-cni uninstall --bin-dir DIR --conf-dir DIR
As a CNI plugin its configuration keys are agent_socket (default /run/mesh-agent/enroll.sock),
exclude_namespaces (default [\"kube-system\", \"mesh-system\"]) and log_file.
";

/// What `install` / `uninstall` were given.
#[derive(Debug, Default, PartialEq, Eq)]
struct Options {
    bin_dir: PathBuf,
    conf_dir: PathBuf,
    agent_socket: Option<String>,
    log_file: Option<String>,
    watch: bool,
    keep_on_exit: bool,
}

/// Runs `install` or `uninstall` (`args[0]`).
pub fn main(args: &[String]) -> ExitCode {
    let result = parse(args).and_then(|options| match args[0].as_str() {
        "install" => install(&options),
        _ => uninstall(&options),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mesh-cni {}: {error}", args[0]);
            ExitCode::FAILURE
        }
    }
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options::default();
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let mut value = || {
            rest.next()
                .cloned()
                .ok_or(format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--bin-dir" => options.bin_dir = value()?.into(),
            "--conf-dir" => options.conf_dir = value()?.into(),
            "--agent-socket" => options.agent_socket = Some(value()?),
            "--log-file" => options.log_file = Some(value()?),
            "--watch" => options.watch = true,
            "--keep-on-exit" => options.keep_on_exit = true,
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    for (flag, dir) in [
        ("--bin-dir", &options.bin_dir),
        ("--conf-dir", &options.conf_dir),
    ] {
        if dir.as_os_str().is_empty() {
            return Err(format!("{flag} is required\n{USAGE}"));
        }
        if !dir.is_dir() {
            return Err(format!("{flag} {}: no such directory", dir.display()));
        }
    }
    Ok(options)
}

fn install(options: &Options) -> Result<(), String> {
    copy_binary(&options.bin_dir)?;
    let mut settings = Vec::new();
    if let Some(socket) = &options.agent_socket {
        settings.push(("agent_socket", socket.as_str()));
    }
    if let Some(log) = &options.log_file {
        settings.push(("log_file", log.as_str()));
    }
    let entry = conflist::mesh_entry(&settings);
    let first = conf_dir::ensure_installed(&options.conf_dir, &entry)?;
    report(&first, &options.conf_dir);
    if !options.watch {
        return match first {
            Installed::NoPrimary => Err(no_primary(&options.conf_dir)),
            _ => Ok(()),
        };
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone())
            .map_err(|e| format!("signal handler: {e}"))?;
    }
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(WATCH_INTERVAL);
        if !options.bin_dir.join(conflist::PLUGIN_TYPE).exists() {
            copy_binary(&options.bin_dir)?;
        }
        match conf_dir::ensure_installed(&options.conf_dir, &entry) {
            Ok(Installed::Appended(path)) => eprintln!(
                "mesh-cni: appended again to {} (rewritten without us)",
                path.display()
            ),
            Ok(_) => {}
            Err(error) => eprintln!("mesh-cni: {error}"),
        }
    }
    if options.keep_on_exit {
        eprintln!("mesh-cni: stopping, left installed (--keep-on-exit)");
        return Ok(());
    }
    uninstall(options)
}

fn report(installed: &Installed, dir: &Path) {
    match installed {
        Installed::NoPrimary => eprintln!("mesh-cni: {}; waiting for it", no_primary(dir)),
        Installed::Already(path) => eprintln!("mesh-cni: already in {}", path.display()),
        Installed::Appended(path) => eprintln!("mesh-cni: appended to {}", path.display()),
    }
}

fn no_primary(dir: &Path) -> String {
    format!(
        "no network configuration in {} (*.conflist, *.conf, *.json): the primary network plugin \
         writes one first",
        dir.display()
    )
}

fn uninstall(options: &Options) -> Result<(), String> {
    for path in conf_dir::uninstall(&options.conf_dir)? {
        eprintln!("mesh-cni: removed from {}", path.display());
    }
    let binary = options.bin_dir.join(conflist::PLUGIN_TYPE);
    match std::fs::remove_file(&binary) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("removing {}: {e}", binary.display()))
        }
        _ => Ok(()),
    }
}

/// Copies the running binary to `<bin dir>/mesh-cni` (temp file + rename: a runtime may be
/// executing the old one); nothing to do when it runs from there.
fn copy_binary(bin_dir: &Path) -> Result<(), String> {
    let source = std::env::current_exe().map_err(|e| format!("finding my own binary: {e}"))?;
    let target = bin_dir.join(conflist::PLUGIN_TYPE);
    if source.canonicalize().ok() == target.canonicalize().ok() {
        return Ok(());
    }
    let tmp = bin_dir.join(format!(".{}.mesh-cni-tmp", conflist::PLUGIN_TYPE));
    let copy = || -> std::io::Result<()> {
        std::fs::copy(&source, &tmp)?;
        std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        std::fs::rename(&tmp, &target)
    };
    copy().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("copying {} to {}: {e}", source.display(), target.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn reads_every_flag() {
        let tmp = std::env::temp_dir();
        let t = tmp.to_str().unwrap();
        let got = parse(&args(&[
            "install",
            "--bin-dir",
            t,
            "--conf-dir",
            t,
            "--agent-socket",
            "/s",
            "--log-file",
            "/l",
            "--watch",
            "--keep-on-exit",
        ]))
        .unwrap();
        let want = Options {
            bin_dir: tmp.clone(),
            conf_dir: tmp.clone(),
            agent_socket: Some("/s".into()),
            log_file: Some("/l".into()),
            watch: true,
            keep_on_exit: true,
        };
        assert_eq!(got, want);
    }

    #[test]
    fn names_what_is_wrong() {
        let t = std::env::temp_dir();
        let t = t.to_str().unwrap();
        let err = parse(&args(&["install", "--conf-dir", t])).unwrap_err();
        assert!(err.starts_with("--bin-dir is required"), "{err}");
        let err = parse(&args(&[
            "install",
            "--bin-dir",
            "/nonexistent/x",
            "--conf-dir",
            t,
        ]))
        .unwrap_err();
        assert!(
            err.starts_with("--bin-dir /nonexistent/x: no such directory"),
            "{err}"
        );
        let err = parse(&args(&["install", "--bin-dir"])).unwrap_err();
        assert!(err.starts_with("--bin-dir needs a value"), "{err}");
        let err = parse(&args(&["install", "--frobnicate"])).unwrap_err();
        assert!(
            err.starts_with("unknown argument \"--frobnicate\""),
            "{err}"
        );
    }
}
