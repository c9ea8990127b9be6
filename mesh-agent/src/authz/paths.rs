//! Request paths as routing and AuthorizationPolicies see them: normalized the way Envoy does
//! for Istio's MeshConfig `pathNormalization` (default `BASE`: RFC 3986 dot segments and
//! percent-encoding case, no slash merging, `%2F` kept), so `/admin/../public`, `/%61dmin` or `\admin` name the
//! path the app will serve; then matched exactly, by prefix or suffix, or by `{*}`/`{**}`
//! templates.

pub use crate::resources::PathNormalization;
use crate::snapshot::{PathMatch, PathSegment};

/// The path of `path_and_query` (query and fragment cut off), normalized as `mode` says.
pub fn normalize(path_and_query: &str, mode: PathNormalization) -> String {
    let end = path_and_query
        .find(['?', '#'])
        .unwrap_or(path_and_query.len());
    let path = &path_and_query[..end];
    if mode == PathNormalization::None {
        return path.to_string();
    }
    let decoded = decode_unreserved(path, mode == PathNormalization::DecodeAndMergeSlashes);
    let slashed = decoded.replace('\\', "/");
    let mut resolved = remove_dot_segments(&slashed);
    if mode != PathNormalization::Base {
        while resolved.contains("//") {
            resolved = resolved.replace("//", "/");
        }
    }
    resolved
}

/// Percent-escapes of unreserved characters decoded (and of `/`, `\` when `slashes`); the
/// others upper-cased; a `%` not followed by two hex digits kept as it is.
fn decode_unreserved(path: &str, slashes: bool) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = (bytes[i] == b'%')
            .then(|| path.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(byte) if is_unreserved(byte) || (slashes && matches!(byte, b'/' | b'\\')) => {
                out.push(byte as char);
                i += 3;
            }
            Some(_) => {
                out.push('%');
                out.push_str(&path[i + 1..i + 3].to_ascii_uppercase());
                i += 3;
            }
            None => {
                let c = path[i..].chars().next().expect("inside the string");
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 §5.2.4 on an absolute path: `.` dropped, `..` removes the segment before it
/// (never above the root).
fn remove_dot_segments(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." | ".." if i == last => {
                if *segment == ".." {
                    kept.pop();
                }
                kept.push("");
            }
            "." => {}
            ".." => {
                kept.pop();
            }
            other => kept.push(other),
        }
    }
    format!("/{}", kept.join("/"))
}

/// Whether the normalized `path` matches `pattern`.
pub fn path_matches(pattern: &PathMatch, path: &str) -> bool {
    match pattern {
        PathMatch::Plain(exact) => super::rules::string_matches(exact, path),
        PathMatch::Template(segments) => template_matches(segments, path),
    }
}

/// Envoy's URI template: a literal segment equals, `{*}` is one non-empty segment of path
/// characters, `{**}` whatever rest (zero or more characters, `/` included).
fn template_matches(template: &[PathSegment], path: &str) -> bool {
    let Some(mut rest) = path.strip_prefix('/') else {
        return false;
    };
    for (i, segment) in template.iter().enumerate() {
        if i > 0 {
            match rest.strip_prefix('/') {
                Some(after) => rest = after,
                None => return false,
            }
        }
        let end = rest.find('/').unwrap_or(rest.len());
        match segment {
            PathSegment::Rest => return rest.chars().all(|c| is_path_char(c) || c == '/'),
            PathSegment::One if end > 0 && rest[..end].chars().all(is_path_char) => {}
            PathSegment::Literal(literal) if &rest[..end] == literal => {}
            _ => return false,
        }
        rest = &rest[end..];
    }
    rest.is_empty()
}

/// RFC 3986 path characters Envoy's templates match.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~%!$&'()+,;:@=".contains(c)
}

#[cfg(test)]
#[path = "paths_tests.rs"]
mod tests;
