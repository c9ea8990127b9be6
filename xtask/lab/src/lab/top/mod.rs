//! `cargo xtask lab top [--once]`: the busiest source → destination pairs with requests per
//! second, success rate and p50/p99, refreshed each second from every agent's `:15020/metrics`
//! (read inside the node netns) — like `linkerd viz top`. The demo shows the same table through
//! [`TopView`].

mod prom_text;
mod rows;
#[cfg(test)]
mod tests;

use prom_text::{parse, Sample};
use rows::{rows, TopRow};

use super::{Lab, METRICS_PORT};
use anyhow::Result;
use std::io::Write;
use std::time::{Duration, Instant};

/// How often the table is refreshed, and the window each line covers.
const WINDOW: Duration = Duration::from_secs(1);
/// Lines shown at most.
const SHOWN: usize = 20;
/// ANSI: clear the screen, cursor home.
const CLEAR: &str = "\x1b[2J\x1b[H";

impl Lab {
    /// `lab top --once`: the table of the busiest pairs over the next second.
    pub fn top(&self) -> String {
        let mut view = TopView::start(self);
        std::thread::sleep(WINDOW);
        view.next(self, SHOWN).0
    }
}

/// Shows the table every second until interrupted; with `once`, one table and return.
pub fn run(lab: &Lab, once: bool) -> Result<()> {
    if once {
        print!("{}", lab.top());
        return Ok(());
    }
    let mut view = TopView::start(lab);
    loop {
        std::thread::sleep(WINDOW);
        let (table, seconds) = view.next(lab, SHOWN);
        let mut out = std::io::stdout().lock();
        write!(
            out,
            "{CLEAR}lab {} — top pairs, last {seconds:.1}s (Ctrl-C quits)\n\n{table}",
            lab.name()
        )?;
        out.flush()?;
    }
}

/// The top table between successive looks at a lab's agents.
pub struct TopView {
    before: Vec<Sample>,
    at: Instant,
}

impl TopView {
    /// Takes the first scrape: the next table covers the time from now.
    pub fn start(lab: &Lab) -> Self {
        Self {
            before: scrape(lab).0,
            at: Instant::now(),
        }
    }

    /// The table of the `shown` busiest pairs since the previous look, and the seconds it
    /// covers.
    pub fn next(&mut self, lab: &Lab, shown: usize) -> (String, f64) {
        let ((after, silent), now) = (scrape(lab), Instant::now());
        let seconds = now.duration_since(self.at).as_secs_f64();
        let table = render(&rows(&self.before, &after, seconds, shown), &silent);
        (self.before, self.at) = (after, now);
        (table, seconds)
    }
}

/// Every agent's samples, concatenated, and the nodes whose agent did not answer.
fn scrape(lab: &Lab) -> (Vec<Sample>, Vec<String>) {
    let mut samples = Vec::new();
    let mut silent = Vec::new();
    for node in lab.nodes() {
        match lab.node_get(node.name(), METRICS_PORT, "/metrics") {
            Ok((200, text)) => samples.extend(parse(&text)),
            _ => silent.push(node.name().to_string()),
        }
    }
    (samples, silent)
}

/// The table: one line per pair, columns aligned; a note for silent agents.
pub fn render(rows: &[TopRow], silent: &[String]) -> String {
    let header = ["SOURCE", "DESTINATION", "RPS", "SUCCESS", "P50", "P99"].map(String::from);
    let mut lines = vec![header];
    lines.extend(rows.iter().map(|row| {
        [
            row.pair.source.clone(),
            row.pair.destination.clone(),
            format!("{:.1}", row.requests_per_second),
            format!("{:.2}%", row.success_rate * 100.0),
            latency(row.p50_ms),
            latency(row.p99_ms),
        ]
    }));
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut table = String::new();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        table.push_str(cells.join("  ").trim_end());
        table.push('\n');
    }
    if rows.is_empty() {
        table.push_str("(no requests in this window)\n");
    }
    if !silent.is_empty() {
        table.push_str(&format!("no metrics from: {}\n", silent.join(", ")));
    }
    table
}

fn latency(ms: Option<f64>) -> String {
    match ms {
        None => "-".into(),
        Some(ms) if ms < 10.0 => format!("{ms:.1}ms"),
        Some(ms) => format!("{ms:.0}ms"),
    }
}
