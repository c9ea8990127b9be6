//! The ingress gateway: Gateways whose selector matches this agent's gateway labels make it
//! listen on their server ports on the node's address; requests are bound to the Gateway
//! whose hosts they name and routed by the VirtualServices bound to it (`gateways:`), through
//! the same request stack as mesh traffic; HTTPS servers terminate TLS with rustls. What comes
//! from outside is taken with care: time limits (timeouts.rs), headers (edge.rs), Host against
//! SNI (sni_host.rs); upstream connections never reach the node itself (`net::NodeLocalGuard`).

mod edge;
mod hosts;
mod identity;
mod ingress;
mod listener;
mod selection;
mod sni_host;
mod timeouts;
mod tls;
mod tunnel;

#[cfg(test)]
mod selection_tests;

pub use hosts::{normalized, HostPattern};
pub use identity::{
    gateway_kind, gateway_workload, GatewayServiceAccount, EGRESS_GATEWAY_SERVICE_ACCOUNT,
    EGRESS_GATEWAY_WORKLOAD, GATEWAY_SERVICE_ACCOUNT, GATEWAY_WORKLOAD,
};
pub use ingress::{GatewayInputs, IngressGateway, GATEWAY_REFRESH};
pub use selection::{
    BadGatewayLabel, BoundServer, GatewayLabels, GatewayPlan, PortPlan, PortProtocol,
    DEFAULT_GATEWAY_LABELS,
};
pub use timeouts::{GatewayTimeouts, REQUEST_HEADERS_TIMEOUT, TLS_HANDSHAKE_TIMEOUT};
pub use tls::{CredentialError, ServerCertificates};
pub use tunnel::{GatewayIdentity, GatewayTunnel};
