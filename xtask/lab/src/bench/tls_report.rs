//! `bench l4`'s mTLS figures (issue 16's "Measure"), from the cases of one run: the tunnel
//! cross-node against plaintext and direct, new tunnels per second, and memory with 100
//! identities against 100 pods of one.

use super::cases::{Carrier, CaseReport, Way};
use super::report::{cpu_us_per_request, L4Report};

impl L4Report {
    /// Prints the mTLS block.
    pub fn print_mtls(&self) {
        println!("\nmTLS cross-node (issue 16): the tunnel (b) against plaintext (e), same run");
        for line in self.mtls_lines() {
            println!("  {line}");
        }
    }

    fn mtls_lines(&self) -> Vec<String> {
        let case = |carrier| {
            self.cases
                .iter()
                .find(|c| c.carrier == carrier && c.way == Way::CrossNode && c.status == "ok")
        };
        let (tls, plain) = (case(Carrier::Mesh), case(Carrier::MeshPlaintext));
        let figure = |c: Option<&CaseReport>, f: fn(&CaseReport) -> Option<f64>, digits| {
            c.and_then(f)
                .map_or("-".to_string(), |v| format!("{v:.digits$}"))
        };
        let both = |name: &str, f: fn(&CaseReport) -> Option<f64>, digits: usize, aim: &str| {
            format!(
                "{name:<24} mTLS {:>8}   plaintext {:>8}   {aim}",
                figure(tls, f, digits),
                figure(plain, f, digits)
            )
        };
        let mut lines = vec![
            both(
                "req/s ×direct",
                |c| c.rps_vs_direct,
                2,
                "(aim: mTLS ≥ 0.40×, plaintext ≥ 0.70×; ztunnel HBONE 0.20×)",
            ),
            both(
                "p50 added @1 conn, µs",
                |c| c.added_p50_us,
                0,
                "(both hops; aim ≤ 80 µs; ztunnel +160 µs)",
            ),
            both(
                "agent CPU µs/request",
                cpu_us_per_request,
                1,
                "(both agents summed)",
            ),
            both(
                "new connections/s",
                |c| c.connection_setup.as_ref().map(|l| l.rps),
                0,
                "(pooled tunnels: a CONNECT stream each)",
            ),
        ];
        lines.push(match &self.new_tunnels {
            Some(t) => format!(
                "new tunnels: {} identities, {} tunnels seen; one set-up costs {} µs of agent CPU \
                 (both ends) → ~{} new tunnels/s per agent core",
                t.clients,
                t.tunnels_seen,
                t.cpu_us_per_tunnel
                    .map_or("-".into(), |v| format!("{v:.0}")),
                t.per_second().map_or("-".into(), |v| format!("{v:.0}")),
            ),
            None => "new tunnels: not measured".into(),
        });
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cross_node(carrier: Carrier, vs_direct: f64, added_p50_us: f64) -> CaseReport {
        let mut case = CaseReport::skipped(carrier, Way::CrossNode, "");
        case.status = "ok";
        (case.rps_vs_direct, case.added_p50_us) = (Some(vs_direct), Some(added_p50_us));
        case
    }

    #[test]
    fn the_tunnel_and_plaintext_sit_side_by_side() {
        let report = L4Report {
            profile: "test".into(),
            connections: 32,
            duration_s: 10.0,
            size_bytes: 1024,
            cases: vec![
                cross_node(Carrier::Mesh, 0.31, 120.0),
                cross_node(Carrier::MeshPlaintext, 0.42, 70.0),
            ],
            agent_rss_before_load_mib: None,
            idle_100_pods: None,
            idle_100_identities: None,
            new_tunnels: None,
            connect_hook: None,
            notes: Vec::new(),
        };
        let lines = report.mtls_lines();
        assert!(lines[0].contains("mTLS     0.31") && lines[0].contains("plaintext     0.42"));
        assert!(lines[1].contains("mTLS      120") && lines[1].contains("plaintext       70"));
        assert_eq!(lines.last().unwrap(), "new tunnels: not measured");
    }
}
