//! Reading the Prometheus registry as `/metrics` serves it: sample lines, sums over series,
//! and waits for counters recorded a moment after the client saw its answer.

use prometheus_client::registry::Registry;

/// The registry's text, as `/metrics` serves it.
pub fn text(registry: &Registry) -> String {
    mesh_agent::metrics::encode(registry).unwrap()
}

/// The value of a sample line.
fn value(line: &str) -> u64 {
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// `name` summed over its series holding every one of `labels` (`key="value"`).
pub fn sum(text: &str, name: &str, labels: &[&str]) -> u64 {
    let series = format!("{name}{{");
    text.lines()
        .filter(|l| l.starts_with(&series))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .map(value)
        .sum()
}

/// The first sample line starting with `prefix`.
pub fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find(|l| l.starts_with(prefix))
}

/// The value of the first sample line starting with `prefix` (0 when absent).
pub fn first(text: &str, prefix: &str) -> u64 {
    line(text, prefix).map_or(0, value)
}

/// Whether `text` has a line of `name` with every one of `labels` and value `want`.
pub fn has_sample(text: &str, name: &str, labels: &[&str], want: u64) -> bool {
    text.lines().any(|line| {
        line.starts_with(name)
            && labels.iter().all(|l| line.contains(l))
            && line.rsplit(' ').next() == Some(&want.to_string())
    })
}

/// `istio_requests_total` over the series holding every one of `labels`, once it reaches
/// `want` or the guard passes (a request is counted when its response body has ended).
pub async fn requests_total(registry: &Registry, labels: &[&str], want: u64) -> u64 {
    super::wait_for(want, || {
        sum(&text(registry), "istio_requests_total", labels)
    })
    .await
}

/// The first sample line starting with `prefix`, once the agent has recorded it.
pub async fn recorded(registry: &Registry, prefix: &str) -> String {
    super::wait_until(&format!("{prefix} recorded"), || {
        line(&text(registry), prefix).is_some()
    })
    .await;
    line(&text(registry), prefix).unwrap().to_string()
}
