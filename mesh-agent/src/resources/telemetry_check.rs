//! Checks of a Telemetry resource read on its own: percentages in range (an error), and the
//! fields the mesh reads but does not act on (warnings, so nobody counts on them silently).

use crate::document::Problem;
use crate::document::RawResource;
use crate::resources::{TelemetrySpec, WorkloadMode};

/// Problems of the Telemetry `spec` read from `raw`.
pub fn check(raw: &RawResource, spec: &TelemetrySpec) -> Vec<Problem> {
    let mut problems = Vec::new();
    let ignored = |field: String, why: &str| Problem::warning(raw, field, why.to_string());
    if spec.target_ref.is_some() || !spec.target_refs.is_empty() {
        let field = if spec.target_ref.is_some() {
            "spec.targetRef"
        } else {
            "spec.targetRefs"
        };
        problems.push(ignored(
            field.into(),
            "not supported by the mesh; ignored (use selector)",
        ));
    }
    for (i, tracing) in spec.tracing.iter().enumerate() {
        let field = format!("spec.tracing[{i}]");
        if let Some(percent) = tracing.random_sampling_percentage {
            if !(0.0..=100.0).contains(&percent) {
                let message = format!("{percent} is not a percentage (0 to 100)");
                let at = format!("{field}.randomSamplingPercentage");
                problems.push(Problem::error(raw, at, message));
            }
        }
        let mode = tracing.matches.as_ref().map(|m| m.mode);
        if mode.is_some_and(|m| m != WorkloadMode::ClientAndServer) {
            let why = "sampling applies to both sides in the mesh; the mode is ignored";
            problems.push(ignored(format!("{field}.match.mode"), why));
        }
        for (name, set) in [
            ("customTags", !tracing.custom_tags.is_empty()),
            (
                "disableSpanReporting",
                tracing.disable_span_reporting.is_some(),
            ),
        ] {
            if set {
                problems.push(ignored(
                    format!("{field}.{name}"),
                    "not supported by the mesh; ignored",
                ));
            }
        }
    }
    for (i, metrics) in spec.metrics.iter().enumerate() {
        for (j, o) in metrics.overrides.iter().enumerate() {
            let field = format!("spec.metrics[{i}].overrides[{j}]");
            let one_metric = o.matches.as_ref().is_some_and(|m| !m.all_metrics());
            if one_metric && o.disabled.is_some() {
                let why = "only ALL_METRICS can be switched on or off in the mesh; ignored";
                problems.push(ignored(format!("{field}.match.metric"), why));
            }
            if !o.tag_overrides.is_empty() {
                let why = "tag overrides are not supported by the mesh; ignored";
                problems.push(ignored(format!("{field}.tagOverrides"), why));
            }
        }
    }
    for (i, log) in spec.access_logging.iter().enumerate() {
        if log.filter.is_some() {
            let why = "filter expressions are not evaluated by the mesh; every entry is logged \
                       (sample with MeshConfig accessLogSampling)";
            problems.push(ignored(format!("spec.accessLogging[{i}].filter"), why));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse_documents;

    fn problems(spec: &str) -> Vec<String> {
        let yaml = format!(
            "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\n\
             metadata: {{name: t, namespace: istio-system}}\nspec: {spec}\n"
        );
        let raw = parse_documents(std::path::Path::new("t.yaml"), &yaml).unwrap();
        let spec: TelemetrySpec = serde_json::from_value(raw[0].body["spec"].clone()).unwrap();
        check(&raw[0], &spec)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn the_benchmark_s_switch_off_has_no_problem() {
        let spec = "{metrics: [{providers: [{name: prometheus}], overrides: [{disabled: true}]}], \
                    tracing: [{randomSamplingPercentage: 0}], accessLogging: [{disabled: true}]}";
        assert_eq!(problems(spec), Vec::<String>::new());
    }

    #[test]
    fn a_sampling_percentage_out_of_range_is_an_error_naming_the_field() {
        assert_eq!(
            problems("{tracing: [{randomSamplingPercentage: 150}]}"),
            [
                "t.yaml:4:19: Telemetry/istio-system/t: spec.tracing[0].randomSamplingPercentage: \
              150 is not a percentage (0 to 100)"
            ]
        );
    }

    #[test]
    fn ignored_settings_are_warnings() {
        let spec = "{metrics: [{overrides: [{match: {metric: REQUEST_COUNT}, disabled: true}]}], \
                    accessLogging: [{filter: {expression: 'response.code >= 400'}}]}";
        let found = problems(spec);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0]
            .contains("spec.metrics[0].overrides[0].match.metric: warning: only ALL_METRICS"));
        assert!(found[1].contains("spec.accessLogging[0].filter: warning: filter expressions"));
    }
}
