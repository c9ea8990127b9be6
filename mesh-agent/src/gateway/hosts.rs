//! Host matching at a gateway server: `hosts` entries are `[namespace/]dnsName`, where the
//! name is exact (`shop.example.com`), a wildcard (`*.example.com`) or `*`. The most specific
//! match wins, for the request's Host as for the TLS client's SNI.

/// One entry of a server's `hosts`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HostPattern {
    /// The namespace whose VirtualServices may bind (`None`: any, `*/` or no prefix).
    pub namespace: Option<String>,
    /// `shop.example.com`, `*.example.com` or `*`, lowercase.
    pub name: String,
}

/// How well a pattern matched: higher is more specific.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Specificity(usize);

impl HostPattern {
    /// Parses a `hosts` entry of a Gateway in `gateway_namespace` (`./host` means that one).
    pub fn parse(entry: &str, gateway_namespace: &str) -> Self {
        let (namespace, name) = match entry.split_once('/') {
            Some(("*", name)) => (None, name),
            Some((".", name)) => (Some(gateway_namespace.to_string()), name),
            Some((namespace, name)) => (Some(namespace.to_string()), name),
            None => (None, entry),
        };
        Self {
            namespace,
            name: name.to_ascii_lowercase(),
        }
    }

    /// Whether `host` (lowercase, without port) matches, and how specifically.
    pub fn matches(&self, host: &str) -> Option<Specificity> {
        if self.name == "*" {
            return Some(Specificity(0));
        }
        if let Some(suffix) = self.name.strip_prefix('*') {
            let fits = host.len() > suffix.len() && host.ends_with(suffix);
            return fits.then_some(Specificity(suffix.len()));
        }
        (self.name == host).then_some(Specificity(usize::MAX))
    }
}

/// The request host as servers match it: lowercase, without a port or a trailing dot.
pub fn normalized(host: &str) -> String {
    let without_port = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(']') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    };
    without_port.trim_end_matches('.').to_ascii_lowercase()
}

/// The index of the item whose patterns match `host` most specifically (the first on a tie).
pub fn best_match<'a, T: 'a>(
    items: impl IntoIterator<Item = (&'a [HostPattern], T)>,
    host: &str,
) -> Option<T> {
    let mut best: Option<(Specificity, T)> = None;
    for (patterns, item) in items {
        let Some(found) = patterns.iter().filter_map(|p| p.matches(host)).max() else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _)| found > *b) {
            best = Some((found, item));
        }
    }
    best.map(|(_, item)| item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_with_their_namespace() {
        let cases = [
            ("*", None, "*"),
            ("*/Shop.example.com", None, "shop.example.com"),
            (
                "./shop.example.com",
                Some("istio-system"),
                "shop.example.com",
            ),
            ("apps/*.example.com", Some("apps"), "*.example.com"),
        ];
        for (entry, namespace, name) in cases {
            let pattern = HostPattern::parse(entry, "istio-system");
            assert_eq!(pattern.namespace.as_deref(), namespace, "{entry}");
            assert_eq!(pattern.name, name, "{entry}");
        }
    }

    #[test]
    fn matching_prefers_the_most_specific() {
        let exact = HostPattern::parse("shop.example.com", "ns");
        let wildcard = HostPattern::parse("*.example.com", "ns");
        let any = HostPattern::parse("*", "ns");
        assert!(exact.matches("shop.example.com") > wildcard.matches("shop.example.com"));
        assert!(wildcard.matches("shop.example.com") > any.matches("shop.example.com"));
        assert_eq!(wildcard.matches("example.com"), None);
        assert!(wildcard.matches("a.b.example.com").is_some());
        assert_eq!(exact.matches("other.example.com"), None);
    }

    #[test]
    fn best_match_picks_the_most_specific_server() {
        let servers = [
            (vec![HostPattern::parse("*", "ns")], "any"),
            (vec![HostPattern::parse("shop.example.com", "ns")], "shop"),
        ];
        let items = servers.iter().map(|(p, n)| (p.as_slice(), *n));
        assert_eq!(best_match(items.clone(), "shop.example.com"), Some("shop"));
        assert_eq!(best_match(items, "else.example.com"), Some("any"));
        let none: [(&[HostPattern], &str); 0] = [];
        assert_eq!(best_match(none, "x"), None);
    }

    #[test]
    fn hosts_are_normalized() {
        assert_eq!(normalized("Shop.Example.com:8080"), "shop.example.com");
        assert_eq!(normalized("shop.example.com."), "shop.example.com");
        assert_eq!(normalized("[::1]"), "[::1]");
        assert_eq!(normalized("10.0.0.1:80"), "10.0.0.1");
    }
}
