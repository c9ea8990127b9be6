//! Loading, attaching and reading the kernel programs of `mesh-ebpf`.
