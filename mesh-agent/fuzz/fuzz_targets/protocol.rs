//! Protocol detection on a connection's first bytes: classified the same however they are cut
//! into the segments the agent peeks one after another, decided once the peek buffer is full;
//! and a port's declared protocol (its first word taken as `appProtocol` and as the port name)
//! read case-insensitively.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_agent::proxy::protocol::{classify, declared, PEEK_LIMIT};

fuzz_target!(|data: &[u8]| {
    let first = &data[..data.len().min(PEEK_LIMIT)];
    let whole = classify(first);
    if first.len() == PEEK_LIMIT {
        assert!(whole.is_some(), "a full peek buffer must decide");
    }
    // Detection stops at the first answer: a shorter peek that answers must say what the
    // whole would say.
    let n = first.len();
    let cuts = (1..n.min(32)).chain([n / 3, n / 2, 2 * n / 3, n.saturating_sub(1)]);
    for cut in cuts.filter(|&c| c > 0 && c < n) {
        if let (Some(early), Some(late)) = (classify(&first[..cut]), whole) {
            assert_eq!(early, late, "cut after {cut} bytes");
        }
    }
    let word = String::from_utf8_lossy(first);
    let word = word.split_whitespace().next().unwrap_or_default();
    for (app_protocol, port_name) in [(Some(word), None), (None, Some(word))] {
        let shouted = word.to_ascii_uppercase();
        let loud = (
            app_protocol.map(|_| shouted.as_str()),
            port_name.map(|_| shouted.as_str()),
        );
        assert_eq!(declared(app_protocol, port_name), declared(loud.0, loud.1));
    }
});
