//! DestinationRule certificate files confined: `tls.clientCertificate`, `privateKey`,
//! `caCertificates` and `caCrl` (top level, per port, per subset) are read from the node by the
//! root agent, so whoever may write a DestinationRule could otherwise name any node file
//! (`/etc/shadow`, the kubelet's keys). Each must be an absolute path under the agent's
//! `--tls-file-dir` (Istio's `/etc/certs` by default, where its docs mount them), without `..`;
//! anything else rejects the DestinationRule (counted in `mesh_config_rejected_resources`). A
//! symlink leaving the directory is refused when the file is read (`beneath`,
//! `RESOLVE_BENEATH`).

use std::path::{Component, Path, PathBuf};

use crate::document::{Problem, RawResource};
use crate::resources::{ClientTls, Resource, TrafficPolicy};

/// Where DestinationRule certificate files may be when the agent is not told otherwise.
pub const DEFAULT_TLS_FILE_DIR: &str = "/etc/certs";

/// `value` checked against `dir`: the path relative to `dir`, or why it is refused.
pub fn tls_file(value: &str, dir: &Path) -> Result<PathBuf, String> {
    let path = Path::new(value);
    let refused = |why: &str| {
        format!(
            "{value:?} refused: {why}; certificate files must be under {} (the agent's \
             --tls-file-dir), or use credentialName",
            dir.display()
        )
    };
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(refused("\"..\" is not allowed"));
    }
    match path.strip_prefix(dir) {
        Ok(relative) if path.is_absolute() && relative.components().next().is_some() => {
            Ok(relative.to_path_buf())
        }
        _ => Err(refused("not under the certificate directory")),
    }
}

/// The errors about the certificate files of `resource` when it is a DestinationRule naming
/// files outside `dir`: one per field, naming where it is.
pub fn check(raw: &RawResource, resource: &Resource, dir: &Path) -> Vec<Problem> {
    let Resource::DestinationRule(rule) = resource else {
        return Vec::new();
    };
    let mut tls: Vec<(String, &ClientTls)> = Vec::new();
    policy_tls(
        &mut tls,
        "spec.trafficPolicy".into(),
        &rule.spec.traffic_policy,
    );
    for (i, subset) in rule.spec.subsets.iter().enumerate() {
        let at = format!("spec.subsets[{i}].trafficPolicy");
        policy_tls(&mut tls, at, &subset.traffic_policy);
    }
    let mut found = Vec::new();
    for (at, tls) in tls {
        for (field, value) in files(tls) {
            if let Err(why) = tls_file(value, dir) {
                found.push(Problem::error(raw, format!("{at}.{field}"), why));
            }
        }
    }
    found
}

/// The `tls` of `policy` (at `at`) and of its port-level settings.
fn policy_tls<'a>(
    into: &mut Vec<(String, &'a ClientTls)>,
    at: String,
    policy: &'a Option<TrafficPolicy>,
) {
    let Some(policy) = policy else { return };
    into.extend(policy.tls.as_ref().map(|t| (format!("{at}.tls"), t)));
    for (i, port) in policy.port_level_settings.iter().enumerate() {
        let at = format!("{at}.portLevelSettings[{i}].tls");
        into.extend(port.tls.as_ref().map(|t| (at, t)));
    }
}

/// The file fields of `tls` that are set, by their YAML names.
pub fn files(tls: &ClientTls) -> impl Iterator<Item = (&'static str, &str)> {
    [
        ("clientCertificate", &tls.client_certificate),
        ("privateKey", &tls.private_key),
        ("caCertificates", &tls.ca_certificates),
        ("caCrl", &tls.ca_crl),
    ]
    .into_iter()
    .filter_map(|(field, value)| Some((field, value.as_deref().filter(|v| !v.is_empty())?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(value: &str) -> Result<PathBuf, String> {
        tls_file(value, Path::new("/etc/certs"))
    }

    #[test]
    fn a_file_under_the_directory_is_taken_relative_to_it() {
        assert_eq!(
            file("/etc/certs/partner/ca.pem"),
            Ok("partner/ca.pem".into())
        );
    }

    #[test]
    fn node_files_and_escapes_are_refused_naming_the_value_and_the_directory() {
        for value in [
            "/etc/shadow",
            "/var/lib/kubelet/pki/kubelet.key",
            "/etc/certs",
            "/etc/certs/",
            "/etc/certsx/ca.pem",
            "/etc/certs/../shadow",
            "/etc/certs/a/../b.pem",
            "etc/certs/ca.pem",
            "ca.pem",
        ] {
            let why = file(value).expect_err(value);
            assert!(why.starts_with(&format!("{value:?} refused: ")), "{why}");
            assert!(
                why.contains("/etc/certs (the agent's --tls-file-dir)"),
                "{why}"
            );
        }
    }
}
