//! The agent's side of enrollment: it decides from its Kubernetes view whether a pod belongs in
//! the mesh, checks the netns it is given, captures the pod and keeps its record in the state
//! dir. One lock orders every change (a CNI ADD, DEL, a reconcile pass).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::sync::Mutex;

use super::admission::Admission;
use super::membership::Membership;
use super::protocol::{parse_request, PodName, Request, Response};
use super::state::StateDir;
use super::view::{membership_of, wait_for_pod};
use crate::pipeline::ConfigState;
use crate::pods::{EnrolledPod, EnrolledPods, PodToEnroll};

/// How long `add` waits for a pod to appear in the agent's view.
pub const POD_WAIT: Duration = Duration::from_secs(10);

/// What the enrollment needs besides the pods and the view.
#[derive(Clone, Debug)]
pub struct EnrollmentSettings {
    /// This node's name (`spec.nodeName` of the pods reconciled).
    pub node_name: String,
    /// Where the records of enrolled pods are kept.
    pub state: StateDir,
    /// Which netns checks apply.
    pub admission: Admission,
    /// How long `add` waits for the pod to appear in the view.
    pub pod_wait: Duration,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    reason: &'static str,
}

/// Enrollment as the socket and the reconciler drive it.
pub struct Enrollment {
    pub(super) pods: Arc<EnrolledPods>,
    pub(super) config: ConfigState,
    pub(super) settings: EnrollmentSettings,
    pub(super) lock: Mutex<()>,
    pub(super) certificates: Option<Arc<crate::certs::NodeCertificates>>,
    failures: Family<FailureLabels, Counter>,
}

impl Enrollment {
    /// Enrollment over `pods`, deciding from `config`; registers
    /// `mesh_enrollment_failures_total{reason}`.
    pub fn new(
        pods: Arc<EnrolledPods>,
        config: ConfigState,
        settings: EnrollmentSettings,
        registry: &mut Registry,
    ) -> Self {
        let failures = Family::default();
        registry.register(
            "mesh_enrollment_failures",
            "Pods that should be meshed and could not be enrolled, by reason",
            failures.clone(),
        );
        Self {
            pods,
            config,
            settings,
            lock: Mutex::new(()),
            certificates: None,
            failures,
        }
    }

    /// The enrolled pods.
    pub fn pods(&self) -> &Arc<EnrolledPods> {
        &self.pods
    }

    /// Counts a failure (`not_in_view`, `netns_refused`, `netns_not_found`, `capture`, `state`).
    pub(super) fn count_failure(&self, reason: &'static str) {
        self.failures.get_or_create(&FailureLabels { reason }).inc();
    }

    /// Carries out one request line.
    pub async fn handle(&self, line: &str) -> Response {
        match parse_request(line) {
            Ok(Request::Add(pod)) => self.add(pod).await,
            Ok(Request::Remove(pod)) => self.remove(&pod).await,
            Ok(Request::Check(pod)) => self.check(&pod).await,
            Ok(Request::List) => Response {
                pods: Some(self.pods.list().await),
                ..Response::done()
            },
            Err(error) => Response::failed(error),
        }
    }

    /// Enrolls `spec` if the view says it belongs in the mesh (waiting for the pod to appear).
    pub async fn add(&self, spec: PodToEnroll) -> Response {
        let uid = Some(spec.uid.as_str()).filter(|u| !u.is_empty());
        let limit = self.settings.pod_wait;
        let membership =
            match wait_for_pod(&self.config, &spec.namespace, &spec.name, uid, limit).await {
                Ok(membership) => membership,
                Err(error) => {
                    self.count_failure("not_in_view");
                    return Response::failed(error);
                }
            };
        let _changing = self.lock.lock().await;
        if let Membership::NotMeshed(reason) = membership {
            self.release_locked(&spec.namespace, &spec.name, None).await;
            self.follow_identities().await;
            return Response::not_meshed(reason);
        }
        let enrolled = self.enroll_locked(spec).await;
        self.follow_identities().await;
        match enrolled {
            Ok(pod) => Response::enrolled(pod),
            Err(error) => Response::failed(error),
        }
    }

    /// Captures `spec` (already decided to be meshed): the same pod in the same netns again is
    /// answered as it is; another instance of it is released first.
    pub(super) async fn enroll_locked(&self, spec: PodToEnroll) -> Result<EnrolledPod, String> {
        let key = spec.key();
        let admission = self.settings.admission;
        let netns = admission.open(&spec.netns, &spec.ips).map_err(|error| {
            self.count_failure("netns_refused");
            format!("pod {key}: {error}")
        })?;
        if let Some(current) = self.pods.get(&spec.namespace, &spec.name).await {
            let cookie = netns
                .cookie()
                .await
                .map_err(|e| format!("pod {key}: {e}"))?;
            if current.uid == spec.uid && current.netns_cookie == cookie {
                return Ok(current);
            }
            self.release_locked(&spec.namespace, &spec.name, None).await;
        }
        let pod = self.pods.add(spec.clone()).await.map_err(|error| {
            self.count_failure("capture");
            format!("pod {key}: {error}")
        })?;
        if let Err(error) = self.settings.state.write(&spec) {
            self.count_failure("state");
            tracing::warn!(pod = %key, %error, dir = %self.settings.state.path().display(),
                "enrolled, but its state record could not be written");
        }
        Ok(pod)
    }

    /// Releases `pod` (only the instance `uid` names, when given); ok when it was not enrolled.
    pub async fn remove(&self, pod: &PodName) -> Response {
        let _changing = self.lock.lock().await;
        self.release_locked(&pod.namespace, &pod.name, pod.uid.as_deref())
            .await;
        self.follow_identities().await;
        Response::done()
    }

    /// Stops capturing `namespace/name` and forgets its record; `false` when it was not enrolled
    /// (or is another instance than `uid`).
    pub(super) async fn release_locked(
        &self,
        namespace: &str,
        name: &str,
        uid: Option<&str>,
    ) -> bool {
        let Some(current) = self.pods.get(namespace, name).await else {
            return false;
        };
        if uid.is_some_and(|uid| !uid.is_empty() && uid != current.uid) {
            return false;
        }
        if let Err(error) = self.pods.remove(namespace, name).await {
            tracing::warn!(pod = %format!("{namespace}/{name}"), %error, "release failed");
        }
        if let Err(error) = self.settings.state.remove(namespace, name) {
            tracing::warn!(pod = %format!("{namespace}/{name}"), %error, "state record not removed");
        }
        true
    }

    /// Whether `pod` is captured as the view says it should be.
    pub async fn check(&self, pod: &PodName) -> Response {
        let key = format!("{}/{}", pod.namespace, pod.name);
        let uid = pod.uid.as_deref().filter(|u| !u.is_empty());
        if let Some(current) = self.pods.get(&pod.namespace, &pod.name).await {
            if uid.is_none_or(|uid| uid == current.uid) {
                return Response::enrolled(current);
            }
        }
        let snapshot = self.config.snapshot();
        match membership_of(&snapshot, &pod.namespace, &pod.name, uid) {
            Some(Membership::NotMeshed(reason)) => Response::not_meshed(reason),
            Some(Membership::Meshed(why)) => Response::failed(format!(
                "pod {key} should be meshed ({why}) but is not enrolled"
            )),
            None => Response::failed(format!(
                "pod {key} is not enrolled and not in the agent's view of the cluster"
            )),
        }
    }
}
