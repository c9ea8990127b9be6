//! What the mesh does not act on, in a running pipeline: `mesh_config_unsupported_fields`
//! follows the resources in force, and an `accessLogFile` outside the agent's access-log
//! directory rejects the MeshConfig, so the observers never open it.

use prometheus_client::registry::Registry;

use crate::harness::config::{mesh_config, WatchedDir};
use crate::harness::metrics;

const SERIES: &str =
    r#"mesh_config_unsupported_fields{kind="DestinationRule",field="spec.trafficPolicy.tls.mode"}"#;

/// A DestinationRule asking for Istio's mutual TLS to `host` (the mesh's tunnel, not the rule).
fn rule_with_tls(host: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
         metadata: {{name: {host}, namespace: shop}}\n\
         spec: {{host: {host}, trafficPolicy: {{tls: {{mode: ISTIO_MUTUAL}}}}}}\n"
    )
}

#[tokio::test]
async fn the_unsupported_fields_gauge_follows_the_resources_in_force() {
    let mut registry = Registry::default();
    let files = [("web.yaml", rule_with_tls("web"))];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, y)| (*n, y.as_str())).collect();
    let config = WatchedDir::start("unsupported-gauge", &files, &mut registry).await;
    let series = || {
        let text = metrics::text(&registry);
        text.lines()
            .find(|l| l.starts_with(SERIES))
            .map(str::to_string)
    };
    assert_eq!(series(), Some(format!("{SERIES} 1")));
    config.write("api.yaml", Some(&rule_with_tls("api"))).await;
    assert_eq!(series(), Some(format!("{SERIES} 2")));
    config.write("web.yaml", None).await;
    config.write("api.yaml", None).await;
    assert_eq!(series(), None, "no resource carries it any more");
}

#[tokio::test]
async fn an_access_log_file_outside_the_directory_is_refused_at_load_and_never_opened() {
    let mut registry = Registry::default();
    let config = WatchedDir::start("access-log-dir", &[], &mut registry).await;
    let outside = config.dir.path().with_extension("escaped.log");
    let mesh = mesh_config(&format!("accessLogFile: {}", outside.display()));
    config.write("mesh.yaml", Some(&mesh)).await;
    let reload = config.state.last_reload();
    let errors: Vec<String> = reload.problems.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("ConfigMap/istio-system/istio: data.mesh.accessLogFile: ")
            && errors[0].contains("not under the access log directory"),
        "{errors:?}"
    );
    let snapshot = config.state.snapshot();
    assert_eq!(snapshot.access_log, Default::default(), "no access log");
    let inside = config.dir.path().join("access.log");
    let mesh = mesh_config(&format!("accessLogFile: {}", inside.display()));
    config.write("mesh.yaml", Some(&mesh)).await;
    let target = config.state.snapshot().access_log.clone();
    let expected = mesh_agent::validate::access_log_file::AccessLogTarget::File {
        dir: config.dir.path().to_path_buf(),
        relative: "access.log".into(),
    };
    assert_eq!(target, expected);
    assert!(!outside.exists(), "the agent never opened it");
}
