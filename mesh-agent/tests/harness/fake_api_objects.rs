//! Single objects of the fake API server's collections: `GET <collection>/<name>` (404 when
//! absent), `POST <collection>` (create; 409 when the name is taken) and `PATCH
//! <collection>/<name>` (server-side apply: the object as sent), for collections the test
//! declared with `set`; TokenReview for the tokens the test granted.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt as _};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{json, Value};

use super::{json_response, status, FakeApi, TOKEN_REVIEWS};

impl FakeApi {
    /// Answers a TokenReview: authenticated with the granted user, or not, with an error.
    pub(super) async fn review(
        &self,
        req: Request<Incoming>,
    ) -> Response<BoxBody<Bytes, Infallible>> {
        let body = req.into_body().collect().await.map(|b| b.to_bytes());
        let review: Value = body
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let token = review["spec"]["token"].as_str().unwrap_or("");
        let audiences = review["spec"]["audiences"].clone();
        self.log
            .lock()
            .unwrap()
            .push(format!("POST {TOKEN_REVIEWS} audiences={audiences}"));
        let status = match self.tokens.lock().unwrap().get(token) {
            Some(user) => json!({"authenticated": true, "user": user, "audiences": audiences}),
            None => json!({"authenticated": false, "error": "token not granted by the test"}),
        };
        let answer = json!({
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "metadata": {}, "spec": review["spec"], "status": status,
        });
        json_response(201, &answer)
    }

    /// The object at `path` when its parent is a declared collection; `None`: not an object.
    pub(super) fn get_object(&self, path: &str) -> Option<Response<BoxBody<Bytes, Infallible>>> {
        let (collection, name) = path.rsplit_once('/')?;
        let collections = self.collections.lock().unwrap();
        let items = &collections.get(collection)?.items;
        Some(match items.iter().find(|i| i["metadata"]["name"] == name) {
            Some(object) => json_response(200, object),
            None => json_response(404, &status(404, &format!("{name} not found"))),
        })
    }

    /// Applies the patched object: it replaces the one of its name, or is added.
    pub(super) async fn apply(
        &self,
        req: Request<Incoming>,
    ) -> Response<BoxBody<Bytes, Infallible>> {
        let path = req.uri().path().to_owned();
        self.log.lock().unwrap().push(format!("PATCH {path}"));
        let body = req.into_body().collect().await.map(|b| b.to_bytes());
        let Some(object) = body
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        else {
            return json_response(400, &status(400, "the body is not JSON"));
        };
        let mut collections = self.collections.lock().unwrap();
        let declared = path
            .rsplit_once('/')
            .and_then(|(c, _)| collections.get_mut(c));
        let Some(collection) = declared else {
            return json_response(404, &status(404, "the test declared no such collection"));
        };
        let name = object["metadata"]["name"].clone();
        collection.items.retain(|i| i["metadata"]["name"] != name);
        collection.items.push(object.clone());
        json_response(200, &object)
    }

    /// Creates the posted object in the collection at the request's path.
    pub(super) async fn create(
        &self,
        req: Request<Incoming>,
    ) -> Response<BoxBody<Bytes, Infallible>> {
        let path = req.uri().path().to_owned();
        self.log.lock().unwrap().push(format!("POST {path}"));
        let body = req.into_body().collect().await.map(|b| b.to_bytes());
        let Some(mut object) = body
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        else {
            return json_response(400, &status(400, "the body is not JSON"));
        };
        let mut collections = self.collections.lock().unwrap();
        let Some(collection) = collections.get_mut(&path) else {
            return json_response(404, &status(404, "the test declared no such collection"));
        };
        let name = object["metadata"]["name"].clone();
        if collection
            .items
            .iter()
            .any(|i| i["metadata"]["name"] == name)
        {
            return json_response(409, &status(409, &format!("{name} already exists")));
        }
        collection.resource_version += 1;
        object["metadata"]["resourceVersion"] =
            Value::from(collection.resource_version.to_string());
        collection.items.push(object.clone());
        json_response(201, &object)
    }
}
