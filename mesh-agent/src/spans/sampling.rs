//! The sampling decision: an incoming decision is honoured; otherwise a request is sampled at
//! the mesh's percentage (`defaultConfig.tracing.sampling`, 0–100, Istio's default 1).

/// Samples requests that arrive without a decision at a fixed percentage.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampler {
    percent: f64,
}

impl Sampler {
    /// Samples `percent` of undecided requests; out-of-range values are clamped to 0–100.
    pub fn new(percent: f64) -> Self {
        let percent = if percent.is_nan() { 0.0 } else { percent };
        Self {
            percent: percent.clamp(0.0, 100.0),
        }
    }

    /// The percentage in force.
    pub fn percent(&self) -> f64 {
        self.percent
    }

    /// Whether to record a request that arrived with `incoming` (the caller's decision).
    pub fn decide(&self, incoming: Option<bool>) -> bool {
        self.decide_with(incoming, fastrand::f64())
    }

    /// [`Sampler::decide`] with the random draw `roll` (in `0.0..1.0`) given.
    pub fn decide_with(&self, incoming: Option<bool>, roll: f64) -> bool {
        incoming.unwrap_or(roll * 100.0 < self.percent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let table = [
            // percent, incoming, roll, sampled
            (1.0, None, 0.005, true),
            (1.0, None, 0.01, false),
            (1.0, None, 0.5, false),
            (0.0, None, 0.0, false),
            (100.0, None, 0.999, true),
            (0.0, Some(true), 0.5, true),
            (100.0, Some(false), 0.0, false),
            (250.0, None, 0.999, true),
            (-5.0, None, 0.0, false),
            (f64::NAN, None, 0.0, false),
        ];
        for (percent, incoming, roll, sampled) in table {
            let sampler = Sampler::new(percent);
            assert_eq!(
                sampler.decide_with(incoming, roll),
                sampled,
                "{percent} {incoming:?} {roll}"
            );
        }
    }
}
