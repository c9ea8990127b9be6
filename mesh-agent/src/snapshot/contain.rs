//! The last guard of a reload: a panic while one resource is read or checked rejects that
//! resource alone (its last good version serves, as for any error) instead of the whole reload
//! and every later one. Known inputs cannot panic; this is for the ones nobody thought of.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::document::Origin;
use crate::document::ResourceKey;
use crate::document::{Problem, Severity};

/// What `work` returns, or the error problem about `key` (read at `origin`) that its panic is.
// A `Problem` is the error itself and this path is cold: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
pub(crate) fn contain<T>(
    origin: &Origin,
    key: &ResourceKey,
    work: impl FnOnce() -> T,
) -> Result<T, Problem> {
    catch_unwind(AssertUnwindSafe(work)).map_err(|payload| {
        let message = format!(
            "the mesh failed on this resource ({}); rejected",
            reason(payload.as_ref())
        );
        Problem::about(origin, key, Severity::Error, "document".into(), message)
    })
}

/// The message a panic carried.
fn reason(payload: &(dyn Any + Send)) -> String {
    let text = payload.downcast_ref::<&str>().copied();
    let owned = payload.downcast_ref::<String>().map(String::as_str);
    text.or(owned).unwrap_or("no message").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ResourceKey {
        ResourceKey {
            kind: "VirtualService".into(),
            namespace: "shop".into(),
            name: "web".into(),
        }
    }

    fn origin() -> Origin {
        Origin::file("vs.yaml", 3)
    }

    #[test]
    fn a_panic_becomes_an_error_naming_the_resource() {
        let problem = contain(&origin(), &key(), || -> u32 { panic!("boom {}", 7) }).unwrap_err();
        assert_eq!(
            problem.to_string(),
            "vs.yaml:3:1: VirtualService/shop/web: document: the mesh failed on this resource \
             (boom 7); rejected"
        );
        assert!(problem.is_error());
    }

    #[test]
    fn work_that_returns_is_passed_through() {
        assert_eq!(contain(&origin(), &key(), || 5).unwrap(), 5);
    }
}
