//! mesh-cni's entry in the primary network's configuration, as JSON: appended once to a
//! `.conflist` (a lone plugin `.conf` becomes a one-plugin list first, as the runtime reads a
//! `.conf`), and removed again. Pure functions; the files are `install.rs`'s.

use serde_json::{Map, Value};

/// The `type` of our entry (the binary's name in the CNI bin dir).
pub const PLUGIN_TYPE: &str = "mesh-cni";

/// The primary configuration as the runtime reads it.
#[derive(Clone, Debug, PartialEq)]
pub enum Primary {
    /// A `.conflist`: `{"cniVersion", "name", "plugins": [...]}`.
    List(Value),
    /// A single plugin's configuration (`.conf` / `.json`).
    Single(Value),
}

impl Primary {
    /// Reads a configuration file's text; errors name the file and what is wrong.
    pub fn parse(file: &str, text: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| format!("{file}: not a CNI network configuration (bad JSON: {e})"))?;
        let Some(object) = value.as_object() else {
            return Err(format!(
                "{file}: a CNI network configuration must be a JSON object"
            ));
        };
        match (object.get("plugins"), object.get("type")) {
            (Some(Value::Array(_)), _) => Ok(Primary::List(value)),
            (Some(_), _) => Err(format!("{file}: `plugins` must be a list")),
            (None, Some(Value::String(_))) => Ok(Primary::Single(value)),
            (None, _) => Err(format!(
                "{file}: neither a plugin list (`plugins`) nor a plugin (`type`)"
            )),
        }
    }

    /// The configuration as a plugin list (a single plugin becomes the list's only plugin).
    pub fn into_list(self) -> Value {
        match self {
            Primary::List(list) => list,
            Primary::Single(conf) => {
                let mut list = Map::new();
                for key in ["cniVersion", "name"] {
                    if let Some(value) = conf.get(key) {
                        list.insert(key.into(), value.clone());
                    }
                }
                list.insert("plugins".into(), Value::Array(vec![conf]));
                Value::Object(list)
            }
        }
    }
}

/// Our entry: `{"type": "mesh-cni", ...settings}`.
pub fn mesh_entry(settings: &[(&str, &str)]) -> Value {
    let mut entry = Map::new();
    entry.insert("type".into(), PLUGIN_TYPE.into());
    for (key, value) in settings {
        entry.insert((*key).into(), (*value).into());
    }
    Value::Object(entry)
}

/// Our entry in a plugin list, if there is one.
pub fn find_mesh(list: &Value) -> Option<&Value> {
    plugins(list)?.iter().find(|p| is_mesh(p))
}

/// `list` with `entry` as its mesh-cni plugin: appended at the end, or replacing an entry of
/// ours that differs; unchanged when it is already there.
pub fn with_mesh(list: &Value, entry: &Value) -> Value {
    let mut list = list.clone();
    if let Some(Value::Array(plugins)) = list.get_mut("plugins") {
        match plugins.iter_mut().find(|p| is_mesh(p)) {
            Some(ours) => *ours = entry.clone(),
            None => plugins.push(entry.clone()),
        }
    }
    list
}

/// `list` without any mesh-cni plugin.
pub fn without_mesh(list: &Value) -> Value {
    let mut list = list.clone();
    if let Some(Value::Array(plugins)) = list.get_mut("plugins") {
        plugins.retain(|p| !is_mesh(p));
    }
    list
}

/// The text written to a configuration file.
pub fn render(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("a JSON value serializes");
    text.push('\n');
    text
}

fn plugins(list: &Value) -> Option<&Vec<Value>> {
    list.get("plugins")?.as_array()
}

fn is_mesh(plugin: &Value) -> bool {
    plugin.get("type").and_then(Value::as_str) == Some(PLUGIN_TYPE)
}

#[cfg(test)]
#[path = "conflist_tests.rs"]
mod tests;
