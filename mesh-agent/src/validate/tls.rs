//! TLS settings as Istio's validation reads them: a DestinationRule's client TLS
//! (`ValidateTLS`) and a Gateway server's TLS (`validateTLSOptions`): each mode with the
//! certificates it needs and none it ignores.

use super::finding::Findings;
use crate::resources::{ClientTls, ClientTlsMode, ServerTls, ServerTlsMode};

/// Whether an optional text field is set to something.
fn set(field: &Option<String>) -> bool {
    field.as_deref().is_some_and(|v| !v.is_empty())
}

/// Problems of a DestinationRule's `tls` at `at`.
pub(crate) fn client_tls(found: &mut Findings, at: &str, tls: &ClientTls) {
    let (mode, credential) = (tls.mode, set(&tls.credential_name));
    let sans = !tls.subject_alt_names.is_empty();
    if tls.insecure_skip_verify == Some(true) {
        let simple = mode == Some(ClientTlsMode::Simple)
            && (set(&tls.ca_certificates) || credential || sans);
        let mutual = mode == Some(ClientTlsMode::Mutual) && (set(&tls.ca_certificates) || sans);
        if simple || mutual {
            found.error(at, "insecureSkipVerify: true verifies nothing: remove caCertificates, credentialName and subjectAltNames");
        }
    }
    let own_files = [
        &tls.client_certificate,
        &tls.ca_certificates,
        &tls.private_key,
        &tls.ca_crl,
    ];
    let with_credential =
        matches!(mode, Some(ClientTlsMode::Simple | ClientTlsMode::Mutual)) && credential;
    if with_credential && own_files.iter().any(|f| set(f)) {
        found.error(at, "with credentialName, certificates, keys and CRLs come from the credential: remove clientCertificate, privateKey, caCertificates and caCrl");
    }
    if mode == Some(ClientTlsMode::Mutual) && !credential {
        if !set(&tls.client_certificate) {
            found.error(
                format!("{at}.clientCertificate"),
                "client certificate required for MUTUAL TLS",
            );
        }
        if !set(&tls.private_key) {
            found.error(
                format!("{at}.privateKey"),
                "private key required for MUTUAL TLS",
            );
        }
    }
}

/// Problems of a Gateway server's `tls` at `at`.
pub(crate) fn server_tls(found: &mut Findings, at: &str, tls: &ServerTls) {
    let files = [
        ("serverCertificate", &tls.server_certificate),
        ("privateKey", &tls.private_key),
        ("caCertificates", &tls.ca_certificates),
        ("credentialName", &tls.credential_name),
    ];
    // An unset mode is PASSTHROUGH, the enum's zero.
    let mode = tls.mode.unwrap_or(ServerTlsMode::Passthrough);
    match mode {
        ServerTlsMode::IstioMutual => {
            for (name, _) in files.iter().filter(|(_, f)| set(f)) {
                found.error(
                    format!("{at}.{name}"),
                    format!(
                        "ISTIO_MUTUAL TLS cannot have {name}: the mesh's certificates are used"
                    ),
                );
            }
            return;
        }
        ServerTlsMode::Passthrough | ServerTlsMode::AutoPassthrough
            if files.iter().any(|(_, f)| set(f)) || set(&tls.ca_crl) =>
        {
            found.warning(
                at,
                "passthrough modes do not use certificates; they are ignored",
            );
        }
        _ => {}
    }
    let mutual = matches!(mode, ServerTlsMode::Mutual | ServerTlsMode::OptionalMutual);
    let terminates = mutual || mode == ServerTlsMode::Simple;
    if terminates && set(&tls.credential_name) {
        return; // the credential holds the certificates
    }
    if terminates {
        let mode = if mutual { "MUTUAL" } else { "SIMPLE" };
        let needed = [
            ("serverCertificate", "a server certificate"),
            ("privateKey", "a private key"),
            ("caCertificates", "a client CA bundle"),
        ];
        for ((name, what), (_, file)) in needed.iter().zip(files).take(if mutual { 3 } else { 2 }) {
            if !set(file) {
                found.error(
                    format!("{at}.{name}"),
                    format!("{mode} TLS requires {what} (or a credentialName)"),
                );
            }
        }
    }
    if set(&tls.ca_crl) && set(&tls.credential_name) {
        found.error(
            format!("{at}.caCrl"),
            "a CRL is not supported with credentialName: put it in the credential",
        );
    }
    if set(&tls.ca_crl) && mode == ServerTlsMode::Simple {
        found.error(
            format!("{at}.caCrl"),
            "a CRL is not supported with SIMPLE TLS",
        );
    }
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
