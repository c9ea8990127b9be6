//! MeshConfig (ConfigMap `istio-system/istio`, key `mesh`) as Istio's `ValidateMeshConfig`
//! reads the part the mesh uses: the trust domain (an error), extension providers (named, once
//! each, a collector's service and port; warnings, as Istio only logs them). Istio does not
//! validate `defaultHttpRetryPolicy`; neither does the mesh (its numbers: `ranges`), but a
//! `retryOn` it cannot read whole is warned about (the default conditions apply).

use std::collections::HashSet;

use super::finding::Findings;
use super::http_policies::{unread_retry_on, READ_AS_DEFAULT};
use super::names::is_label;
use crate::resources::MeshConfig;

const AT: &str = "data.mesh";

/// Problems of the mesh-wide settings.
pub(crate) fn mesh_config(found: &mut Findings, mesh: &MeshConfig) {
    let retry_on = mesh.default_http_retry_policy.retry_on.as_deref();
    if let Some(unread) = retry_on.and_then(unread_retry_on) {
        let message =
            format!("{unread:?} is not a retryOn condition the mesh reads: {READ_AS_DEFAULT}");
        found.warning(format!("{AT}.defaultHttpRetryPolicy.retryOn"), message);
    }
    found.error_if(
        format!("{AT}.trustDomain"),
        trust_domain(&mesh.trust_domain),
    );
    let mut names = HashSet::new();
    for (i, provider) in mesh.extension_providers.iter().enumerate() {
        let at = format!("{AT}.extensionProviders[{i}]");
        if provider.name.is_empty() {
            found.warning(
                format!("{at}.name"),
                "an extension provider needs a name (it is ignored)",
            );
        } else if !names.insert(provider.name.as_str()) {
            found.warning(
                format!("{at}.name"),
                format!("extension provider {:?} is defined twice", provider.name),
            );
        }
        let collectors = [
            ("opentelemetry", &provider.opentelemetry),
            ("zipkin", &provider.zipkin),
        ];
        for (kind, collector) in collectors {
            let Some(collector) = collector else { continue };
            if collector.service.is_empty() {
                found.warning(
                    format!("{at}.{kind}.service"),
                    "a collector needs a service (it is ignored)",
                );
            }
            if collector.port == 0 {
                found.warning(
                    format!("{at}.{kind}.port"),
                    "a collector needs a port in 1..65535 (it is ignored)",
                );
            }
        }
    }
}

/// Dot-separated DNS labels, the last possibly empty (`example.org.`).
fn trust_domain(domain: &str) -> Result<(), String> {
    if domain.is_empty() {
        return Err("empty trust domain not allowed".into());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let last = labels.len() - 1;
    match labels
        .iter()
        .enumerate()
        .all(|(i, l)| is_label(l) || (i == last && l.is_empty()))
    {
        true => Ok(()),
        false => Err(format!("trust domain {domain:?} invalid")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::finding::table::{lines, spec};

    fn found(yaml: &str) -> Vec<String> {
        let mut found = Findings::default();
        mesh_config(&mut found, &spec(yaml));
        lines(&found)
    }

    #[test]
    fn trust_domain_and_providers() {
        let good = "trustDomain: example.org\nextensionProviders: [{name: otel, opentelemetry: {service: otel.obs.svc.cluster.local, port: 4317}}]\n";
        assert_eq!(found(good), Vec::<String>::new());
        assert_eq!(
            found("{}"),
            Vec::<String>::new(),
            "Istio's defaults are valid"
        );
        let bad = "trustDomain: ex_ample\nextensionProviders: [{name: a, zipkin: {}}, {name: a}]\n";
        assert_eq!(
            found(bad),
            [
                "data.mesh.trustDomain: trust domain \"ex_ample\" invalid",
                "data.mesh.extensionProviders[0].zipkin.service: warning: a collector needs a service (it is ignored)",
                "data.mesh.extensionProviders[0].zipkin.port: warning: a collector needs a port in 1..65535 (it is ignored)",
                "data.mesh.extensionProviders[1].name: warning: extension provider \"a\" is defined twice",
            ]
        );
    }

    #[test]
    fn a_default_retry_on_the_mesh_cannot_read_is_warned_about() {
        let unread = "defaultHttpRetryPolicy: {attempts: 2, retryOn: 'gateway-error,nonsense'}\n";
        assert_eq!(
            found(unread),
            [format!(
                "data.mesh.defaultHttpRetryPolicy.retryOn: warning: \"nonsense\" is not a retryOn condition the mesh reads: {READ_AS_DEFAULT}"
            )]
        );
        let read = "defaultHttpRetryPolicy: {attempts: 2, retryOn: 'gateway-error, 503'}\n";
        assert_eq!(found(read), Vec::<String>::new());
    }
}
