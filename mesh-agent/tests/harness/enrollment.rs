//! The agent's enrollment in-process: pods with a fake capture layer, the agent's view read from
//! a `ConfigState` the test feeds (Pods and Namespaces as YAML), a state dir of its own.

use std::sync::Arc;
use std::time::Duration;

use mesh_agent::certs::NodeCertificates;
use mesh_agent::enroll::{Admission, Enrollment, EnrollmentSettings, Response, StateDir};
use mesh_agent::pipeline::ConfigState;
use mesh_agent::pods::{EnrolledPod, PodToEnroll};
use prometheus_client::registry::Registry;

use super::proxy::{Agent, FakeOriginalDsts, FakePodCapture, ListenAddrs};
use super::TempDir;

/// The node the tests' agent runs on.
pub const NODE: &str = "node-1";

/// An enrollment over a fake capture layer.
pub struct TestEnrollment {
    pub enrollment: Arc<Enrollment>,
    pub capture: Arc<FakePodCapture>,
    /// The original destinations the pods' outbound listeners find.
    pub dsts: Arc<FakeOriginalDsts>,
    pub registry: Registry,
}

/// How a test enrollment is set up.
pub struct Setup<'a> {
    pub config: ConfigState,
    pub state: &'a TempDir,
    pub admission: Admission,
    pub listen: ListenAddrs,
    pub pod_wait: Duration,
    /// The certificate manager the enrolled pods' identities go to.
    pub certificates: Option<Arc<NodeCertificates>>,
}

impl<'a> Setup<'a> {
    /// Strict netns checks, listeners on Istio's ports, a short wait for pods.
    pub fn new(config: ConfigState, state: &'a TempDir) -> Self {
        Self {
            config,
            state,
            admission: Admission::default(),
            listen: ListenAddrs::default(),
            pod_wait: Duration::from_millis(300),
            certificates: None,
        }
    }

    /// For pods in the test's own netns: own netns allowed, listeners on ephemeral ports.
    pub fn in_own_netns(config: ConfigState, state: &'a TempDir) -> Self {
        Self {
            admission: Admission {
                allow_own_netns: true,
            },
            listen: ListenAddrs {
                outbound: "127.0.0.1:0".parse().unwrap(),
                inbound: "127.0.0.1:0".parse().unwrap(),
                outbound6: "[::1]:0".parse().unwrap(),
                inbound6: "[::1]:0".parse().unwrap(),
            },
            ..Self::new(config, state)
        }
    }

    /// The enrollment (its pods on `capture`).
    pub fn start_with(self, capture: FakePodCapture) -> TestEnrollment {
        let capture = Arc::new(capture);
        let mut agent = Agent::new(self.config.clone());
        let pods = Arc::new(agent.enrolled_pods(capture.clone(), self.listen));
        let settings = EnrollmentSettings {
            node_name: NODE.into(),
            state: StateDir::open(self.state.path()).unwrap(),
            admission: self.admission,
            pod_wait: self.pod_wait,
        };
        let enrollment = Enrollment::new(pods, self.config, settings, &mut agent.registry)
            .with_certificates(self.certificates);
        TestEnrollment {
            enrollment: Arc::new(enrollment),
            capture,
            dsts: agent.dsts,
            registry: agent.registry,
        }
    }

    /// The enrollment over a capture layer that accepts every pod.
    pub fn start(self) -> TestEnrollment {
        self.start_with(FakePodCapture::default())
    }
}

impl TestEnrollment {
    /// Carries out one request line.
    pub async fn handle(&self, line: &str) -> Response {
        self.enrollment.handle(line).await
    }

    /// The enrolled pods' names, sorted.
    pub async fn enrolled(&self) -> Vec<String> {
        let pods = self.enrollment.pods().list().await;
        pods.into_iter()
            .map(|p| format!("{}/{}", p.namespace, p.name))
            .collect()
    }
}

/// A Namespace with `labels` (flow style, may be empty).
pub fn namespace(name: &str, labels: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {{{labels}}}}}\n---\n"
    )
}

/// A Pod `<namespace>/<name>` with uid `uid-<name>` on [`NODE`], with `labels`, at `ip` (no
/// `status.podIP` when empty: a pod at CNI ADD time).
pub fn node_pod(namespace: &str, name: &str, labels: &str, ip: &str) -> String {
    let status = match ip {
        "" => String::new(),
        ip => format!("status: {{podIP: {ip}}}\n"),
    };
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {namespace}, \
         uid: uid-{name}, labels: {{{labels}}}}}\nspec: {{nodeName: {NODE}, containers: \
         [{{name: app, image: app}}]}}\n{status}---\n"
    )
}

/// An `add` line for `<namespace>/<name>` (uid `uid-<name>`) in `netns` at `ip`.
pub fn add_line(namespace: &str, name: &str, netns: &str, ip: &str) -> String {
    format!(
        r#"{{"op":"add","namespace":"{namespace}","name":"{name}","uid":"uid-{name}","netns":"{netns}","ips":["{ip}"],"node_ips":["10.244.1.1"]}}"#
    )
}

/// The record `add_line` sends.
pub fn to_enroll(namespace: &str, name: &str, netns: &str, ip: &str) -> PodToEnroll {
    PodToEnroll {
        namespace: namespace.into(),
        name: name.into(),
        uid: format!("uid-{name}"),
        container_id: None,
        netns: netns.into(),
        ips: vec![ip.parse().unwrap()],
        node_ips: vec![],
    }
}

/// An enrolled pod as `list` reports it (for the flow metrics' pod index).
pub fn enrolled_pod(namespace: &str, name: &str, ip: &str, netns_cookie: u64) -> EnrolledPod {
    EnrolledPod {
        namespace: namespace.into(),
        name: name.into(),
        uid: String::new(),
        ip: ip.parse().unwrap(),
        ips: vec![ip.parse().unwrap()],
        node_ips: Vec::new(),
        container_id: None,
        netns: "/proc/self/ns/net".into(),
        netns_cookie,
    }
}
