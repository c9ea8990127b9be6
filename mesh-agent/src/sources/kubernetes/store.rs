//! One watch: a kube-rs watcher (relist on `410 Gone`, reconnect with the default backoff) feeding
//! a reflector store, and the store read back as raw resources.

use std::fmt::Debug;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{FutureExt as _, StreamExt as _};
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::core::ApiResource;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt as _};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::kinds::{Selection, WatchedKind};
use crate::document::{Origin, RawResource};

/// A running watch of one [`WatchedKind`] and its store.
pub struct KindStore {
    kind: &'static WatchedKind,
    read: Box<dyn Fn() -> Vec<RawResource> + Send + Sync>,
    ready: BoxFuture<'static, ()>,
    task: JoinHandle<()>,
}

impl KindStore {
    /// Starts watching `kind`; `changed` is notified whenever the store changes.
    pub fn start(
        client: Client,
        kind: &'static WatchedKind,
        node: &str,
        changed: Arc<Notify>,
    ) -> Self {
        let resource = kind.api_resource();
        let mut config = watcher::Config::default();
        if let Some(fields) = kind.field_selector(node) {
            config = config.fields(&fields);
        }
        match kind.selection {
            Selection::MetadataOnly => {
                let api = Api::<PartialObjectMeta<DynamicObject>>::all_with(client, &resource);
                Self::watch(api, resource, config, kind, changed)
            }
            Selection::Named { namespace, .. } => {
                let api = Api::<DynamicObject>::namespaced_with(client, namespace, &resource);
                Self::watch(api, resource, config, kind, changed)
            }
            Selection::All | Selection::OwnNode | Selection::OfType(_) => {
                let api = Api::<DynamicObject>::all_with(client, &resource);
                Self::watch(api, resource, config, kind, changed)
            }
        }
    }

    fn watch<K>(
        api: Api<K>,
        resource: ApiResource,
        config: watcher::Config,
        kind: &'static WatchedKind,
        changed: Arc<Notify>,
    ) -> Self
    where
        K: Resource<DynamicType = ApiResource> + Clone + Debug + Serialize + DeserializeOwned,
        K: Send + Sync + 'static,
    {
        let writer = reflector::store::Writer::new(resource);
        let store = writer.as_reader();
        let events = watcher(api, config).default_backoff().reflect(writer);
        let task = tokio::spawn(async move {
            futures::pin_mut!(events);
            while let Some(event) = events.next().await {
                match event {
                    Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => {
                        changed.notify_one()
                    }
                    Ok(watcher::Event::InitDone) => changed.notify_one(),
                    Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
                    Err(err) => {
                        tracing::warn!(kind = kind.kind, plural = kind.plural, %err, "watch failed; retrying with backoff")
                    }
                }
            }
        });
        let ready_store = store.clone();
        Self {
            kind,
            read: Box::new(move || read_store(&store, kind)),
            ready: async move {
                ready_store.wait_until_ready().await.ok();
            }
            .boxed(),
            task,
        }
    }

    /// The watched kind.
    pub fn kind(&self) -> &'static WatchedKind {
        self.kind
    }

    /// Resolves once the first list has been stored.
    pub fn ready(&mut self) -> &mut BoxFuture<'static, ()> {
        &mut self.ready
    }

    /// The store's objects as raw resources, ordered by namespace and name.
    pub fn resources(&self) -> Vec<RawResource> {
        (self.read)()
    }
}

impl Drop for KindStore {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn read_store<K>(store: &Store<K>, kind: &WatchedKind) -> Vec<RawResource>
where
    K: Resource<DynamicType = ApiResource> + Clone + Serialize + 'static,
{
    let mut resources: Vec<RawResource> = store
        .state()
        .iter()
        .filter_map(|object| raw_resource(object.as_ref(), kind))
        .collect();
    resources.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    resources
}

/// The object as a document of its kind. List items come without `apiVersion`/`kind` and a
/// metadata-only pod says `PartialObjectMetadata`; both are set from the watched kind.
fn raw_resource<K: Resource + Serialize>(object: &K, kind: &WatchedKind) -> Option<RawResource> {
    let meta = object.meta();
    let name = meta.name.clone()?;
    let mut body = serde_json::to_value(object).ok()?;
    let api_version = kind.api_version();
    if let Value::Object(fields) = &mut body {
        fields.insert("apiVersion".into(), Value::String(api_version.clone()));
        fields.insert("kind".into(), Value::String(kind.kind.to_owned()));
    }
    Some(RawResource {
        origin: Origin::Cluster {
            resource_version: meta.resource_version.clone().unwrap_or_default(),
        },
        api_version,
        kind: kind.kind.to_owned(),
        namespace: meta.namespace.clone(),
        name,
        body,
    })
}
