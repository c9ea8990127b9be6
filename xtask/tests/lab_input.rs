//! Privileged lab tests: bad input is refused with an error naming the file and the object,
//! and nothing at all is created.

mod lab_support;

use lab_support::{data, lab_dir, stderr, TestLab};

/// `lab up FILE` fails, its error names the file and every fragment, and nothing exists.
fn refused(lab_name: &str, file: &str, fragments: &[&str]) {
    let Some(lab) = TestLab::new(lab_name) else {
        return;
    };
    let path = data(file).display().to_string();
    let out = lab.xtask(&["up", "--no-build", "--nodes", "2", &path]);
    let err = stderr(&out);
    assert!(!out.status.success(), "accepted {file}");
    assert!(err.contains(&path), "error does not name {path}: {err}");
    for fragment in fragments {
        assert!(err.contains(fragment), "error lacks {fragment:?}: {err}");
    }
    assert_eq!(lab.leftovers(), Vec::<String>::new());
    assert!(!lab_dir(lab_name).exists(), "state dir created");
}

#[test]
fn unknown_kind_is_refused() {
    refused(
        "t-badkind",
        "lab-bad-kind.yaml",
        &["document 2", "StatefulSet/shop/db", "unknown kind"],
    );
}

#[test]
fn container_without_command_is_refused() {
    let fragments = [
        "document 2",
        "Deployment/default/web",
        "container \"web\" has no command",
    ];
    refused("t-nocmd", "lab-bad-no-command.yaml", &fragments);
}

#[test]
fn duplicate_pod_name_is_refused() {
    refused(
        "t-dup",
        "lab-bad-duplicate.yaml",
        &["Pod/shop/web-1", "already exists"],
    );
}

#[test]
fn yaml_syntax_error_is_refused() {
    refused(
        "t-syntax",
        "lab-bad-syntax.yaml",
        &["document 2", "YAML syntax error"],
    );
}

#[test]
fn lab_commands_need_root() {
    let xtask = env!("CARGO_BIN_EXE_xtask");
    let mut cmd = if lab_support::is_root() {
        if !lab_support::has_command("setpriv") {
            eprintln!("skipped: no setpriv command to drop root");
            return;
        }
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            xtask,
        ]);
        cmd
    } else {
        std::process::Command::new(xtask)
    };
    let out = cmd
        .args(["lab", "--lab", "t-noroot", "status"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("the lab needs root"),
        "{}",
        stderr(&out)
    );
}
