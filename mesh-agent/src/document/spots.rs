//! Where each field of a document is written: an index from a field path
//! (`spec.http[0].route[1].weight`) to its line and column, built when a file is read, so a
//! problem about a field points at it (or at its nearest written ancestor when it is absent).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::json_name::json_name;

/// A place in a file: 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Spot {
    pub line: usize,
    pub column: usize,
}

/// One node of a document as written: where it starts (a field: where its key starts) and
/// what it holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Written {
    pub at: Spot,
    pub inner: Inner,
}

/// The fields of a mapping (keys as written) or the items of a sequence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum Inner {
    #[default]
    Leaf,
    Fields(Vec<(String, Written)>),
    Items(Vec<Written>),
}

/// The written places of one document's fields; empty for documents not read from a file.
/// Two indexes are equal when they hold the same places (compared by a digest).
#[derive(Clone, Default)]
pub struct FieldSpots {
    tree: Option<Arc<Written>>,
    digest: u64,
}

impl FieldSpots {
    pub(crate) fn new(tree: Written) -> Self {
        let mut hasher = std::hash::DefaultHasher::new();
        tree.hash(&mut hasher);
        Self {
            digest: hasher.finish(),
            tree: Some(Arc::new(tree)),
        }
    }

    /// Where `field` is written, else its nearest written ancestor; `None` without an index.
    /// Path segments match keys as written or by their JSON name (`sni_hosts` for `sniHosts`).
    pub fn locate(&self, field: &str) -> Option<Spot> {
        self.tree.as_deref().map(|root| walk(root, field).0.at)
    }

    /// The index of the node at `field` (an item of a `kind: List`), empty when it is absent.
    pub(crate) fn at(&self, field: &str) -> FieldSpots {
        match self.tree.as_deref().map(|root| walk(root, field)) {
            Some((node, true)) => Self::new(node.clone()),
            _ => Self::default(),
        }
    }
}

/// The deepest node along `field`, and whether it is the one `field` names.
fn walk<'t>(mut node: &'t Written, field: &str) -> (&'t Written, bool) {
    let mut rest = field;
    loop {
        rest = rest.strip_prefix('.').unwrap_or(rest);
        if rest.is_empty() {
            return (node, true);
        }
        let next = match &node.inner {
            Inner::Fields(fields) => child_field(fields, rest),
            Inner::Items(items) => child_item(items, rest),
            Inner::Leaf => None,
        };
        match next {
            Some((child, used)) => (node, rest) = (child, &rest[used..]),
            None => return (node, false),
        }
    }
}

/// The field `rest` starts with (the longest key, for keys holding dots), and its length.
fn child_field<'t>(fields: &'t [(String, Written)], rest: &str) -> Option<(&'t Written, usize)> {
    let starts = |key: &str| {
        let after = rest.strip_prefix(key)?;
        let whole = after.is_empty() || after.starts_with(['.', '[']);
        (whole && !key.is_empty()).then_some(key.len())
    };
    fields
        .iter()
        .filter_map(|(key, node)| Some((node, starts(key).or_else(|| starts(&json_name(key)))?)))
        .max_by_key(|(_, used)| *used)
}

/// The item `[i]` that `rest` starts with, and the length of `[i]`.
fn child_item<'t>(items: &'t [Written], rest: &str) -> Option<(&'t Written, usize)> {
    let inside = rest.strip_prefix('[')?;
    let (index, _) = inside.split_once(']')?;
    let item = items.get(index.parse::<usize>().ok()?)?;
    Some((item, index.len() + 2))
}

impl PartialEq for FieldSpots {
    fn eq(&self, other: &Self) -> bool {
        self.digest == other.digest
    }
}

impl Eq for FieldSpots {}

impl PartialOrd for FieldSpots {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for FieldSpots {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.digest.cmp(&other.digest)
    }
}

impl Hash for FieldSpots {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.digest.hash(state);
    }
}

impl std::fmt::Debug for FieldSpots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FieldSpots({:x})", self.digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> Spot {
        Spot { line, column }
    }

    fn leaf(line: usize, column: usize) -> Written {
        Written {
            at: at(line, column),
            inner: Inner::Leaf,
        }
    }

    fn fields(line: usize, column: usize, of: Vec<(&str, Written)>) -> Written {
        let of = of.into_iter().map(|(k, w)| (k.to_string(), w)).collect();
        Written {
            at: at(line, column),
            inner: Inner::Fields(of),
        }
    }

    /// `spec: {tls: [{match: [{sni_hosts: [a]}]}], labels: {app.kubernetes.io/name: x}}`
    fn spots() -> FieldSpots {
        let matched = fields(4, 7, vec![("sni_hosts", leaf(4, 7))]);
        let tls_item = fields(
            3,
            5,
            vec![(
                "match",
                Written {
                    at: at(3, 5),
                    inner: Inner::Items(vec![matched]),
                },
            )],
        );
        let labels = fields(
            6,
            3,
            vec![("app", leaf(7, 5)), ("app.kubernetes.io/name", leaf(8, 5))],
        );
        let tls = Written {
            at: at(2, 3),
            inner: Inner::Items(vec![tls_item]),
        };
        FieldSpots::new(fields(
            1,
            1,
            vec![("spec", fields(1, 1, vec![("tls", tls), ("labels", labels)]))],
        ))
    }

    #[test]
    fn a_field_is_found_by_its_json_name_and_an_absent_one_by_its_ancestor() {
        let spots = spots();
        assert_eq!(
            spots.locate("spec.tls[0].match[0].sniHosts"),
            Some(at(4, 7))
        );
        assert_eq!(
            spots.locate("spec.tls[0].match[0].sni_hosts"),
            Some(at(4, 7))
        );
        assert_eq!(spots.locate("spec.tls[0].match[3].port"), Some(at(3, 5)));
        assert_eq!(spots.locate("spec.tls[0].route"), Some(at(3, 5)));
        assert_eq!(
            spots.locate("spec.labels.app.kubernetes.io/name"),
            Some(at(8, 5))
        );
        assert_eq!(FieldSpots::default().locate("spec"), None);
    }

    #[test]
    fn an_item_has_its_own_index() {
        let item = spots().at("spec.tls[0]");
        assert_eq!(item.locate("match[0].sniHosts"), Some(at(4, 7)));
        assert_eq!(spots().at("spec.nothing"), FieldSpots::default());
    }
}
