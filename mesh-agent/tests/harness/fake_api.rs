//! An HTTP server on 127.0.0.1 that answers like the Kubernetes API server for discovery, list
//! and watch: what it serves (`fake_discovery.rs`; `404` for the rest), collections with a
//! resourceVersion, field selectors, metadata-only lists, scripted watch streams that can end in
//! `410 Gone`, and collections that fail with a status of the test's choosing; TokenReview
//! (`POST /apis/authentication.k8s.io/v1/tokenreviews`) for the tokens the test grants; single
//! objects (get, create, apply) in `fake_api_objects.rs`.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt as _, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::fake_discovery::{status, Served};

/// One step of a scripted watch stream.
#[derive(Clone, Debug)]
pub enum Step {
    /// Send a watch event (`ADDED`, `MODIFIED`, `DELETED`) and apply it to the collection.
    Event(&'static str, Value),
    /// Change the collection without telling the watcher (events it missed).
    Replace(Vec<Value>, u64),
    /// Send `ERROR` with `410 Gone` and close the stream: the client must relist.
    Gone,
}

#[derive(Default)]
struct Collection {
    items: Vec<Value>,
    resource_version: u64,
    watches: VecDeque<Vec<Step>>,
    /// Every list and watch answers this status instead.
    failure: Option<u16>,
}

/// The fake API server's state, shared with the test.
#[derive(Clone, Default)]
pub struct FakeApi {
    collections: Arc<Mutex<HashMap<String, Collection>>>,
    served: Arc<Mutex<Served>>,
    log: Arc<Mutex<Vec<String>>>,
    /// Token → the `status.user` its review answers; any other token is not authenticated.
    tokens: Arc<Mutex<HashMap<String, Value>>>,
}

impl FakeApi {
    /// Serves on an ephemeral loopback port until the runtime ends.
    pub async fn serve(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let api = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let api = api.clone();
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let api = api.clone();
                    async move {
                        if req.method() == hyper::Method::POST && req.uri().path() == TOKEN_REVIEWS
                        {
                            return Ok::<_, Infallible>(api.review(req).await);
                        }
                        if req.method() == hyper::Method::POST {
                            return Ok(api.create(req).await);
                        }
                        if req.method() == hyper::Method::PATCH {
                            return Ok(api.apply(req).await);
                        }
                        Ok::<_, Infallible>(api.answer(req))
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new().serve_connection(io, service),
                );
            }
        });
        addr
    }

    /// Sets the objects of the collection at `path` and its resourceVersion.
    pub fn set(&self, path: &str, items: Vec<Value>, resource_version: u64) {
        let mut collections = self.collections.lock().unwrap();
        let collection = collections.entry(path.to_owned()).or_default();
        collection.items = items;
        collection.resource_version = resource_version;
    }

    /// Queues the script of the next watch on `path`; a watch without a script sends nothing.
    pub fn script_watch(&self, path: &str, steps: Vec<Step>) {
        let mut collections = self.collections.lock().unwrap();
        collections
            .entry(path.to_owned())
            .or_default()
            .watches
            .push_back(steps);
    }

    /// Changes what the server serves (its CRDs), e.g. `api.change_served(|s| s.remove(group, plural))`.
    pub fn change_served(&self, change: impl FnOnce(&mut Served)) {
        change(&mut self.served.lock().unwrap());
    }

    /// Makes every list and watch of the collection at `path` answer `code` (`None`: heal).
    pub fn fail(&self, path: &str, code: Option<u16>) {
        let mut collections = self.collections.lock().unwrap();
        collections.entry(path.to_owned()).or_default().failure = code;
    }

    /// Makes `token` authenticate as `user` (TokenReview's `status.user`: username, extra).
    pub fn grant_token(&self, token: &str, user: Value) {
        self.tokens.lock().unwrap().insert(token.to_owned(), user);
    }

    /// Every request so far: `METHOD path?query [metadata-only]`.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn answer(&self, req: Request<Incoming>) -> Response<BoxBody<Bytes, Infallible>> {
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or("").to_owned();
        let metadata_only = req
            .headers()
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("as=PartialObjectMetadata"));
        let tag = if metadata_only {
            " [metadata-only]"
        } else {
            ""
        };
        self.log
            .lock()
            .unwrap()
            .push(format!("{} {path}?{query}{tag}", req.method()));
        if let Some(object) = self.get_object(&path) {
            return object;
        }
        if let Some(refused) = self.refusal(&path) {
            return refused;
        }
        let view = View {
            field: field_selector(&query),
            metadata_only,
        };
        if query
            .split('&')
            .any(|p| p == "watch=true" || p == "watch=1")
        {
            self.watch(&path, view)
        } else {
            self.list(&path, &view)
        }
    }

    /// The answer to `path` when it is discovery, not served, or failing: `None` to list or watch.
    fn refusal(&self, path: &str) -> Option<Response<BoxBody<Bytes, Infallible>>> {
        if let Some((code, body)) = self.served.lock().unwrap().answer(path) {
            return Some(json_response(code, &body));
        }
        let collections = self.collections.lock().unwrap();
        let code = collections.get(path).and_then(|c| c.failure)?;
        let body = status(code, "the test made this collection fail");
        Some(json_response(code, &body))
    }

    fn list(&self, path: &str, view: &View) -> Response<BoxBody<Bytes, Infallible>> {
        let collections = self.collections.lock().unwrap();
        let empty = Collection::default();
        let collection = collections.get(path).unwrap_or(&empty);
        let items: Vec<Value> = collection
            .items
            .iter()
            .filter_map(|i| view.show(i))
            .collect();
        let body = json!({
            "apiVersion": "v1", "kind": "List",
            "metadata": {"resourceVersion": collection.resource_version.to_string()},
            "items": items,
        });
        let body = Full::new(Bytes::from(body.to_string())).boxed();
        Response::builder()
            .header("content-type", "application/json")
            .body(body)
            .unwrap()
    }

    fn watch(&self, path: &str, view: View) -> Response<BoxBody<Bytes, Infallible>> {
        let script = self
            .collections
            .lock()
            .unwrap()
            .get_mut(path)
            .and_then(|c| c.watches.pop_front());
        let (frames, body) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(16);
        let api = self.clone();
        let path = path.to_owned();
        tokio::spawn(async move {
            for step in script.unwrap_or_default() {
                let Some(line) = api.play(&path, step, &view) else {
                    continue;
                };
                let gone = line.contains("\"code\":410");
                if frames
                    .send(Ok(Frame::data(Bytes::from(line))))
                    .await
                    .is_err()
                    || gone
                {
                    return;
                }
            }
            frames.closed().await;
        });
        let stream = tokio_stream_from(body);
        Response::builder()
            .header("content-type", "application/json")
            .body(stream)
            .unwrap()
    }

    /// Applies one step to the collection; the line to send, if any.
    fn play(&self, path: &str, step: Step, view: &View) -> Option<String> {
        let mut collections = self.collections.lock().unwrap();
        let collection = collections.entry(path.to_owned()).or_default();
        match step {
            Step::Event(kind, object) => {
                let name = object["metadata"]["name"].clone();
                collection.items.retain(|i| i["metadata"]["name"] != name);
                if kind != "DELETED" {
                    collection.items.push(object.clone());
                }
                let rv = object["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or("0");
                collection.resource_version = rv.parse().unwrap_or(collection.resource_version);
                let shown = view.show(&object)?;
                Some(format!("{}\n", json!({"type": kind, "object": shown})))
            }
            Step::Replace(items, rv) => {
                collection.items = items;
                collection.resource_version = rv;
                None
            }
            Step::Gone => Some(format!("{}\n", gone())),
        }
    }
}

#[path = "fake_api_objects.rs"]
mod objects;

const TOKEN_REVIEWS: &str = "/apis/authentication.k8s.io/v1/tokenreviews";

fn json_response(code: u16, body: &Value) -> Response<BoxBody<Bytes, Infallible>> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .unwrap()
}

fn gone() -> Value {
    json!({"type": "ERROR", "object": {
        "apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
        "message": "too old resource version", "reason": "Expired", "code": 410,
    }})
}

fn tokio_stream_from(
    mut frames: mpsc::Receiver<Result<Frame<Bytes>, Infallible>>,
) -> BoxBody<Bytes, Infallible> {
    let stream = futures::stream::poll_fn(move |cx| frames.poll_recv(cx));
    StreamBody::new(stream).boxed()
}

/// What a request sees of an object: its field selector, and metadata only when asked.
#[derive(Clone)]
struct View {
    field: Option<(String, String)>,
    metadata_only: bool,
}

impl View {
    fn show(&self, object: &Value) -> Option<Value> {
        if let Some((pointer, wanted)) = &self.field {
            if object.pointer(pointer).and_then(Value::as_str) != Some(wanted) {
                return None;
            }
        }
        if self.metadata_only {
            return Some(
                json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": object["metadata"]}),
            );
        }
        Some(object.clone())
    }
}

/// `fieldSelector=spec.nodeName%3Dnode-1` → (`/spec/nodeName`, `node-1`).
fn field_selector(query: &str) -> Option<(String, String)> {
    let raw = query
        .split('&')
        .find_map(|p| p.strip_prefix("fieldSelector="))?;
    let decoded = raw.replace("%3D", "=").replace("%3d", "=");
    let decoded = decoded.replace("%2F", "/").replace("%2f", "/");
    let (field, value) = decoded.split_once('=')?;
    Some((format!("/{}", field.replace('.', "/")), value.to_owned()))
}
