//! The mesh's own figures on the demo screen: every node agent's `:15020/metrics`, read inside
//! the node's netns, summed over the nodes; and the live top source → destination pairs, the
//! table of `cargo xtask lab top` ([`TopView`]).

use crate::lab::{Lab, TopView, METRICS_PORT};

/// Pairs shown in the demo's top table.
const TOP_SHOWN: usize = 6;

/// The mesh's lines of the demo screen, refreshed at each look: the counters, then the top
/// pairs since the previous look.
pub struct MeshFigures {
    name: &'static str,
    top: Option<TopView>,
}

impl MeshFigures {
    /// Figures of lab `name`; the top table starts with the first look.
    pub fn new(name: &'static str) -> Self {
        Self { name, top: None }
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
const SHOWN: [(&str, &str); 4] = [
    ("mesh_ebpf_captured_outbound_total", "outbound"),
    ("mesh_ebpf_captured_inbound_total", "inbound"),
    ("mesh_ebpf_bypassed_total", "bypassed"),
    ("istio_tcp_connections_opened_total", "opened"),
];

/// The lines for lab `name`: captured outbound/inbound and bypassed connections, and
/// `istio_tcp_connections_opened_total` (both reporters), summed over the nodes' agents.
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
    let [outbound, inbound, bypassed, opened] = totals;
    vec![
        format!(
            "eBPF capture: outbound {outbound}   inbound {inbound}   bypassed {bypassed}   \
             ({})",
            answering.join(" + ")
        ),
        format!("istio_tcp_connections_opened_total {opened}"),
    ]
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
