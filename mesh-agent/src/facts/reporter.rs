//! Which proxy reports a request or connection: the client's side or the server's.

use prometheus_client::encoding::EncodeLabelValue;

/// Which side of the connection reports.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Reporter {
    /// The proxy on the client's side (outbound).
    source,
    /// The proxy on the server's side (inbound).
    destination,
}
