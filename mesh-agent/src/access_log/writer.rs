//! The writer task: takes entries off the bounded channel and writes them, one per line, to
//! stdout or a file, off the request path. Lines are flushed whenever the channel is empty.

use std::path::PathBuf;

use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;

use super::entry::AccessLogEntry;
use super::open::open_beneath;
use crate::resources::AccessLogEncoding;

/// Where access logs go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessLogSink {
    /// `/dev/stdout`.
    Stdout,
    /// `/dev/stderr`.
    Stderr,
    /// A file under the access-log directory: `relative` appended to, opened beneath `dir`.
    File { dir: PathBuf, relative: PathBuf },
}

/// Writes what `receiver` yields to `sink` until every sender is dropped.
pub async fn run_writer(
    sink: AccessLogSink,
    encoding: AccessLogEncoding,
    receiver: mpsc::Receiver<AccessLogEntry>,
) {
    let result = match sink {
        AccessLogSink::Stdout => write_all(tokio::io::stdout(), encoding, receiver).await,
        AccessLogSink::Stderr => write_all(tokio::io::stderr(), encoding, receiver).await,
        AccessLogSink::File { dir, relative } => {
            let open = move || open_beneath(&dir, &relative);
            match tokio::task::spawn_blocking(open).await {
                Ok(Ok(file)) => {
                    write_all(tokio::fs::File::from_std(file), encoding, receiver).await
                }
                Ok(Err(error)) => Err(error),
                Err(error) => Err(std::io::Error::other(error)),
            }
        }
    };
    if let Err(error) = result {
        tracing::warn!(%error, "access log writer stopped");
    }
}

async fn write_all(
    out: impl AsyncWrite + Unpin,
    encoding: AccessLogEncoding,
    mut receiver: mpsc::Receiver<AccessLogEntry>,
) -> std::io::Result<()> {
    let mut out = BufWriter::new(out);
    while let Some(entry) = receiver.recv().await {
        let mut line = match encoding {
            AccessLogEncoding::Json => entry.to_json(),
            AccessLogEncoding::Text => entry.to_text(),
        };
        line.push('\n');
        out.write_all(line.as_bytes()).await?;
        if receiver.is_empty() {
            out.flush().await?;
        }
    }
    out.flush().await
}
