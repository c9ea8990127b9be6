//! Help texts name features, never the project's issue numbers.

use std::process::Command;

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

/// `xtask ARGS... --help`.
fn help(args: &[&str]) -> String {
    let out = Command::new(XTASK)
        .args(args)
        .arg("--help")
        .output()
        .expect("xtask runs");
    assert!(out.status.success(), "{args:?} --help: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn help_texts_name_features_not_issue_numbers() {
    let commands: [&[&str]; 13] = [
        &[],
        &["lab"],
        &["lab", "up"],
        &["lab", "exec"],
        &["lab", "top"],
        &["demo"],
        &["bench"],
        &["bench", "l4"],
        &["bench", "http"],
        &["bench", "config"],
        &["build-ebpf"],
        &["fuzz"],
        &["test"],
    ];
    for args in commands {
        let text = help(args).to_lowercase();
        for word in ["issue #", "issues #", "(issue"] {
            assert!(
                !text.contains(word),
                "xtask {args:?} --help says {word:?}:\n{text}"
            );
        }
    }
    assert!(
        help(&["bench"]).contains("L4"),
        "bench --help names its suites"
    );
}
