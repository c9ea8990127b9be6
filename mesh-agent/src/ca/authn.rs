//! Callers proven by the API server: a ServiceAccount token checked by TokenReview (audience
//! `istio-ca` by default), and the pods running on a node, for node agents' requests — or, without
//! an API server, by the static file of `--token-file` ([`Callers`]); a node's labels, for
//! gateway identities (`gateway_nodes.rs`).

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use tonic::Status;

use super::authz::Caller;
use super::static_callers::StaticCallers;

/// Where the CA learns who calls and which pods run where.
#[derive(Clone)]
pub enum Callers {
    /// TokenReview and pod lists (production).
    Kubernetes(Client),
    /// `--token-file` (no Kubernetes API: the lab, tests), read at each request.
    StaticFile(std::path::PathBuf),
}

impl Callers {
    /// The caller `token` proves for `audience` (the static file has no audiences).
    pub async fn review(&self, token: &str, audience: &str) -> Result<Caller, Status> {
        match self {
            Callers::Kubernetes(client) => review(client, token, audience).await,
            Callers::StaticFile(path) => StaticCallers::read(path)?.review(token),
        }
    }

    /// The labels of Node `node` (none when it has none).
    pub async fn node_labels(&self, node: &str) -> Result<BTreeMap<String, String>, String> {
        match self {
            Callers::Kubernetes(client) => node_labels(client, node).await,
            Callers::StaticFile(path) => StaticCallers::read(path)
                .map(|callers| callers.node_labels(node))
                .map_err(|status| status.message().to_owned()),
        }
    }

    /// (namespace, serviceAccount) of every pod running on `node`.
    pub async fn pods_on_node(&self, node: &str) -> Result<Vec<(String, String)>, String> {
        match self {
            Callers::Kubernetes(client) => pods_on_node(client, node).await,
            Callers::StaticFile(path) => StaticCallers::read(path)
                .map(|callers| callers.pods_on_node(node))
                .map_err(|status| status.message().to_owned()),
        }
    }
}

/// The TokenReview `extra` key holding the node of the pod a projected token is bound to.
const NODE_NAME: &str = "authentication.kubernetes.io/node-name";

/// Reviews `token` for `audience`: the caller it proves; `UNAUTHENTICATED` saying why not, or
/// `UNAVAILABLE` when the API server could not review it.
pub async fn review(client: &Client, token: &str, audience: &str) -> Result<Caller, Status> {
    let review = TokenReview {
        spec: TokenReviewSpec {
            token: Some(token.to_owned()),
            audiences: Some(vec![audience.to_owned()]),
        },
        ..TokenReview::default()
    };
    let api: Api<TokenReview> = Api::all(client.clone());
    let answer = api
        .create(&PostParams::default(), &review)
        .await
        .map_err(|e| {
            Status::unavailable(format!("the API server could not review the token: {e}"))
        })?;
    let status = answer.status.unwrap_or_default();
    if status.authenticated != Some(true) {
        let why = status.error.unwrap_or_else(|| "no reason given".to_owned());
        return Err(Status::unauthenticated(format!(
            "the token is not valid for audience `{audience}`: {why}"
        )));
    }
    let user = status.user.unwrap_or_default();
    let name = user.username.unwrap_or_default();
    let Some((namespace, service_account)) = name
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
    else {
        return Err(Status::unauthenticated(format!(
            "the token belongs to `{name}`, not to a ServiceAccount"
        )));
    };
    let node = user
        .extra
        .as_ref()
        .and_then(|extra| extra.get(NODE_NAME))
        .and_then(|names| names.first())
        .cloned();
    Ok(Caller {
        namespace: namespace.to_owned(),
        service_account: service_account.to_owned(),
        node,
    })
}

/// (namespace, serviceAccount) of every pod scheduled on `node` and not finished.
pub async fn pods_on_node(client: &Client, node: &str) -> Result<Vec<(String, String)>, String> {
    let api: Api<Pod> = Api::all(client.clone());
    let params = ListParams::default().fields(&format!("spec.nodeName={node}"));
    let pods = api
        .list(&params)
        .await
        .map_err(|e| format!("listing the pods on node `{node}` failed: {e}"))?;
    Ok(pods
        .items
        .into_iter()
        .filter(|pod| {
            let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
            !matches!(phase, Some("Succeeded" | "Failed"))
        })
        .map(|pod| {
            let namespace = pod.metadata.namespace.unwrap_or_default();
            let spec = pod.spec.unwrap_or_default();
            let sa = spec
                .service_account_name
                .unwrap_or_else(|| "default".to_owned());
            (namespace, sa)
        })
        .collect())
}

/// The labels of Node `node`, read from the API server.
pub async fn node_labels(client: &Client, node: &str) -> Result<BTreeMap<String, String>, String> {
    let api: Api<Node> = Api::all(client.clone());
    let found = api
        .get(node)
        .await
        .map_err(|e| format!("reading Node `{node}` failed: {e}"))?;
    Ok(found.metadata.labels.unwrap_or_default())
}
