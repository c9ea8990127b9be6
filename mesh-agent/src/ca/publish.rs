//! The root published as Istio does: ConfigMap `istio-ca-root-cert`, key `root-cert.pem`, in
//! every namespace, applied again each minute so new namespaces get it too.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

/// Istio's name for the ConfigMap holding the root.
pub const ROOT_CONFIG_MAP: &str = "istio-ca-root-cert";

/// Publishes `root` in every namespace now and every minute; failures are logged and retried.
pub async fn keep_published(client: Client, root: String) {
    loop {
        if let Err(e) = publish_once(&client, &root).await {
            tracing::warn!(error = %e, "publishing the root CA ConfigMaps failed; retrying in a minute");
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

/// Applies the ConfigMap in each namespace (server-side apply, field manager `mesh-ca`).
pub async fn publish_once(client: &Client, root: &str) -> Result<(), kube::Error> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for namespace in namespaces.list(&ListParams::default()).await? {
        let Some(ns) = namespace.metadata.name else {
            continue;
        };
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
        let map = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": ROOT_CONFIG_MAP, "namespace": ns},
            "data": {"root-cert.pem": root},
        });
        let params = PatchParams::apply("mesh-ca").force();
        api.patch(ROOT_CONFIG_MAP, &params, &Patch::Apply(&map))
            .await?;
    }
    Ok(())
}
