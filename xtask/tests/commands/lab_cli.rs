//! The lab CLI as a user without root meets it: every lab command refuses, saying why.

use std::process::Command;

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

fn has_command(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn lab_commands_need_root() {
    let mut cmd = if is_root() {
        if !has_command("setpriv") {
            eprintln!("skipped: no setpriv command to drop root");
            return;
        }
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            XTASK,
        ]);
        cmd
    } else {
        Command::new(XTASK)
    };
    let out = cmd
        .args(["lab", "--lab", "t-noroot", "status"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("the lab needs root"), "{stderr}");
}
