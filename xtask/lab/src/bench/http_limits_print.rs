//! `bench http`'s policy figures on stdout: (g) authorization and (h) rate limit against (b),
//! the limiter's accuracy, and the noisy neighbour's table.

use super::http_cases::HttpCarrier;
use super::http_load::HttpProtocol;
use super::http_report::{cpu_per_1k, rps, HttpReport};
use super::load::LoadResult;
use super::noisy::{Flood, QUIET_RATE};

impl HttpReport {
    /// Prints the policy comparisons, the accuracy and the noisy neighbour.
    pub fn print_limits(&self) {
        println!();
        let versus = [
            (
                HttpCarrier::MeshAuthz,
                "20 AuthorizationPolicies + JWT",
                "aim: cpu within +5%",
            ),
            (
                HttpCarrier::MeshRateLimit,
                "local rate limit, never hit",
                "aim: cpu within +3%",
            ),
        ];
        for (variant, what, aim) in versus {
            for protocol in HttpProtocol::ALL {
                let base = HttpCarrier::Mesh;
                println!(
                    "{what}, {}: req/s {} and cpu/1k {} of (b) ({aim})",
                    protocol.label(),
                    pct(self.compare(variant, base, protocol, rps)),
                    pct(self.compare(variant, base, protocol, cpu_per_1k)),
                );
            }
        }
        match &self.rate_limit_accuracy {
            Some(a) => println!(
                "rate limit accuracy: {:.0} req/s offered, {}/s configured: {:.1}/s allowed \
                 ({:.1}% of configured), {:.1}/s refused, over {:.0} s",
                a.offered_per_s,
                a.configured_per_s,
                a.allowed_per_s,
                a.ratio() * 100.0,
                a.refused_per_s,
                a.seconds
            ),
            None => println!("rate limit accuracy: not measured"),
        }
        self.print_noisy();
    }

    fn print_noisy(&self) {
        if self.noisy_neighbour.is_empty() {
            println!("noisy neighbour: not measured");
            return;
        }
        println!(
            "\nnoisy neighbour: pod B at {QUIET_RATE:.0} req/s (HTTP/1.1) while pod A on the same \
             node floods another Service (aim: B's p99 within 1.5× of quiet, no errors)\n"
        );
        println!(
            "{:<26} {:>8} {:>7} {:>7} {:>9} {:>7} {:>10} {:>9}",
            "A's flood", "B req/s", "B p50µs", "B p99µs", "B errors", "p99×", "A req/s", "A errors"
        );
        let quiet_p99 = self
            .noisy_neighbour
            .iter()
            .find(|r| r.flood == Flood::None)
            .and_then(|r| r.quiet.as_ref())
            .map(|l| l.p99_us as f64);
        for run in &self.noisy_neighbour {
            let what = match run.flood {
                Flood::None => "none (quiet)",
                Flood::Http => "HTTP/1.1, 64 connections",
                Flood::NewConnections => "a new connection each",
            };
            let Some(b) = &run.quiet else {
                println!(
                    "{what:<26} failed: {}",
                    run.error.clone().unwrap_or_default()
                );
                continue;
            };
            let times = quiet_p99
                .filter(|q| *q > 0.0)
                .map_or("-".into(), |q| format!("{:.2}", b.p99_us as f64 / q));
            let a = run.noisy.as_ref();
            println!(
                "{what:<26} {:>8.0} {:>7} {:>7} {:>9} {:>7} {:>10} {:>9}",
                b.rps,
                b.p50_us,
                b.p99_us,
                b.errors,
                times,
                a.map_or("-".into(), |a: &LoadResult| format!("{:.0}", a.rps)),
                a.map_or("-".into(), |a| a.errors.to_string()),
            );
        }
    }
}

fn pct(ratio: Option<f64>) -> String {
    ratio.map_or("-".into(), |r| format!("{:.1}%", r * 100.0))
}
