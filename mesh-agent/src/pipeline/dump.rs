//! `/config_dump`: the snapshot in force as JSON, with the resources it rejected and why, and
//! what the last reload found.

use serde::Serialize;

use super::{ConfigState, Reload};
use crate::snapshot::Snapshot;

#[derive(Serialize)]
struct ConfigDump<'a> {
    /// Whether a source has delivered a configuration yet.
    loaded: bool,
    /// Snapshots swapped in so far.
    generation: u64,
    /// Problems of the last reload (resources and source).
    last_reload: &'a Reload,
    /// The compiled configuration, `rejected` included.
    snapshot: &'a Snapshot,
}

/// The JSON document `/config_dump` serves.
pub fn config_dump(state: &ConfigState) -> serde_json::Result<String> {
    let snapshot = state.snapshot();
    let reload = state.last_reload();
    let dump = ConfigDump {
        loaded: state.is_loaded(),
        generation: state.generation(),
        last_reload: &reload,
        snapshot: &snapshot,
    };
    serde_json::to_string_pretty(&dump)
}
