//! The check Envoy's network ext_authz filter sends for an opaque TCP connection: the peers'
//! addresses, the client's principal from its certificate, the time, and no HTTP request.

use std::time::SystemTime;

use super::grpc_check::peer;
use super::proto::{AttributeContext, AttributeRequest, CheckRequest};
use super::CheckedConnection;

/// The attributes of `connection`.
pub(super) fn check_request(connection: &CheckedConnection) -> CheckRequest {
    let principal = connection.source_principal.clone();
    CheckRequest {
        attributes: Some(AttributeContext {
            source: Some(peer(connection.source, principal)),
            destination: Some(peer(connection.destination, None)),
            request: Some(AttributeRequest {
                time: Some(SystemTime::now().into()),
                http: None,
            }),
            ..AttributeContext::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_principal_without_a_request() {
        let connection = CheckedConnection {
            source: "10.244.1.7:40000".parse().unwrap(),
            destination: "10.244.1.5:5432".parse().unwrap(),
            source_principal: Some("spiffe://cluster.local/ns/shop/sa/web".into()),
        };
        let attributes = check_request(&connection).attributes.unwrap();
        let source = attributes.source.unwrap();
        assert_eq!(source.principal, "spiffe://cluster.local/ns/shop/sa/web");
        let address = |p: super::super::proto::Peer| {
            let socket = p.address.unwrap().socket_address.unwrap();
            (socket.address, socket.port_value)
        };
        assert_eq!(address(source), ("10.244.1.7".into(), 40000));
        let destination = attributes.destination.unwrap();
        assert_eq!(destination.principal, "");
        assert_eq!(address(destination), ("10.244.1.5".into(), 5432));
        assert!(attributes.request.unwrap().http.is_none());
    }
}
