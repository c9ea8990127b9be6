//! End-user tokens for RequestAuthentication tests: a signing key made here (ECDSA P-256) with
//! its JSON Web Key Set, tokens it signs, and an issuer serving that key set over HTTP on
//! loopback (or failing, when told to).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// An issuer's signing key and its key set.
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    /// `{"keys": [...]}`.
    pub jwks: String,
}

impl SigningKey {
    /// A fresh key named `kid`.
    pub fn new(kid: &str) -> Self {
        let pair = rcgen::KeyPair::generate().unwrap();
        let point = pair.public_key_raw();
        let (x, y) = point[1..].split_at(32);
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
                         "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)});
        Self {
            kid: kid.into(),
            encoding: EncodingKey::from_ec_der(&pair.serialize_der()),
            jwks: json!({"keys": [jwk]}).to_string(),
        }
    }

    /// A token of `claims`, signed.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An HTTP server answering every request with a key set (or `503` while it has none).
pub struct JwksServer {
    pub address: SocketAddr,
    body: Arc<Mutex<Option<String>>>,
}

impl JwksServer {
    /// Serving `jwks` on a free loopback port.
    pub async fn start(jwks: Option<&str>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let body = Arc::new(Mutex::new(jwks.map(str::to_string)));
        let serving = body.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let serving = serving.clone();
                let service = hyper::service::service_fn(move |_| {
                    let body = serving.lock().unwrap().clone();
                    async move {
                        let mut response =
                            Response::new(Full::new(Bytes::from(body.clone().unwrap_or_default())));
                        if body.is_none() {
                            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                        }
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                tokio::spawn(connection);
            }
        });
        Self { address, body }
    }

    /// `http://<address>/jwks.json`.
    pub fn uri(&self) -> String {
        format!("http://{}/jwks.json", self.address)
    }

    /// Serves `jwks` from now on (`None`: `503`).
    pub fn serve(&self, jwks: Option<&str>) {
        *self.body.lock().unwrap() = jwks.map(str::to_string);
    }
}
