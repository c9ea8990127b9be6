//! The mesh's lab, demo and benchmarks, as a library: `cargo xtask lab | demo | bench |
//! build-ebpf | fuzz` dispatch to [`lab::run`], [`demo::run`], [`bench::run`],
//! [`build_ebpf::run`] and [`fuzz::run`], and the lab tests drive a lab through [`lab::Lab`]
//! and [`lab::down`] directly.
//!
//! The lab (DESIGN.md §5) is a small cluster of network namespaces, cgroups and hosts files on
//! this machine; `lab up` builds what it runs (the eBPF object, `mesh-agent`, `mesh-cni`, the
//! workloads of `mesh-workloads`) unless told not to.

pub mod bench;
pub mod build_ebpf;
pub mod demo;
pub mod fuzz;
pub mod lab;
pub mod packages;
pub mod primitives;
pub mod toolchain;
