//! What a client sees: answers read whole, over hyper or over raw HTTP/1.1 text.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::GUARD;

/// An answer as the client saw it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

/// Status, headers and the whole body of `response` (within the guard).
pub async fn read(response: Response<Incoming>) -> Answer {
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let body = tokio::time::timeout(GUARD, response.into_body().collect())
        .await
        .expect("no hang")
        .unwrap()
        .to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// `GET path` with `Host: host` over HTTP/1.1 on `io`.
pub async fn get_over<IO>(io: IO, host: &str, path: &str) -> Answer
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let request = Request::get(path)
        .header("host", host)
        .body(Empty::<Bytes>::new())
        .unwrap();
    send_over(io, request).await
}

/// `request` over HTTP/1.1 on `io`.
pub async fn send_over<IO>(io: IO, request: Request<Empty<Bytes>>) -> Answer
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = tokio::time::timeout(GUARD, sender.send_request(request)).await;
    read(response.expect("no hang").unwrap()).await
}

/// `METHOD target` to `addr` as raw HTTP/1.1 text (`Connection: close`): the whole response.
pub async fn raw(addr: SocketAddr, method: &str, target: &str) -> String {
    let request = format!("{method} {target} HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n");
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    };
    tokio::time::timeout(GUARD, exchange)
        .await
        .expect("no hang")
}
