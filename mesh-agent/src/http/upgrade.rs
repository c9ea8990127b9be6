//! HTTP/1.1 WebSocket upgrades passed through (`hop_by_hop.rs` drops any other `Upgrade`, h2c
//! included): once the upstream answers `101 Switching Protocols`, the client's and the
//! upstream's upgraded connections are spliced.

use hyper::header::UPGRADE;
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::body::Body;

/// The client's pending upgrade when `request` still asks for one (a WebSocket upgrade).
pub fn take_request_upgrade(request: &mut Request<Body>) -> Option<OnUpgrade> {
    if !request.headers().contains_key(UPGRADE) {
        return None;
    }
    Some(hyper::upgrade::on(request))
}

/// When `response` switches protocols, copies bytes between both upgraded connections in a
/// task of its own until either side closes.
pub fn splice_if_switching<B>(downstream: OnUpgrade, response: &mut Response<B>) {
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return;
    }
    let upstream = hyper::upgrade::on(response);
    tokio::spawn(async move {
        let (client, server) = match tokio::try_join!(downstream, upstream) {
            Ok(both) => both,
            Err(error) => return tracing::debug!(%error, "upgrade failed"),
        };
        let (mut client, mut server) = (TokioIo::new(client), TokioIo::new(server));
        if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut server).await {
            tracing::debug!(%error, "upgraded connection failed");
        }
    });
}
