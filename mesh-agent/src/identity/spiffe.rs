//! Workload identities: `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`.

use std::fmt;

/// A workload's SPIFFE identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    pub trust_domain: String,
    pub namespace: String,
    pub service_account: String,
}

impl Identity {
    /// Parses `spiffe://<td>/ns/<ns>/sa/<sa>`; the error says what is wrong.
    pub fn parse(uri: &str) -> Result<Self, String> {
        let rest = uri
            .strip_prefix("spiffe://")
            .ok_or_else(|| format!("identity `{uri}` does not start with spiffe://"))?;
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            [td, "ns", ns, "sa", sa] if !td.is_empty() && !ns.is_empty() && !sa.is_empty() => {
                Ok(Identity {
                    trust_domain: (*td).to_owned(),
                    namespace: (*ns).to_owned(),
                    service_account: (*sa).to_owned(),
                })
            }
            _ => Err(format!(
                "identity `{uri}` is not spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>"
            )),
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spiffe://{}/ns/{}/sa/{}",
            self.trust_domain, self.namespace, self.service_account
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Identity;

    #[test]
    fn parses_and_prints_the_spiffe_form() {
        let id = Identity::parse("spiffe://cluster.local/ns/shop/sa/cart").unwrap();
        assert_eq!(id.namespace, "shop");
        assert_eq!(id.service_account, "cart");
        assert_eq!(id.to_string(), "spiffe://cluster.local/ns/shop/sa/cart");
    }

    #[test]
    fn refuses_other_shapes_naming_them() {
        for bad in [
            "cluster.local/ns/a/sa/b",
            "spiffe://td/ns/a",
            "spiffe://td/ns//sa/b",
        ] {
            let err = Identity::parse(bad).unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }
}
