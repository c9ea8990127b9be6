//! `mesh-agent authz check`: the policies in scope of a pod and the decision on a described
//! request, with the rule that made it and what dry-run policies say.

use std::process::Command;

use crate::harness::config::fixture;

/// Exit code and output of `mesh-agent authz check` over the authorization fixtures.
fn authz_check(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_mesh-agent"))
        .args(["authz", "check"])
        .arg(fixture("authz/policies.yaml"))
        .arg(fixture("authz/pods.yaml"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

const SCOPE: &str = "policies in scope of shop/web-0:
  DENY   shop/audit-writes: 1 rule(s) (dry run)
  CUSTOM shop/ext: 1 rule(s), provider opa
  DENY   shop/no-admin: 1 rule(s)
  ALLOW  shop/web-readers: 1 rule(s)
";

#[test]
fn an_allowed_request_names_the_allow_rule() {
    let request = [
        "--pod",
        "shop/web-0",
        "--port",
        "8080",
        "--from",
        "shop/cart-0",
        "--method",
        "GET",
        "--path",
        "/api/v1/items",
        "--header",
        "x-team=blue",
    ];
    let (code, out, _) = authz_check(&request);
    assert_eq!(code, 0);
    let decision = "custom: provider opa decides first (by ns[shop]-policy[ext]-rule[0])\n\
                    decision: ALLOW (by ns[shop]-policy[web-readers]-rule[0])\n\
                    dry run: the DENY policies would allow (no rule matched)\n";
    assert_eq!(out, format!("{SCOPE}{decision}"));
}

#[test]
fn a_denied_request_names_the_deny_rule_after_normalizing_the_path() {
    let request = [
        "--pod",
        "shop/web-0",
        "--port",
        "8080",
        "--source-ip",
        "10.0.0.9",
        "--method",
        "POST",
        "--path",
        "/public/../admin",
    ];
    let (_, out, _) = authz_check(&request);
    let decision = "custom: provider opa decides first (by ns[shop]-policy[ext]-rule[0])\n\
                    decision: DENY (by ns[shop]-policy[no-admin]-rule[0])\n\
                    dry run: the DENY policies would deny (ns[shop]-policy[audit-writes]-rule[0])\n";
    assert_eq!(out, format!("{SCOPE}{decision}"));
}

#[test]
fn an_opaque_tcp_connection_meets_the_http_only_deny_rule() {
    let request = [
        "--pod",
        "shop/web-0",
        "--port",
        "9000",
        "--from",
        "shop/cart-0",
    ];
    let (_, out, _) = authz_check(&request);
    let decision = "decision: DENY (by ns[shop]-policy[no-admin]-rule[0])\n\
                    dry run: the DENY policies would allow (no rule matched)\n";
    assert_eq!(out, format!("{SCOPE}{decision}"));
}

#[test]
fn an_unknown_pod_is_an_error_naming_it() {
    let (code, _, err) = authz_check(&[
        "--pod",
        "shop/web-9",
        "--port",
        "80",
        "--source-ip",
        "1.2.3.4",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no pod shop/web-9 with an IP in the files"),
        "{err}"
    );
}
