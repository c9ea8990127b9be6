use super::*;

fn telemetry(namespace: &str, name: &str, spec: &str) -> Arc<Istio<TelemetrySpec>> {
    let yaml = format!(
        "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\n\
         metadata: {{name: {name}, namespace: {namespace}}}\nspec: {spec}\n"
    );
    Arc::new(serde_yaml::from_str(&yaml).unwrap())
}

fn index(list: &[Arc<Istio<TelemetrySpec>>]) -> TelemetryByNamespace {
    let mut by_ns = TelemetryByNamespace::new();
    for t in list {
        let ns = t.metadata.namespace.clone().unwrap();
        by_ns.entry(ns).or_default().push(t.clone());
    }
    by_ns
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const OFF: &str = "{metrics: [{providers: [{name: prometheus}], overrides: [{disabled: true}]}], \
                   tracing: [{randomSamplingPercentage: 0}], accessLogging: [{disabled: true}]}";

#[test]
fn without_telemetry_everything_is_recorded_and_mesh_config_decides() {
    let policy = resolve(&index(&[]), "istio-system", "shop", &labels(&[]));
    assert_eq!(policy, TelemetryPolicy::default());
    assert!(policy.metrics(Reporter::source) && policy.metrics(Reporter::destination));
    assert_eq!(policy.access_log(Reporter::source), None);
}

#[test]
fn the_root_namespace_switches_telemetry_off_mesh_wide() {
    let by_ns = index(&[telemetry("istio-system", "mesh-default", OFF)]);
    for ns in ["shop", "istio-system"] {
        let policy = resolve(&by_ns, "istio-system", ns, &labels(&[]));
        assert!(!policy.metrics(Reporter::source), "{ns}");
        assert!(!policy.metrics(Reporter::destination), "{ns}");
        assert_eq!(policy.sampling_percent, Some(0.0));
        assert_eq!(policy.access_log(Reporter::destination), Some(false));
    }
    let elsewhere = resolve(&by_ns, "mesh-root", "shop", &labels(&[]));
    assert_eq!(elsewhere, TelemetryPolicy::default());
}

#[test]
fn a_namespace_overrides_the_mesh_and_a_selector_the_namespace_section_by_section() {
    let by_ns = index(&[
        telemetry("istio-system", "mesh", OFF),
        telemetry(
            "shop",
            "ns",
            "{metrics: [{overrides: [{disabled: false}]}], tracing: [{randomSamplingPercentage: 50}]}",
        ),
        telemetry(
            "shop",
            "web",
            "{selector: {matchLabels: {app: web}}, tracing: [{randomSamplingPercentage: 100}]}",
        ),
    ]);
    let db = resolve(&by_ns, "istio-system", "shop", &labels(&[("app", "db")]));
    assert!(db.client_metrics && db.server_metrics);
    assert_eq!(db.sampling_percent, Some(50.0));
    assert_eq!(db.server_access_log, Some(false), "from the mesh");
    let web = resolve(&by_ns, "istio-system", "shop", &labels(&[("app", "web")]));
    assert_eq!(web.sampling_percent, Some(100.0));
    assert!(web.client_metrics, "from the namespace");
}

#[test]
fn modes_pick_the_side() {
    let by_ns = index(&[telemetry(
        "shop",
        "t",
        "{metrics: [{overrides: [{match: {mode: SERVER}, disabled: true}, \
                                 {match: {metric: REQUEST_COUNT}, disabled: true}]}], \
          accessLogging: [{match: {mode: CLIENT}, providers: [{name: envoy}]}]}",
    )]);
    let policy = resolve(&by_ns, "istio-system", "shop", &labels(&[]));
    assert!(
        policy.metrics(Reporter::source),
        "one metric alone is not switched"
    );
    assert!(!policy.metrics(Reporter::destination));
    assert_eq!(policy.access_log(Reporter::source), Some(true));
    assert_eq!(policy.access_log(Reporter::destination), None);
    assert!(policy.enables_access_log());
}
