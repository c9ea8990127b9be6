//! `mesh-agent ca`: the mesh's certificate authority, serving Istio's certificate API so node
//! agents (ours or ztunnel) obtain workload certificates without any CA key on the nodes.

pub mod authn;
pub mod authz;
pub mod client;
pub mod gateway_nodes;
pub mod keys;
pub mod proto;
pub mod publish;
pub mod root_secret;
pub mod server;
pub mod signer;
pub mod static_callers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};

/// What the CA signs and for whom.
#[derive(Clone, Debug)]
pub struct Settings {
    pub trust_domain: String,
    /// The longest lifetime a workload certificate gets (a longer request is cut to it).
    pub max_validity: Duration,
    /// ServiceAccounts (namespace, name) of node agents: they may ask for their pods' identities.
    pub node_agents: Vec<(String, String)>,
    /// The audience the callers' tokens must be for.
    pub audience: String,
    /// The gateways' identities (ingress, egress) and the nodes that may obtain them.
    pub gateways: gateway_nodes::GatewayNodes,
}

/// `mesh-agent ca`'s flags.
#[derive(clap::Args, Debug)]
pub struct CaArgs {
    /// Address of the certificate API (TLS, gRPC).
    #[arg(long, default_value = "0.0.0.0:15012")]
    pub listen: SocketAddr,
    /// Istio's plug-in CA files (Secret `cacerts`): ca-cert.pem, ca-key.pem, cert-chain.pem,
    /// root-cert.pem. Used when ca-key.pem is there (as istiod does); else a self-signed root.
    #[arg(long, default_value = "/etc/cacerts")]
    pub ca_dir: PathBuf,
    /// Keep the self-signed root in this directory instead of --root-secret (lab, tests).
    #[arg(long)]
    pub root_dir: Option<PathBuf>,
    /// The Secret (`namespace/name`) the self-signed root is created in once and read from.
    #[arg(long, default_value = "mesh-system/istio-ca-secret")]
    pub root_secret: String,
    #[arg(long, default_value = "cluster.local")]
    pub trust_domain: String,
    /// Longest workload certificate lifetime, in seconds.
    #[arg(long, default_value_t = 86_400)]
    pub max_cert_ttl_secs: u64,
    /// Node agents' ServiceAccounts as `namespace/name` (repeat for several).
    #[arg(long = "node-agent", default_value = "mesh-system/mesh-agent")]
    pub node_agents: Vec<String>,
    /// Identities of ingress gateways run by node agents, as `namespace/serviceAccount`
    /// (repeat for several): a node agent obtains one only for a node carrying
    /// --gateway-node-label.
    #[arg(long = "gateway-identity", default_value = gateway_nodes::DEFAULT_GATEWAY_IDENTITY)]
    pub gateway_identities: Vec<String>,
    /// The Node label (`key=value`) of the nodes whose agents run the ingress gateway.
    #[arg(long, default_value = gateway_nodes::DEFAULT_GATEWAY_NODE_LABEL)]
    pub gateway_node_label: String,
    /// Identities of egress gateways run by node agents, as `namespace/serviceAccount`
    /// (repeat for several): a node agent obtains one only for a node carrying
    /// --egress-gateway-node-label.
    #[arg(long = "egress-gateway-identity", default_value = gateway_nodes::DEFAULT_EGRESS_GATEWAY_IDENTITY)]
    pub egress_gateway_identities: Vec<String>,
    /// The Node label (`key=value`) of the nodes whose agents run the egress gateway.
    #[arg(long, default_value = gateway_nodes::DEFAULT_EGRESS_GATEWAY_NODE_LABEL)]
    pub egress_gateway_node_label: String,
    /// Audience of the callers' ServiceAccount tokens.
    #[arg(long, default_value = "istio-ca")]
    pub audience: String,
    /// Names in the CA's serving certificate (repeat for several).
    #[arg(long = "tls-name", default_values = ["mesh-ca.mesh-system.svc", "mesh-ca.mesh-system.svc.cluster.local"])]
    pub tls_names: Vec<String>,
    /// Do not publish the root as ConfigMap `istio-ca-root-cert` in every namespace.
    #[arg(long)]
    pub no_publish_root: bool,
    /// No Kubernetes API (the lab, tests): callers and pods from this file instead of
    /// TokenReview and pod lists (see `static_callers.rs`); needs --root-dir or plug-in files,
    /// publishes nothing.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
}

impl CaArgs {
    /// The settings, or what is wrong with a flag.
    pub fn settings(&self) -> Result<Settings> {
        let node_agents = self
            .node_agents
            .iter()
            .map(|agent| match agent.split_once('/') {
                Some((ns, sa)) if !ns.is_empty() && !sa.is_empty() => {
                    Ok((ns.to_owned(), sa.to_owned()))
                }
                _ => bail!("--node-agent `{agent}` is not namespace/serviceAccount"),
            })
            .collect::<Result<_>>()?;
        if self.max_cert_ttl_secs == 0 {
            bail!("--max-cert-ttl-secs must be positive");
        }
        Ok(Settings {
            trust_domain: self.trust_domain.clone(),
            max_validity: Duration::from_secs(self.max_cert_ttl_secs),
            node_agents,
            audience: self.audience.clone(),
            gateways: self.gateways().map_err(anyhow::Error::msg)?,
        })
    }

    /// The ingress and egress gateways of the flags.
    fn gateways(&self) -> Result<gateway_nodes::GatewayNodes, String> {
        use gateway_nodes::GatewayKind;
        let ingress = GatewayKind::parse(
            "ingress",
            &self.gateway_identities,
            &self.gateway_node_label,
        )?;
        let egress = GatewayKind::parse(
            "egress",
            &self.egress_gateway_identities,
            &self.egress_gateway_node_label,
        )?;
        Ok(gateway_nodes::GatewayNodes {
            kinds: vec![ingress, egress],
        })
    }

    /// The signer: the plug-in CA when its key is there, else the kept self-signed root (in
    /// the Secret through `client`, which only a CA without --root-dir needs).
    pub async fn signer(&self, client: Option<&kube::Client>) -> Result<signer::Signer> {
        if self.ca_dir.join("ca-key.pem").exists() {
            tracing::info!(dir = %self.ca_dir.display(), "signing with the plug-in CA");
            return keys::plug_in(&self.ca_dir);
        }
        if let Some(dir) = &self.root_dir {
            return keys::self_signed(dir, &self.trust_domain);
        }
        let Some(client) = client else {
            bail!(
                "without the Kubernetes API (--token-file) the root is kept in --root-dir or \
                 taken from the plug-in files in --ca-dir; give one"
            );
        };
        let Some((namespace, name)) = self.root_secret.split_once('/') else {
            bail!("--root-secret `{}` is not namespace/name", self.root_secret);
        };
        root_secret::self_signed(client.clone(), namespace, name, &self.trust_domain).await
    }
}

/// Runs the CA until it fails: in-cluster API client (or the static `--token-file`), root
/// publication, the gRPC server.
pub async fn run(args: CaArgs) -> Result<()> {
    let settings = args.settings()?;
    let (signer, callers) = match &args.token_file {
        Some(file) => {
            tracing::warn!(file = %file.display(),
                "static token file: callers and pods from the file, no TokenReview (no Kubernetes API)");
            let callers = authn::Callers::StaticFile(file.clone());
            (args.signer(None).await?, callers)
        }
        None => {
            let client = kube::Client::try_default()
                .await
                .context("the CA needs the Kubernetes API (in-cluster or kubeconfig)")?;
            let signer = args.signer(Some(&client)).await?;
            if !args.no_publish_root {
                tokio::spawn(publish::keep_published(
                    client.clone(),
                    signer.root().to_owned(),
                ));
            }
            (signer, authn::Callers::Kubernetes(client))
        }
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding the CA to {}", args.listen))?;
    tracing::info!(listen = %args.listen, trust_domain = %settings.trust_domain, "CA serving");
    let ca = server::Ca {
        signer,
        callers,
        settings,
    };
    server::serve(Arc::new(ca), listener, &args.tls_names).await
}
