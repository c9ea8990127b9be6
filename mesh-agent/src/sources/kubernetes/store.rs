//! One watch: a kube-rs watcher (relist on `410 Gone`, reconnect with the default backoff) feeding
//! a reflector store, how its listing stands, and the store read back as raw resources.

use std::fmt::Debug;
use std::sync::Arc;

use futures::StreamExt as _;
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::core::ApiResource;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt as _};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::kinds::{Selection, WatchedKind};
use super::raw_cache::RawCache;
use crate::document::{Origin, RawResource};

/// How a watch's listing stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listing {
    /// Not listed yet, no error either.
    Waiting,
    /// The store has held a complete list since (and follows the watch; errors after this
    /// leave the listing `Listed`: the store keeps its objects while the watcher retries).
    Listed,
    /// The API server answered `404 Not Found`: the kind is not served (its CRD went away).
    NotFound,
    /// The last attempt failed otherwise (forbidden, server error, ...); retried with backoff.
    Failing(String),
}

/// A running watch of one [`WatchedKind`] at one version, and its store.
pub struct KindStore {
    kind: &'static WatchedKind,
    version: &'static str,
    read: Box<dyn Fn() -> Vec<RawResource> + Send + Sync>,
    listing: watch::Receiver<Listing>,
    task: JoinHandle<()>,
}

/// Where and how one watch reads.
struct Target {
    kind: &'static WatchedKind,
    version: &'static str,
    resource: ApiResource,
    config: watcher::Config,
}

impl KindStore {
    /// Starts watching `kind` at `version`; `changed` is notified whenever the store or its
    /// listing changes.
    pub fn start(
        client: Client,
        kind: &'static WatchedKind,
        version: &'static str,
        node: &str,
        changed: Arc<Notify>,
    ) -> Self {
        let resource = kind.api_resource(version);
        let mut config = watcher::Config::default();
        if let Some(fields) = kind.field_selector(node) {
            config = config.fields(&fields);
        }
        let target = Target {
            kind,
            version,
            resource: resource.clone(),
            config,
        };
        match kind.selection {
            Selection::MetadataOnly => {
                let api = Api::<PartialObjectMeta<DynamicObject>>::all_with(client, &resource);
                Self::watch(api, target, changed)
            }
            Selection::Named { namespace, .. } | Selection::OfTypeIn { namespace, .. } => {
                let api = Api::<DynamicObject>::namespaced_with(client, namespace, &resource);
                Self::watch(api, target, changed)
            }
            Selection::All | Selection::OwnNode | Selection::OfType(_) => {
                let api = Api::<DynamicObject>::all_with(client, &resource);
                Self::watch(api, target, changed)
            }
        }
    }

    fn watch<K>(api: Api<K>, target: Target, changed: Arc<Notify>) -> Self
    where
        K: Resource<DynamicType = ApiResource> + Clone + Debug + Serialize + DeserializeOwned,
        K: Send + Sync + 'static,
    {
        let Target {
            kind,
            version,
            resource,
            config,
        } = target;
        let writer = reflector::store::Writer::new(resource);
        let store = writer.as_reader();
        let cache = RawCache::default();
        let events = watcher(api, config).default_backoff().reflect(writer);
        let (listing, listing_rx) = watch::channel(Listing::Waiting);
        let task = tokio::spawn(async move {
            futures::pin_mut!(events);
            while let Some(event) = events.next().await {
                match event {
                    Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => {}
                    Ok(watcher::Event::InitDone) => {
                        listing.send_replace(Listing::Listed);
                    }
                    Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => continue,
                    Err(err) => {
                        let api_version = kind.api_version(version);
                        tracing::warn!(kind = kind.kind, %api_version, %err, "watch failed; retrying with backoff");
                        listing.send_if_modified(|now| {
                            let first_list_failed = *now != Listing::Listed;
                            if first_list_failed {
                                *now = failed(&err);
                            }
                            first_list_failed
                        });
                    }
                }
                changed.notify_one();
            }
        });
        Self {
            kind,
            version,
            read: Box::new(move || read_store(&store, &cache, kind, version)),
            listing: listing_rx,
            task,
        }
    }

    /// The watched kind.
    pub fn kind(&self) -> &'static WatchedKind {
        self.kind
    }

    /// The version watched.
    pub fn version(&self) -> &'static str {
        self.version
    }

    /// How the listing stands now.
    pub fn listing(&self) -> Listing {
        self.listing.borrow().clone()
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

/// What a watch error says about the listing.
fn failed(err: &watcher::Error) -> Listing {
    let api_error = match err {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => match e {
            kube::Error::Api(status) => Some(status.code),
            _ => None,
        },
        watcher::Error::WatchError(status) => Some(status.code),
        watcher::Error::NoResourceVersion => None,
    };
    match api_error {
        Some(404) => Listing::NotFound,
        _ => Listing::Failing(err.to_string()),
    }
}

/// The store's objects as raw documents, each converted once per version (`cache`).
fn read_store<K>(
    store: &Store<K>,
    cache: &RawCache<K>,
    kind: &WatchedKind,
    version: &str,
) -> Vec<RawResource>
where
    K: Resource<DynamicType = ApiResource> + Clone + Serialize + 'static,
{
    let convert = |object: &K| raw_resource(object, kind, version);
    let mut resources = cache.read(store.state(), convert);
    resources.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    resources
}

/// The object as a document of its kind, at the version it was served with. List items come
/// without `apiVersion`/`kind` and a metadata-only pod says `PartialObjectMetadata`; both are set
/// from the watch.
fn raw_resource<K: Resource + Serialize>(
    object: &K,
    kind: &WatchedKind,
    version: &str,
) -> Option<RawResource> {
    let meta = object.meta();
    let name = meta.name.clone()?;
    let mut body = serde_json::to_value(object).ok()?;
    let api_version = kind.api_version(version);
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
        body: Arc::new(body),
    })
}
