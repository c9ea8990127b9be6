//! Endpoint weights (ServiceEntry `endpoints[].weight`, Envoy's `load_balancing_weight`) as the
//! balancers honour them: ROUND_ROBIN by smooth weighted round robin (each endpoint gets its
//! share, spread out rather than in bursts, as Envoy's EDF scheduler does), RANDOM and the two
//! LEAST_REQUEST candidates drawn in proportion to weight, and LEAST_REQUEST choosing the
//! candidate with fewer requests in flight per unit of weight (Envoy's `weight / (active + 1)`).

use std::sync::Mutex;

/// The weights of one cluster's endpoints, in its order.
#[derive(Debug)]
pub struct Weights {
    each: Vec<u32>,
    /// Running sums: endpoint `i` owns draws in `cumulative[i - 1]..cumulative[i]`.
    cumulative: Vec<u64>,
    /// Smooth weighted round robin's running scores.
    scores: Mutex<Vec<i64>>,
}

impl Weights {
    /// `each` (one per endpoint); `None` when they all weigh the same: even spreading.
    pub fn new(each: Vec<u32>) -> Option<Self> {
        if each.windows(2).all(|pair| pair[0] == pair[1]) {
            return None;
        }
        let cumulative = each
            .iter()
            .scan(0u64, |sum, w| {
                *sum += u64::from(*w);
                Some(*sum)
            })
            .collect();
        let scores = Mutex::new(vec![0; each.len()]);
        Some(Self {
            each,
            cumulative,
            scores,
        })
    }

    /// The sum of the weights.
    pub fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// The endpoint that owns `draw` (in `0..total()`).
    pub fn owner(&self, draw: u64) -> usize {
        let at = self.cumulative.partition_point(|sum| *sum <= draw);
        at.min(self.each.len().saturating_sub(1))
    }

    /// The next endpoint in smooth weighted round robin: every endpoint's score grows by its
    /// weight, the highest is chosen and loses the total.
    pub fn next_in_turn(&self) -> usize {
        let mut scores = self.scores.lock().unwrap_or_else(|p| p.into_inner());
        for (score, weight) in scores.iter_mut().zip(&self.each) {
            *score += i64::from(*weight);
        }
        let best = argmax(&scores);
        scores[best] -= self.total() as i64;
        best
    }

    /// Of `a` and `b`, the one with fewer requests in flight per unit of weight (`a` on a tie).
    pub fn less_loaded(&self, loads: (usize, usize), a: usize, b: usize) -> usize {
        // (load_b + 1) / weight_b < (load_a + 1) / weight_a, without division.
        let (wa, wb) = (u128::from(self.each[a]), u128::from(self.each[b]));
        let (la, lb) = (loads.0 as u128 + 1, loads.1 as u128 + 1);
        match lb * wa < la * wb {
            true => b,
            false => a,
        }
    }
}

/// The index of the highest score (the first on a tie).
fn argmax(scores: &[i64]) -> usize {
    let mut best = 0;
    for (i, score) in scores.iter().enumerate() {
        if *score > scores[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_weights_need_no_weighing() {
        assert!(Weights::new(vec![3, 3, 3]).is_none());
        assert!(Weights::new(vec![]).is_none());
    }

    #[test]
    fn smooth_round_robin_gives_each_its_share_spread_out() {
        let weights = Weights::new(vec![5, 1, 1]).unwrap();
        let turns: Vec<usize> = (0..7).map(|_| weights.next_in_turn()).collect();
        assert_eq!(
            turns,
            [0, 0, 1, 0, 2, 0, 0],
            "nginx's smooth sequence for 5:1:1"
        );
        let again: Vec<usize> = (0..7).map(|_| weights.next_in_turn()).collect();
        assert_eq!(again, turns, "the sequence repeats");
    }

    #[test]
    fn draws_belong_to_endpoints_in_proportion() {
        let weights = Weights::new(vec![1, 3]).unwrap();
        let owners: Vec<usize> = (0..4).map(|d| weights.owner(d)).collect();
        assert_eq!(owners, [0, 1, 1, 1]);
        assert_eq!(weights.total(), 4);
    }

    #[test]
    fn least_request_weighs_load_against_weight() {
        let weights = Weights::new(vec![1, 4]).unwrap();
        // (3 + 1) / 4 = 1.0 at the heavy one beats (1 + 1) / 1 = 2.0 at the light one.
        assert_eq!(weights.less_loaded((1, 3), 0, 1), 1);
        assert_eq!(weights.less_loaded((0, 4), 0, 1), 0, "1.0 against 1.25");
    }
}
