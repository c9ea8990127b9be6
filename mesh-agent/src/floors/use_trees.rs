//! `use` statements and inline `crate::…` paths, read from a file's tokens: which module each
//! sits in (inline `mod x { … }` blocks included), and each leaf of a grouped tree.

use super::tokens::{Kind, Token};

/// One leaf of a `use` tree: its path as written (`*` last for a glob), its alias, its line.
pub(super) struct Leaf {
    pub path: Vec<String>,
    pub alias: Option<String>,
    pub line: usize,
}

/// A `use` statement inside module `module` (the file's, or an inline `mod` in it).
pub(super) struct Use {
    pub module: Vec<String>,
    pub public: bool,
    pub leaves: Vec<Leaf>,
}

/// The `use` statements of a file whose module is `module`.
pub(super) fn use_statements(module: &[String], tokens: &[Token]) -> Vec<Use> {
    let mut found = Vec::new();
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut at = 0;
    while at < tokens.len() {
        match &tokens[at].kind {
            Kind::Ident(word) if word == "mod" => {
                if let (Some(name), Some(true)) = (
                    tokens.get(at + 1).and_then(Token::ident),
                    tokens.get(at + 2).map(|t| t.is('{')),
                ) {
                    inline.push((name.to_string(), depth + 1));
                }
            }
            Kind::Ident(word) if word == "use" => {
                let here = module
                    .iter()
                    .cloned()
                    .chain(inline.iter().map(|(n, _)| n.clone()));
                let mut leaves = Vec::new();
                at += 1;
                tree(tokens, &mut at, &[], &mut leaves);
                let public = is_public(tokens, at.saturating_sub(1));
                found.push(Use {
                    module: here.collect(),
                    public,
                    leaves,
                });
                continue;
            }
            Kind::Punct('{') => depth += 1,
            Kind::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth -= 1;
            }
            _ => {}
        }
        at += 1;
    }
    found
}

/// Whether the `use` ending before `end` is `pub` or `pub(…)`: looks back from its `use`.
fn is_public(tokens: &[Token], end: usize) -> bool {
    let Some(start) = tokens[..end].iter().rposition(|t| t.ident() == Some("use")) else {
        return false;
    };
    let before = &tokens[start.saturating_sub(4)..start];
    match before.last() {
        Some(t) if t.ident() == Some("pub") => true,
        Some(t) if t.is(')') => before.iter().any(|t| t.ident() == Some("pub")),
        _ => false,
    }
}

/// One `use` tree from `tokens[*at]` on, leaves pushed to `out`; `*at` ends past what it read.
fn tree(tokens: &[Token], at: &mut usize, prefix: &[String], out: &mut Vec<Leaf>) {
    let mut path = prefix.to_vec();
    while let Some(token) = tokens.get(*at) {
        *at += 1;
        match &token.kind {
            Kind::PathSep => {}
            Kind::Ident(name) => {
                path.push(name.clone());
                if tokens.get(*at).is_some_and(|t| t.kind == Kind::PathSep) {
                    continue;
                }
                let alias = if tokens.get(*at).and_then(Token::ident) == Some("as") {
                    *at += 2;
                    tokens[*at - 1].ident().map(String::from)
                } else {
                    None
                };
                return out.push(Leaf {
                    path,
                    alias,
                    line: token.line,
                });
            }
            Kind::Punct('*') => {
                path.push("*".to_string());
                return out.push(Leaf {
                    path,
                    alias: None,
                    line: token.line,
                });
            }
            Kind::Punct('{') => return group(tokens, at, &path, out),
            _ => return,
        }
    }
}

/// The inside of `{ a, b::c, … }`, its `{` already read.
fn group(tokens: &[Token], at: &mut usize, prefix: &[String], out: &mut Vec<Leaf>) {
    while let Some(token) = tokens.get(*at) {
        if token.is('}') {
            *at += 1;
            return;
        }
        if token.is(',') {
            *at += 1;
            continue;
        }
        let before = *at;
        tree(tokens, at, prefix, out);
        if *at == before {
            *at += 1;
        }
    }
}

/// Inline paths `crate::a::b` (and `$crate::…` in macros) outside `use` statements, with their
/// line.
pub(super) fn inline_crate_paths(tokens: &[Token]) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    let mut in_use = false;
    for (at, token) in tokens.iter().enumerate() {
        match token.ident() {
            Some("use") => in_use = true,
            Some("crate") if !in_use => {
                let path = path_after(&tokens[at + 1..]);
                if !path.is_empty() {
                    found.push((token.line, path));
                }
            }
            _ if token.is(';') => in_use = false,
            _ => {}
        }
    }
    found
}

/// `::a::b::c` at the start of `tokens` → `[a, b, c]`.
fn path_after(tokens: &[Token]) -> Vec<String> {
    let mut path = Vec::new();
    for pair in tokens.chunks(2) {
        match (&pair[0].kind, pair.get(1).and_then(Token::ident)) {
            (Kind::PathSep, Some(name)) => path.push(name.to_string()),
            _ => break,
        }
    }
    path
}
