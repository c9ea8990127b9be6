//! Import circles: Tarjan's strongly connected components over the file graph.

use std::collections::{BTreeMap, BTreeSet};

use super::Import;

/// The circles of more than `limit` files, each as its sorted file names.
pub(super) fn circles_over(imports: &[Import], limit: usize) -> Vec<Vec<String>> {
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for import in imports {
        edges.entry(&import.from).or_default().insert(&import.to);
        edges.entry(&import.to).or_default();
    }
    let mut tarjan = Tarjan {
        edges: &edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for node in edges.keys() {
        if !tarjan.index.contains_key(node) {
            tarjan.visit(node);
        }
    }
    tarjan.components.retain(|c| c.len() > limit);
    tarjan.components
}

struct Tarjan<'a> {
    edges: &'a BTreeMap<&'a str, BTreeSet<&'a str>>,
    index: BTreeMap<&'a str, usize>,
    low: BTreeMap<&'a str, usize>,
    stack: Vec<&'a str>,
    on_stack: BTreeSet<&'a str>,
    components: Vec<Vec<String>>,
}

impl<'a> Tarjan<'a> {
    fn visit(&mut self, node: &'a str) {
        let number = self.index.len();
        self.index.insert(node, number);
        self.low.insert(node, number);
        self.stack.push(node);
        self.on_stack.insert(node);
        let edges = self.edges;
        for &next in &edges[node] {
            if !self.index.contains_key(next) {
                self.visit(next);
                let low = self.low[node].min(self.low[next]);
                self.low.insert(node, low);
            } else if self.on_stack.contains(next) {
                let low = self.low[node].min(self.index[next]);
                self.low.insert(node, low);
            }
        }
        if self.low[node] == self.index[node] {
            self.pop_component(node);
        }
    }

    fn pop_component(&mut self, root: &str) {
        let mut component = Vec::new();
        while let Some(top) = self.stack.pop() {
            self.on_stack.remove(top);
            component.push(top.to_string());
            if top == root {
                break;
            }
        }
        component.sort();
        self.components.push(component);
    }
}
