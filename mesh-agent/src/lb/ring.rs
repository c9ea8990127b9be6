//! The consistent-hash ring (ketama-like, as Envoy's `RING_HASH`): each endpoint owns many
//! points on a 64-bit circle; a request's hash goes to the first point at or after it. Built
//! once per snapshot; adding or removing one endpoint moves only the keys it owns.

use std::net::SocketAddr;

/// Istio's default `minimumRingSize`.
pub const DEFAULT_RING_SIZE: usize = 1024;

/// Points on the circle and the endpoint each belongs to, sorted by point.
#[derive(Debug, Default)]
pub struct Ring {
    points: Vec<(u64, usize)>,
}

impl Ring {
    /// A ring of at least `size` points over `endpoints` (evenly shared).
    pub fn new(endpoints: &[SocketAddr], size: usize) -> Self {
        Self::weighted(endpoints, &[], size)
    }

    /// A ring of at least `size` points over `endpoints`, each owning a share of the points in
    /// proportion to its weight in `weights` (empty: evenly), as Envoy's ring hash does.
    pub fn weighted(endpoints: &[SocketAddr], weights: &[u32], size: usize) -> Self {
        if endpoints.is_empty() {
            return Self::default();
        }
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        let share = |index: usize| match weights.get(index) {
            Some(weight) if total > 0 => {
                let points = (size.max(1) as u128 * u128::from(*weight)).div_ceil(total.into());
                (points as usize).max(1)
            }
            _ => size.max(1).div_ceil(endpoints.len()),
        };
        let mut points: Vec<(u64, usize)> = endpoints
            .iter()
            .enumerate()
            .flat_map(|(index, endpoint)| {
                (0..share(index)).map(move |n| (hash(format!("{endpoint}_{n}").as_bytes()), index))
            })
            .collect();
        points.sort_unstable();
        Self { points }
    }

    /// The index of the endpoint that owns `key_hash`.
    pub fn owner(&self, key_hash: u64) -> Option<usize> {
        if self.points.is_empty() {
            return None;
        }
        let at = self.points.partition_point(|(point, _)| *point < key_hash);
        Some(self.points[at % self.points.len()].1)
    }
}

/// A stable 64-bit hash (FNV-1a, then a splitmix64 finaliser to spread nearby keys).
pub fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        h ^= u64::from(*byte);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(n: u8) -> Vec<SocketAddr> {
        (1..=n)
            .map(|i| SocketAddr::from(([10, 0, 0, i], 80)))
            .collect()
    }

    #[test]
    fn a_key_always_lands_on_the_same_endpoint() {
        let ring = Ring::new(&endpoints(3), DEFAULT_RING_SIZE);
        let key = hash(b"user-42");
        let first = ring.owner(key);
        assert!(first.is_some());
        assert!((0..10).all(|_| ring.owner(key) == first));
    }

    #[test]
    fn keys_spread_over_every_endpoint() {
        let ring = Ring::new(&endpoints(4), DEFAULT_RING_SIZE);
        let mut counts = [0usize; 4];
        for n in 0..4000 {
            counts[ring.owner(hash(format!("user-{n}").as_bytes())).unwrap()] += 1;
        }
        assert!(counts.iter().all(|c| (600..1400).contains(c)), "{counts:?}");
    }

    #[test]
    fn removing_an_endpoint_moves_only_its_keys() {
        // The same points per endpoint on both rings (256 each).
        let (all, fewer) = (endpoints(4), endpoints(3));
        let (before, after) = (Ring::new(&all, 1024), Ring::new(&fewer, 768));
        for n in 0..1000 {
            let key = hash(format!("user-{n}").as_bytes());
            let owner = before.owner(key).unwrap();
            if owner < 3 {
                assert_eq!(after.owner(key), Some(owner), "key {n} moved");
            }
        }
    }

    #[test]
    fn an_empty_ring_has_no_owner() {
        assert_eq!(Ring::new(&[], 1024).owner(7), None);
    }
}
