//! Data flows one way: no module of the library reaches itself through `crate::` paths, and the planning layer
//! (values to bytes) names no I/O module, async runtime or AWS crate. The core crate's purity is the compiler's
//! (its dependency tree, checked by `.ci/run`); this is the check for the modules above it.

use crate::support::root;
use std::collections::{BTreeMap, BTreeSet};

/// The top-level modules each top-level module of `src/` names, from its code without its tests and comments.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if rel != "bin" {
                    stack.push(path);
                }
                continue;
            }
            if !rel.ends_with(".rs") || rel == "lib.rs" {
                continue;
            }
            let module = rel.split('/').next().unwrap().trim_end_matches(".rs").to_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests sit at the end of a file, after `#[cfg(test)]`.
            let code = text.split("#[cfg(test)]").next().unwrap();
            let named = graph.entry(module.clone()).or_default();
            for line in code.lines().map(|l| l.split("//").next().unwrap_or("")) {
                for (at, _) in line.match_indices("crate::") {
                    let rest = &line[at + "crate::".len()..];
                    // `crate::a::…`, or each of `crate::{a, b::c}`.
                    let names: Vec<&str> = match rest.strip_prefix('{') {
                        Some(group) => group.split('}').next().unwrap_or("").split(',').collect(),
                        None => vec![rest],
                    };
                    for name in names {
                        let name: String =
                            name.trim().chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                        if !name.is_empty() && name != module {
                            named.insert(name);
                        }
                    }
                }
            }
        }
    }
    graph
}

/// Every module `from` reaches, itself included when a path leads back to it.
fn reach(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&str> = graph.get(from).into_iter().flatten().map(String::as_str).collect();
    while let Some(m) = todo.pop() {
        if seen.insert(m.to_owned()) {
            todo.extend(graph.get(m).into_iter().flatten().map(String::as_str));
        }
    }
    seen
}

#[test]
fn valid_no_module_reaches_itself() {
    let graph = module_graph();
    assert!(graph.len() > 10 && graph.contains_key("plan") && graph.contains_key("sink"), "{graph:?}");
    let cycles: Vec<&String> = graph.keys().filter(|m| reach(&graph, m).contains(*m)).collect();
    assert!(cycles.is_empty(), "modules in a cycle: {cycles:?}; the graph: {graph:#?}");
}

#[test]
fn valid_planning_reaches_no_io() {
    let graph = module_graph();
    for pure in ["plan", "catalog", "cost"] {
        let reached = reach(&graph, pure);
        for io in ["sink", "output", "handler", "startup", "aws", "config", "reconcile", "replay", "backfill"] {
            assert!(!reached.contains(io), "{pure} reaches {io}: {reached:?}");
        }
    }
    for dir in ["src/plan"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for crate_name in ["tokio::", "hyper::", "aws_sdk", "aws_config", "std::fs", "std::net"] {
                assert!(!text.contains(crate_name), "{} names {crate_name}", path.display());
            }
        }
    }
}
