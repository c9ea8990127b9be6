//! An enrollment request line as the CNI plugin (or anyone with the socket) could send it:
//! refused with a message, or read into a request that reads back the same when written out.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_agent::enroll::{parse_request, Request};

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    match parse_request(line) {
        Ok(request) => {
            let written = serde_json::to_string(&request).expect("a request serializes");
            let again = parse_request(&written).expect("a written request reads back");
            let as_value = |r: &Request| serde_json::to_value(r).expect("serializes");
            assert_eq!(as_value(&request), as_value(&again));
        }
        Err(message) => assert!(!message.is_empty()),
    }
});
