//! The HTTP benchmark's tables on stdout: closed-loop cases, fixed-rate latency, and the
//! resilience (#6) and telemetry (#7) comparisons against their aims.

use super::http_cases::{HttpCarrier, HttpCaseReport};
use super::http_load::HttpProtocol;
use super::http_report::{cpu_per_1k, rps, HttpReport};

impl HttpReport {
    /// Prints every table and note.
    pub fn print(&self) {
        println!(
            "\nHTTP benchmark ({} build): GET, {} B answers, {} connections, {:.0} s per run, \
             cross-node\n",
            self.profile, self.body_bytes, self.connections, self.duration_s
        );
        println!("{}", header());
        for case in &self.cases {
            println!("{}", row(case));
        }
        println!(
            "\ncpu ms/1k: CPU time (user + kernel) of the proxies on the path per 1,000 requests \
             (mesh: both agents summed); rss: the largest proxy process."
        );
        self.print_fixed_rate();
        self.print_variants();
        self.print_limits();
        for note in &self.notes {
            println!("note: {note}");
        }
    }

    fn print_fixed_rate(&self) {
        println!(
            "\nfixed rate: {:.0} req/s over {} connection(s), {:.0} s\n",
            self.rate, self.rate_connections, self.duration_s
        );
        println!(
            "{:<26} {:>8} {:>8} {:>7} {:>7} {:>8} {:>9}",
            "case", "proto", "req/s", "p50µs", "p99µs", "p99.9µs", "+p99µs"
        );
        for case in &self.fixed_rate {
            let Some(load) = case.load.as_ref().filter(|_| case.status == "ok") else {
                println!("{}", row(case));
                continue;
            };
            println!(
                "{:<26} {:>8} {:>8.0} {:>7} {:>7} {:>8} {:>9}",
                case.carrier.label(),
                case.protocol.label(),
                load.rps,
                load.p50_us,
                load.p99_us,
                load.p999_us,
                num(case.added_p99_us, 0)
            );
        }
        println!("aim (L7 path): it adds under 200 µs at p99 over direct at 1,000 req/s.");
    }

    fn print_variants(&self) {
        println!();
        for protocol in HttpProtocol::ALL {
            let (e, b) = (HttpCarrier::MeshResilience, HttpCarrier::Mesh);
            println!(
                "resilience configured, nothing failing, {}: req/s {} and cpu/1k {} of (b) \
                 (aim, resilience: within 5%)",
                protocol.label(),
                pct(self.compare(e, b, protocol, rps)),
                pct(self.compare(e, b, protocol, cpu_per_1k)),
            );
        }
        for protocol in HttpProtocol::ALL {
            let (on, off) = (HttpCarrier::Mesh, HttpCarrier::MeshTelemetryOff);
            let more = self.compare(on, off, protocol, cpu_per_1k).map(|r| r - 1.0);
            println!(
                "telemetry on (b) vs off (f), {}: agent cpu/1k {:+} (aim, telemetry: under +10%)",
                protocol.label(),
                more.map_or("-".into(), |m| format!("{:.1}%", m * 100.0)),
            );
        }
        if let Some(check) = &self.telemetry_off {
            let verdict = if check.honoured() {
                "honoured: metrics stopped counting"
            } else {
                "NOT honoured: the agents kept counting, so (f) is not telemetry off"
            };
            println!(
                "telemetry off ({}): {} of {} requests counted in node-1's istio_requests_total, \
                 mesh_config_rejected_resources {} → {verdict}",
                check.applied,
                num(check.requests_counted, 0),
                check.requests_made,
                num(check.rejected_resources, 0),
            );
        }
        match &self.scrape {
            Some(s) => println!(
                "metrics scrape ({} :15020/metrics, {} series): median {:.1} ms, max {:.1} ms \
                 (aim, metrics scrape: under 50 ms with 1,000 series)",
                s.node, s.series, s.median_ms, s.max_ms
            ),
            None => println!("metrics scrape: not measured"),
        }
    }
}

fn header() -> String {
    format!(
        "{:<26} {:>8} {:>8} {:>7} {:>7} {:>8} {:>6} {:>9} {:>6} {:>7} {:>8} {:>8} {:>6}",
        "case",
        "proto",
        "req/s",
        "p50µs",
        "p99µs",
        "p99.9µs",
        "errors",
        "cpu ms/1k",
        "rssMiB",
        "×direct",
        "×haproxy",
        "p99×hap",
        "cpu%"
    )
}

fn row(case: &HttpCaseReport) -> String {
    let (label, proto) = (case.carrier.label(), case.protocol.label());
    let Some(load) = case.load.as_ref().filter(|_| case.status == "ok") else {
        let reason = case.reason.clone().unwrap_or_default();
        return format!("{label:<26} {proto:>8} {}: {reason}", case.status);
    };
    format!(
        "{label:<26} {proto:>8} {:>8.0} {:>7} {:>7} {:>8} {:>6} {:>9} {:>6} {:>7} {:>8} {:>8} {:>6}",
        load.rps,
        load.p50_us,
        load.p99_us,
        load.p999_us,
        load.errors,
        num(case.cpu_ms_per_1k, 1),
        num(case.proxy.map(|p| p.rss_mib), 1),
        num(case.rps_vs_direct, 2),
        num(case.rps_vs_haproxy, 2),
        num(case.p99_vs_haproxy, 2),
        num(case.proxy.map(|p| p.cpu_percent), 0),
    )
}

fn num(value: Option<f64>, digits: usize) -> String {
    value.map_or("-".into(), |v| format!("{v:.digits$}"))
}

fn pct(ratio: Option<f64>) -> String {
    ratio.map_or("-".into(), |r| format!("{:.1}%", r * 100.0))
}
