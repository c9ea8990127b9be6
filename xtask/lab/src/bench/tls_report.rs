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
