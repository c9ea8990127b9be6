//! The label set a connection's requests were last counted under, with its four series: the
//! requests of a kept-alive connection mostly end the same way at the same destination, so
//! they skip building and hashing Istio's 19 labels four times per request.

use std::sync::{Arc, Mutex};

use crate::errors::ResponseFlags;
use crate::http::metrics::{HttpLabels, HttpMetrics, HttpSeries};
use crate::snapshot::{Service as MeshService, Workload};

/// What, besides the connection's fixed peers, decides a request's labels. Workloads and
/// Services are compared by identity: a new snapshot's are new values, and so a new key.
pub struct SeriesKey {
    pub destination: Option<Arc<Workload>>,
    pub service: Option<Arc<MeshService>>,
    pub protocol: &'static str,
    pub response_code: u16,
    pub grpc_status: Option<String>,
    pub flags: ResponseFlags,
}

impl SeriesKey {
    fn same(&self, other: &SeriesKey) -> bool {
        same_arc(&self.destination, &other.destination)
            && same_arc(&self.service, &other.service)
            && self.protocol == other.protocol
            && self.response_code == other.response_code
            && self.grpc_status == other.grpc_status
            && self.flags == other.flags
    }
}

fn same_arc<T>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// One connection's last key and its series.
#[derive(Default)]
pub struct SeriesCache(Mutex<Option<(SeriesKey, HttpSeries)>>);

impl SeriesCache {
    /// The series of `key` in `metrics`: the cached ones when the key is the last one, else
    /// those of the labels `labels` builds (then cached).
    pub fn series(
        &self,
        metrics: &HttpMetrics,
        key: SeriesKey,
        labels: impl FnOnce() -> HttpLabels,
    ) -> HttpSeries {
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cached, series)) = last.as_ref() {
            if cached.same(&key) {
                return series.clone();
            }
        }
        let series = metrics.series(&labels());
        *last = Some((key, series.clone()));
        series
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Reporter;
    use crate::snapshot::TelemetryPolicy;
    use prometheus_client::registry::Registry;
    use std::cell::Cell;

    fn workload(name: &str) -> Arc<Workload> {
        Arc::new(Workload {
            name: name.into(),
            namespace: "shop".into(),
            pod_name: format!("{name}-0"),
            app: Some(name.into()),
            version: Some("v1".into()),
            service_account: None,
            labels: Arc::default(),
            principal: None,
            meshed: false,
            telemetry: TelemetryPolicy::default(),
            limits: Default::default(),
        })
    }

    fn key(destination: &Arc<Workload>, code: u16) -> SeriesKey {
        SeriesKey {
            destination: Some(destination.clone()),
            service: None,
            protocol: "http",
            response_code: code,
            grpc_status: None,
            flags: ResponseFlags::default(),
        }
    }

    fn labels(destination: &Workload, code: u16) -> HttpLabels {
        let outcome = crate::http::metrics::RequestOutcome {
            protocol: "http",
            response_code: code,
            grpc_status: None,
            response_flags: "-".into(),
        };
        HttpLabels::new(Reporter::source, None, Some(destination), None, &outcome)
    }

    fn count_of(registry: &Registry, code: u16) -> String {
        let text = crate::metrics::encode(registry).unwrap();
        let wanted = format!("response_code=\"{code}\"");
        text.lines()
            .find(|l| l.starts_with("istio_requests_total{") && l.contains(&wanted))
            .map_or("none".into(), |l| l.rsplit(' ').next().unwrap().to_string())
    }

    #[test]
    fn a_repeated_key_reuses_its_series_and_a_new_one_builds_its_labels() {
        let mut registry = Registry::default();
        let metrics = HttpMetrics::register(&mut registry);
        let cache = SeriesCache::default();
        let built = Cell::new(0);
        let db = workload("db");
        let record = |destination: &Arc<Workload>, code: u16| {
            let series = cache.series(&metrics, key(destination, code), || {
                built.set(built.get() + 1);
                labels(destination, code)
            });
            series.record(1.0, 10, 10);
        };
        record(&db, 200);
        record(&db, 200);
        record(&db, 503);
        record(&db, 200);
        // The same workload from a new snapshot is a new value: its labels are built again.
        let db_again = workload("db");
        record(&db_again, 200);
        assert_eq!(built.get(), 4);
        assert_eq!(count_of(&registry, 200), "4");
        assert_eq!(count_of(&registry, 503), "1");
    }
}
