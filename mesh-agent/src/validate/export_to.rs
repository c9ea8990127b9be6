//! `exportTo` as Istio's `validateExportTo` reads it: `.` (this namespace), `*` (every one) or
//! namespace names, each once; `*` alone; `~` (no one) only on a ServiceEntry, and alone.

use std::collections::HashSet;

use super::finding::Findings;
use super::names::is_label;

/// Problems of the `exportTo` list at `at` of a resource in `namespace`.
pub(crate) fn export_to(
    found: &mut Findings,
    at: &str,
    namespace: &str,
    list: &[String],
    service_entry: bool,
) {
    let mut seen = HashSet::new();
    for (i, entry) in list.iter().enumerate() {
        let field = format!("{at}[{i}]");
        let key = if entry == "." {
            namespace
        } else {
            entry.as_str()
        };
        if !seen.insert(key) {
            found.error(field, format!("{entry:?} is exported to twice"));
            continue;
        }
        match entry.as_str() {
            "." | "*" => {}
            "~" if service_entry => {}
            "~" => found.error(
                field,
                "exportTo ~ (no one) is only allowed on a ServiceEntry",
            ),
            _ if !is_label(entry) => found.error(
                field,
                format!("{entry:?} is not ., *, ~ or a namespace name"),
            ),
            _ => {}
        }
    }
    for (alone, what) in [("*", "public (*)"), ("~", "no one (~)")] {
        if list.len() > 1 && list.iter().any(|e| e == alone) {
            found.error(at, format!("{what} cannot be listed with other entries"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::finding::table::lines;

    fn found(list: &[&str], service_entry: bool) -> Vec<String> {
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        let mut found = Findings::default();
        export_to(&mut found, "e", "shop", &list, service_entry);
        lines(&found)
    }

    #[test]
    fn entries_are_dot_star_or_namespaces_each_once() {
        for good in [&["."][..], &["*"], &[".", "web"], &["~"]] {
            assert_eq!(found(good, true), Vec::<String>::new(), "{good:?}");
        }
        assert_eq!(
            found(&[".", "shop"], false),
            ["e[1]: \"shop\" is exported to twice"]
        );
        assert_eq!(
            found(&["~"], false),
            ["e[0]: exportTo ~ (no one) is only allowed on a ServiceEntry"]
        );
        assert_eq!(
            found(&["*", "Web_1"], false),
            [
                "e[1]: \"Web_1\" is not ., *, ~ or a namespace name",
                "e: public (*) cannot be listed with other entries",
            ]
        );
    }
}
