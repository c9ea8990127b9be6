//! A watch's objects as raw documents, converted once per object version: the reflector store
//! hands the same `Arc` for an object that did not change, so its document (and the body's
//! `Arc` the pipeline compares to know it unchanged) is reused instead of serialized again on
//! every publish.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::document::RawResource;

/// The raw document of every object the last read saw, by the object's address (its `Arc` is
/// held, so the address stays its own).
pub(super) struct RawCache<K> {
    by_object: Mutex<HashMap<usize, (Arc<K>, RawResource)>>,
}

impl<K> Default for RawCache<K> {
    fn default() -> Self {
        Self {
            by_object: Mutex::default(),
        }
    }
}

impl<K> RawCache<K> {
    /// `objects` as raw documents, in their order: an object seen by the last read keeps its
    /// document, a new one is converted (`None`: left out). Objects gone are forgotten.
    pub fn read(
        &self,
        objects: Vec<Arc<K>>,
        convert: impl Fn(&K) -> Option<RawResource>,
    ) -> Vec<RawResource> {
        let mut cache = self.by_object.lock().expect("not poisoned");
        let mut next = HashMap::with_capacity(objects.len());
        let mut documents = Vec::with_capacity(objects.len());
        for object in objects {
            let address = Arc::as_ptr(&object) as usize;
            let raw = match cache.remove(&address) {
                Some((_, raw)) => raw,
                None => match convert(&object) {
                    Some(raw) => raw,
                    None => continue,
                },
            };
            documents.push(raw.clone());
            next.insert(address, (object, raw));
        }
        *cache = next;
        documents
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Origin;

    fn convert(text: &String) -> Option<RawResource> {
        Some(RawResource {
            origin: Origin::Cluster {
                resource_version: "1".into(),
            },
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: None,
            name: text.clone(),
            body: Arc::new(serde_json::json!({"data": text})),
        })
    }

    #[test]
    fn an_object_read_again_keeps_its_document_and_a_new_version_is_converted() {
        let cache = RawCache::default();
        let (a, b) = (Arc::new("a".to_string()), Arc::new("b".to_string()));
        let first = cache.read(vec![a.clone(), b.clone()], convert);
        let b2 = Arc::new("b".to_string());
        let second = cache.read(vec![a, b2.clone()], convert);
        assert!(Arc::ptr_eq(&first[0].body, &second[0].body));
        assert!(!Arc::ptr_eq(&first[1].body, &second[1].body));
        assert_eq!(second[1].name, "b");
        let third = cache.read(vec![b2], convert);
        assert!(Arc::ptr_eq(&second[1].body, &third[0].body));
        assert_eq!(
            cache.by_object.lock().unwrap().len(),
            1,
            "a and b forgotten"
        );
    }
}
