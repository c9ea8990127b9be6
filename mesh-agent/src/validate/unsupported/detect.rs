//! Where a listed field is set in a raw document: every occurrence, lists walked (`[*]`), each
//! key matched as written in the list (camelCase) or by its protobuf name (snake_case).

use serde_json::Value;

use super::fields::Values;

/// The paths of `body` where `path` is set to a value `values` takes, e.g.
/// `spec.http[*].corsPolicy` → `["spec.http[0].corsPolicy", "spec.http[2].corsPolicy"]`.
pub fn occurrences(body: &Value, path: &str, values: Values) -> Vec<String> {
    let segments: Vec<&str> = path.split('.').collect();
    let mut found = Vec::new();
    walk(body, &segments, String::new(), values, &mut found);
    found
}

fn walk(value: &Value, segments: &[&str], at: String, values: Values, found: &mut Vec<String>) {
    let Some((segment, rest)) = segments.split_first() else {
        if takes(value, values) {
            found.push(at);
        }
        return;
    };
    let (name, list) = match segment.strip_suffix("[*]") {
        Some(name) => (name, true),
        None => (*segment, false),
    };
    let Some((key, child)) = field(value, name) else {
        return;
    };
    let at = match at.is_empty() {
        true => key.to_string(),
        false => format!("{at}.{key}"),
    };
    match (list, child) {
        (true, Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, rest, format!("{at}[{i}]"), values, found);
            }
        }
        (true, _) => {}
        (false, child) => walk(child, rest, at, values, found),
    }
}

/// The key and value of field `name` (or its snake_case spelling) of an object; an explicit
/// `null` counts as absent, as it reads.
fn field<'a>(value: &'a Value, name: &str) -> Option<(&'a str, &'a Value)> {
    let object = value.as_object()?;
    let (key, child) = match object.get_key_value(name) {
        Some(found) => found,
        None if name.bytes().any(|b| b.is_ascii_uppercase()) => {
            object.get_key_value(snake_case(name).as_str())?
        }
        None => return None,
    };
    (!child.is_null()).then_some((key.as_str(), child))
}

fn takes(value: &Value, values: Values) -> bool {
    let text = value.as_str();
    let listed =
        |list: &[&str]| text.is_some_and(|t| list.iter().any(|v| v.eq_ignore_ascii_case(t)));
    match values {
        Values::Any => true,
        Values::OneOf(list) => listed(list),
        Values::Except(list) => text.is_some() && !listed(list),
    }
}

/// `corsPolicy` → `cors_policy`, `http2Error` → `http2_error`.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
