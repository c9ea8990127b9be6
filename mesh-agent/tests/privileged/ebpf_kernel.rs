//! Privileged: this machine's kernel has everything the programs need, and every probe of the
//! check answers (none fails for want of privilege). Needs root.

use crate::harness::namespaced;
use mesh_agent::bpf::{check_kernel, first_missing, REQUIRED};

#[test]
fn the_kernel_check_passes_on_a_kernel_new_enough() {
    if !namespaced::running_as_root() {
        return;
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(check_kernel(), Ok(()), "kernel {release}");
    // The same table with one feature reported missing names it, against the real release.
    let error =
        first_missing(REQUIRED, release.trim(), |p| Ok(p != REQUIRED[3].probe)).unwrap_err();
    assert!(error.to_string().contains(REQUIRED[3].name), "{error}");
}
