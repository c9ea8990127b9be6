//! The mesh's own figures on the demo screen: every node agent's `:15020/metrics`, read inside
//! the node's netns, summed over the nodes; and the top source → destination pairs, the table
//! of `cargo xtask lab top` ([`TopView`]) — live (since the previous look) or over a whole step.

use crate::lab::{Lab, TopView, METRICS_PORT};

/// Pairs shown in the demo's top table.
const TOP_SHOWN: usize = 6;

/// The mesh's lines of the demo screen, refreshed at each look: the counters, then the top
/// pairs since the previous look.
pub struct MeshFigures {
    name: &'static str,
    top: Option<TopView>,
    step: Option<TopView>,
}

impl MeshFigures {
    /// Figures of lab `name`; the top table starts with the first look.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            top: None,
            step: None,
        }
    }

    /// Starts a step: [`MeshFigures::step_lines`] covers the time from now.
    pub fn start_step(&mut self) {
        self.step = Lab::open(self.name).ok().map(|lab| TopView::start(&lab));
    }

    /// The counter lines and the top table over the whole step (since
    /// [`MeshFigures::start_step`]).
    pub fn step_lines(&mut self) -> Vec<String> {
        let mut lines = lines(self.name);
        if let (Ok(lab), Some(step)) = (Lab::open(self.name), self.step.as_mut()) {
            let (table, seconds) = step.next(&lab, TOP_SHOWN);
            lines.push(format!("top pairs, whole step ({seconds:.1}s):"));
            lines.extend(table.lines().map(|l| format!("  {l}")));
        }
        lines
    }

    /// The counter lines and the top table's lines (none at the first look, which only
    /// starts the window).
    pub fn lines(&mut self) -> Vec<String> {
        let mut lines = lines(self.name);
        let Ok(lab) = Lab::open(self.name) else {
            return lines;
        };
        match &mut self.top {
            Some(top) => {
                let (table, seconds) = top.next(&lab, TOP_SHOWN);
                lines.push(format!("top pairs, last {seconds:.1}s:"));
                lines.extend(table.lines().map(|l| format!("  {l}")));
            }
            None => self.top = Some(TopView::start(&lab)),
        }
        lines
    }
}

/// The series shown, with their labels on screen.
const SHOWN: [(&str, &str); 5] = [
    ("mesh_ebpf_captured_outbound_total", "outbound"),
    ("mesh_ebpf_captured_inbound_total", "inbound"),
    ("mesh_ebpf_bypassed_total", "bypassed"),
    ("istio_requests_total", "requests"),
    ("istio_tcp_connections_opened_total", "opened"),
];

/// The lines for lab `name`: captured outbound/inbound and bypassed connections, the requests
/// the agents counted (`istio_requests_total`, both reporters), and TCP connections only when
/// there were some (the demo speaks HTTP: a TCP count of 0 would read as broken).
pub fn lines(name: &str) -> Vec<String> {
    let lab = match Lab::open(name) {
        Ok(lab) => lab,
        Err(err) => return vec![format!("eBPF capture: no figures ({err})")],
    };
    let mut totals = [0u64; SHOWN.len()];
    let mut answering = Vec::new();
    for node in lab.nodes() {
        let Ok((200, text)) = lab.node_get(node.name(), METRICS_PORT, "/metrics") else {
            continue;
        };
        answering.push(node.name().to_string());
        for (total, (series, _)) in totals.iter_mut().zip(SHOWN) {
            *total += sum(&text, series);
        }
    }
    if answering.is_empty() {
        return vec!["eBPF capture: no agent answers on :15020/metrics".to_string()];
    }
    counter_lines(totals, &answering)
}

/// The counter lines of `totals` (in [`SHOWN`]'s order) from the agents of `answering` nodes.
fn counter_lines(totals: [u64; SHOWN.len()], answering: &[String]) -> Vec<String> {
    let [outbound, inbound, bypassed, requests, opened] = totals;
    let mut lines = vec![
        format!(
            "eBPF capture: outbound {outbound}   inbound {inbound}   bypassed {bypassed}   \
             ({})",
            answering.join(" + ")
        ),
        format!("istio_requests_total {requests} (every hop, source and destination reporters)"),
    ];
    if opened > 0 {
        lines.push(format!("istio_tcp_connections_opened_total {opened}"));
    }
    lines
}

/// The sum of every sample of `series` in a Prometheus text exposition.
pub fn sum(text: &str, series: &str) -> u64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(series)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|value| value as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_demo_shows_requests_and_no_empty_tcp_count() {
        let nodes = ["node-1".to_string(), "node-2".to_string()];
        let http = counter_lines([5, 4, 0, 9, 0], &nodes).join("\n");
        assert!(http.contains("(node-1 + node-2)"), "{http}");
        assert!(http.contains("istio_requests_total 9"), "{http}");
        assert!(!http.contains("istio_tcp"), "{http}");
        let tcp = counter_lines([5, 4, 0, 0, 3], &nodes).join("\n");
        assert!(
            tcp.contains("istio_tcp_connections_opened_total 3"),
            "{tcp}"
        );
    }

    #[test]
    fn series_are_summed_over_their_label_sets() {
        let text = "# HELP x\n\
            mesh_ebpf_captured_outbound_total 7\n\
            mesh_ebpf_captured_outbound_totalx 100\n\
            istio_tcp_connections_opened_total{reporter=\"source\",a=\"b c\"} 3\n\
            istio_tcp_connections_opened_total{reporter=\"destination\"} 4\n\
            # EOF\n";
        assert_eq!(sum(text, "mesh_ebpf_captured_outbound_total"), 7);
        assert_eq!(sum(text, "istio_tcp_connections_opened_total"), 7);
        assert_eq!(sum(text, "mesh_ebpf_bypassed_total"), 0);
    }
}
