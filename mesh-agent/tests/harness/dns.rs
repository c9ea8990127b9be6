//! A DNS server on loopback UDP answering A queries from a table the test changes (RFC 1035
//! by hand: header, the question echoed, one A record per address with the table's TTL), and
//! counting the queries per name.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;

/// Name (lowercase, no final dot) → addresses and TTL.
type Table = HashMap<String, (Vec<Ipv4Addr>, u32)>;

/// The running server.
#[derive(Clone)]
pub struct DnsServer {
    pub address: SocketAddr,
    table: Arc<Mutex<Table>>,
    queries: Arc<Mutex<HashMap<String, usize>>>,
}

impl DnsServer {
    /// Serves on 127.0.0.1, an ephemeral port, until the test ends.
    pub async fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server = Self {
            address: socket.local_addr().unwrap(),
            table: Arc::default(),
            queries: Arc::default(),
        };
        tokio::spawn(server.clone().serve(socket));
        server
    }

    /// `name` answers `addresses` with `ttl` seconds from now on.
    pub fn set(&self, name: &str, addresses: &[&str], ttl: u32) {
        let addresses = addresses.iter().map(|a| a.parse().unwrap()).collect();
        let mut table = self.table.lock().unwrap();
        table.insert(name.to_ascii_lowercase(), (addresses, ttl));
    }

    /// How many queries (any type) asked for `name`.
    pub fn queries(&self, name: &str) -> usize {
        let queries = self.queries.lock().unwrap();
        queries.get(name).copied().unwrap_or(0)
    }

    async fn serve(self, socket: UdpSocket) {
        let mut buffer = [0u8; 512];
        loop {
            let Ok((len, from)) = socket.recv_from(&mut buffer).await else {
                return;
            };
            if let Some(answer) = self.answer(&buffer[..len]) {
                let _ = socket.send_to(&answer, from).await;
            }
        }
    }

    /// The response to one query: A records for a known name, none for other types, NXDOMAIN
    /// for an unknown name.
    fn answer(&self, query: &[u8]) -> Option<Vec<u8>> {
        let (name, question_end) = read_name(query, 12)?;
        let qtype = u16::from_be_bytes([query[question_end], query[question_end + 1]]);
        *self
            .queries
            .lock()
            .unwrap()
            .entry(name.clone())
            .or_default() += 1;
        let found = self.table.lock().unwrap().get(&name).cloned();
        let records = match (&found, qtype) {
            (Some((addresses, ttl)), 1) => addresses.iter().map(|a| (*a, *ttl)).collect(),
            _ => Vec::new(),
        };
        let rcode = if found.is_some() { 0 } else { 3 };
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(&query[..2]);
        out.extend_from_slice(&[0x81, 0x80 | rcode, 0, 1]);
        out.extend_from_slice(&(records.len() as u16).to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&query[12..question_end + 4]);
        for (address, ttl) in records {
            out.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
            out.extend_from_slice(&ttl.to_be_bytes());
            out.extend_from_slice(&[0, 4]);
            out.extend_from_slice(&address.octets());
        }
        Some(out)
    }
}

/// The question's name at `at` (labels, no compression in queries) and where its type begins.
fn read_name(packet: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    loop {
        let len = *packet.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(packet.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    packet.get(at + 3)?;
    Some((labels.join("."), at))
}
