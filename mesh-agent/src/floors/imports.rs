//! Which file each file imports from: `use` trees (grouped, aliased, `self`/`super`/relative)
//! and inline `crate::…` paths, each resolved to the file that defines the named item.

use std::collections::{BTreeMap, BTreeSet};

use super::tokens::{tokenize, Kind, Token};
use super::use_trees::{inline_crate_paths, use_statements, Leaf, Use};
use super::{module_path, Import, Tree, ROOTS};

/// A crate's files, ready to resolve paths.
pub(super) struct Crate {
    files: BTreeMap<String, File>,
    by_module: BTreeMap<Vec<String>, String>,
}

struct File {
    module: Vec<String>,
    tokens: Vec<Token>,
    defines: BTreeSet<String>,
    /// `pub use` at file level: visible name → absolute path.
    reexports: BTreeMap<String, Vec<String>>,
    /// `pub use path::*` at file level.
    globs: Vec<Vec<String>>,
}

const ITEM_KEYWORDS: &[&str] = &[
    "struct", "enum", "fn", "const", "type", "trait", "static", "mod",
];
/// How many re-exports a path is followed through.
const MAX_HOPS: u8 = 8;

impl Crate {
    pub fn new(tree: &Tree) -> Self {
        let mut files = BTreeMap::new();
        for (path, src) in tree
            .iter()
            .filter(|(p, _)| !ROOTS[1..].contains(&p.as_str()))
        {
            let tokens = tokenize(src);
            let defines = defined_names(&tokens);
            let file = File {
                module: module_path(path),
                tokens,
                defines,
                reexports: BTreeMap::new(),
                globs: Vec::new(),
            };
            files.insert(path.clone(), file);
        }
        place_path_modules(&mut files);
        let by_module = files
            .iter()
            .map(|(p, f)| (f.module.clone(), p.clone()))
            .collect();
        let mut krate = Crate { files, by_module };
        krate.collect_reexports();
        krate
    }

    /// Every import of every file, to files other than itself.
    pub fn imports(&self) -> Vec<Import> {
        let mut found = BTreeSet::new();
        for (path, file) in &self.files {
            let names = self.imported_names(file);
            for stmt in uses(file)
                .into_iter()
                .filter(|u| !self.is_reexport(file, u))
            {
                for leaf in &stmt.leaves {
                    let Some(abs) = self.absolute(&stmt.module, &leaf.path, &names) else {
                        continue;
                    };
                    self.add(&mut found, path, leaf.line, &abs);
                }
            }
            for (line, abs) in inline_crate_paths(&file.tokens) {
                self.add(&mut found, path, line, &abs);
            }
        }
        found.into_iter().collect()
    }

    fn add(&self, found: &mut BTreeSet<Import>, from: &str, line: usize, abs: &[String]) {
        let abs: Vec<String> = abs.iter().filter(|s| *s != "*").cloned().collect();
        if let Some(to) = self.resolve(&abs, MAX_HOPS) {
            if to != from {
                let (from, to) = (from.to_string(), to.to_string());
                found.insert(Import { from, line, to });
            }
        }
    }

    /// The file defining the item `path` names: the longest prefix that is a module, then through
    /// that module's re-exports.
    fn resolve(&self, path: &[String], hops: u8) -> Option<&str> {
        let n = (0..=path.len())
            .rev()
            .find(|n| self.by_module.contains_key(&path[..*n]))?;
        let here = self.by_module[&path[..n]].as_str();
        let Some(name) = path.get(n) else {
            return Some(here);
        };
        let file = &self.files[here];
        if hops == 0 || file.defines.contains(name) {
            return Some(here);
        }
        if let Some(target) = file.reexports.get(name) {
            let next: Vec<String> = target.iter().chain(&path[n + 1..]).cloned().collect();
            return self.resolve(&next, hops - 1).or(Some(here));
        }
        for glob in &file.globs {
            let next: Vec<String> = glob.iter().chain(&path[n..]).cloned().collect();
            if let Some(found) = self.resolve(&next, hops - 1) {
                if self.files[found].defines.contains(name) {
                    return Some(found);
                }
            }
        }
        Some(here)
    }

    /// `path` as written in module `module` → a path from the crate root; `None` for another
    /// crate's path.
    fn absolute(
        &self,
        module: &[String],
        path: &[String],
        names: &BTreeMap<String, Vec<String>>,
    ) -> Option<Vec<String>> {
        let (first, rest) = path.split_first()?;
        let mut abs = match first.as_str() {
            "crate" | "$crate" => Vec::new(),
            "self" => module.to_vec(),
            "super" => module[..module.len().saturating_sub(1)].to_vec(),
            name => {
                let child: Vec<String> = module.iter().chain([first]).cloned().collect();
                if self.by_module.contains_key(&child) {
                    module.to_vec()
                } else {
                    let mut abs = names.get(name)?.clone();
                    abs.extend(rest.iter().cloned());
                    return Some(abs);
                }
            }
        };
        if !matches!(first.as_str(), "crate" | "$crate" | "self" | "super") {
            abs.push(first.clone());
        }
        for segment in rest {
            match segment.as_str() {
                "super" => {
                    abs.pop();
                }
                "self" => {}
                _ => abs.push(segment.clone()),
            }
        }
        Some(abs)
    }

    /// Names the file's own `use` lines bring in (for paths such as `routing::decide` inside a
    /// function): visible name → absolute path.
    fn imported_names(&self, file: &File) -> BTreeMap<String, Vec<String>> {
        let mut names = BTreeMap::new();
        for stmt in uses(file).into_iter().filter(|u| u.module == file.module) {
            for leaf in &stmt.leaves {
                let Some(abs) = self.absolute(&stmt.module, &leaf.path, &BTreeMap::new()) else {
                    continue;
                };
                if let Some(name) = visible_name(leaf) {
                    names.insert(name, abs);
                }
            }
        }
        names
    }

    fn is_reexport(&self, file: &File, stmt: &Use) -> bool {
        stmt.public && stmt.module == file.module
    }

    fn collect_reexports(&mut self) {
        let mut all = Vec::new();
        for (path, file) in &self.files {
            for stmt in uses(file).into_iter().filter(|u| self.is_reexport(file, u)) {
                for leaf in &stmt.leaves {
                    let abs = self.absolute(&stmt.module, &leaf.path, &BTreeMap::new());
                    if let Some(abs) = abs {
                        all.push((path.clone(), visible_name(leaf), abs));
                    }
                }
            }
        }
        for (path, name, abs) in all {
            let file = self.files.get_mut(&path).expect("collected from it");
            match name {
                Some(name) => drop(file.reexports.insert(name, abs)),
                None => file.globs.push(abs[..abs.len() - 1].to_vec()),
            }
        }
    }
}

/// The name a leaf brings into scope; `None` for a glob.
fn visible_name(leaf: &Leaf) -> Option<String> {
    if let Some(alias) = &leaf.alias {
        return Some(alias.clone());
    }
    let named: Vec<&String> = leaf.path.iter().filter(|s| *s != "self").collect();
    match named.last() {
        Some(last) if *last == "*" => None,
        Some(last) => Some((*last).clone()),
        None => None,
    }
}

/// Names this file declares as items (`struct X`, `fn x`, `mod x`, …).
fn defined_names(tokens: &[Token]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for pair in tokens.windows(2) {
        if let (Some(keyword), Some(name)) = (pair[0].ident(), pair[1].ident()) {
            if ITEM_KEYWORDS.contains(&keyword) {
                names.insert(name.to_string());
            }
        }
    }
    names
}

/// Files declared with `#[path = "x.rs"] mod name;` take the module path of their declaration.
fn place_path_modules(files: &mut BTreeMap<String, File>) {
    let mut placed = Vec::new();
    for (path, file) in files.iter() {
        let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
        for t in file.tokens.windows(9) {
            let pattern = (
                t[2].ident(),
                &t[4].kind,
                t[6].ident(),
                t[7].ident(),
                t[8].is(';'),
            );
            if let (Some("path"), Kind::Str(target), Some("mod"), Some(name), true) = pattern {
                let target = if dir.is_empty() {
                    target.clone()
                } else {
                    format!("{dir}/{target}")
                };
                let module = file
                    .module
                    .iter()
                    .chain([&name.to_string()])
                    .cloned()
                    .collect();
                placed.push((target, module));
            }
        }
    }
    for (target, module) in placed {
        if let Some(file) = files.get_mut(&target) {
            file.module = module;
        }
    }
}

fn uses(file: &File) -> Vec<Use> {
    use_statements(&file.module, &file.tokens)
}
