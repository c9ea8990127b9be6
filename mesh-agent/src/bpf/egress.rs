//! The `connect()` hook's egress policies: `EGRESS_POLICY` (pod netns → policy) and
//! `EGRESS_ALLOWED` (policy and address prefix, an LPM trie), kept equal to the agent's
//! [`EgressPlan`]. A new plan's addresses go in before its pods point at them, and what it
//! dropped goes out after, so no connect is refused for a moment by a half-written plan.

use std::collections::BTreeSet;

use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{HashMap, MapData, MapError};
use ipnet::IpNet;
use mesh_common::{EgressKey, KernelIp, EGRESS_POLICY_BITS};

use super::loader::MeshBpf;
use crate::capture::{EgressPlan, EgressPolicies};

/// The two maps and what was written into them.
pub(crate) struct EgressMaps {
    policy: HashMap<MapData, u64, u32>,
    allowed: LpmTrie<MapData, EgressKey, u8>,
    written: EgressPlan,
}

impl EgressMaps {
    pub(super) fn new(
        policy: HashMap<MapData, u64, u32>,
        allowed: LpmTrie<MapData, EgressKey, u8>,
    ) -> Self {
        Self {
            policy,
            allowed,
            written: EgressPlan::default(),
        }
    }

    fn apply(&mut self, plan: &EgressPlan) -> Result<(), MapError> {
        let (new, old) = (entries(plan), entries(&self.written));
        for (policy, net) in new.difference(&old) {
            self.allowed.insert(&key(*policy, net), 1, 0)?;
        }
        for (cookie, policy) in &plan.pods {
            if self.written.pods.get(cookie) != Some(policy) {
                self.policy.insert(cookie, policy, 0)?;
            }
        }
        let gone = self
            .written
            .pods
            .keys()
            .filter(|c| !plan.pods.contains_key(c));
        for cookie in gone.copied().collect::<Vec<_>>() {
            ignore_missing(self.policy.remove(&cookie))?;
        }
        for (policy, net) in old.difference(&new) {
            ignore_missing(self.allowed.remove(&key(*policy, net)))?;
        }
        self.written = plan.clone();
        Ok(())
    }
}

/// Every (policy, prefix) of `plan`.
fn entries(plan: &EgressPlan) -> BTreeSet<(u32, IpNet)> {
    let each = plan.allowed.iter();
    each.flat_map(|(policy, nets)| nets.iter().map(move |net| (*policy, *net)))
        .collect()
}

/// The LPM key of `net` in `policy`: IPv4 as its IPv4-mapped form (96 bits ahead of it).
fn key(policy: u32, net: &IpNet) -> Key<EgressKey> {
    let (ip, bits) = match net {
        IpNet::V4(v4) => (v4.network().into(), 96 + u32::from(v4.prefix_len())),
        IpNet::V6(v6) => (v6.network().into(), u32::from(v6.prefix_len())),
    };
    let ip = KernelIp::from_ip(ip);
    Key::new(EGRESS_POLICY_BITS + bits, EgressKey { policy, ip })
}

fn ignore_missing(result: Result<(), MapError>) -> Result<(), MapError> {
    match result {
        Err(MapError::KeyNotFound) => Ok(()),
        other => other,
    }
}

impl EgressPolicies for MeshBpf {
    fn apply(&self, plan: &EgressPlan) -> anyhow::Result<()> {
        let mut maps = self.egress.lock().expect("not poisoned");
        Ok(maps.apply(plan)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_prefixes_sit_behind_the_mapped_prefix_and_the_policy() {
        let k = key(7, &"10.1.0.0/16".parse().unwrap());
        assert_eq!(k.prefix_len(), 32 + 96 + 16);
        assert_eq!(k.data().policy, 7);
        assert_eq!(k.data().ip, KernelIp::from_ip("10.1.0.0".parse().unwrap()));
        let host = key(7, &"fd00::1/128".parse().unwrap());
        assert_eq!(host.prefix_len(), 32 + 128);
    }
}
