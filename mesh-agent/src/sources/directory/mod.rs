//! The directory source: every `.yaml`, `.yml` and `.json` file under a directory, recursively,
//! reloaded when files change. A file that fails to read is reported and keeps its previous
//! documents in the set; a deleted file takes its documents with it.

mod scan;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::document::{read_documents, ReadError};
use crate::document::{Origin, RawResource, SourceProblem, SourceUpdate};
use scan::{FileStamp, Fingerprint};

pub use scan::EXTENSIONS;

/// How often the directory is scanned. A change is applied once the directory looks the same on
/// two scans in a row, so a burst of writes gives one reload.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// What one file contributed at its last read.
#[derive(Debug)]
struct FileEntry {
    stamp: FileStamp,
    documents: Vec<RawResource>,
    problem: Option<SourceProblem>,
}

/// A config directory, its last-read files, and the channel its sets are published on.
#[derive(Debug)]
pub struct DirectorySource {
    dir: PathBuf,
    files: BTreeMap<PathBuf, FileEntry>,
    scan_problem: Option<SourceProblem>,
    applied: Option<Fingerprint>,
    updates: watch::Sender<SourceUpdate>,
}

impl DirectorySource {
    /// A source for `dir`; nothing is read until [`reload`](Self::reload) or [`run`](Self::run).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            files: BTreeMap::new(),
            scan_problem: None,
            applied: None,
            updates: watch::Sender::new(SourceUpdate::default()),
        }
    }

    /// The channel the current set is published on.
    pub fn subscribe(&self) -> watch::Receiver<SourceUpdate> {
        self.updates.subscribe()
    }

    /// Reads what changed since the last reload and publishes the set (also when unchanged).
    pub fn reload(&mut self) {
        let scanned = scan::fingerprint(&self.dir);
        self.apply(scanned);
    }

    /// Reads the directory now, then re-reads it whenever it changes, until every subscriber is
    /// gone.
    pub async fn run(mut self) {
        self.reload();
        let mut ticker = tokio::time::interval(POLL_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut settling: Option<Fingerprint> = None;
        while !self.updates.is_closed() {
            ticker.tick().await;
            let Ok(now) = scan::fingerprint(&self.dir) else {
                self.reload();
                continue;
            };
            if self.applied.as_ref() == Some(&now) {
                settling = None;
            } else if settling.as_ref() == Some(&now) {
                settling = None;
                self.apply(Ok(now));
            } else {
                settling = Some(now);
            }
        }
    }

    fn apply(&mut self, scanned: std::io::Result<Fingerprint>) {
        match scanned {
            Ok(fingerprint) => {
                self.scan_problem = None;
                self.read_changed(&fingerprint);
                self.applied = Some(fingerprint);
            }
            // The directory itself is unreadable: keep every file's documents.
            Err(err) => {
                self.scan_problem = Some(dir_problem(&self.dir, &err));
                self.applied = None;
            }
        }
        self.publish();
    }

    fn read_changed(&mut self, fingerprint: &Fingerprint) {
        self.files.retain(|path, _| fingerprint.contains_key(path));
        for (path, stamp) in fingerprint {
            if self
                .files
                .get(path)
                .is_some_and(|entry| entry.stamp == *stamp)
            {
                continue;
            }
            let previous = self.files.remove(path).map(|entry| entry.documents);
            let entry = match read_file(path) {
                Ok(documents) => FileEntry {
                    stamp: *stamp,
                    documents,
                    problem: None,
                },
                Err(problem) => {
                    tracing::warn!(%problem, "config file rejected; its previous documents stay");
                    let documents = previous.unwrap_or_default();
                    FileEntry {
                        stamp: *stamp,
                        documents,
                        problem: Some(problem),
                    }
                }
            };
            self.files.insert(path.clone(), entry);
        }
    }

    fn publish(&self) {
        let resources = self
            .files
            .values()
            .flat_map(|entry| entry.documents.iter().cloned());
        let problems = self
            .scan_problem
            .iter()
            .chain(self.files.values().filter_map(|e| e.problem.as_ref()));
        self.updates.send_replace(SourceUpdate {
            resources: Arc::new(resources.collect()),
            problems: Arc::new(problems.cloned().collect()),
        });
    }
}

fn dir_problem(dir: &Path, err: &std::io::Error) -> SourceProblem {
    SourceProblem {
        origin: Origin::file(dir, 1),
        message: format!("cannot read the config directory: {err}"),
    }
}

/// One file's documents, read by the configuration pipeline's reader.
fn read_file(path: &Path) -> Result<Vec<RawResource>, SourceProblem> {
    read_documents(path).map_err(|err| match err {
        ReadError::Io { path, source } => SourceProblem {
            origin: Origin::file(path, 1),
            message: source.to_string(),
        },
        ReadError::Syntax {
            path,
            line,
            column,
            message,
        } => SourceProblem {
            origin: Origin::File {
                path,
                line,
                column,
                fields: Default::default(),
            },
            message,
        },
    })
}
