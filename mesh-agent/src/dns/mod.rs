//! DNS ServiceEntries resolved by the agent: every name the snapshot in force needs is looked
//! up, asked again when its answer's TTL runs out, and each change of the answers is fed to
//! the configuration pipeline, which compiles the ServiceEntries' endpoints again.

mod lookup;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

pub use lookup::{Answer, NameLookup, MAX_REFRESH, MIN_REFRESH, RETRY_AFTER_FAILURE};

use crate::pipeline::ConfigState;
use crate::snapshot::{dns_names, ResolvedNames};

/// One name as last resolved.
struct Known {
    /// The last answer (`None`: never answered yet).
    addresses: Option<Vec<IpAddr>>,
    /// When to ask again.
    due: Instant,
}

/// Resolves the DNS names of `state`'s snapshots until the pipeline is gone.
pub async fn run(state: ConfigState, lookup: NameLookup) {
    let mut swaps = state.swaps();
    let mut known: BTreeMap<String, Known> = BTreeMap::new();
    loop {
        let snapshot = state.snapshot();
        let wanted = dns_names(snapshot.registry().services().iter().map(|s| s.as_ref()));
        drop(snapshot);
        known.retain(|name, _| wanted.contains(name));
        for name in wanted {
            known.entry(name).or_insert_with(|| Known {
                addresses: None,
                due: Instant::now(),
            });
        }
        refresh_due(&lookup, &mut known).await;
        let names = ResolvedNames::new(
            (known.iter()).filter_map(|(name, k)| Some((name.clone(), k.addresses.clone()?))),
        );
        if *state.resolved_names() != names {
            tracing::info!(names = %serde_json::to_string(&names).unwrap_or_default(), "DNS ServiceEntry addresses changed");
            let target = state.clone();
            if let Err(error) = tokio::task::spawn_blocking(move || target.resolved(names)).await {
                tracing::error!(%error, "config build with resolved names failed");
            }
        }
        let next = known.values().map(|k| k.due).min();
        let wait = next.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            changed = swaps.changed() => if changed.is_err() { return },
            () = tokio::time::sleep_until(wait) => {}
        }
    }
}

/// Looks up every name that is due, all at once; a failure keeps the last answer.
async fn refresh_due(lookup: &NameLookup, known: &mut BTreeMap<String, Known>) {
    let now = Instant::now();
    let due: Vec<String> = (known.iter())
        .filter(|(_, k)| k.due <= now)
        .map(|(name, _)| name.clone())
        .collect();
    let answers = futures::future::join_all(due.iter().map(|name| lookup.lookup(name))).await;
    for (name, answer) in due.into_iter().zip(answers) {
        let Some(entry) = known.get_mut(&name) else {
            continue;
        };
        match answer {
            Ok(answer) => {
                entry.addresses = Some(answer.addresses);
                entry.due = answer.refresh_at;
            }
            Err(error) => {
                tracing::warn!(%name, error = format!("{error:#}"), "DNS lookup failed; the last answer stays");
                entry.due = Instant::now() + RETRY_AFTER_FAILURE;
            }
        }
    }
}
