//! What a document read as, in one `u64`: its origin, API version and body. Every document is
//! fingerprinted on every build (an unchanged one is then not parsed again), so the body is
//! first written into a reused buffer in a compact, unambiguous encoding and hashed at once:
//! one long foldhash write instead of one per JSON node.

use std::hash::{BuildHasher, Hash, Hasher};

use serde_json::Value;

use crate::document::RawResource;

/// Fingerprints documents, reusing one buffer.
#[derive(Default)]
pub(crate) struct Fingerprints {
    buffer: Vec<u8>,
    /// How many documents were fingerprinted.
    pub taken: usize,
}

impl Fingerprints {
    /// The fingerprint of `raw`: equal documents from the same place have equal ones.
    pub fn of(&mut self, raw: &RawResource) -> u64 {
        self.taken += 1;
        self.buffer.clear();
        encode(&raw.body, &mut self.buffer);
        let state = foldhash::quality::FixedState::with_seed(0x6d65_7368);
        let mut hasher = state.build_hasher();
        (&raw.origin, &raw.api_version).hash(&mut hasher);
        hasher.write(&self.buffer);
        hasher.finish()
    }
}

/// A tag byte per node, then its content; strings and containers are length-prefixed.
fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(0),
        Value::Bool(b) => out.push(1 + u8::from(*b)),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => tagged(out, 3, u),
            (None, Some(i), _) => tagged(out, 4, i as u64),
            (None, None, f) => tagged(out, 5, f.unwrap_or(f64::NAN).to_bits()),
        },
        Value::String(s) => {
            out.push(6);
            string(s, out);
        }
        Value::Array(items) => {
            tagged(out, 7, items.len() as u64);
            items.iter().for_each(|v| encode(v, out));
        }
        Value::Object(map) => {
            tagged(out, 8, map.len() as u64);
            for (k, v) in map {
                string(k, out);
                encode(v, out);
            }
        }
    }
}

fn tagged(out: &mut Vec<u8>, tag: u8, bits: u64) {
    out.push(tag);
    out.extend_from_slice(&bits.to_le_bytes());
}

fn string(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse_documents;

    fn fingerprint(yaml: &str) -> u64 {
        let set = parse_documents(std::path::Path::new("t.yaml"), yaml).unwrap();
        Fingerprints::default().of(&set[0])
    }

    #[test]
    fn equal_documents_agree_and_any_change_differs() {
        let doc =
            |spec: &str| format!("apiVersion: v1\nkind: Service\nmetadata: {{name: a}}\n{spec}");
        let base = fingerprint(&doc("spec: {ports: [{port: 80}]}\n"));
        assert_eq!(base, fingerprint(&doc("spec: {ports: [{port: 80}]}\n")));
        for changed in [
            "spec: {ports: [{port: 81}]}\n",
            "spec: {ports: [{port: \"80\"}]}\n",
            "spec: {ports: [{port: 80.0}]}\n",
            "spec: {ports: [{port: 80}, {}]}\n",
            "spec: {ports: [{prt: 80}]}\n",
        ] {
            assert_ne!(base, fingerprint(&doc(changed)), "{changed}");
        }
    }
}
