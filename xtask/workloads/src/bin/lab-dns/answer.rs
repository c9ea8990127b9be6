//! One DNS answer: the lab is authoritative for every name it knows (A and AAAA records with a
//! short TTL, so a changed address is seen quickly); a name it does not know is NXDOMAIN, as
//! nothing outside the lab exists for its namespaces.

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{RData, Record, RecordType};
use std::net::IpAddr;

use crate::zone::{canonical, Names};

/// The answer to the query `request` (wire format), or `None` for what is no query at all.
pub fn answer(names: &Names, request: &[u8], ttl: u32) -> Option<Vec<u8>> {
    let query = Message::from_vec(request).ok()?;
    if query.message_type() != MessageType::Query {
        return None;
    }
    let mut reply = Message::new();
    reply
        .set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(query.op_code())
        .set_recursion_desired(query.recursion_desired())
        .set_authoritative(true);
    reply.add_queries(query.queries().iter().cloned());
    let code = match (query.op_code(), query.queries()) {
        (OpCode::Query, [one]) => {
            let name = canonical(&one.name().to_ascii());
            match names.get(&name) {
                Some(addresses) => {
                    let wanted = addresses
                        .iter()
                        .filter_map(|ip| record(*ip, one.query_type()));
                    reply.add_answers(
                        wanted.map(|rdata| Record::from_rdata(one.name().clone(), ttl, rdata)),
                    );
                    ResponseCode::NoError
                }
                None => ResponseCode::NXDomain,
            }
        }
        (OpCode::Query, _) => ResponseCode::FormErr,
        _ => ResponseCode::NotImp,
    };
    reply.set_response_code(code);
    reply.to_vec().ok()
}

/// The record of `ip` when the query asks for its type (A, AAAA or ANY).
fn record(ip: IpAddr, asked: RecordType) -> Option<RData> {
    match (ip, asked) {
        (IpAddr::V4(v4), RecordType::A | RecordType::ANY) => Some(RData::A(A(v4))),
        (IpAddr::V6(v6), RecordType::AAAA | RecordType::ANY) => Some(RData::AAAA(AAAA(v6))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::parse;
    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;

    fn ask(names: &Names, name: &str, kind: RecordType) -> Message {
        let mut query = Message::new();
        query.set_id(7).set_recursion_desired(true);
        query.add_query(Query::query(Name::from_ascii(name).unwrap(), kind));
        let bytes = answer(names, &query.to_vec().unwrap(), 2).expect("an answer");
        Message::from_vec(&bytes).unwrap()
    }

    #[test]
    fn known_names_get_their_records_of_the_asked_family_with_the_ttl() {
        let names = parse("10.250.1.1 api.example.net\nfd00:10:250::1:1 api.example.net\n");
        let reply = ask(&names, "API.example.net.", RecordType::A);
        assert_eq!(
            (reply.id(), reply.response_code()),
            (7, ResponseCode::NoError)
        );
        assert!(reply.authoritative());
        let answers: Vec<String> = reply
            .answers()
            .iter()
            .map(|r| r.data().to_string())
            .collect();
        assert_eq!(answers, ["10.250.1.1"]);
        assert_eq!(reply.answers()[0].ttl(), 2);
        let six = ask(&names, "api.example.net", RecordType::AAAA);
        assert_eq!(six.answers()[0].data().to_string(), "fd00:10:250::1:1");
    }

    #[test]
    fn an_unknown_name_is_nxdomain_and_a_known_one_without_that_family_is_empty() {
        let names = parse("10.250.1.1 api.example.net\n");
        let unknown = ask(&names, "www.example.com", RecordType::A);
        assert_eq!(unknown.response_code(), ResponseCode::NXDomain);
        let no_six = ask(&names, "api.example.net", RecordType::AAAA);
        assert_eq!(no_six.response_code(), ResponseCode::NoError);
        assert!(no_six.answers().is_empty());
    }

    #[test]
    fn garbage_gets_no_answer() {
        assert!(answer(&Names::new(), b"\x01\x02", 2).is_none());
    }
}
