//! The workloads on loopback, one test binary: `sample-app` (the pods' HTTP service, load
//! generator and TCP echo) and `mesh-load` (the benchmarks' load generator and its servers),
//! each run as the built binary. No root needed.

mod mesh_load;
mod sample_app;
