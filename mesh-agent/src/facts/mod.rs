//! The facts a proxied request or connection produces, as every sink reads them: who reports,
//! what arrived, who talked to whom, and how it ended.

mod reporter;
mod request;
mod request_auth;

pub use reporter::Reporter;
pub use request::{HopPeers, RequestFacts, ResponseFacts, WorkloadRef};
pub use request_auth::RequestAuth;
