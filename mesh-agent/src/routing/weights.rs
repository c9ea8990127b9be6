//! Weighted destinations with Istio's semantics: a single destination takes every request
//! whatever its weight; several share requests in proportion to their weights (which need not
//! add up to 100), a zero weight takes none; when no weight is set at all they share equally.

use crate::resources::{HttpRouteDestination, RouteDestination};

/// A destination with a share: an HTTP rule's, or a TCP or TLS rule's.
pub trait Weighted {
    /// Its `weight` as written.
    fn weight(&self) -> Option<u32>;
}

impl Weighted for HttpRouteDestination {
    fn weight(&self) -> Option<u32> {
        self.weight
    }
}

impl Weighted for RouteDestination {
    fn weight(&self) -> Option<u32> {
        self.weight
    }
}

/// The sum the draw for `destinations` is taken below (0: nothing to choose).
pub fn total_weight<D: Weighted>(destinations: &[D]) -> u32 {
    match destinations.len() {
        0 | 1 => destinations.len() as u32,
        _ if unweighted(destinations) => destinations.len() as u32,
        _ => destinations.iter().map(|d| d.weight().unwrap_or(0)).sum(),
    }
}

/// The destination that `draw` (in `0..total_weight`) falls on.
pub fn pick<D: Weighted>(destinations: &[D], draw: u32) -> Option<usize> {
    if destinations.len() == 1 {
        return Some(0);
    }
    if unweighted(destinations) {
        return (!destinations.is_empty()).then(|| draw as usize % destinations.len());
    }
    let mut below = 0u32;
    destinations.iter().position(|d| {
        below += d.weight().unwrap_or(0);
        draw < below
    })
}

fn unweighted<D: Weighted>(destinations: &[D]) -> bool {
    destinations.iter().all(|d| d.weight().unwrap_or(0) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weighted(weights: &[Option<u32>]) -> Vec<HttpRouteDestination> {
        weights
            .iter()
            .map(|w| HttpRouteDestination {
                weight: *w,
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn weight_table() {
        // weights, draws and the destination each draw picks
        type Draws = Vec<(u32, Option<usize>)>;
        let cases: Vec<(Vec<Option<u32>>, Draws)> = vec![
            (vec![None], vec![(0, Some(0))]),
            (vec![Some(0)], vec![(0, Some(0))]),
            (
                vec![Some(90), Some(10)],
                vec![(0, Some(0)), (89, Some(0)), (90, Some(1)), (99, Some(1))],
            ),
            (vec![Some(50), Some(50)], vec![(49, Some(0)), (50, Some(1))]),
            (vec![Some(0), Some(100)], vec![(0, Some(1)), (99, Some(1))]),
            (
                vec![Some(1), Some(3)],
                vec![(0, Some(0)), (1, Some(1)), (3, Some(1))],
            ),
            (
                vec![None, None, None],
                vec![(0, Some(0)), (1, Some(1)), (2, Some(2))],
            ),
            (vec![], vec![(0, None)]),
        ];
        for (weights, draws) in cases {
            let destinations = weighted(&weights);
            for (draw, want) in draws {
                assert_eq!(pick(&destinations, draw), want, "{weights:?} draw {draw}");
            }
        }
    }

    #[test]
    fn totals() {
        assert_eq!(total_weight(&weighted(&[Some(90), Some(10)])), 100);
        assert_eq!(total_weight(&weighted(&[Some(1), Some(3)])), 4);
        assert_eq!(total_weight(&weighted(&[Some(7)])), 1);
        assert_eq!(total_weight(&weighted(&[None, None])), 2);
        assert_eq!(total_weight::<HttpRouteDestination>(&[]), 0);
    }

    #[test]
    fn every_draw_of_a_split_lands_somewhere_in_proportion() {
        let destinations = weighted(&[Some(25), Some(75)]);
        let total = total_weight(&destinations);
        let mut counts = [0; 2];
        for draw in 0..total {
            counts[pick(&destinations, draw).unwrap()] += 1;
        }
        assert_eq!(counts, [25, 75]);
    }
}
