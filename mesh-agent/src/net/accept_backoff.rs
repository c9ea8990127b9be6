//! An accept loop's answer to failing accepts: out of file descriptors (`EMFILE`, `ENFILE`)
//! or memory (`ENOBUFS`, `ENOMEM`), accepting again at once fails again at once and spins a
//! core, so the loop waits — 10 ms doubling to 1 s — while connections close; other errors
//! (a client gone before its accept) go on at once. The warning is throttled.

use std::io;
use std::time::Duration;

use crate::throttle::Throttle;

const FIRST: Duration = Duration::from_millis(10);
const MOST: Duration = Duration::from_secs(1);

/// The wait before the next accept.
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    next: Option<Duration>,
    warnings: Throttle,
}

impl AcceptBackoff {
    /// After `error` accepting on `side` of `pod`: waits when resources ran out, logs.
    pub async fn after(&mut self, error: &io::Error, pod: &str, side: &str) {
        let wait = self.wait_after(error);
        if let Some(suppressed) = self.warnings.allow() {
            let wait_ms = wait.as_millis();
            tracing::warn!(%error, pod, side, wait_ms, suppressed, "accept failed");
        }
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// An accept succeeded: the next failure waits the least again.
    pub fn reset(&mut self) {
        self.next = None;
    }

    /// How long to wait after `error`.
    pub fn wait_after(&mut self, error: &io::Error) -> Duration {
        let exhausted = [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM];
        if !error.raw_os_error().is_some_and(|e| exhausted.contains(&e)) {
            return Duration::ZERO;
        }
        let wait = self.next.unwrap_or(FIRST);
        self.next = Some((wait * 2).min(MOST));
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_descriptors_waits_doubling_to_a_second_and_other_errors_do_not() {
        let mut backoff = AcceptBackoff::default();
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        let waits: Vec<u128> = (0..9)
            .map(|_| backoff.wait_after(&emfile).as_millis())
            .collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        let aborted = io::Error::from_raw_os_error(libc::ECONNABORTED);
        assert_eq!(backoff.wait_after(&aborted), Duration::ZERO);
        backoff.reset();
        let enfile = io::Error::from_raw_os_error(libc::ENFILE);
        assert_eq!(backoff.wait_after(&enfile), FIRST);
    }
}
