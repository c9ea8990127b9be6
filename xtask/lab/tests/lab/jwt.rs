//! RequestAuthentication in the lab with real eBPF: an issuer's key set served by an external
//! lab host (outside every node, reached by the agent over the fabric); the backend's
//! RequestAuthentication names it by `jwksUri`. A token it signed reaches the backend (with its
//! subject in `x-user`, the token itself kept from the app); a forged one (same `kid`, another
//! key) gets Envoy's `401 Jwt verification fails`; no token passes; the 401 is counted.

use std::path::PathBuf;
use std::thread::sleep;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::mesh_support::{curl, mesh_lab_of_paths, metrics, pod_ip, sum};
use crate::support::{stdout, TestLab};

const CLIENT: (&str, &str) = ("shop", "client");
const ISSUER: &str = "https://issuer.lab";
const NODE: &str = "node-1";

/// A signing key (ECDSA P-256, `kid` k1) and its key set.
struct SigningKey {
    encoding: EncodingKey,
    jwks: String,
}

impl SigningKey {
    fn new() -> Self {
        let pair = rcgen::KeyPair::generate().unwrap();
        let point = pair.public_key_raw();
        let (x, y) = point[1..].split_at(32);
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256",
                         "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)});
        Self {
            encoding: EncodingKey::from_ec_der(&pair.serialize_der()),
            jwks: json!({"keys": [jwk]}).to_string(),
        }
    }

    fn sign(&self, subject: &str) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = json!({"iss": ISSUER, "sub": subject, "exp": now + 600});
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, &claims, &self.encoding).unwrap()
    }
}

/// Serves `$JWKS` on port 8000 (any path).
const KEY_SERVER: &str = "import http.server, os
body = os.environ['JWKS'].encode()
class Keys(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header('content-type', 'application/json')
        self.send_header('content-length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(('0.0.0.0', 8000), Keys).serve_forever()
";

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The cluster of `lab-jwt.yaml` plus the external host `keys` serving `jwks`, in `dir`.
fn cluster(dir: &Scratch, jwks: &str) -> PathBuf {
    let keys = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "keys", "namespace": "outside",
                     "annotations": {"lab.mesh/external-host": "keys.example.net"}},
        "spec": {"containers": [{"name": "keys", "command": ["python3", "-c", KEY_SERVER],
                                 "env": [{"name": "JWKS", "value": jwks}]}]}});
    let base = std::fs::read_to_string(crate::support::data("lab-jwt.yaml")).unwrap();
    let path = dir.0.join("cluster.yaml");
    std::fs::write(&path, format!("{base}---\n{keys}\n")).unwrap();
    path
}

/// The backend's RequestAuthentication, its keys at the external host's `ip`.
fn request_authentication(dir: &Scratch, ip: &str) -> PathBuf {
    let policy = json!({"apiVersion": "security.istio.io/v1", "kind": "RequestAuthentication",
        "metadata": {"name": "backend", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "backend"}},
                 "jwtRules": [{"issuer": ISSUER, "jwksUri": format!("http://{ip}:8000/jwks.json"),
                               "outputClaimToHeaders": [{"header": "x-user", "claim": "sub"}]}]}});
    let path = dir.0.join("request-authentication.yaml");
    std::fs::write(&path, policy.to_string()).unwrap();
    path
}

/// Status and body of `GET http://backend/` from the client, with `token` as a bearer.
fn call(lab: &TestLab, token: Option<&str>) -> (String, String) {
    let bearer = token.map(|t| format!("Authorization: Bearer {t}"));
    let mut args = vec!["-w", "\n%{http_code}"];
    if let Some(bearer) = &bearer {
        args.extend(["-H", bearer.as_str()]);
    }
    args.push("http://backend/");
    let out = stdout(&curl(lab, CLIENT.0, CLIENT.1, &args));
    let (body, status) = out.rsplit_once('\n').unwrap_or(("", &out));
    (status.trim().to_string(), body.to_string())
}

/// Polls (bounded) until the forged token is refused: the policy is in force.
fn refuses(lab: &TestLab, forged: &str) -> (String, String) {
    let mut last = call(lab, Some(forged));
    for _ in 0..40 {
        if last.0 == "401" {
            return last;
        }
        sleep(Duration::from_millis(250));
        last = call(lab, Some(forged));
    }
    panic!("the forged token was never refused: last {last:?}");
}

#[test]
fn a_token_from_an_issuer_served_in_the_lab_is_accepted_and_a_forged_one_gets_401() {
    let (key, forger) = (SigningKey::new(), SigningKey::new());
    let dir = Scratch(std::env::temp_dir().join(format!("t-jwt-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let Some(lab) = mesh_lab_of_paths("t-jwt", 1, &[cluster(&dir, &key.jwks)]) else {
        return;
    };
    let keys_ip = pod_ip(&lab, "outside/keys");
    lab.exec_until_ok(
        CLIENT.0,
        CLIENT.1,
        &["curl", "-fsS", "-m", "5", "http://backend/"],
    );
    let policy = request_authentication(&dir, &keys_ip);
    if let Err(err) = lab.try_apply(&policy) {
        panic!("lab apply {} failed: {err:#}", policy.display());
    }

    let (_, body) = refuses(&lab, &forger.sign("mallory"));
    assert_eq!(body, "Jwt verification fails");
    let (status, body) = call(&lab, Some(&key.sign("alice")));
    assert_eq!(status, "200", "{body}");
    let answer: Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    let headers = &answer["headers"];
    assert_eq!(headers["x-user"], "alice", "{answer}");
    assert!(
        headers.get("authorization").is_none(),
        "the token stays with the mesh: {answer}"
    );
    assert_eq!(call(&lab, None).0, "200", "no token: authorization decides");

    let text = metrics(&lab, NODE);
    let refused: u64 = text
        .lines()
        .filter(|l| l.contains("reporter=\"destination\"") && l.contains("response_code=\"401\""))
        .map(|l| sum(l, "istio_requests_total", "response_flags=\"-\""))
        .sum();
    assert!(
        refused > 0,
        "the 401s are counted by the destination:\n{text}"
    );
}
