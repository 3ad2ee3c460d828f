//! The shared crate's import graph: no module imports one in a layer above its own, and no two modules
//! import each other, directly or around a circle. Read from the source, so a new `use` that breaks the
//! layering fails here rather than in a newcomer's head.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first; a module may import from its own layer (without a circle) and those below.
/// `channels` (how a message reads on each channel, and its clients) is below `service`: the outbox renders
/// and sends through it.
const LAYERS: [&[&str]; 7] =
    [&["domain"], &["ports"], &["telemetry"], &["channels"], &["service"], &["memory", "aws"], &["web"]];

fn layer(module: &str) -> usize {
    let top = module.split("::").next().unwrap_or("");
    LAYERS.iter().position(|names| names.contains(&top)).unwrap_or_else(|| panic!("{module} is in no layer"))
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "bin") {
                source_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `domain/input.rs` → `domain::input`, `web/mod.rs` → `web`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("under src").with_extension("");
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "tests")) {
        parts.pop();
    }
    parts.join("::")
}

/// Every `crate::a::b…` path in `text`, cut to the longest prefix that is a known module.
fn imports(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        let path: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
        let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        if let Some(module) = (1..=segments.len()).rev().map(|n| segments[..n].join("::")).find(|m| modules.contains(m))
        {
            found.insert(module);
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let modules: BTreeSet<String> =
        files.iter().map(|f| module_of(&src, f)).filter(|m| !m.is_empty() && m != "lib").collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        // A module's tests may drive it on any adapter (the in-memory store, say): that is the harness,
        // not the module's own dependence.
        if module.is_empty() || module == "lib" || file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("read");
        let targets = imports(&text, &modules);
        // A parent module (`web/mod.rs`) names its children; that is declaration, not dependence.
        let children = format!("{module}::");
        let targets: Vec<String> = targets.into_iter().filter(|t| t != &module && !t.starts_with(&children)).collect();
        graph.entry(module).or_default().extend(targets);
    }
    graph
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let mut climbing = Vec::new();
    for (from, targets) in graph() {
        for to in targets {
            if layer(&to) > layer(&from) {
                climbing.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(climbing.is_empty(), "imports that climb a layer: {climbing:#?}");
}

#[test]
fn the_import_graph_has_no_circle() {
    let graph = graph();
    // Depth-first search for a back edge; a module's own children (`a::b` under `a`) count as `a`'s
    // dependence only when `a` imports them by path, which the graph already holds.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut circle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        let mut path = Vec::new();
        if let Some(circle) = visit(node, &graph, &mut path, &mut done) {
            panic!("an import circle: {}", circle.join(" -> "));
        }
    }
}

#[test]
fn the_checker_sees_the_layers() {
    let graph = graph();
    assert!(graph["service"].contains("domain::model"), "{:?}", graph["service"]);
    assert!(graph["web::routes"].contains("service"), "{:?}", graph["web::routes"]);
    assert_eq!(layer("domain::field"), 0);
}
