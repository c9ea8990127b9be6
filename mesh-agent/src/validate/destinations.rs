//! Where a rule sends traffic (Istio's `validateDestination`, `validateHTTPRouteDestinations`,
//! `validateRouteDestinations`): a host that is a domain (wildcards allowed, `*` alone not), a
//! subset named as a DNS label, a port in 1–65535; several destinations must not all weigh 0
//! (Istio sends nothing then). Istio does not ask weights to add up to 100: they are shares.
//! Their total must fit Istio's `int32` (the agent sums them).

use super::finding::Findings;
use super::names::{is_label, wildcard_domain};
use crate::resources::Destination;

/// Problems of the destination at `at`.
pub(crate) fn destination(found: &mut Findings, at: &str, destination: &Destination) {
    let host = &destination.host;
    let field = format!("{at}.host");
    match host.as_str() {
        "" => found.error(field, "destination host is required"),
        "*" => found.error(field, "invalid destination host *"),
        _ => found.error_if(field, wildcard_domain(host)),
    }
    if let Some(subset) = &destination.subset {
        found.error_if(format!("{at}.subset"), subset_name(subset));
    }
    if let Some(port) = &destination.port {
        if port.number == 0 {
            let message = "port number 0 must be in the range 1..65535";
            found.error(format!("{at}.port.number"), message);
        }
    }
}

/// A subset name: a DNS-1123 label.
pub(crate) fn subset_name(name: &str) -> Result<(), String> {
    match name {
        "" => Err("subset name cannot be empty".into()),
        _ if !is_label(name) => Err(format!(
            "subset name {name:?} is invalid (a DNS-1123 label)"
        )),
        _ => Ok(()),
    }
}

/// Several destinations (at `at`) whose weights are all 0 or unset, or whose total passes
/// `i32::MAX`.
pub(crate) fn weights(found: &mut Findings, at: &str, weights: impl Iterator<Item = Option<u32>>) {
    let weights: Vec<u64> = weights.map(|w| u64::from(w.unwrap_or(0))).collect();
    let total: u64 = weights.iter().sum();
    if weights.len() > 1 && total == 0 {
        found.error(
            at,
            "total destination weight = 0: set the weights (they are shares)",
        );
    }
    if total > i32::MAX as u64 {
        found.error(
            at,
            format!("weights add up to {total}, more than {}", i32::MAX),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::finding::table::{lines, spec};

    #[test]
    fn destinations_name_a_host_a_subset_and_a_port() {
        let mut found = Findings::default();
        for good in [
            "{host: reviews, subset: v1, port: {number: 9080}}",
            "{host: '*.example.com'}",
        ] {
            destination(&mut found, "d", &spec(good));
        }
        assert!(found.0.is_empty(), "{found:?}");
        for bad in [
            "{subset: v1}",
            "{host: '*'}",
            "{host: a.*.b, subset: V_1, port: {}}",
        ] {
            destination(&mut found, "d", &spec(bad));
        }
        assert_eq!(
            lines(&found),
            [
                "d.host: destination host is required",
                "d.host: invalid destination host *",
                "d.host: domain name \"*.b\" invalid (label \"*\" invalid)",
                "d.subset: subset name \"V_1\" is invalid (a DNS-1123 label)",
                "d.port.number: port number 0 must be in the range 1..65535",
            ]
        );
    }

    #[test]
    fn weights_are_shares_but_not_all_zero() {
        let mut found = Findings::default();
        for good in [
            vec![Some(90), Some(20)],
            vec![Some(0)],
            vec![None],
            vec![Some(1), None],
        ] {
            weights(&mut found, "r", good.into_iter());
        }
        assert!(found.0.is_empty(), "{found:?}");
        weights(&mut found, "r", [None, Some(0)].into_iter());
        weights(
            &mut found,
            "r",
            [Some(i32::MAX as u32), Some(1)].into_iter(),
        );
        assert_eq!(
            lines(&found),
            [
                "r: total destination weight = 0: set the weights (they are shares)",
                "r: weights add up to 2147483648, more than 2147483647",
            ]
        );
    }
}
