//! A Telemetry resource as Istio's `ValidateTelemetry` reads it (beside the sampling range and
//! the fields the mesh ignores, checked when it is read: `resources::telemetry_check`): how it
//! picks workloads, provider names, custom tags, tag overrides and custom metric names.

use serde_json::Value;

use super::finding::Findings;
use super::labels::policy_targets;
use crate::resources::{ProviderRef, TelemetrySpec};

/// Problems of the Telemetry `spec`.
pub(crate) fn telemetry(found: &mut Findings, spec: &TelemetrySpec) {
    policy_targets(
        found,
        spec.selector.as_ref(),
        spec.target_ref.as_ref(),
        &spec.target_refs,
    );
    if spec.tracing.len() > 1 {
        found.warning(
            "spec.tracing",
            "only one tracing configuration is supported",
        );
    }
    for (i, tracing) in spec.tracing.iter().enumerate() {
        let at = format!("spec.tracing[{i}]");
        providers(found, &at, &tracing.providers);
        if tracing.providers.len() > 1 {
            found.warning(
                format!("{at}.providers"),
                "only one tracing provider is supported",
            );
        }
        for (name, tag) in &tracing.custom_tags {
            found.error_if(format!("{at}.customTags.{name}"), custom_tag(name, tag));
        }
    }
    for (i, metrics) in spec.metrics.iter().enumerate() {
        let at = format!("spec.metrics[{i}]");
        providers(found, &at, &metrics.providers);
        for (j, o) in metrics.overrides.iter().enumerate() {
            let at = format!("{at}.overrides[{j}]");
            for (name, tag) in &o.tag_overrides {
                found.error_if(format!("{at}.tagOverrides.{name}"), tag_override(tag));
            }
            if o.matches.as_ref().and_then(|m| m.custom_metric.as_deref()) == Some("") {
                found.error(
                    format!("{at}.match.customMetric"),
                    "customMetric may not be empty",
                );
            }
        }
    }
    for (i, logging) in spec.access_logging.iter().enumerate() {
        providers(
            found,
            &format!("spec.accessLogging[{i}]"),
            &logging.providers,
        );
    }
}

fn providers(found: &mut Findings, at: &str, providers: &[ProviderRef]) {
    for (i, _) in providers
        .iter()
        .enumerate()
        .filter(|(_, p)| p.name.is_empty())
    {
        found.error(
            format!("{at}.providers[{i}].name"),
            "a provider name may not be empty",
        );
    }
}

/// A custom tag: a `literal` value, or a `header` or `environment` name.
fn custom_tag(name: &str, tag: &Value) -> Result<(), String> {
    if name.is_empty() {
        return Err("tag name may not be empty".into());
    }
    let text = |kind: &str, key: &str| {
        tag.pointer(&format!("/{kind}/{key}"))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    match () {
        _ if tag.is_null() => Err(format!("tag {name:?} needs a value")),
        _ if tag.get("literal").is_some() && text("literal", "value").is_empty() => {
            Err("literal tag value may not be empty".into())
        }
        _ if tag.get("header").is_some() && text("header", "name").is_empty() => {
            Err("header tag name may not be empty".into())
        }
        _ if tag.get("environment").is_some() && text("environment", "name").is_empty() => {
            Err("environment tag name may not be empty".into())
        }
        _ => Ok(()),
    }
}

/// UPSERT (the default) needs a value; REMOVE takes none.
fn tag_override(tag: &Value) -> Result<(), String> {
    let operation = tag
        .get("operation")
        .and_then(Value::as_str)
        .unwrap_or("UPSERT");
    let value = tag.get("value").and_then(Value::as_str).unwrap_or("");
    match (operation, value.is_empty()) {
        ("UPSERT", true) => Err("tagOverrides.value must be set when operation is UPSERT".into()),
        ("REMOVE", false) => {
            Err("tagOverrides.value may only be set when operation is UPSERT".into())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::finding::table::{lines, spec};

    fn found(yaml: &str) -> Vec<String> {
        let mut found = Findings::default();
        telemetry(&mut found, &spec(yaml));
        lines(&found)
    }

    #[test]
    fn providers_tags_and_overrides() {
        let good = "tracing: [{providers: [{name: otel}], customTags: {env: {literal: {value: prod}}}}]\n\
                    metrics: [{providers: [{name: prometheus}], overrides: [{tagOverrides: {a: {value: x}, b: {operation: REMOVE}}}]}]\n\
                    accessLogging: [{providers: [{name: envoy}]}]\n";
        assert_eq!(found(good), Vec::<String>::new());
        let bad = "tracing: [{providers: [{name: ''}, {name: b}], customTags: {env: {header: {}}}}, {}]\n\
                   metrics: [{overrides: [{tagOverrides: {a: {}, b: {operation: REMOVE, value: x}}, match: {customMetric: ''}}]}]\n";
        assert_eq!(
            found(bad),
            [
                "spec.tracing: warning: only one tracing configuration is supported",
                "spec.tracing[0].providers[0].name: a provider name may not be empty",
                "spec.tracing[0].providers: warning: only one tracing provider is supported",
                "spec.tracing[0].customTags.env: header tag name may not be empty",
                "spec.metrics[0].overrides[0].tagOverrides.a: tagOverrides.value must be set when operation is UPSERT",
                "spec.metrics[0].overrides[0].tagOverrides.b: tagOverrides.value may only be set when operation is UPSERT",
                "spec.metrics[0].overrides[0].match.customMetric: customMetric may not be empty",
            ]
        );
    }
}
