//! `mesh-agent check` on Telemetry resources (telemetry.istio.io v1 and v1alpha1): the
//! benchmark's mesh-wide switch-off is valid, a bad percentage is one `file:line: kind/ns/name:
//! field: message` error, and settings the mesh does not act on are warnings.

use std::path::PathBuf;
use std::process::Command;

fn check(name: &str, yaml: &str) -> (i32, String, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "mesh-check-telemetry-{name}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("telemetry.yaml");
    std::fs::write(&file, yaml).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_mesh-agent"))
        .arg("check")
        .arg(&file)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let out = String::from_utf8(output.stdout).unwrap();
    (output.status.code().unwrap(), out, file)
}

#[test]
fn the_benchmark_s_mesh_wide_switch_off_is_valid_in_both_versions() {
    for version in ["v1", "v1alpha1"] {
        let yaml = format!(
            "apiVersion: telemetry.istio.io/{version}\nkind: Telemetry\n\
             metadata: {{name: mesh-default, namespace: istio-system}}\nspec:\n\
             \x20 metrics: [{{providers: [{{name: prometheus}}], overrides: [{{disabled: true}}]}}]\n\
             \x20 tracing: [{{randomSamplingPercentage: 0}}]\n\
             \x20 accessLogging: [{{disabled: true}}]\n"
        );
        let (code, out, _) = check(version, &yaml);
        assert_eq!((code, out.as_str()), (0, ""), "{version}");
    }
}

#[test]
fn a_percentage_out_of_range_is_an_error_naming_file_line_column_resource_and_field() {
    let yaml = "# sampling\napiVersion: telemetry.istio.io/v1\nkind: Telemetry\n\
                metadata: {name: t, namespace: shop}\n\
                spec: {tracing: [{randomSamplingPercentage: 101}]}\n";
    let (code, out, file) = check("range", yaml);
    assert_eq!(code, 1);
    assert_eq!(
        out.trim(),
        format!(
            "{}:5:19: Telemetry/shop/t: spec.tracing[0].randomSamplingPercentage: \
             101 is not a percentage (0 to 100)",
            file.display()
        )
    );
}

#[test]
fn an_unsupported_version_is_an_error_and_ignored_settings_are_warnings() {
    let yaml = "apiVersion: telemetry.istio.io/v2\nkind: Telemetry\nmetadata: {name: t}\n";
    let (code, out, _) = check("version", yaml);
    assert_eq!(code, 1);
    assert!(
        out.contains("Telemetry/default/t: apiVersion: unsupported version"),
        "{out}"
    );
    let yaml = "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t}\n\
                spec: {accessLogging: [{filter: {expression: 'response.code >= 500'}}]}\n";
    let (code, out, _) = check("filter", yaml);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("spec.accessLogging[0].filter: warning:"),
        "{out}"
    );
}
