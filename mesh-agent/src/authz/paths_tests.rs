//! Normalization (each mode) and path matching (exact, prefix, suffix, presence, templates).

use super::*;
use crate::snapshot::PathMatch;

#[test]
fn base_normalization_resolves_dots_escapes_and_backslashes() {
    let table = [
        ("/public/../admin", "/admin"),
        ("/a/./b/", "/a/b/"),
        ("/../../etc", "/etc"),
        ("/a/b/..", "/a/"),
        ("/%61dmin", "/admin"),
        ("/%2e%2e/admin", "/admin"),
        ("/x/%2E%2E/admin?q=/public", "/admin"),
        ("/a%2fb", "/a%2Fb"),
        ("/a//b", "/a//b"),
        ("\\admin", "/admin"),
        ("/100%", "/100%"),
        ("/caf%C3%A9", "/caf%C3%A9"),
    ];
    for (sent, seen) in table {
        assert_eq!(normalize(sent, PathNormalization::Base), seen, "{sent}");
    }
}

#[test]
fn the_other_modes_merge_and_decode_slashes_or_do_nothing() {
    use PathNormalization as N;
    let table = [
        (N::None, "/a/../b//c?x", "/a/../b//c"),
        (N::MergeSlashes, "//admin//x", "/admin/x"),
        (N::MergeSlashes, "/a%2F..%2Fadmin", "/a%2F..%2Fadmin"),
        (N::DecodeAndMergeSlashes, "/public%2F..%2Fadmin", "/admin"),
        (N::DecodeAndMergeSlashes, "/a%5c%5cb", "/a/b"),
    ];
    for (mode, sent, seen) in table {
        assert_eq!(normalize(sent, mode), seen, "{mode:?} {sent}");
    }
}

#[test]
fn paths_match_exactly_by_prefix_suffix_presence_and_templates() {
    let table = [
        ("/api", "/api", true),
        ("/api", "/api/", false),
        ("/api/*", "/api/v1/x", true),
        ("/api/*", "/apis", false),
        ("*.png", "/img/a.png", true),
        ("*", "/", true),
        ("/api/{*}/items", "/api/v1/items", true),
        ("/api/{*}/items", "/api/v1/v2/items", false),
        ("/api/{*}/items", "/api//items", false),
        ("/static/{**}", "/static/css/a.css", true),
        ("/static/{**}", "/static/", true),
        ("/static/{**}", "/static", false),
        ("/{*}/{**}", "/a/b/c", true),
        ("/a/{*}", "/a/b c", false),
    ];
    for (pattern, path, want) in table {
        assert_eq!(
            path_matches(&PathMatch::of(pattern), path),
            want,
            "{pattern} {path}"
        );
    }
}

/// Istio's security guidance, mode by mode: which tricks still reach `/admin` past a rule on
/// `paths: [/admin, /admin/*]` (`true`: the rule sees `/admin`; `false`: it does not, and an
/// app that resolves or decodes the path itself would serve `/admin`).
#[test]
fn each_mode_stops_the_tricks_istio_says_it_stops() {
    use PathNormalization as N;
    let rule = [PathMatch::of("/admin"), PathMatch::of("/admin/*")];
    let seen_as_admin = |sent: &str, mode| {
        let path = normalize(sent, mode);
        rule.iter().any(|p| path_matches(p, &path))
    };
    let table = [
        ("/public/../admin", [false, true, true, true]),
        ("/%61dmin", [false, true, true, true]),
        ("\\admin", [false, true, true, true]),
        ("//admin", [false, false, true, true]),
        ("/admin//x", [true, true, true, true]),
        ("/%2Fadmin", [false, false, false, true]),
        ("/%2fadmin", [false, false, false, true]),
        ("/%5Cadmin", [false, false, false, true]),
        ("/x/..%2Fadmin", [false, false, false, true]),
    ];
    let modes = [N::None, N::Base, N::MergeSlashes, N::DecodeAndMergeSlashes];
    for (sent, wants) in table {
        for (mode, want) in modes.into_iter().zip(wants) {
            assert_eq!(seen_as_admin(sent, mode), want, "{mode:?} {sent}");
        }
    }
}
