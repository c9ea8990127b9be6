//! A protobuf field name as protobuf's JSON mapping spells it (`sni_hosts` → `sniHosts`): Istio
//! accepts both, so the reader normalises one to the other and a field path finds either.

use std::borrow::Cow;

/// The JSON name of the protobuf field `name`, as protobuf's `ToJsonName` derives it: every `_`
/// dropped and the character after it upper-cased. Names without `_` come back borrowed.
pub fn json_name(name: &str) -> Cow<'_, str> {
    if !name.contains('_') {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::json_name;

    #[test]
    fn protobuf_names_become_json_names() {
        let cases = [
            ("sni_hosts", "sniHosts"),
            ("max_requests_per_connection", "maxRequestsPerConnection"),
            ("consecutive_5xx_errors", "consecutive5xxErrors"),
            ("http1_max_pending_requests", "http1MaxPendingRequests"),
            ("retryOn", "retryOn"),
            ("timeout", "timeout"),
        ];
        for (name, json) in cases {
            assert_eq!(json_name(name), json, "{name}");
        }
    }
}
