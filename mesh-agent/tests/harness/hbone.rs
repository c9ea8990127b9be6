//! An HBONE client and server written from the protocol's description alone (rustls and the
//! h2 crate directly, nothing of the agent's tunnel): TLS 1.3 with ALPN `h2` and client
//! certificates, an HTTP/2 `CONNECT` to `ip:port` whose stream carries the connection's bytes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use mesh_agent::identity::{Identity, WorkloadCertificate};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::{TcpListener, TcpStream};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The SPIFFE identity in a certificate's URI SAN.
pub fn identity_in(certificate: &CertificateDer<'_>) -> Identity {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate).unwrap();
    let names = parsed.subject_alternative_name().unwrap().unwrap();
    let uri = names.value.general_names.iter().find_map(|n| match n {
        x509_parser::extensions::GeneralName::URI(uri) => Some(*uri),
        _ => None,
    });
    Identity::parse(uri.unwrap()).unwrap()
}

/// What the test server saw of one CONNECT.
#[derive(Clone, Debug)]
pub struct SeenConnect {
    pub client: Identity,
    pub authority: String,
    pub headers: http::HeaderMap,
}

/// A tunnel server on `addr` presenting `certificate`, requiring a client certificate of its
/// roots; every CONNECT is answered 200, its stream read to the end and answered
/// `<name>:<input>`. What it saw is in the returned list.
pub async fn server(
    addr: SocketAddr,
    certificate: WorkloadCertificate,
    name: &'static str,
) -> Arc<Mutex<Vec<SeenConnect>>> {
    let mut roots = RootCertStore::empty();
    roots.add(certificate.roots[0].clone()).unwrap();
    let clients = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_client_cert_verifier(clients)
        .with_single_cert(certificate.chain.clone(), certificate.key.clone_key())
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(addr).await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, record) = (acceptor.clone(), record.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let client = identity_in(&tls.get_ref().1.peer_certificates().unwrap()[0]);
                let mut connection = h2::server::handshake(tls).await.unwrap();
                while let Some(Ok((request, respond))) = connection.accept().await {
                    record.lock().unwrap().push(SeenConnect {
                        client: client.clone(),
                        authority: request.uri().to_string(),
                        headers: request.headers().clone(),
                    });
                    tokio::spawn(answer(request, respond, name));
                }
            });
        }
    });
    seen
}

async fn answer(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    name: &str,
) {
    let response = http::Response::builder().status(200).body(()).unwrap();
    let mut send = respond.send_response(response, false).unwrap();
    let input = read_all(request.into_body()).await;
    let mut answer = format!("{name}:").into_bytes();
    answer.extend_from_slice(&input);
    send.send_data(answer.into(), true).unwrap();
}

async fn read_all(mut body: h2::RecvStream) -> Vec<u8> {
    let mut input = Vec::new();
    while let Some(data) = body.data().await {
        let data = data.unwrap();
        body.flow_control().release_capacity(data.len()).unwrap();
        input.extend_from_slice(&data);
    }
    input
}

/// Accepts any server certificate; the test reads it afterwards.
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("TLS 1.3 only".into()))
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A tunnel client connection to `server` presenting `certificate`.
pub struct Client {
    pub server_identity: Identity,
    send: h2::client::SendRequest<Bytes>,
}

impl Client {
    /// TLS (ALPN h2, `certificate`) and HTTP/2 to `server`; errors when the handshake fails.
    pub async fn connect(
        server: SocketAddr,
        certificate: &WorkloadCertificate,
    ) -> Result<Self, String> {
        let mut config = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServer(provider())))
            .with_client_auth_cert(certificate.chain.clone(), certificate.key.clone_key())
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let tcp = TcpStream::connect(server)
            .await
            .map_err(|e| e.to_string())?;
        let name = ServerName::IpAddress(server.ip().into());
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let server_identity = identity_in(&tls.get_ref().1.peer_certificates().unwrap()[0]);
        let (send, connection) = h2::client::handshake(tls)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        Ok(Self {
            server_identity,
            send,
        })
    }

    /// CONNECT `authority`; on 200 sends `input`, ends the stream and reads the answer.
    /// Returns the status and the answer; an error when the connection failed.
    pub async fn try_exchange(
        &mut self,
        authority: &str,
        input: &[u8],
    ) -> Result<(u16, Vec<u8>), h2::Error> {
        let request = http::Request::builder()
            .method(http::Method::CONNECT)
            .uri(authority)
            .body(())
            .unwrap();
        let mut send = self.send.clone().ready().await?;
        let (response, mut stream) = send.send_request(request, false)?;
        let response = response.await?;
        let status = response.status().as_u16();
        if status != 200 {
            return Ok((status, Vec::new()));
        }
        stream.send_data(Bytes::copy_from_slice(input), true)?;
        Ok((status, read_all(response.into_body()).await))
    }

    /// CONNECT `authority` with `headers`; on 200 sends `input` (the stream left open: an HTTP
    /// server would close on the half-close) and reads the answer until the server ends it.
    /// Returns the response head (status, headers) and the answer.
    pub async fn exchange_with(
        &mut self,
        authority: &str,
        headers: &[(&'static str, &'static str)],
        input: &[u8],
    ) -> (http::response::Parts, Vec<u8>) {
        let mut request = http::Request::builder()
            .method(http::Method::CONNECT)
            .uri(authority);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut send = self.send.clone().ready().await.unwrap();
        let (response, mut stream) = send.send_request(request.body(()).unwrap(), false).unwrap();
        let (head, body) = response.await.unwrap().into_parts();
        if head.status != 200 {
            return (head, Vec::new());
        }
        stream
            .send_data(Bytes::copy_from_slice(input), false)
            .unwrap();
        let answer = read_all(body).await;
        drop(stream);
        (head, answer)
    }

    /// [`Client::try_exchange`] that must not fail.
    pub async fn exchange(&mut self, authority: &str, input: &[u8]) -> (u16, Vec<u8>) {
        self.try_exchange(authority, input).await.unwrap()
    }
}
