//! The agent's floor plan, checked: every top-level module has a floor (the drawing in
//! ARCHITECTURE.md), no file imports from a floor above its own, and no import circle joins more
//! than two files. Reads `src/**/*.rs` as text; an import names the file that defines the item
//! (re-exports in a `mod.rs` are followed to the file they come from).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → floor, bottom (0) to top. ARCHITECTURE.md draws the same table.
const FLOORS: &[(&str, u8)] = &[
    // 0: shared vocabulary.
    ("floors", 0),
    ("capture", 0),
    ("metrics", 0),
    ("logging", 0),
    ("net", 0),
    ("facts", 0),
    ("document", 0),
    ("errors", 0),
    ("chance", 0),
    ("clock", 0),
    ("drain", 0),
    ("identity", 0),
    ("throttle", 0),
    ("beneath", 0),
    ("memory", 0),
    // 1-4: configuration, one way.
    ("sources", 1),
    ("resources", 1),
    ("validate", 2),
    ("snapshot", 3),
    ("pipeline", 4),
    // 5: decisions.
    ("resilience", 5),
    ("lb", 5),
    ("routing", 5),
    ("ratelimit", 5),
    ("authz", 5),
    ("jwt", 5),
    ("network_policy", 5),
    ("inbound_l7", 5),
    // 6-7: sinks.
    ("spans", 6),
    ("access_log", 6),
    ("observe", 7),
    // 8: requests.
    ("http", 8),
    ("tunnel", 8),
    // 9: connections.
    ("proxy", 9),
    // 10: node services.
    ("bpf", 10),
    ("ca", 10),
    ("certs", 10),
    ("pods", 10),
    ("enroll", 10),
    ("flows", 10),
    ("gateway", 10),
    ("handover", 10),
    ("admin", 10),
    ("admin_routes", 10),
    ("admin_clusters", 10),
    ("admin_socket", 10),
    ("admin_client", 10),
    ("check", 10),
    ("authz_check", 10),
    ("config", 10),
    ("lifecycle", 10),
    ("dns", 10),
    ("egress", 10),
    ("connect_authz", 10),
    // 11: the agent.
    ("attach", 11),
    ("agent", 11),
    ("upgrade", 11),
];

/// Crate roots: they declare the modules and sit above every floor.
const ROOTS: &[&str] = &["lib.rs", "main.rs"];

/// One import of one file: the file it names and the line it is on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Import {
    from: String,
    line: usize,
    to: String,
}

/// The source files of a crate, by path relative to `src/`.
type Tree = BTreeMap<String, String>;

fn read_tree(src: &Path) -> Tree {
    let mut tree = Tree::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable src dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).expect("under src");
                let rel = rel.to_string_lossy().replace('\\', "/");
                tree.insert(rel, std::fs::read_to_string(&path).expect("readable file"));
            }
        }
    }
    tree
}

/// `a/b.rs` and `a/b/mod.rs` → `[a, b]`; a crate root → `[]`.
fn module_path(file: &str) -> Vec<String> {
    if ROOTS.contains(&file) {
        return Vec::new();
    }
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The floor a file stands on, by its top-level module.
fn floor_of<'t>(file: &str, table: &'t [(&str, u8)]) -> Option<(&'t str, u8)> {
    let top = module_path(file).into_iter().next()?;
    table
        .iter()
        .find(|(name, _)| *name == top)
        .map(|(n, f)| (*n, *f))
}

/// Top-level modules of the tree missing from `table`.
fn unplaced(tree: &Tree, table: &[(&str, u8)]) -> BTreeSet<String> {
    tree.keys()
        .filter(|file| !ROOTS.contains(&file.as_str()) && floor_of(file, table).is_none())
        .filter_map(|file| module_path(file).into_iter().next())
        .collect()
}

/// Imports from a lower floor to a higher one, one message each.
fn upward(imports: &[Import], table: &[(&str, u8)]) -> Vec<String> {
    let mut found = Vec::new();
    for import in imports {
        let (Some((from_mod, from)), Some((to_mod, to))) =
            (floor_of(&import.from, table), floor_of(&import.to, table))
        else {
            continue;
        };
        if to > from {
            found.push(format!(
                "{}:{} (`{from_mod}`, floor {from}) imports {} (`{to_mod}`, floor {to})",
                import.from, import.line, import.to
            ));
        }
    }
    found
}

/// Everything wrong with `tree`'s floors under `table`, one message each.
fn problems(tree: &Tree, table: &[(&str, u8)]) -> Vec<String> {
    let mut found: Vec<String> = unplaced(tree, table)
        .into_iter()
        .map(|module| format!("top-level module `{module}` has no floor in FLOORS"))
        .collect();
    let imports = imports::Crate::new(tree).imports();
    found.extend(upward(&imports, table));
    for circle in graph::circles_over(&imports, 2) {
        let inside = imports
            .iter()
            .filter(|i| circle.contains(&i.from) && circle.contains(&i.to));
        let ties: Vec<String> = inside
            .map(|i| format!("  {}:{} → {}", i.from, i.line, i.to))
            .collect();
        found.push(format!(
            "import circle of {} files: {}\n{}",
            circle.len(),
            circle.join(", "),
            ties.join("\n")
        ));
    }
    found
}

#[test]
fn the_agent_keeps_its_floors() {
    let tree = read_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let found = problems(&tree, FLOORS);
    assert!(
        found.is_empty(),
        "{} floor problems:\n{}",
        found.len(),
        found.join("\n")
    );
}

mod graph;
mod imports;
mod tokens;
mod use_trees;

mod tests;
