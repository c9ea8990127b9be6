//! Durations as Istio's `ValidateDuration` takes them: at least 1ms and in whole
//! milliseconds (Envoy's precision); CORS `maxAge` in whole seconds.

use std::time::Duration as StdDuration;

use super::finding::Findings;
use crate::resources::Duration;

const MILLI: StdDuration = StdDuration::from_millis(1);

/// An error at `field` unless `duration` is at least 1ms and whole milliseconds.
pub(crate) fn duration(
    found: &mut Findings,
    field: impl Into<String>,
    duration: Option<&Duration>,
) {
    let Some(duration) = duration else { return };
    let text = &duration.text;
    if duration.value < MILLI {
        found.error(field, format!("{text} is shorter than 1ms"));
    } else if duration.value.subsec_nanos() % 1_000_000 != 0 {
        found.error(
            field,
            format!("{text} is not whole milliseconds (Envoy's precision)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::finding::table::lines;

    fn of(text: &str) -> Duration {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn at_least_a_millisecond_in_whole_milliseconds() {
        let mut found = Findings::default();
        for good in ["1ms", "0.5s", "2h"] {
            duration(&mut found, "t", Some(&of(good)));
        }
        duration(&mut found, "t", None);
        assert!(found.0.is_empty(), "{found:?}");
        for bad in ["0s", "999us", "1.0005s"] {
            duration(&mut found, "t", Some(&of(bad)));
        }
        assert_eq!(
            lines(&found),
            [
                "t: 0s is shorter than 1ms",
                "t: 999us is shorter than 1ms",
                "t: 1.0005s is not whole milliseconds (Envoy's precision)",
            ]
        );
    }
}
