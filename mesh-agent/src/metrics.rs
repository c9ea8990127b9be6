//! The agent's metrics registry and what belongs to no other module: the eBPF counters, read
//! from the kernel on every scrape as `mesh_ebpf_<slot>_total`.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// Reads the capture programs' counters: `(slot name, value summed over CPUs)`. The bpf module
/// provides the real one; tests pass a closure.
pub type CounterSource = Arc<dyn Fn() -> Vec<(&'static str, u64)> + Send + Sync>;

/// The one value of a [`CounterSource`] that is a gauge, not a counter: the sockets of spliced
/// L4 connections in the kernel's `SPLICED` map now (`mesh_ebpf_l4_spliced_sockets`).
pub const SPLICED_SOCKETS: &str = "l4_spliced_sockets";

/// Registers the eBPF counters, read through `source` on each scrape.
pub fn register_ebpf_counters(registry: &mut Registry, source: CounterSource) {
    registry.register_collector(Box::new(EbpfCounters { source }));
}

/// Encodes `registry` in the text exposition format.
pub fn encode(registry: &Registry) -> Result<String, fmt::Error> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)?;
    Ok(text)
}

/// The `Content-Type` of [`encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

struct EbpfCounters {
    source: CounterSource,
}

impl fmt::Debug for EbpfCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EbpfCounters")
    }
}

impl Collector for EbpfCounters {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        for (slot, value) in (self.source)() {
            let name = format!("mesh_ebpf_{slot}");
            if slot == SPLICED_SOCKETS {
                let help = "Sockets of spliced L4 connections in the kernel's map now";
                let gauge = ConstGauge::new(value as i64);
                let metric = encoder.encode_descriptor(&name, help, None, gauge.metric_type())?;
                gauge.encode(metric)?;
                continue;
            }
            let help = format!("eBPF capture counter `{slot}`, summed over CPUs");
            let counter = ConstCounter::new(value);
            let metric = encoder.encode_descriptor(&name, &help, None, counter.metric_type())?;
            counter.encode(metric)?;
        }
        Ok(())
    }
}
