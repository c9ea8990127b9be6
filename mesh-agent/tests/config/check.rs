//! `mesh-agent check`: one line per problem, exit 1 on errors, 0 otherwise (warnings too).

use std::process::Command;

use crate::harness::config::fixture;

/// Exit code and output of `mesh-agent check PATHS`, which never panics whatever it reads.
fn check(paths: &[std::path::PathBuf]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_mesh-agent"))
        .arg("check")
        .args(paths)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[test]
fn valid_resources_exit_0_and_print_nothing() {
    let (code, out) = check(&[fixture("valid")]);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn errors_exit_1_with_one_line_each() {
    let (code, out) = check(&[fixture("valid"), fixture("invalid/errors.yaml")]);
    assert_eq!(code, 1);
    assert_eq!(out.lines().count(), 10, "{out}");
    let file = fixture("invalid/errors.yaml").display().to_string();
    let first = format!("{file}:14:11: VirtualService/default/unknown-subset: spec.hosts[0]: ");
    assert!(out.lines().next().unwrap().starts_with(&first), "{out}");
}

#[test]
fn a_typo_exits_1_at_the_line_and_column_of_the_field() {
    let file = fixture("invalid/typo.yaml");
    let (code, out) = check(std::slice::from_ref(&file));
    assert_eq!(code, 1);
    assert_eq!(
        out.trim(),
        format!(
            "{}:10:5: VirtualService/default/ratings: spec.http[0].timout: unknown field (a typo?)",
            file.display()
        )
    );
}

#[test]
fn protobuf_field_names_are_valid() {
    let dir = std::env::temp_dir().join(format!("mesh-check-snake-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("egress.yaml");
    let egress = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: cnn}\n\
                  spec:\n  hosts: [edition.cnn.com]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n\
                  \x20 resolution: DNS\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n\
                  metadata: {name: cnn}\nspec:\n  hosts: [edition.cnn.com]\n  tls:\n  - match:\n\
                  \x20   - port: 443\n      sni_hosts: [edition.cnn.com]\n    route:\n\
                  \x20   - destination: {host: edition.cnn.com, port: {number: 443}}\n";
    std::fs::write(&file, egress).unwrap();
    let (code, out) = check(std::slice::from_ref(&file));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn warnings_alone_exit_0() {
    let dir = std::env::temp_dir().join(format!("mesh-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("dangling.yaml");
    std::fs::write(&file, "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\nspec:\n  hosts: [v]\n  http:\n  - route:\n    - destination: {host: nowhere}\n").unwrap();
    let (code, out) = check(std::slice::from_ref(&file));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 0);
    assert_eq!(
        out.trim(),
        format!(
            "{}:8:21: VirtualService/default/v: spec.http[0].route[0].destination.host: warning: \
             host \"nowhere\" is not a Service or ServiceEntry host",
            file.display()
        )
    );
}

#[test]
fn a_syntax_error_exits_1_naming_file_line_and_column() {
    let dir = std::env::temp_dir().join(format!("mesh-check-syntax-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broken.yml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: [x\n",
    )
    .unwrap();
    let (code, out) = check(std::slice::from_ref(&dir));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 1);
    assert_eq!(
        out.trim(),
        format!("{}:4:9: unclosed bracket '['", file.display())
    );
}

#[test]
fn consecutive_errors_alone_is_a_warning_naming_file_line_column_and_rule() {
    let dir = std::env::temp_dir().join(format!("mesh-check-outlier-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("outlier.yaml");
    let rule = |name: &str, outlier: &str| {
        format!(
            "apiVersion: networking.istio.io/v1alpha3\nkind: DestinationRule\n\
             metadata: {{name: {name}, namespace: shop}}\nspec:\n  host: \"*.example\"\n\
             \x20 trafficPolicy:\n    outlierDetection: {outlier}\n"
        )
    };
    let text = rule("fine", "{consecutive5xxErrors: 1}")
        + "---\n"
        + &rule("old", "{consecutiveErrors: 1, interval: 1s}");
    std::fs::write(&file, text).unwrap();
    let (code, out) = check(std::slice::from_ref(&file));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 0, "a warning does not fail the check");
    assert_eq!(
        out.trim(),
        format!(
            "{}:15:24: DestinationRule/shop/old: spec.trafficPolicy.outlierDetection.consecutiveErrors: \
             warning: consecutiveErrors counts only 502/503/504: a backend answering 500 is never \
             ejected; use consecutive5xxErrors",
            file.display()
        )
    );
}

#[test]
fn values_past_their_range_exit_1_with_one_line_each() {
    let file = fixture("invalid/out_of_range.yaml");
    let (code, out) = check(std::slice::from_ref(&file));
    assert_eq!(code, 1);
    let out = out.replace(&file.display().to_string(), "f");
    let forever = "invalid duration \"100000000000000000000s\": out of range (at most 2562047h47m16.854775807s)";
    let int32 = "is out of range (0 to 2147483647)";
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            format!("f:8:5: VirtualService/default/forever: spec.http[0].timeout: {forever}"),
            "f:20:7: VirtualService/default/shares: spec.http[0].route[0].weight: 4294967295 is out of range (0 to 100)".into(),
            "f:24:45: VirtualService/default/shares: spec.http[0].fault.abort.percentage.value: 150 is not a percentage (0 to 100)".into(),
            format!("f:25:15: VirtualService/default/shares: spec.http[0].retries.attempts: 3000000000 {int32}"),
            format!("f:35:34: DestinationRule/default/cookie: spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.ttl: {forever}"),
            format!("f:43:28: DestinationRule/default/pool: spec.trafficPolicy.connectionPool.tcp.maxConnections: 4294967295 {int32}"),
            "f:44:49: DestinationRule/default/pool: spec.trafficPolicy.outlierDetection.maxEjectionPercent: 101 is not a percentage (0 to 100)".into(),
            "f:50:12: Service/default/wraps: spec.ports[0].port: 65616 is not a port number (1 to 65535)".into(),
        ]
    );
}
