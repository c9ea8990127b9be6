//! What the request path compiles from one item of a snapshot (a cluster, a route table, the
//! snapshot itself), kept beside the item: compiled on first use, then only looked up for as
//! long as the item lives. The floors above name the compiled type (the snapshot cannot: the
//! resilience policies sit on a higher floor), so the slot holds it type-erased.

use std::any::Any;
use std::fmt;
use std::sync::OnceLock;

/// A slot filled once with what a higher floor compiles from the item holding it. A clone is
/// empty: an item copied to be changed must not carry what was compiled from the original.
#[derive(Default)]
pub struct Memo(OnceLock<Box<dyn Any + Send + Sync>>);

impl Memo {
    /// What `compile` made of the item, made on the first call; every later call (whatever
    /// its `compile`) returns the same value.
    ///
    /// # Panics
    ///
    /// When the slot already holds a value of another type: each slot has one user.
    pub fn get_or_init<T: Any + Send + Sync>(&self, compile: impl FnOnce() -> T) -> &T {
        let held = self.0.get_or_init(|| Box::new(compile()));
        held.downcast_ref()
            .expect("a memo slot holds what its one user compiles")
    }

    /// Whether something was compiled into it.
    pub fn is_filled(&self) -> bool {
        self.0.get().is_some()
    }
}

impl Clone for Memo {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl fmt::Debug for Memo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.is_filled() { "filled" } else { "empty" };
        f.debug_tuple("Memo").field(&state).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_once_and_a_clone_starts_empty() {
        let memo = Memo::default();
        let mut compiled = 0;
        let first = *memo.get_or_init(|| {
            compiled += 1;
            7u32
        });
        let second = *memo.get_or_init(|| {
            compiled += 1;
            8u32
        });
        assert_eq!((first, second, compiled), (7, 7, 1));
        assert!(!memo.clone().is_filled(), "a copy compiles its own");
    }
}
