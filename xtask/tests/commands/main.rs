//! `cargo xtask` end to end, one test binary: the commands as a user runs them — the demo (root
//! only; `skipped: <why>` otherwise), the lab's refusal without root, and help texts that name
//! features. The lab itself is tested through the `mesh-lab` library (`xtask/lab/tests/`).

mod demo;
mod help;
mod lab_cli;
