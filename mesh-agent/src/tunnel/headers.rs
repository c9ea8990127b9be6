//! The headers a CONNECT carries, as ztunnel sends them: `baggage` (the source workload's
//! cluster, namespace, workload, canonical service and revision), `forwarded` (`for=` the
//! source pod's address; none for the ingress gateway, whose pooled connections serve many
//! clients) and a fresh W3C `traceparent`; and the mesh's own [`L7_REPORTER`] when the source
//! offers to report the stream's requests for the destination.

use std::net::IpAddr;

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// The header of the L7-once handshake. On a CONNECT, `source` offers: the source's agent
/// parses the stream's HTTP requests and can report them for the destination too. On the 200,
/// `source` accepts: the destination carries the stream at L4 and reports no request, so the
/// source reports both sides; absent (an agent that predates it) or anything else, the
/// destination parses and reports as before. It only says who reports: the destination
/// decides from its own policies whether it must parse, whatever the header says.
pub const L7_REPORTER: &str = "mesh-l7-reporter";

/// The value of [`L7_REPORTER`] naming the source's agent.
pub const SOURCE_REPORTS: &str = "source";

/// The cluster name ztunnel reports when none is configured.
const DEFAULT_CLUSTER: &str = "Kubernetes";

/// Who the CONNECT speaks for.
#[derive(Clone, Debug)]
pub struct TunnelHeaders {
    /// The source pod's address (`None`: the ingress gateway, no `forwarded` header).
    pub source_ip: Option<IpAddr>,
    /// The source workload's namespace.
    pub namespace: String,
    /// The source workload (its Deployment).
    pub workload: String,
    /// The canonical service (`app` label, else the workload).
    pub service: String,
    /// The canonical revision (`version` label, else `latest`).
    pub version: String,
    /// Whether the source offers to report the stream's requests ([`L7_REPORTER`]).
    pub offers_l7_report: bool,
}

impl TunnelHeaders {
    /// `baggage`, `forwarded`, `traceparent` and the offer, if made.
    pub fn to_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(4);
        if self.offers_l7_report {
            let offer = HeaderValue::from_static(SOURCE_REPORTS);
            map.insert(HeaderName::from_static(L7_REPORTER), offer);
        }
        let baggage = format!(
            "k8s.cluster.name={DEFAULT_CLUSTER},k8s.namespace.name={},k8s.deployment.name={},\
             service.name={},service.version={}",
            self.namespace, self.workload, self.service, self.version
        );
        let forwarded = match self.source_ip {
            Some(IpAddr::V4(ip)) => format!("for={ip}"),
            Some(IpAddr::V6(ip)) => format!("for=\"[{ip}]\""),
            None => String::new(),
        };
        let trace = format!(
            "00-{:032x}-{:016x}-01",
            fastrand::u128(1..),
            fastrand::u64(1..)
        );
        for (name, value) in [
            ("baggage", baggage),
            ("forwarded", forwarded),
            ("traceparent", trace),
        ] {
            // Names are constant; a value that is not a header value (a label with a newline)
            // is left out rather than failing the connection.
            if value.is_empty() {
                continue;
            }
            if let Ok(value) = HeaderValue::from_str(&value) {
                map.insert(HeaderName::from_static(name), value);
            }
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_as_ztunnel_sends_them() {
        let headers = TunnelHeaders {
            source_ip: Some("10.244.1.5".parse().unwrap()),
            namespace: "shop".into(),
            workload: "sleep".into(),
            service: "sleep".into(),
            version: "v1".into(),
            offers_l7_report: false,
        }
        .to_map();
        assert_eq!(
            headers["baggage"],
            "k8s.cluster.name=Kubernetes,k8s.namespace.name=shop,k8s.deployment.name=sleep,\
             service.name=sleep,service.version=v1"
        );
        assert_eq!(headers["forwarded"], "for=10.244.1.5");
        let trace = headers["traceparent"].to_str().unwrap();
        let parts: Vec<&str> = trace.split('-').collect();
        assert_eq!(parts.len(), 4, "{trace}");
        assert_eq!(
            (parts[0], parts[1].len(), parts[2].len(), parts[3]),
            ("00", 32, 16, "01")
        );
    }

    #[test]
    fn an_ipv6_source_is_quoted_and_bracketed() {
        let headers = TunnelHeaders {
            source_ip: Some("fd00::5".parse().unwrap()),
            namespace: "shop".into(),
            workload: "sleep".into(),
            service: "sleep".into(),
            version: "latest".into(),
            offers_l7_report: false,
        }
        .to_map();
        assert_eq!(headers["forwarded"], "for=\"[fd00::5]\"");
    }

    #[test]
    fn the_gateway_sends_no_forwarded() {
        let headers = TunnelHeaders {
            source_ip: None,
            namespace: "istio-system".into(),
            workload: "istio-ingressgateway".into(),
            service: "istio-ingressgateway".into(),
            version: "latest".into(),
            offers_l7_report: false,
        }
        .to_map();
        assert!(!headers.contains_key("forwarded"));
        assert!(headers.contains_key("baggage") && headers.contains_key("traceparent"));
        assert!(!headers.contains_key(L7_REPORTER));
    }

    #[test]
    fn the_offer_to_report_l7_is_a_header_only_when_made() {
        let headers = TunnelHeaders {
            source_ip: None,
            namespace: "shop".into(),
            workload: "sleep".into(),
            service: "sleep".into(),
            version: "latest".into(),
            offers_l7_report: true,
        }
        .to_map();
        assert_eq!(headers[L7_REPORTER], SOURCE_REPORTS);
    }
}
