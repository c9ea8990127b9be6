//! How large a YAML document is once its aliases are expanded, counted without expanding them:
//! an anchored node's size is measured once and added at each alias to it, so a "billion
//! laughs" document is refused after reading its few lines, before anything is built from it.

use std::collections::HashMap;

use super::spots::Spot;

/// The most a document may expand to, in bytes of its scalars plus one per node (about its size
/// as compact JSON): 3 MiB, twice the 1.5 MiB Kubernetes stores in one object (etcd's request
/// limit), leaving room for what YAML writes shorter than JSON. No valid resource comes near.
pub const MAX_EXPANDED_BYTES: u64 = 3 << 20;

/// The most aliases a document may expand, those inside an anchor counted at each use of it:
/// configurations share a handful of anchors; ten thousand uses is not one of them.
pub const MAX_ALIAS_EXPANSIONS: u64 = 10_000;

/// A document's size so far, after expansion, and the size of each anchored node.
#[derive(Debug, Default)]
pub(crate) struct Expansion {
    now: Size,
    anchors: HashMap<usize, Size>,
}

/// Bytes and alias uses.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Size {
    bytes: u64,
    aliases: u64,
}

/// Where the document grew past a limit, and which.
pub(crate) type TooLarge = (Spot, String);

impl Expansion {
    /// A node at `at` holding `bytes` of scalar text; the size before it (for an anchor on it).
    pub fn node(&mut self, bytes: usize, at: Spot) -> Result<Size, TooLarge> {
        let before = self.now;
        self.now.bytes = self.now.bytes.saturating_add(bytes as u64 + 1);
        self.check(at).map(|()| before)
    }

    /// The node anchored as `anchor` (0: none) that started when the size was `before` ends.
    pub fn close(&mut self, anchor: usize, before: Size) {
        if anchor != 0 {
            let size = Size {
                bytes: self.now.bytes - before.bytes,
                aliases: self.now.aliases - before.aliases,
            };
            self.anchors.insert(anchor, size);
        }
    }

    /// An alias at `at` to `anchor`: the anchored node's size again.
    pub fn alias(&mut self, anchor: usize, at: Spot) -> Result<(), TooLarge> {
        let size = self.anchors.get(&anchor).copied().unwrap_or_default();
        self.now.bytes = self.now.bytes.saturating_add(size.bytes);
        self.now.aliases = self.now.aliases.saturating_add(size.aliases + 1);
        self.check(at)
    }

    fn check(&self, at: Spot) -> Result<(), TooLarge> {
        if self.now.aliases > MAX_ALIAS_EXPANSIONS {
            let message =
                format!("document expands more than {MAX_ALIAS_EXPANSIONS} YAML aliases; refused");
            return Err((at, message));
        }
        if self.now.bytes > MAX_EXPANDED_BYTES {
            let message = format!(
                "document expands past {} MiB (YAML aliases included; Kubernetes stores \
                 objects up to 1.5 MiB); refused",
                MAX_EXPANDED_BYTES >> 20
            );
            return Err((at, message));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alias_counts_its_anchor_again_and_nested_ones_multiply() {
        let at = Spot::default();
        let mut size = Expansion::default();
        let before = size.node(3, at).unwrap();
        size.close(1, before);
        size.alias(1, at).unwrap();
        assert_eq!((size.now.bytes, size.now.aliases), (8, 1));
        let before = size.node(0, at).unwrap();
        for _ in 0..10 {
            size.alias(1, at).unwrap();
        }
        size.close(2, before);
        for _ in 0..908 {
            size.alias(2, at).unwrap();
        }
        let refused = size.alias(2, at).unwrap_err();
        assert!(
            refused.1.contains("more than 10000 YAML aliases"),
            "{refused:?}"
        );
    }
}
