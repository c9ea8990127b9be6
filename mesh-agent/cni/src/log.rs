//! The optional invocation log (`log_file`): one line per call, so a node's operator can see
//! what the runtime asked and what the agent answered. Failing to log never fails the call.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Appends `line` with a Unix timestamp and the container id.
pub fn append(file: &Path, container_id: &str, line: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let entry = format!(
        "{now:.3} mesh-cni[{}] {container_id}: {line}\n",
        std::process::id()
    );
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .and_then(|mut f| f.write_all(entry.as_bytes()));
}
