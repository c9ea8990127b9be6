//! The addresses the agent resolved for DNS ServiceEntry hosts and endpoints: an input of the
//! build beside the resources, so a changed answer recompiles the ServiceEntry's endpoints the
//! way a changed document does.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;

use super::model::{Address, Service};

/// Name → its addresses as the resolver last answered (sorted, no duplicates).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResolvedNames(BTreeMap<String, Vec<IpAddr>>);

impl ResolvedNames {
    /// Names with their addresses.
    pub fn new(names: impl IntoIterator<Item = (String, Vec<IpAddr>)>) -> Self {
        let mut all = BTreeMap::new();
        for (name, mut addresses) in names {
            addresses.sort();
            addresses.dedup();
            all.insert(name.to_ascii_lowercase(), addresses);
        }
        Self(all)
    }

    /// The addresses `name` resolved to, when it was resolved.
    pub fn get(&self, name: &str) -> Option<&[IpAddr]> {
        self.0.get(&name.to_ascii_lowercase()).map(Vec::as_slice)
    }

    /// Every name and its addresses.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<IpAddr>)> {
        self.0.iter()
    }
}

/// The DNS names the agent must resolve for `services`: the endpoints of DNS ServiceEntries
/// (the host itself, or the names listed as endpoint addresses).
pub fn dns_names<'a>(services: impl IntoIterator<Item = &'a Service>) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for service in services {
        for name in &service.dns_names {
            names.insert(name.to_ascii_lowercase());
        }
        for endpoint in &service.endpoints {
            if let Address::Dns(name) = &endpoint.address {
                names.insert(name.to_ascii_lowercase());
            }
        }
    }
    names
}
