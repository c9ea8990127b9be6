//! Which requests and connections get a log line: the mesh extension MeshConfig
//! `accessLogSampling` (percent, 0–100, default 100) keeps that share of them, drawn at random
//! when each one starts.

use crate::spans::Sampler;

/// Keeps a fixed percentage of entries: the trace sampler's percentage, with no caller's
/// decision to honour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogSampler(Sampler);

impl LogSampler {
    /// Keeps `percent` of entries; out-of-range values are clamped to 0–100, NaN keeps none.
    pub fn new(percent: f64) -> Self {
        Self(Sampler::new(percent))
    }

    /// The percentage in force.
    pub fn percent(&self) -> f64 {
        self.0.percent()
    }

    /// Whether to log the next entry (a random draw, unless every entry is kept).
    pub fn keep(&self) -> bool {
        self.percent() >= 100.0 || self.0.decide(None)
    }

    /// [`LogSampler::keep`] with the draw `roll` (in `0.0..1.0`) given.
    pub fn keep_with(&self, roll: f64) -> bool {
        self.0.decide_with(None, roll)
    }
}

impl Default for LogSampler {
    /// Every entry kept.
    fn default() -> Self {
        Self::new(100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let table = [
            // percent, roll, kept
            (100.0, 0.999, true),
            (25.0, 0.249, true),
            (25.0, 0.25, false),
            (0.0, 0.0, false),
            (150.0, 0.999, true),
            (f64::NAN, 0.0, false),
        ];
        for (percent, roll, kept) in table {
            assert_eq!(
                LogSampler::new(percent).keep_with(roll),
                kept,
                "{percent} {roll}"
            );
        }
    }

    #[test]
    fn a_seeded_draw_keeps_about_the_share_asked_for() {
        fastrand::seed(7);
        let sampler = LogSampler::new(25.0);
        let kept = (0..4000).filter(|_| sampler.keep()).count();
        assert!((800..1200).contains(&kept), "{kept} of 4000 kept at 25%");
        assert!((0..100).all(|_| LogSampler::default().keep()));
        assert!((0..100).all(|_| !LogSampler::new(0.0).keep()));
    }
}
