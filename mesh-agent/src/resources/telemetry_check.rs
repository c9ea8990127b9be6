//! Checks of a Telemetry resource read on its own: percentages in range (an error). The fields
//! the mesh reads but does not act on are in `validate::unsupported`'s list.

use crate::document::Problem;
use crate::document::RawResource;
use crate::resources::TelemetrySpec;

/// Problems of the Telemetry `spec` read from `raw`.
pub fn check(raw: &RawResource, spec: &TelemetrySpec) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, tracing) in spec.tracing.iter().enumerate() {
        if let Some(percent) = tracing.random_sampling_percentage {
            if !(0.0..=100.0).contains(&percent) {
                let message = format!("{percent} is not a percentage (0 to 100)");
                let at = format!("spec.tracing[{i}].randomSamplingPercentage");
                problems.push(Problem::error(raw, at, message));
            }
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
}
