//! What a proxied request is handed to besides Istio's metrics: the tracer (spans and trace
//! headers) and the access log. The telemetry layer calls [`RequestObservers::start`] when a
//! request arrives and [`RequestWatch::finish`] once its response has ended. The tracer and the
//! log are swapped atomically when the mesh config changes.

use std::path::Path;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use hyper::Request;
use prometheus_client::registry::Registry;

use crate::access_log::{AccessLog, AccessLogMetrics, AccessLogSettings};
use crate::facts::{HopPeers, Reporter, RequestFacts, ResponseFacts, WorkloadRef};
use crate::pipeline::ConfigState;
use crate::resources::MeshConfig;
use crate::snapshot::{Snapshot, TelemetryPolicy};
use crate::spans::{ensure_request_id, OpenSpan, SpanKind, TraceMetrics, Tracer, TracingSettings};
use crate::validate::access_log_file::{access_log_target, AccessLogTarget};

/// The tracer and access log in force, shared by every connection. Cheap to clone.
#[derive(Clone, Default)]
pub struct RequestObservers {
    tracer: Arc<ArcSwapOption<Tracer>>,
    access_log: Arc<ArcSwapOption<AccessLog>>,
    metrics: ObserverMetrics,
    applied: Arc<Mutex<Option<(TracingSettings, AccessLogSettings)>>>,
}

#[derive(Clone, Default)]
struct ObserverMetrics {
    trace: TraceMetrics,
    access_log: AccessLogMetrics,
}

impl RequestObservers {
    /// Observers that do nothing yet, their counters registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = ObserverMetrics {
            trace: TraceMetrics::register(registry),
            access_log: AccessLogMetrics::register(registry),
        };
        Self {
            metrics,
            ..Self::default()
        }
    }

    /// Follows `mesh`: a new tracer and access log when their settings changed (the old ones
    /// finish what they hold). Call inside a tokio runtime.
    /// `accessLogFile` may name a file under `access_log_dir` only (else: no access log).
    pub fn apply(&self, mesh: &MeshConfig, access_log_dir: &Path) {
        let target = access_log_target(&mesh.access_log_file, access_log_dir);
        let target = target.unwrap_or_else(|why| {
            tracing::warn!(%why, "accessLogFile refused; no access log");
            AccessLogTarget::Off
        });
        let access_log = AccessLogSettings::for_mesh(mesh, &target, false);
        self.apply_settings(TracingSettings::from_mesh(mesh), access_log)
    }

    /// Follows the mesh config and Telemetry resources of `snapshot`.
    pub fn apply_snapshot(&self, snapshot: &Snapshot) {
        let (mesh, target) = (&snapshot.mesh, &snapshot.access_log);
        let access_log =
            AccessLogSettings::for_mesh(mesh, target, snapshot.telemetry_enables_access_log());
        self.apply_settings(TracingSettings::from_mesh(mesh), access_log)
    }

    fn apply_settings(&self, tracing: TracingSettings, access_log: AccessLogSettings) {
        let wanted = (tracing, access_log);
        let mut applied = self.applied.lock().expect("not poisoned");
        if applied.as_ref() == Some(&wanted) {
            return;
        }
        self.set_tracer(Tracer::spawn(&wanted.0, &self.metrics.trace));
        self.set_access_log(AccessLog::spawn(&wanted.1, &self.metrics.access_log));
        tracing::info!(tracing = ?wanted.0, access_log = ?wanted.1, "request observers applied");
        *applied = Some(wanted);
    }

    /// Applies the mesh config and Telemetry resources in force now and after every snapshot
    /// swap of `config`, for as long as the task runs: turning `accessLogFile`, a Telemetry or
    /// tracing on or off needs no restart.
    pub async fn follow(self, config: ConfigState) {
        let mut swaps = config.swaps();
        loop {
            self.apply_snapshot(&config.snapshot());
            if swaps.changed().await.is_err() {
                return;
            }
        }
    }

    /// Uses `tracer` from now on.
    pub fn set_tracer(&self, tracer: Option<Tracer>) {
        self.tracer.store(tracer.map(Arc::new));
    }

    /// Uses `access_log` from now on.
    pub fn set_access_log(&self, access_log: Option<AccessLog>) {
        self.access_log.store(access_log.map(Arc::new));
    }

    /// The access log in force, for TCP connections.
    pub fn access_log(&self) -> Option<Arc<AccessLog>> {
        self.access_log.load_full()
    }

    /// The access log, when it admits a request or connection starting now on the `reporter`
    /// side of a workload with `policy` (Telemetry switch, then the sampling draw).
    pub fn access_log_for(
        &self,
        reporter: Reporter,
        policy: &TelemetryPolicy,
    ) -> Option<Arc<AccessLog>> {
        let log = self.access_log.load_full()?;
        log.admits(policy.access_log(reporter)).then_some(log)
    }

    /// A request arrives on the `reporter` side, whose workload's Telemetry settings are
    /// `policy`: its `x-request-id` is set when absent, its trace continued (headers rewritten
    /// for the next hop, sampled at the policy's rate when it sets one) and, when the access log
    /// admits it, what the log needs is kept.
    pub fn start<B>(
        &self,
        request: &mut Request<B>,
        reporter: Reporter,
        policy: &TelemetryPolicy,
    ) -> RequestWatch {
        let request_id = ensure_request_id(request.headers_mut());
        let tracer = self.tracer.load_full();
        let kind = match reporter {
            Reporter::source => SpanKind::Client,
            Reporter::destination => SpanKind::Server,
        };
        let sampling = policy.sampling_percent;
        let span = tracer
            .as_ref()
            .and_then(|t| t.open_at(request.headers_mut(), kind, sampling));
        let access_log = self.access_log_for(reporter, policy);
        if span.is_none() && access_log.is_none() {
            return RequestWatch(None);
        }
        RequestWatch(Some(Box::new(Watched {
            facts: RequestFacts::of(request, request_id),
            tracer,
            span,
            access_log,
        })))
    }
}

/// A request in flight that a span or a log line waits for.
pub struct RequestWatch(Option<Box<Watched>>);

struct Watched {
    facts: RequestFacts,
    tracer: Option<Arc<Tracer>>,
    span: Option<OpenSpan>,
    access_log: Option<Arc<AccessLog>>,
}

impl RequestWatch {
    /// A request nothing waits for (no span, no log line).
    pub fn none() -> Self {
        Self(None)
    }

    /// Whether anything waits for the request's end.
    pub fn is_watching(&self) -> bool {
        self.0.is_some()
    }

    /// The request has ended: close its span and log it.
    pub fn finish(self, peers: &HopPeers<'_>, outcome: &ResponseFacts<'_>) {
        let Some(watched) = self.0 else { return };
        let Watched {
            facts,
            tracer,
            span,
            access_log,
        } = *watched;
        if let (Some(tracer), Some(span)) = (tracer, span) {
            tracer.close(span, peers, &facts, outcome);
        }
        if let Some(log) = access_log {
            log.request(peers, &facts, outcome);
        }
    }
}

impl<'a> From<&'a crate::snapshot::Workload> for WorkloadRef<'a> {
    fn from(w: &'a crate::snapshot::Workload) -> Self {
        Self {
            name: &w.name,
            namespace: &w.namespace,
            pod_name: &w.pod_name,
            canonical_service: w.app.as_deref().unwrap_or(&w.name),
        }
    }
}
