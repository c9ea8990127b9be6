//! `mesh-load serve-http`: HTTP/1.1 and h2c (prior knowledge) on one port; every request is
//! answered 200 with `size` bytes, except `/status/NNN`, answered with status NNN (so a run can
//! add label sets to the mesh's metrics).

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::json;
use std::convert::Infallible;
use std::net::IpAddr;
use tokio::net::TcpListener;

/// `mesh-load serve-http` options.
#[derive(clap::Args)]
pub struct ServeHttpArgs {
    /// The port to listen on (0: any free port; the chosen one is printed).
    #[arg(long)]
    port: u16,
    /// Response body size in bytes.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// The address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
}

/// Serves forever; prints `{"listening":"ADDR"}` once bound.
pub async fn serve(args: ServeHttpArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind((args.bind, args.port)).await?;
    println!(
        "{}",
        json!({"listening": listener.local_addr()?.to_string()})
    );
    let body = Bytes::from(vec![b'm'; args.size]);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(request, body.clone()));
            let server = auto::Builder::new(TokioExecutor::new());
            let _ = server.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// 200 with `body`, or the status `/status/NNN` asks for (with the same body).
async fn answer(
    request: Request<Incoming>,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status_asked(request.uri().path()).unwrap_or(StatusCode::OK);
    Ok(response)
}

/// The status in a `/status/NNN` path.
fn status_asked(path: &str) -> Option<StatusCode> {
    let code = path.strip_prefix("/status/")?.parse().ok()?;
    StatusCode::from_u16(code).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_paths_ask_for_their_status_and_others_for_none() {
        assert_eq!(status_asked("/status/418"), Some(StatusCode::IM_A_TEAPOT));
        assert_eq!(status_asked("/status/201"), Some(StatusCode::CREATED));
        assert_eq!(status_asked("/"), None);
        assert_eq!(status_asked("/status/x"), None);
        assert_eq!(status_asked("/status/42"), None);
    }
}
