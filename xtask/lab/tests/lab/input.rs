//! Privileged lab tests: bad input is refused with an error naming the file and the object,
//! and nothing at all is created.

use crate::support::{data, lab_dir, TestLab};

/// `lab up FILE` fails, its error names the file and every fragment, and nothing exists.
fn refused(lab_name: &str, file: &str, fragments: &[&str]) {
    let Some(lab) = TestLab::new(lab_name) else {
        return;
    };
    let path = data(file);
    let err = match lab.try_up(2, std::slice::from_ref(&path)) {
        Ok(()) => panic!("accepted {file}"),
        Err(err) => format!("{err:#}"),
    };
    let path = path.display().to_string();
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
