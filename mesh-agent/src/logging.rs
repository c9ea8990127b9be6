//! The agent's log output and its level, changeable at run time (admin `/logging`): the
//! `tracing` subscriber's filter sits behind a reload handle.
//!
//! The subscriber is process-global by nature, so the handle to its filter is too: [`init`]
//! installs both once, and [`LogLevels::installed`] hands the handle to the admin server.

use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{reload, EnvFilter};

/// The levels `/logging` accepts, Envoy's names included (`warning`, `critical`).
const LEVELS: [&str; 8] = [
    "trace", "debug", "info", "warn", "warning", "error", "critical", "off",
];

/// Why a level change was refused.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoggingError {
    /// The query named no change.
    #[error("nothing to change: use ?level=<level> or ?<module>=<level>")]
    Empty,
    /// Not a level.
    #[error("unknown level {0:?} (trace, debug, info, warn, error, off)")]
    BadLevel(String),
    /// Not a Rust module path.
    #[error("not a module path: {0:?}")]
    BadModule(String),
    /// The filter could not be swapped.
    #[error("the log filter could not be changed: {0}")]
    Reload(String),
}

type Swap = dyn Fn(EnvFilter) -> Result<(), reload::Error> + Send + Sync;

/// The current log filter and the means to replace it. Cheap to clone.
#[derive(Clone)]
pub struct LogLevels {
    directives: Arc<Mutex<String>>,
    swap: Arc<Swap>,
}

static INSTALLED: OnceLock<LogLevels> = OnceLock::new();

/// Installs the agent's log output (`RUST_LOG`, else `info`), its filter reloadable.
pub fn init() {
    let directives = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info"));
    let directives = filter.to_string();
    let (layer, handle) = reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(layer)
        .with(tracing_subscriber::fmt::layer())
        .init();
    let _ = INSTALLED.set(LogLevels::new(directives, move |f| handle.reload(f)));
}

impl LogLevels {
    /// Levels starting at `directives`, changed through `swap`.
    pub fn new(
        directives: String,
        swap: impl Fn(EnvFilter) -> Result<(), reload::Error> + Send + Sync + 'static,
    ) -> Self {
        Self {
            directives: Arc::new(Mutex::new(directives)),
            swap: Arc::new(swap),
        }
    }

    /// The levels [`init`] installed; `None` when the process logs some other way (tests).
    pub fn installed() -> Option<LogLevels> {
        INSTALLED.get().cloned()
    }

    /// The filter now, as `EnvFilter` directives (`info,mesh_agent::proxy=debug`).
    pub fn current(&self) -> String {
        self.directives
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Applies a `/logging` query; returns the new directives.
    pub fn change(&self, query: &str) -> Result<String, LoggingError> {
        let mut directives = self.directives.lock().unwrap_or_else(|e| e.into_inner());
        let next = changed_directives(&directives, query)?;
        let filter = EnvFilter::try_new(&next).map_err(|e| LoggingError::Reload(e.to_string()))?;
        (self.swap)(filter).map_err(|e| LoggingError::Reload(e.to_string()))?;
        tracing::info!(filter = %next, "log levels changed");
        *directives = next.clone();
        Ok(next)
    }
}

/// The directives after a `/logging` query: `level=L` sets every module to L (dropping the
/// per-module ones); `module=L` sets one module, replacing its earlier directive.
pub fn changed_directives(current: &str, query: &str) -> Result<String, LoggingError> {
    let mut directives: Vec<String> = current
        .split(',')
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect();
    let mut changed = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let level = level(value)?;
        if key == "level" {
            directives = vec![level.to_string()];
        } else {
            module(key)?;
            directives.retain(|d| d.split_once('=').is_none_or(|(m, _)| m != key));
            directives.push(format!("{key}={level}"));
        }
        changed = true;
    }
    if !changed {
        return Err(LoggingError::Empty);
    }
    Ok(directives.join(","))
}

/// A level as `EnvFilter` spells it.
fn level(value: &str) -> Result<&'static str, LoggingError> {
    let lower = value.to_ascii_lowercase();
    match LEVELS.iter().find(|l| **l == lower) {
        Some(&"warning") => Ok("warn"),
        Some(&"critical") => Ok("error"),
        Some(level) => Ok(level),
        None => Err(LoggingError::BadLevel(value.to_string())),
    }
}

/// Accepts `crate::module::path` names only (nothing `EnvFilter` would read as a span filter).
fn module(name: &str) -> Result<(), LoggingError> {
    let valid = !name.is_empty()
        && name.split("::").all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    match valid {
        true => Ok(()),
        false => Err(LoggingError::BadModule(name.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_changes_the_directives() {
        let cases: [(&str, &str, Result<&str, LoggingError>); 8] = [
            ("info", "level=debug", Ok("debug")),
            ("info,mesh_agent::proxy=trace", "level=warning", Ok("warn")),
            (
                "info",
                "mesh_agent::proxy=debug",
                Ok("info,mesh_agent::proxy=debug"),
            ),
            (
                "info,mesh_agent=debug",
                "mesh_agent=error",
                Ok("info,mesh_agent=error"),
            ),
            ("info", "level=debug&hyper=off", Ok("debug,hyper=off")),
            ("info", "", Err(LoggingError::Empty)),
            (
                "info",
                "level=loud",
                Err(LoggingError::BadLevel("loud".into())),
            ),
            (
                "info",
                "a[b]=debug",
                Err(LoggingError::BadModule("a[b]".into())),
            ),
        ];
        for (current, query, want) in cases {
            let got = changed_directives(current, query);
            assert_eq!(
                got.as_deref().map_err(Clone::clone),
                want,
                "{current} + {query}"
            );
        }
    }

    #[test]
    fn a_change_reaches_the_running_subscriber() {
        let (layer, handle) = reload::Layer::new(EnvFilter::new("info"));
        let subscriber = tracing_subscriber::registry().with(layer);
        let levels = LogLevels::new("info".into(), move |f| handle.reload(f));
        tracing::subscriber::with_default(subscriber, || {
            assert!(!tracing::enabled!(tracing::Level::DEBUG));
            assert_eq!(levels.change("level=debug").unwrap(), "debug");
            tracing::callsite::rebuild_interest_cache();
            assert!(tracing::enabled!(tracing::Level::DEBUG));
            assert_eq!(levels.current(), "debug");
        });
    }
}
