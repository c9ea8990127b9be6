//! Request routing by a VirtualService's `http` rules, as pure decisions the route layer calls:
//! [`decide`] matches a request against the rules (the first rule with a holding match wins),
//! then picks the weighted destination, or says that the rule answers by itself (`redirect`,
//! `directResponse`). The rule found travels in the request as a [`MatchedRule`], from which
//! later layers read their slice (fault, mirror, timeout, retries); [`rewrite`] and [`headers`]
//! edit the request and response.

pub mod headers;
pub mod l4;
pub mod matching;
pub mod rewrite;
pub mod weights;

#[cfg(test)]
mod decide_tests;
#[cfg(test)]
mod matching_tests;

use std::sync::Arc;

use crate::chance::Chance;
use crate::errors::NoRoute;
use crate::resources::{Destination, Headers, HttpRoute, HttpRouteDestination};
use crate::snapshot::RouteTable;

pub use matching::MatchInput;

/// What the rules say about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No VirtualService (or one without HTTP rules): to the addressed Service itself, over all
    /// its endpoints.
    Direct,
    /// Forward along destination `destination` of rule `rule`.
    Forward { rule: usize, destination: usize },
    /// Rule `rule` answers with its `redirect`.
    Redirect { rule: usize },
    /// Rule `rule` answers with its `directResponse`.
    DirectResponse { rule: usize },
}

/// Routes a request: `table` is what the snapshot has for its host and port, `chance` draws
/// the weighted destination. Rules that exist and do not match: [`NoRoute`] (404 `NR`).
pub fn decide(
    table: Option<&RouteTable>,
    facts: &MatchInput<'_>,
    chance: &Chance,
) -> Result<Decision, NoRoute> {
    let Some(table) = table.filter(|t| !t.http.is_empty()) else {
        return Ok(Decision::Direct);
    };
    let rule = matching::first_match(&table.http, facts).ok_or(NoRoute)?;
    let found = &table.http[rule];
    if found.redirect.is_some() {
        return Ok(Decision::Redirect { rule });
    }
    if found.direct_response.is_some() {
        return Ok(Decision::DirectResponse { rule });
    }
    let draw = chance.below(weights::total_weight(&found.route));
    let destination = weights::pick(&found.route, draw).ok_or(NoRoute)?;
    Ok(Decision::Forward { rule, destination })
}

/// The rule (and destination) a request was routed by; in the request's extensions for the
/// layers below the route layer. Cheap to clone: it shares the snapshot's route table.
#[derive(Clone, Debug)]
pub struct MatchedRule {
    table: Arc<RouteTable>,
    rule: usize,
    destination: Option<usize>,
}

impl MatchedRule {
    /// Rule `rule` of `table`, forwarding along `destination` when it forwards.
    pub fn new(table: Arc<RouteTable>, rule: usize, destination: Option<usize>) -> Self {
        Self {
            table,
            rule,
            destination,
        }
    }

    /// The rule.
    pub fn rule(&self) -> &HttpRoute {
        &self.table.http[self.rule]
    }

    /// The route table the rule is in.
    pub fn table(&self) -> &RouteTable {
        &self.table
    }

    /// The rule's index in [`table`](Self::table)'s `http` rules.
    pub fn index(&self) -> usize {
        self.rule
    }

    /// `namespace/name` of the VirtualService.
    pub fn virtual_service(&self) -> &str {
        &self.table.virtual_service
    }

    /// The weighted destination chosen, when the rule forwards.
    pub fn route_destination(&self) -> Option<&HttpRouteDestination> {
        self.rule().route.get(self.destination?)
    }

    /// Its `destination`.
    pub fn destination(&self) -> Option<&Destination> {
        Some(&self.route_destination()?.destination)
    }

    /// The header edits that apply, the rule's then the destination's.
    pub fn header_edits(&self) -> [Option<&Headers>; 2] {
        let destination = self.route_destination().and_then(|d| d.headers.as_ref());
        [self.rule().headers.as_ref(), destination]
    }
}
