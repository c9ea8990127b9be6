//! When the demo stops: on Ctrl-C (SIGINT) or SIGTERM, or once its `--duration` has passed.

use anyhow::Result;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Set by the signal handler; a signal handler can only reach a static.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Why the demo stops.
#[derive(Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// `--duration` has passed.
    DurationPassed,
}

/// The demo's stop conditions: a signal or a deadline.
pub struct StopWatch {
    interrupted: &'static AtomicBool,
    deadline: Option<Instant>,
}

impl StopWatch {
    /// Catches SIGINT and SIGTERM from now on (instead of dying at once, so the lab comes down).
    pub fn catch_signals() -> Result<Self> {
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::empty(),
            SigSet::empty(),
        );
        for signal in [Signal::SIGINT, Signal::SIGTERM] {
            // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
            unsafe { sigaction(signal, &action) }?;
        }
        Ok(Self {
            interrupted: &INTERRUPTED,
            deadline: None,
        })
    }

    /// A stop watch no signal reaches, for tests.
    #[cfg(test)]
    pub fn unsignalled() -> Self {
        Self {
            interrupted: Box::leak(Box::new(AtomicBool::new(false))),
            deadline: None,
        }
    }

    /// Stops `duration` from now.
    pub fn stop_after(&mut self, duration: Duration) {
        self.deadline = Some(Instant::now() + duration);
    }

    /// Whether (and why) the demo should stop now.
    pub fn reason(&self) -> Option<StopReason> {
        stop_reason(
            self.interrupted.load(Ordering::SeqCst),
            self.deadline,
            Instant::now(),
        )
    }
}

/// The decision: a signal wins over the deadline.
pub fn stop_reason(
    interrupted: bool,
    deadline: Option<Instant>,
    now: Instant,
) -> Option<StopReason> {
    if interrupted {
        return Some(StopReason::Interrupted);
    }
    deadline
        .filter(|d| now >= *d)
        .map(|_| StopReason::DurationPassed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons() {
        let now = Instant::now();
        let later = now + Duration::from_secs(5);
        let cases = [
            (false, None, None),
            (true, None, Some(StopReason::Interrupted)),
            (false, Some(later), None),
            (false, Some(now), Some(StopReason::DurationPassed)),
            (true, Some(now), Some(StopReason::Interrupted)),
        ];
        for (interrupted, deadline, want) in cases {
            assert_eq!(
                stop_reason(interrupted, deadline, now),
                want,
                "{interrupted} {deadline:?}"
            );
        }
    }

    #[test]
    fn a_sigint_is_caught_and_stops_the_demo() {
        let mut watch = StopWatch::catch_signals().unwrap();
        watch.stop_after(Duration::from_secs(3600));
        nix::sys::signal::raise(Signal::SIGINT).unwrap();
        assert_eq!(watch.reason(), Some(StopReason::Interrupted));
    }

    #[test]
    fn a_deadline_stops_the_demo() {
        let mut watch = StopWatch::unsignalled();
        assert_eq!(watch.reason(), None);
        watch.stop_after(Duration::ZERO);
        assert_eq!(watch.reason(), Some(StopReason::DurationPassed));
    }
}
