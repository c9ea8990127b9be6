//! `mesh-agent check`: one line per problem, exit 1 on errors, 0 otherwise (warnings too, among
//! them what the mesh does not act on); `accessLogFile` outside `--access-log-dir` is an error.

use std::process::Command;

use crate::harness::config::{fixture, mesh_config};

/// Exit code and output of `mesh-agent check PATHS`, which never panics whatever it reads.
fn check(paths: &[std::path::PathBuf]) -> (i32, String) {
    check_with(&[], paths)
}

/// [`check`] with `flags` before the paths.
fn check_with(flags: &[&str], paths: &[std::path::PathBuf]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_mesh-agent"))
        .arg("check")
        .args(flags)
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
    // Read as `sniHosts` (the match is valid: its SNI host is covered): nothing to report.
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.trim(), "", "TLS routes are applied: no finding");
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
            "f:18:5: VirtualService/default/shares: spec.http[0].route: weights add up to 4294967296, more than 2147483647".into(),
            format!("f:20:7: VirtualService/default/shares: spec.http[0].route[0].weight: 4294967295 {int32}"),
            "f:24:45: VirtualService/default/shares: spec.http[0].fault.abort.percentage.value: 150 is not a percentage (0 to 100)".into(),
            format!("f:25:15: VirtualService/default/shares: spec.http[0].retries.attempts: 3000000000 {int32}"),
            format!("f:35:34: DestinationRule/default/cookie: spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.ttl: {forever}"),
            format!("f:43:28: DestinationRule/default/pool: spec.trafficPolicy.connectionPool.tcp.maxConnections: 4294967295 {int32}"),
            "f:44:49: DestinationRule/default/pool: spec.trafficPolicy.outlierDetection.maxEjectionPercent: 101 is not a percentage (0 to 100)".into(),
            "f:50:12: Service/default/wraps: spec.ports[0].port: 65616 is not a port number (1 to 65535)".into(),
        ]
    );
}

#[test]
fn the_tutorials_authentication_policy_is_deprecated_and_its_replacement_printed() {
    let file = fixture("legacy/jwt-policy.yaml");
    let (code, out) = check(std::slice::from_ref(&file));
    assert_eq!(code, 0, "warnings alone: {out}");
    let at = |place: &str| format!("{}:{place}: Policy/foo/jwt-example: ", file.display());
    let lines: Vec<&str> = out.lines().collect();
    let deprecated = at("17:1") + "kind: warning: kind authentication.istio.io/Policy is deprecated: removed in Istio 1.6; applied as";
    assert!(lines[0].starts_with(&deprecated), "{out}");
    let replacement =
        at("21:1") + "spec: warning: applied as the resources below; apply them instead:";
    assert_eq!(lines[1], replacement);
    let yaml = out.split_once("apply them instead:\n").unwrap().1;
    let documents: Vec<&str> = yaml.split("---\n").skip(1).collect();
    let kinds: Vec<&str> = documents.iter().filter_map(|d| d.lines().nth(1)).collect();
    assert_eq!(
        kinds,
        [
            "kind: PeerAuthentication",
            "kind: RequestAuthentication",
            "kind: AuthorizationPolicy"
        ]
    );
    assert!(
        out.contains("        notRequestPrincipals:\n        - '*'\n"),
        "{out}"
    );
    assert!(
        out.contains("        notPaths:\n        - /health\n"),
        "{out}"
    );
    let notes = [
        at("30:7") + "spec.origins[0].jwt.triggerRules: warning: triggerRules now only decide",
        at("33:3") + "spec.principalBinding: warning: no equivalent:",
    ];
    for note in notes {
        assert!(out.lines().any(|l| l.starts_with(&note)), "{note}\n{out}");
    }
}

#[test]
fn a_destination_rule_with_istio_mutual_tls_is_a_warning_naming_the_field() {
    let file = fixture("unsupported/productpage-tls.yaml");
    let (code, out) = check(std::slice::from_ref(&file));
    assert_eq!(code, 0, "warnings alone: {out}");
    let line = format!(
        "{}:19:7: DestinationRule/default/productpage: spec.trafficPolicy.tls.mode: warning: not \
         supported by the mesh; ignored: ISTIO_MUTUAL is the mesh's own tunnel between agents: \
         the rule originates no TLS itself",
        file.display()
    );
    assert_eq!(out.trim(), line);
}

#[test]
fn authorization_policies_warn_only_where_istio_does_or_the_mesh_cannot_apply_them() {
    let file = fixture("authz/policies.yaml");
    let (code, out) = check(std::slice::from_ref(&file));
    assert_eq!(code, 0, "warnings alone: {out}");
    let file = file.display();
    let lines = [format!(
        "{file}:30:5: AuthorizationPolicy/shop/no-admin: spec.rules[0]: warning: this DENY \
             rule uses only HTTP attributes: it denies all traffic to TCP ports in scope; name the \
             ports"
    )];
    assert_eq!(out.trim(), lines.join("\n"));
}

#[test]
fn a_custom_policy_naming_no_authorizer_of_the_mesh_config_exits_1() {
    let file = fixture("invalid/unknown_authorizer.yaml");
    let (code, out) = check(std::slice::from_ref(&file));
    assert_eq!(code, 1, "{out}");
    let line = format!(
        "{}:7:14: AuthorizationPolicy/shop/ext: spec.provider.name: extension provider \"opa\" is \
         not an authorizer of MeshConfig extensionProviders (available: [checker]); its requests \
         are denied",
        file.display()
    );
    assert_eq!(out.trim(), line);
}

#[test]
fn an_access_log_file_outside_the_access_log_dir_exits_1_naming_the_field() {
    let dir = std::env::temp_dir().join(format!("mesh-check-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mesh.yaml");
    let mesh = |path: &str| mesh_config(&format!("accessLogFile: {path}"));
    std::fs::write(&file, mesh("/etc/cron.d/mesh")).unwrap();
    let (code, out) = check(std::slice::from_ref(&file));
    let logs = dir.join("logs");
    let inside = logs.join("access.log");
    std::fs::write(&file, mesh(&inside.display().to_string())).unwrap();
    let logs_flag = logs.display().to_string();
    let (code_inside, out_inside) = check_with(
        &["--access-log-dir", &logs_flag],
        std::slice::from_ref(&file),
    );
    let (code_default, _) = check(std::slice::from_ref(&file));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.trim().starts_with(&format!(
            "{}:5:3: ConfigMap/istio-system/istio: data.mesh.accessLogFile: \"/etc/cron.d/mesh\" \
             refused: not under the access log directory; use /dev/stdout, /dev/stderr or a file \
             under /var/log/mesh",
            file.display()
        )),
        "{out}"
    );
    assert_eq!((code_inside, out_inside.as_str()), (0, ""));
    assert_eq!(code_default, 1, "outside the default /var/log/mesh");
}

/// Each resource of `invalid/rules/` (tutorial style, one mistake each) and the field its
/// first error names: Istio's validation rejects every one of them, and so does the check.
const REJECTED: &[(&str, &str)] = &[
    ("DestinationRule/default/empty-policy", "spec.trafficPolicy"),
    (
        "DestinationRule/default/two-hash-keys",
        "spec.trafficPolicy.loadBalancer.consistentHash",
    ),
    (
        "DestinationRule/default/simple-and-hash",
        "spec.trafficPolicy.loadBalancer",
    ),
    (
        "DestinationRule/default/maglev-not-prime",
        "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize",
    ),
    (
        "DestinationRule/default/huge-ring",
        "spec.trafficPolicy.loadBalancer.consistentHash.ringHash.minimumRingSize",
    ),
    (
        "DestinationRule/default/bad-subset-name",
        "spec.subsets[0].name",
    ),
    (
        "DestinationRule/default/mutual-without-files",
        "spec.trafficPolicy.tls.clientCertificate",
    ),
    (
        "DestinationRule/default/short-connect-timeout",
        "spec.trafficPolicy.connectionPool.tcp.connectTimeout",
    ),
    (
        "DestinationRule/default/local-origin",
        "spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures",
    ),
    (
        "DestinationRule/default/portless-level",
        "spec.trafficPolicy.portLevelSettings[0].port",
    ),
    ("DestinationRule/default/wildcard-in-middle", "spec.host"),
    ("Gateway/default/no-servers", "spec.servers"),
    ("Gateway/default/unnamed-port", "spec.servers[0].port.name"),
    ("Gateway/default/short-host", "spec.servers[0].hosts[0]"),
    ("Gateway/default/https-without-tls", "spec.servers[0].tls"),
    (
        "Gateway/default/simple-without-cert",
        "spec.servers[0].tls.serverCertificate",
    ),
    (
        "Gateway/default/unknown-protocol",
        "spec.servers[0].port.protocol",
    ),
    (
        "Gateway/default/same-port-name",
        "spec.servers[1].port.name",
    ),
    (
        "AuthorizationPolicy/default/empty-source",
        "spec.rules[0].from[0].source",
    ),
    (
        "AuthorizationPolicy/default/empty-operation",
        "spec.rules[0].to[0].operation",
    ),
    ("AuthorizationPolicy/default/deny-nothing", "spec.rules"),
    (
        "AuthorizationPolicy/default/unknown-when-key",
        "spec.rules[0].when[0].key",
    ),
    (
        "AuthorizationPolicy/default/bad-ip-block",
        "spec.rules[0].from[0].source.ipBlocks[0]",
    ),
    (
        "AuthorizationPolicy/default/custom-without-provider",
        "spec.provider.name",
    ),
    (
        "AuthorizationPolicy/default/empty-principal",
        "spec.rules[0].from[0].source.principals[0]",
    ),
    (
        "PeerAuthentication/default/port-level-for-all",
        "spec.portLevelMtls",
    ),
    (
        "RequestAuthentication/default/no-issuer",
        "spec.jwtRules[0].issuer",
    ),
    (
        "RequestAuthentication/default/ftp-jwks",
        "spec.jwtRules[0].jwksUri",
    ),
    (
        "RequestAuthentication/default/nameless-header",
        "spec.jwtRules[0].fromHeaders[0].name",
    ),
    ("ServiceEntry/default/everything", "spec.hosts[0]"),
    (
        "ServiceEntry/default/selector-and-endpoints",
        "spec.workloadSelector",
    ),
    ("ServiceEntry/default/none-with-endpoints", "spec.endpoints"),
    ("ServiceEntry/default/dns-cidr", "spec.addresses"),
    (
        "ServiceEntry/default/same-port-twice",
        "spec.ports[1].number",
    ),
    (
        "ServiceEntry/default/static-hostname",
        "spec.endpoints[0].address",
    ),
    ("ServiceEntry/default/tcp-many-hosts", "spec.hosts"),
    (
        "Sidecar/default/short-egress-host",
        "spec.egress[0].hosts[0]",
    ),
    ("Sidecar/default/empty", "spec"),
    ("Sidecar/default/catch-all-first", "spec.egress[0].port"),
    (
        "Telemetry/istio-system/nameless-provider",
        "spec.tracing[0].providers[0].name",
    ),
    (
        "Telemetry/istio-system/sampling-past-100",
        "spec.tracing[0].randomSamplingPercentage",
    ),
    ("ConfigMap/istio-system/istio", "data.mesh.trustDomain"),
    (
        "VirtualService/default/bogus-retry-on",
        "spec.http[0].retries.retryOn",
    ),
    (
        "VirtualService/default/two-rewrites",
        "spec.http[0].rewrite",
    ),
    ("VirtualService/default/star-in-mesh", "spec.hosts[0]"),
    ("VirtualService/default/bad-host", "spec.hosts[0]"),
    ("VirtualService/default/bad-gateway-ref", "spec.gateways[0]"),
    (
        "VirtualService/default/two-match-kinds",
        "spec.http[0].match[0].uri",
    ),
    (
        "VirtualService/default/bad-header-name",
        "spec.http[0].match[0].headers.end user",
    ),
    (
        "VirtualService/default/empty-prefix",
        "spec.http[0].match[0].authority.prefix",
    ),
    (
        "VirtualService/default/empty-regex",
        "spec.http[0].match[0].queryParams.v.regex",
    ),
    (
        "VirtualService/default/no-destination-host",
        "spec.http[0].route[0].destination.host",
    ),
    ("VirtualService/default/zero-weights", "spec.http[0].route"),
    (
        "VirtualService/default/retries-disabled",
        "spec.http[0].retries",
    ),
    (
        "VirtualService/default/short-per-try",
        "spec.http[0].retries.perTryTimeout",
    ),
    (
        "VirtualService/default/zero-timeout",
        "spec.http[0].timeout",
    ),
    (
        "VirtualService/default/two-delays",
        "spec.http[0].fault.delay",
    ),
    (
        "VirtualService/default/two-aborts",
        "spec.http[0].fault.abort",
    ),
    ("VirtualService/default/empty-fault", "spec.http[0].fault"),
    (
        "VirtualService/default/redirect-and-route",
        "spec.http[0].route",
    ),
    ("VirtualService/default/nowhere", "spec.http[0]"),
    (
        "VirtualService/default/mirror-and-mirrors",
        "spec.http[0].mirrors",
    ),
    (
        "VirtualService/default/cors-method",
        "spec.http[0].corsPolicy.allowMethods[0]",
    ),
    (
        "VirtualService/default/pseudo-header",
        "spec.http[0].headers.request.set.:path",
    ),
    (
        "VirtualService/default/redirect-scheme",
        "spec.http[0].redirect.scheme",
    ),
    (
        "VirtualService/default/tcp-without-route",
        "spec.tcp[0].route",
    ),
    (
        "VirtualService/default/sni-elsewhere",
        "spec.tls[0].match[0].sniHosts[0]",
    ),
];

#[test]
fn every_mistake_istio_rejects_is_an_error_naming_its_field() {
    let (code, out) = check(&[fixture("invalid/rules")]);
    assert_eq!(code, 1);
    let mut first: Vec<(String, String)> = Vec::new();
    for line in out.lines() {
        // `file:line: Kind/namespace/name: field: message`
        let fields: Vec<&str> = line.splitn(4, ": ").collect();
        assert_eq!(fields.len(), 4, "not a line naming a field: {line}");
        // Unsupported-field warnings may come beside the errors; each resource needs an error.
        if fields[3].starts_with("warning:") {
            continue;
        }
        let (resource, field) = (fields[1].to_string(), fields[2].to_string());
        if !first.iter().any(|(r, _)| *r == resource) {
            first.push((resource, field));
        }
    }
    let mut want: Vec<(String, String)> = REJECTED
        .iter()
        .map(|(r, f)| (r.to_string(), f.to_string()))
        .collect();
    want.sort();
    first.sort();
    assert_eq!(first, want, "{out}");
}

#[test]
fn the_istio_task_s_local_rate_limit_envoy_filters_are_valid() {
    let (code, out) = check(&[fixture("rate_limit/istio-task.yaml")]);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn a_local_rate_limit_envoy_rejects_is_an_error_naming_its_field() {
    let file = fixture("rate_limit/errors.yaml");
    let (code, out) = check(std::slice::from_ref(&file));
    assert_eq!(code, 1);
    let at = "spec.configPatches[0].patch.value.typedConfig.tokenBucket";
    let f = file.display();
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            format!("{f}:19:15: EnvoyFilter/default/bad-bucket: {at}.maxTokens: must be above 0"),
            format!("{f}:20:15: EnvoyFilter/default/bad-bucket: {at}.fillInterval: 10ms is below the 50ms Envoy allows"),
            format!("{f}:39:15: EnvoyFilter/default/typo: {at}.fillIntervall: unknown field (a typo?)"),
        ]
    );
}

#[test]
fn envoy_filter_patches_other_than_local_rate_limits_are_warnings_naming_the_patch() {
    let file = fixture("rate_limit/unsupported.yaml");
    let (code, out) = check(std::slice::from_ref(&file));
    assert_eq!(code, 0, "warnings alone: {out}");
    let places: Vec<&str> = out
        .lines()
        .map(|l| {
            l.split(": warning: not supported by the mesh; ignored: the mesh has no Envoy")
                .next()
                .unwrap()
        })
        .collect();
    let f = file.display();
    assert_eq!(
        places,
        [
            format!("{f}:13:9: EnvoyFilter/default/lua: spec.configPatches[0].patch.value"),
            format!("{f}:18:7: EnvoyFilter/default/lua: spec.configPatches[1].applyTo"),
        ]
    );
}

#[test]
fn the_istio_task_s_global_rate_limit_envoy_filters_are_valid() {
    let (code, out) = check(&[fixture("rate_limit/istio-global-task.yaml")]);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn a_global_rate_limit_envoy_rejects_is_an_error_naming_its_field() {
    let file = fixture("rate_limit/global-errors.yaml");
    let (code, out) = check(std::slice::from_ref(&file));
    assert_eq!(code, 1);
    let at = "spec.configPatches[0].patch.value.typedConfig";
    let f = file.display();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with(&format!("{f}:"))
            && lines[0].contains(&format!(
                "EnvoyFilter/default/no-domain: {at}.domain: must not be empty"
            )),
        "{out}"
    );
    assert!(
        lines[1].contains(&format!(
            "EnvoyFilter/default/not-a-bool: {at}.failureModeDeny:"
        )),
        "{out}"
    );
}

#[test]
fn a_destination_rule_naming_a_node_file_exits_1_naming_the_field_and_the_directory() {
    let dir = std::env::temp_dir().join(format!("mesh-check-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rule.yaml");
    let rule = |subset_key: &str| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
             metadata: {{name: partner, namespace: shop}}\nspec:\n  host: partner.example.com\n\
             \x20 subsets:\n  - name: v1\n    labels: {{version: v1}}\n    trafficPolicy:\n\
             \x20     tls: {{mode: MUTUAL, clientCertificate: /etc/certs/client.pem, \
             privateKey: {subset_key}}}\n"
        )
    };
    std::fs::write(&file, rule("/etc/shadow")).unwrap();
    let (code, out) = check(std::slice::from_ref(&file));
    std::fs::write(&file, rule("/etc/certs/client.key")).unwrap();
    let (code_inside, out_inside) = check(std::slice::from_ref(&file));
    let (code_elsewhere, _) = check_with(
        &["--tls-file-dir", "/srv/certs"],
        std::slice::from_ref(&file),
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.trim().starts_with(&format!(
            "{}:10:69: DestinationRule/shop/partner: spec.subsets[0].trafficPolicy.tls.privateKey: \
             \"/etc/shadow\" refused: not under the certificate directory; certificate files \
             must be under /etc/certs (the agent's --tls-file-dir), or use credentialName",
            file.display()
        )),
        "{out}"
    );
    assert_eq!(code_inside, 0, "{out_inside}");
    assert!(!out_inside.contains("refused"), "{out_inside}");
    assert_eq!(code_elsewhere, 1, "outside --tls-file-dir /srv/certs");
}
