//! Tests for the shape of the source tree (run by `cargo test`, no build of a bundle):
//!
//! - the modules of `src/` import each other one way: the graph of `crate::<module>` references,
//!   at top-level-module granularity (`install::record` counts as `install`), has no cycle;
//! - the leaves (`cli`, `ui`, `name`, `fsutil`, `dirs`, `layout`, `output`) import only leaves,
//!   and the read side (`bundle`, `commands`) never imports the write side;
//! - no file under `src/` is longer than 600 lines. A Rust file's unit tests at its bottom
//!   (from `#[cfg(test)]` followed by `mod tests`) are not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::common::repo_root;

/// The longest a source file may be.
const MAX_LINES: usize = 600;

/// Modules that import nothing but other leaves.
const LEAVES: &[&str] = &[
    "cli",
    "ui",
    "name",
    "fsutil",
    "dirs",
    "layout",
    "output",
    "interrupt",
];
/// The read side, and the write side it must not import.
const READ_SIDE: &[&str] = &["bundle", "commands"];
const WRITE_SIDE: &[&str] = &[
    "pipeline", "pack", "install", "bytecode", "resolve", "analyze", "entry", "python", "config",
];

fn source_files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            source_files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    out.sort();
}

/// Returns the top-level module a file of `src/` belongs to (`None` for the crate roots).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// Returns the top-level modules that `code` names through `crate::…` paths (plain and grouped
/// `use crate::{a, b::c}`), ignoring comments.
fn references(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let code: String = code
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // `$crate::`, `mycrate::`
        }
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            group[..end]
                .split(',')
                .map(|item| item.trim().split("::").next().unwrap_or("").trim())
                .collect()
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            vec![&rest[..end]]
        };
        for name in names {
            if modules.contains(name) {
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// Returns the module graph of `src/`: module → modules it references.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = repo_root().join("src");
    let mut files = Vec::new();
    source_files(&src, "rs", &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&src, f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let code = std::fs::read_to_string(file).expect("read source");
        let refs = graph.entry(module.clone()).or_default();
        refs.extend(
            references(&code, &modules)
                .into_iter()
                .filter(|m| *m != module),
        );
    }
    graph
}

/// Returns one cycle of `graph` (its modules, the first repeated at the end), if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

/// Returns the module graph as text, one module a line with what it imports.
fn draw(graph: &BTreeMap<String, BTreeSet<String>>) -> String {
    graph
        .iter()
        .map(|(module, refs)| {
            let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
            format!("{module:<10} → {}\n", refs.join(", "))
        })
        .collect()
}

#[test]
fn modules_import_each_other_one_way() {
    let graph = module_graph();
    // The graph, for a reader of the test's output (`cargo test --test it architecture --
    // --nocapture`).
    println!("module graph of src/:\n{}", draw(&graph));
    assert!(
        graph.contains_key("pipeline") && graph["pipeline"].contains("pack"),
        "the graph was not read: {graph:?}"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle between modules of src/: {}\n(references per module: {graph:#?})",
            cycle.join(" → ")
        );
    }
}

#[test]
fn the_cycle_check_finds_cycles() {
    let modules: BTreeSet<String> = ["a", "b", "c"].map(String::from).into();
    let mut graph = BTreeMap::new();
    graph.insert(
        "a".to_string(),
        references("use crate::{b::X, c};\n// crate::a", &modules),
    );
    graph.insert("b".to_string(), references("crate::c::f();", &modules));
    graph.insert("c".to_string(), BTreeSet::new());
    assert_eq!(find_cycle(&graph), None);
    graph.insert(
        "c".to_string(),
        references("let x = crate::a::Y;", &modules),
    );
    assert_eq!(
        find_cycle(&graph).expect("a cycle").join(" → "),
        "a → b → c → a"
    );
}

#[test]
fn leaves_and_the_read_side_stay_apart() {
    let graph = module_graph();
    let mut wrong = Vec::new();
    for leaf in LEAVES {
        for dep in graph.get(*leaf).into_iter().flatten() {
            if !LEAVES.contains(&dep.as_str()) {
                wrong.push(format!("leaf `{leaf}` imports `{dep}`"));
            }
        }
    }
    for reader in READ_SIDE {
        for dep in graph.get(*reader).into_iter().flatten() {
            if WRITE_SIDE.contains(&dep.as_str()) {
                wrong.push(format!("read side `{reader}` imports `{dep}`"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Returns the number of lines of `text` that count towards the limit.
fn counted_lines(text: &str, rust: bool) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    if rust
        && let Some(at) = lines.windows(2).position(|w| {
            w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod tests")
        })
    {
        return at;
    }
    lines.len()
}

#[test]
fn no_source_file_is_too_long() {
    let root = repo_root();
    let mut files = Vec::new();
    source_files(&root.join("src"), "rs", &mut files);
    source_files(&root.join("src"), "py", &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&root)
            .expect("in repo")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&file).expect("read source");
        let n = counted_lines(&text, rel.ends_with(".rs"));
        if n > MAX_LINES {
            wrong.push(format!("`{rel}` has {n} lines (at most {MAX_LINES})"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
