//! The agent's own small HTTP(S) client, from the agent's network namespace (the node's): GET a
//! document such as a JWT issuer's key set. HTTPS trusts the node's CA bundle.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The largest body read.
pub const WEB_BODY_LIMIT: usize = 1024 * 1024;

/// GETs documents over HTTP or HTTPS. Cheap to clone (connections are pooled).
#[derive(Clone, Debug)]
pub struct WebClient {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    timeout: Duration,
}

impl WebClient {
    /// A client whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let builder = HttpsConnectorBuilder::new();
        let builder = match builder.with_native_roots() {
            Ok(builder) => builder,
            Err(error) => {
                tracing::warn!(%error, "no CA certificates on the node: HTTPS fetches will fail");
                HttpsConnectorBuilder::new().with_tls_config(
                    rustls::ClientConfig::builder()
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth(),
                )
            }
        };
        let connector = builder.https_or_http().enable_http1().build();
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
        }
    }

    /// The body of `uri` when it answers `200`, else why not (the URI named).
    pub async fn get(&self, uri: &str) -> Result<String, String> {
        let parsed: hyper::Uri = uri.parse().map_err(|e| format!("{uri}: not a URL: {e}"))?;
        let fetch = async {
            let response = self
                .client
                .get(parsed)
                .await
                .map_err(|e| format!("{uri}: {e}"))?;
            let status = response.status();
            if status != hyper::StatusCode::OK {
                return Err(format!("{uri}: answered {status}"));
            }
            let body = Limited::new(response.into_body(), WEB_BODY_LIMIT)
                .collect()
                .await;
            let body = body.map_err(|e| format!("{uri}: reading the body: {e}"))?;
            String::from_utf8(body.to_bytes().to_vec())
                .map_err(|_| format!("{uri}: the body is not UTF-8"))
        };
        match tokio::time::timeout(self.timeout, fetch).await {
            Ok(result) => result,
            Err(_) => Err(format!("{uri}: no answer within {:?}", self.timeout)),
        }
    }
}
