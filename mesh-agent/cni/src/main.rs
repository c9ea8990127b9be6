//! `mesh-cni`: the mesh's chained CNI plugin (run by the container runtime with `CNI_COMMAND`),
//! and its installer (`mesh-cni install|uninstall`, run by the DaemonSet).

mod conf_dir;
mod conflist;
mod enrollment;
mod env;
mod install;
mod log;
mod netconf;
mod plugin;

use std::io::{Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("install" | "uninstall") => install::main(&args),
        Some("--help" | "-h" | "help") => {
            print!("{}", install::USAGE);
            ExitCode::SUCCESS
        }
        _ => run_plugin(),
    }
}

/// One CNI invocation: configuration on stdin, result or error result on stdout.
fn run_plugin() -> ExitCode {
    let var = |name: &str| std::env::var(name).ok();
    if var("CNI_COMMAND").is_none() {
        eprint!(
            "mesh-cni is a CNI plugin: the container runtime runs it with CNI_COMMAND set.\n\n{}",
            install::USAGE
        );
        return ExitCode::FAILURE;
    }
    let mut stdin = Vec::new();
    let read = std::io::stdin().read_to_end(&mut stdin);
    let (outcome, conf) = plugin::invoke(&var, &stdin);
    if let Err(error) = read {
        eprintln!("mesh-cni: reading stdin: {error}");
    }
    if let Some(file) = conf.as_ref().and_then(|c| c.log_file.as_deref()) {
        let container = var("CNI_CONTAINERID").unwrap_or_default();
        log::append(file, &container, &outcome.summary);
    }
    let mut out = std::io::stdout().lock();
    let _ = out
        .write_all(outcome.stdout.as_bytes())
        .and_then(|()| out.flush());
    if outcome.success {
        ExitCode::SUCCESS
    } else {
        eprintln!("mesh-cni: {}", outcome.summary);
        ExitCode::FAILURE
    }
}
