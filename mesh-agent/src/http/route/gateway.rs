//! Routing at the ingress gateway: a request is routed by the VirtualServices bound to the
//! Gateway its Host selected, for that host and the gateway port, with the same rules engine
//! as mesh traffic. No Gateway server for the host, or no rule for it: 404 `NR`.

use hyper::Request;

use super::{Route, Routed};
use crate::errors::NoRoute;
use crate::http::body::Body;
use crate::snapshot::{Protocol, ServicePort, Snapshot};

/// Which Gateway a request reached through the node's ingress gateway, in its extensions: set
/// by the gateway listener from the server whose hosts match the request's Host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayBinding {
    /// `namespace/name` of the Gateway (what VirtualServices list in `gateways:`).
    pub gateway: String,
    /// The Gateway's namespace: short destination hosts resolve from there.
    pub namespace: String,
    /// The request's host, lowercase, without port: the VirtualService host looked up.
    pub host: String,
}

impl<S> Route<S> {
    /// Routes a request that reached gateway port `port`.
    pub(super) fn at_gateway(
        &self,
        snapshot: &Snapshot,
        port: u16,
        request: Request<Body>,
    ) -> Routed {
        let Some(binding) = request.extensions().get::<GatewayBinding>().cloned() else {
            return Routed::Answer(Err(NoRoute.into()));
        };
        let table = snapshot
            .gateway_routes(&binding.gateway, &binding.host, port)
            .filter(|table| !table.http.is_empty())
            .cloned();
        let Some(table) = table else {
            return Routed::Answer(Err(NoRoute.into()));
        };
        let dialled = ServicePort {
            port,
            name: String::new(),
            protocol: Protocol::Http,
        };
        let (namespace, gateway) = (&binding.namespace, &binding.gateway);
        self.by_table(snapshot, Some(table), &dialled, namespace, gateway, request)
    }
}
