//! `mesh-agent run`'s CA flags, named after Istio's agents' settings (`CA_ADDRESS`,
//! `CA_ROOT_CA`, the projected token at `/var/run/secrets/tokens/istio-token`), resolved once;
//! and the certificate manager they start. No `--ca-address`: no certificates (plaintext).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use prometheus_client::registry::Registry;
use serde::Serialize;

use super::{Backoff, CaIssuer, CertificateMetrics, NodeCertificates};

/// Where Istio mounts the mesh root for its agents.
pub const DEFAULT_CA_ROOT: &str = "/var/run/secrets/istio/root-cert.pem";
/// Istio's projected ServiceAccount token (audience `istio-ca`).
pub const DEFAULT_CA_TOKEN: &str = "/var/run/secrets/tokens/istio-token";
/// The lifetime asked of the CA (Istio's default `SECRET_TTL`).
pub const DEFAULT_CERT_TTL_SECS: u64 = 86_400;

/// The workload certificates' flags.
#[derive(Clone, Debug, clap::Args)]
pub struct CaClientArgs {
    /// Istio's certificate API (`https://host:port`: our `mesh-agent ca`, istiod, or any
    /// compatible CA). Without it the agent issues no certificates and traffic stays plaintext.
    #[arg(long, env = "CA_ADDRESS")]
    pub ca_address: Option<String>,
    /// The root (PEM) the CA's serving certificate chains to.
    #[arg(long, env = "CA_ROOT_CA", default_value = DEFAULT_CA_ROOT)]
    pub ca_root: PathBuf,
    /// The agent's projected ServiceAccount token (audience `istio-ca`), read at each request.
    #[arg(long, default_value = DEFAULT_CA_TOKEN)]
    pub ca_token: PathBuf,
    /// The name the CA's certificate must carry [default: the host of --ca-address].
    #[arg(long)]
    pub ca_server_name: Option<String>,
    /// The mesh's trust domain: identities are `spiffe://<it>/ns/<ns>/sa/<serviceAccount>`.
    #[arg(long, default_value = "cluster.local")]
    pub trust_domain: String,
    /// Lifetime asked for workload certificates, in seconds (renewed at half of it).
    #[arg(long, default_value_t = DEFAULT_CERT_TTL_SECS)]
    pub cert_ttl_secs: u64,
}

/// The resolved CA client settings (logged at start with the rest of the configuration).
#[derive(Clone, Debug, Serialize)]
pub struct CaClientSettings {
    pub address: String,
    pub server_name: String,
    pub root: PathBuf,
    pub token: PathBuf,
    pub trust_domain: String,
    pub cert_ttl: Duration,
}

impl CaClientArgs {
    /// `None` without `--ca-address`; otherwise the settings or what is wrong with a flag.
    pub fn resolve(self) -> anyhow::Result<Option<CaClientSettings>> {
        let Some(address) = self.ca_address else {
            return Ok(None);
        };
        let uri: http::Uri = address
            .parse()
            .with_context(|| format!("--ca-address `{address}` is not a URL"))?;
        let (Some("https"), Some(host)) = (uri.scheme_str(), uri.host()) else {
            bail!("--ca-address `{address}` must be https://host:port (the CA serves over TLS)");
        };
        if self.cert_ttl_secs < 2 {
            bail!("--cert-ttl-secs must be at least 2");
        }
        if self.trust_domain.is_empty() || self.trust_domain.contains('/') {
            bail!(
                "--trust-domain `{}` must be a name without '/'",
                self.trust_domain
            );
        }
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        Ok(Some(CaClientSettings {
            server_name: self.ca_server_name.unwrap_or(host),
            address,
            root: self.ca_root,
            token: self.ca_token,
            trust_domain: self.trust_domain,
            cert_ttl: Duration::from_secs(self.cert_ttl_secs),
        }))
    }
}

/// The certificate manager `settings` describe, its metrics in `registry`; `None` (logged:
/// plaintext) without a CA. The root and the token are read at each request, not here.
pub fn start(
    settings: Option<&CaClientSettings>,
    registry: &mut Registry,
) -> Option<Arc<NodeCertificates>> {
    let Some(settings) = settings else {
        tracing::info!("no --ca-address: workloads get no certificates, traffic stays plaintext");
        return None;
    };
    let issuer = CaIssuer {
        address: settings.address.clone(),
        server_name: settings.server_name.clone(),
        root_file: settings.root.clone(),
        token_file: settings.token.clone(),
        validity: settings.cert_ttl,
    };
    tracing::info!(ca = %settings.address, trust_domain = %settings.trust_domain,
        "workload certificates from the CA");
    let metrics = CertificateMetrics::register(registry);
    Some(Arc::new(NodeCertificates::new(
        settings.trust_domain.clone(),
        Arc::new(issuer),
        metrics,
        Backoff::default(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        ca: CaClientArgs,
    }

    fn resolve(args: &[&str]) -> anyhow::Result<Option<CaClientSettings>> {
        let argv = std::iter::once("agent").chain(args.iter().copied());
        Cli::try_parse_from(argv).unwrap().ca.resolve()
    }

    #[test]
    fn no_address_no_certificates_and_defaults_as_istio() {
        assert!(resolve(&[]).unwrap().is_none());
        let ca = resolve(&["--ca-address", "https://mesh-ca.mesh-system.svc:15012"])
            .unwrap()
            .unwrap();
        assert_eq!(ca.server_name, "mesh-ca.mesh-system.svc");
        assert_eq!(ca.root, PathBuf::from(DEFAULT_CA_ROOT));
        assert_eq!(ca.token, PathBuf::from(DEFAULT_CA_TOKEN));
        assert_eq!(ca.trust_domain, "cluster.local");
        assert_eq!(ca.cert_ttl, Duration::from_secs(86_400));
    }

    #[test]
    fn bad_flags_are_named() {
        let err = resolve(&["--ca-address", "http://ca:15012"]).unwrap_err();
        assert!(
            err.to_string().contains("must be https://host:port"),
            "{err}"
        );
        let err = resolve(&["--ca-address", "https://ca:1", "--cert-ttl-secs", "1"]).unwrap_err();
        assert!(err.to_string().contains("--cert-ttl-secs"), "{err}");
    }
}
