//! The floor check on tiny synthetic crates, so it can be seen to fail.

use super::{problems, Tree};

const TABLE: &[(&str, u8)] = &[("net", 0), ("config", 1), ("http", 2), ("proxy", 3)];

fn tree(files: &[(&str, &str)]) -> Tree {
    files
        .iter()
        .map(|(path, src)| (path.to_string(), src.to_string()))
        .collect()
}

/// A well-kept crate: every import goes down, circles of two at most.
fn good() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "lib.rs",
            "pub mod net; pub mod config; pub mod http; pub mod proxy;",
        ),
        ("net.rs", "pub struct Socket;"),
        ("config/mod.rs", "mod a; mod b; pub use a::Config;"),
        ("config/a.rs", "use super::b::B; pub struct Config;"),
        ("config/b.rs", "use super::a::Config; pub struct B;"),
        (
            "http/mod.rs",
            "pub mod serve;\nuse crate::{net::Socket, config::Config};",
        ),
        (
            "http/serve.rs",
            "pub fn serve() { let _ = crate::net::Socket; }",
        ),
        (
            "proxy.rs",
            "use crate::http::serve::serve;\nuse crate::config::Config;",
        ),
    ]
}

fn with(replaced: &[(&'static str, &'static str)]) -> Tree {
    let mut files = good();
    for (path, src) in replaced {
        files.retain(|(p, _)| p != path);
        files.push((path, src));
    }
    tree(&files)
}

#[test]
fn a_tree_that_keeps_its_floors_passes() {
    assert_eq!(problems(&tree(&good()), TABLE), Vec::<String>::new());
}

#[test]
fn each_kind_of_problem_is_found_and_named() {
    let table: Vec<(&str, Tree, &str)> = vec![
        (
            "a grouped use climbing",
            with(&[("net.rs", "use crate::{config::Config};\npub struct Socket;")]),
            "net.rs:1 (`net`, floor 0) imports config/a.rs (`config`, floor 1)",
        ),
        (
            "an inline path climbing",
            with(&[(
                "config/b.rs",
                "pub struct B;\nfn f() { crate::proxy::run(); }",
            )]),
            "config/b.rs:2 (`config`, floor 1) imports proxy.rs (`proxy`, floor 3)",
        ),
        (
            "a nested group climbing",
            with(&[("net.rs", "use crate::{config::{a::Config, b}, http};")]),
            "net.rs:1 (`net`, floor 0) imports config/a.rs",
        ),
        (
            "an aliased import climbing",
            with(&[("net.rs", "\n\nuse crate::http::serve::serve as run;")]),
            "net.rs:3 (`net`, floor 0) imports http/serve.rs (`http`, floor 2)",
        ),
        (
            "a module with no floor",
            with(&[("lib.rs", "pub mod gateway;"), ("gateway.rs", "")]),
            "top-level module `gateway` has no floor",
        ),
        (
            "a circle of three files",
            with(&[
                ("config/a.rs", "use super::b::B; pub struct Config;"),
                ("config/b.rs", "use super::c::C; pub struct B;"),
                ("config/c.rs", "use crate::config::Config; pub struct C;"),
            ]),
            "import circle of 3 files: config/a.rs, config/b.rs, config/c.rs",
        ),
    ];
    for (case, tree, wanted) in table {
        let found = problems(&tree, TABLE);
        assert!(
            found.iter().any(|p| p.contains(wanted)),
            "{case}: wanted `{wanted}` in {found:#?}"
        );
    }
}

#[test]
fn re_exports_are_followed_to_the_file_that_defines_the_item() {
    // `config/mod.rs` re-exports `Config` from `a.rs`: a climb through it names `a.rs`.
    let tree = with(&[("net.rs", "use crate::config::Config;")]);
    let found = problems(&tree, TABLE);
    assert!(found[0].contains("imports config/a.rs"), "{found:#?}");
}

#[test]
fn comments_strings_and_test_modules_of_the_same_file_are_not_imports() {
    let tree = with(&[(
        "net.rs",
        "// use crate::proxy::x;\n/* crate::http::serve */\nconst S: &str = \"crate::proxy::y\";\n\
         #[cfg(test)]\nmod tests { use super::*; }\npub struct Socket;",
    )]);
    assert_eq!(problems(&tree, TABLE), Vec::<String>::new());
}

#[test]
fn path_modules_take_the_module_of_their_declaration() {
    // `#[path = "a_tests.rs"] mod tests;` in `config/a.rs`: `super` there is `config::a`.
    let tree = with(&[
        (
            "config/a.rs",
            "use super::b::B; pub struct Config;\n#[cfg(test)]\n#[path = \"a_tests.rs\"]\nmod tests;",
        ),
        ("config/a_tests.rs", "use super::Config;\nuse crate::net::Socket;"),
    ]);
    assert_eq!(problems(&tree, TABLE), Vec::<String>::new());
}
