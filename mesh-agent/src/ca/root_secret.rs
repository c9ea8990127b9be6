//! The self-signed root kept in a Kubernetes Secret (Istio's `istio-ca-secret` layout:
//! `ca-cert.pem`, `ca-key.pem`): the first replica creates it, every other replica and every
//! restart signs with the same root.

use std::collections::BTreeMap;

use anyhow::{anyhow, Context as _, Result};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

use super::signer::Signer;

/// The root in Secret `namespace/name`, created there when missing.
pub async fn self_signed(
    client: Client,
    namespace: &str,
    name: &str,
    trust_domain: &str,
) -> Result<Signer> {
    let api: Api<Secret> = Api::namespaced(client, namespace);
    let place = format!("Secret {namespace}/{name}");
    if let Some(secret) = api
        .get_opt(name)
        .await
        .with_context(|| format!("reading {place}"))?
    {
        return signer(&secret, &place);
    }
    let (cert, key) = Signer::create_root(trust_domain)?;
    let data = BTreeMap::from([
        (
            "ca-cert.pem".to_owned(),
            ByteString(cert.clone().into_bytes()),
        ),
        (
            "ca-key.pem".to_owned(),
            ByteString(key.clone().into_bytes()),
        ),
    ]);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            ..ObjectMeta::default()
        },
        type_: Some("istio.io/ca-root".to_owned()),
        data: Some(data),
        ..Secret::default()
    };
    match api.create(&PostParams::default(), &secret).await {
        Ok(_) => {
            tracing::info!(secret = %place, "created a self-signed root CA");
            Signer::new(&cert, &key, &[], &cert)
        }
        // Another replica created it first: sign with its root.
        Err(kube::Error::Api(status)) if status.is_already_exists() || status.code == 409 => {
            let secret = api
                .get(name)
                .await
                .with_context(|| format!("reading {place}"))?;
            signer(&secret, &place)
        }
        Err(e) => Err(e).with_context(|| format!("creating {place}")),
    }
}

fn signer(secret: &Secret, place: &str) -> Result<Signer> {
    let field = |key: &str| {
        let bytes = secret.data.as_ref().and_then(|d| d.get(key));
        let bytes = bytes.ok_or_else(|| anyhow!("{place} has no `{key}`"))?;
        String::from_utf8(bytes.0.clone()).map_err(|_| anyhow!("{place}: `{key}` is not PEM text"))
    };
    let cert = field("ca-cert.pem")?;
    let key = field("ca-key.pem")?;
    Signer::new(&cert, &key, &[], &cert).with_context(|| format!("the root CA in {place}"))
}
