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

// --- DESIGN's tree names every module

/// Returns the entries of the source tree in `design` (the fenced block after `## Source
/// tree`): each top-level name under `src/` (`cli.rs`, `layout/`) with its description.
fn tree_entries(design: &str) -> BTreeMap<String, String> {
    let start = design
        .find("## Source tree")
        .expect("DESIGN has a source tree");
    let block = &design[start..];
    let open = block.find("```\n").expect("the tree is fenced") + 4;
    let close = open + block[open..].find("```").expect("the tree's fence closes");
    let mut entries: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_src = false;
    for line in block[open..close].lines() {
        if !line.starts_with(' ') {
            in_src = line.starts_with("src/");
            current = None;
            continue;
        }
        if !in_src {
            continue;
        }
        if line.starts_with("  ") && !line.starts_with("   ") {
            let names = line.split("  ").nth(1).unwrap_or("").trim();
            let first = names.split_whitespace().next().unwrap_or("").to_string();
            for name in names.split_whitespace() {
                entries.insert(name.to_string(), line.to_string());
            }
            current = Some(first);
        } else if let Some(name) = &current {
            let text = entries.get(name).cloned().unwrap_or_default();
            entries.insert(name.clone(), format!("{text}\n{line}"));
        }
    }
    entries
}

/// Returns the modules (`src/`-relative Rust files) that `design`'s tree does not name: a
/// top-level module by its entry (`cli.rs`, `layout/`), a module inside one by its file name,
/// its name in backticks or its directory in that entry's description (`main.rs`, `` `info` ``,
/// `store/`).
fn missing_from_tree(design: &str, modules: &[String]) -> Vec<String> {
    let entries = tree_entries(design);
    let mut missing = Vec::new();
    for module in modules {
        let parts: Vec<&str> = module.split('/').collect();
        let found = match parts.as_slice() {
            [file] => entries.contains_key(*file),
            [dir, file, ..] => {
                // `store/` for a directory; `main.rs` or `` `main` `` for a file.
                let names = if parts.len() > 2 {
                    vec![format!("{file}/")]
                } else {
                    let stem = file.trim_end_matches(".rs");
                    vec![(*file).to_string(), format!("`{stem}`")]
                };
                let entry = entries.get(&format!("{dir}/"));
                *file == "mod.rs" && entry.is_some()
                    || entry.is_some_and(|text| names.iter().any(|n| text.contains(n.as_str())))
            }
            [] => true,
        };
        if !found {
            missing.push(module.clone());
        }
    }
    missing
}

/// Returns every Rust module of `src/`, relative to it.
fn rust_modules() -> Vec<String> {
    let src = repo_root().join("src");
    let mut files = Vec::new();
    source_files(&src, "rs", &mut files);
    files
        .iter()
        .map(|f| {
            f.strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn every_module_is_in_the_design_tree() {
    let design = std::fs::read_to_string(repo_root().join("docs/DESIGN.md")).expect("DESIGN");
    let modules = rust_modules();
    assert!(
        modules.iter().any(|m| m == "pipeline/mod.rs"),
        "{modules:?}"
    );
    let missing = missing_from_tree(&design, &modules);
    assert!(
        missing.is_empty(),
        "modules missing from the source tree of docs/DESIGN.md: {missing:?}"
    );
}

#[test]
fn the_tree_check_finds_a_missing_module() {
    let design = "# x\n## Source tree\n```\nsrc/\n  cli.rs                    clap\n  layout/                   the format (`main.rs`, `store/`)\ntests/\n  it/                       tests\n```\n";
    let modules: Vec<String> = [
        "cli.rs",
        "layout/mod.rs",
        "layout/main.rs",
        "layout/store/mod.rs",
    ]
    .map(String::from)
    .into();
    assert_eq!(missing_from_tree(design, &modules), Vec::<String>::new());
    let planted: Vec<String> = ["ui.rs", "layout/placement.rs", "pack/mod.rs", "it.rs"]
        .map(String::from)
        .into();
    assert_eq!(missing_from_tree(design, &planted), planted);
}

// --- cited `src/…` paths exist

/// Returns the `src/…` paths that `text` cites (a path starting at `src/` after a space, a
/// quote, a bracket or the start of a line), without trailing punctuation.
fn cited_src_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut before: Option<char> = None;
    while let Some(i) = rest.find("src/") {
        let prev = rest[..i].chars().last().or(before);
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_alphanumeric() || "_./-".contains(c)))
            .unwrap_or(tail.len());
        let path = tail[..end].trim_end_matches(['.', '-']);
        if prev.is_none_or(|c| !(c.is_alphanumeric() || "_./-".contains(c))) {
            out.push(path.to_string());
        }
        before = tail[..end].chars().last();
        rest = &tail[end.max(4)..];
    }
    out
}

/// Returns the comment text of a source file: after `//` in Rust, after `#` in Python.
fn comments(text: &str, rust: bool) -> String {
    let marker = if rust { "//" } else { "#" };
    text.lines()
        .filter_map(|l| l.find(marker).map(|i| &l[i..]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Returns "`file`: `path`" for every cited path that does not exist under `root`.
fn dangling_citations(root: &Path, texts: &[(String, String)]) -> Vec<String> {
    let mut wrong = Vec::new();
    for (file, text) in texts {
        for path in cited_src_paths(text) {
            if !root.join(&path).exists() {
                wrong.push(format!("`{file}` cites `{path}`, which does not exist"));
            }
        }
    }
    wrong
}

#[test]
fn cited_source_paths_exist() {
    let root = repo_root();
    let mut texts = Vec::new();
    let mut docs = vec![root.join("README.md")];
    source_files(&root.join("docs"), "md", &mut docs);
    for doc in docs {
        let text = std::fs::read_to_string(&doc).expect("read doc");
        texts.push((doc.display().to_string(), text));
    }
    for ext in ["rs", "py"] {
        let mut files = Vec::new();
        source_files(&root.join("src"), ext, &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read source");
            texts.push((file.display().to_string(), comments(&text, ext == "rs")));
        }
    }
    assert!(texts.iter().any(|(_, t)| t.contains("src/bootstrap/")));
    let wrong = dangling_citations(&root, &texts);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_citation_check_finds_a_dangling_path() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(root.path().join("src/commands")).expect("mkdir");
    std::fs::write(root.path().join("src/commands/extract.rs"), "").expect("write");
    assert_eq!(
        cited_src_paths("see src/commands/extract.rs. and (`src/x/`), not mysrc/a nor a/src/b"),
        ["src/commands/extract.rs", "src/x/"]
    );
    let code = "let x = \"src/nothing.rs\"; // the writer (src/commands/extract.rs)\n// also src/extract.rs";
    let texts = vec![("a.rs".to_string(), comments(code, true))];
    assert_eq!(
        dangling_citations(root.path(), &texts),
        ["`a.rs` cites `src/extract.rs`, which does not exist"]
    );
}

// --- no production function over 80 lines

/// The longest a production function may be, in lines from its `fn`/`def` line to its end.
const MAX_FUNCTION_LINES: usize = 80;

/// Returns `code` with the contents of comments, strings and character literals blanked
/// (replaced by spaces, newlines kept), so that braces in them do not count.
fn blank_rust_literals(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    let mut out = String::with_capacity(code.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push_str("  ");
            i += 2;
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !chars
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let end: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let body = i + 2 + hashes;
            let rest: String = chars[body..].iter().collect();
            let len = rest
                .find(&end)
                .map_or(rest.len(), |e| rest[..e].chars().count());
            let stop = (body + len + end.len()).min(chars.len());
            out.extend(chars[i..stop].iter().map(|&k| blank(k)));
            i = body + len + end.len();
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                let skip = if chars[i] == '\\' { 2 } else { 1 };
                let stop = (i + skip).min(chars.len());
                out.extend(chars[i..stop].iter().map(|&k| blank(k)));
                i += skip;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            let close = chars[i + 1..]
                .iter()
                .skip(1)
                .position(|&q| q == '\'')
                .map_or(chars.len(), |p| i + 2 + p);
            let stop = (close + 1).min(chars.len());
            out.extend(chars[i..stop].iter().map(|&k| blank(k)));
            i = close + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Returns (name, first line, lines) of every function in Rust `code` that is not test code:
/// the unit tests at the bottom (`#[cfg(test)]` + `mod tests`) and `#[test]`/`#[cfg(test)]`
/// functions are left out.
fn rust_functions(code: &str) -> Vec<(String, usize, usize)> {
    let counted = counted_lines(code, true);
    let blanked = blank_rust_literals(code);
    let lines: Vec<&str> = blanked.lines().collect();
    let fn_start = regex::Regex::new(
        r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+([A-Za-z_][A-Za-z0-9_]*)",
    )
    .unwrap();
    let mut out = Vec::new();
    for (at, line) in lines.iter().enumerate().take(counted) {
        let Some(caps) = fn_start.captures(line) else {
            continue;
        };
        let attrs = lines[..at]
            .iter()
            .rev()
            .take_while(|l| l.trim_start().starts_with("#[") || l.trim().is_empty());
        if attrs
            .into_iter()
            .any(|l| l.contains("#[test]") || l.contains("#[cfg(test)]"))
        {
            continue;
        }
        let mut depth = 0i32;
        let mut opened = false;
        let mut end = None;
        'scan: for (k, l) in lines.iter().enumerate().skip(at) {
            for ch in l.chars() {
                match ch {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    ';' if !opened && depth == 0 => break 'scan, // a declaration without a body
                    _ => {}
                }
                if opened && depth == 0 {
                    end = Some(k);
                    break 'scan;
                }
            }
        }
        if let Some(end) = end {
            out.push((caps[6].to_string(), at + 1, end - at + 1));
        }
    }
    out
}

/// Returns (name, first line, lines) of every `def` in Python `code`: from the `def` line to
/// its last non-blank line (nested functions count in their parent and on their own).
fn python_functions(code: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let def = regex::Regex::new(r"^(\s*)(async\s+)?def\s+([A-Za-z_][A-Za-z0-9_]*)").unwrap();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let Some(caps) = def.captures(line) else {
            continue;
        };
        let own = caps[1].len();
        let mut last = at;
        // The signature may span lines; the body is what is indented deeper after it.
        let mut in_signature = !line.trim_end().ends_with(':');
        for (k, l) in lines.iter().enumerate().skip(at + 1) {
            if in_signature {
                last = k;
                in_signature = !l.trim_end().ends_with(':');
                continue;
            }
            if l.trim().is_empty() {
                continue;
            }
            if indent(l) <= own {
                break;
            }
            last = k;
        }
        out.push((caps[3].to_string(), at + 1, last - at + 1));
    }
    out
}

/// Returns "`file`:line `name` has N lines" for every function over the limit in `files`
/// (path under `src/`, text).
fn long_functions(files: &[(String, String)]) -> Vec<String> {
    let mut wrong = Vec::new();
    for (file, text) in files {
        let functions = if file.ends_with(".rs") {
            rust_functions(text)
        } else {
            python_functions(text)
        };
        for (name, line, n) in functions {
            if n > MAX_FUNCTION_LINES {
                wrong.push(format!(
                    "`src/{file}`:{line} `{name}` has {n} lines (at most {MAX_FUNCTION_LINES})"
                ));
            }
        }
    }
    wrong
}

#[test]
fn no_production_function_is_too_long() {
    let src = repo_root().join("src");
    let mut paths = Vec::new();
    source_files(&src, "rs", &mut paths);
    source_files(&src, "py", &mut paths);
    let files: Vec<(String, String)> = paths
        .iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .into_owned();
            (rel, std::fs::read_to_string(p).expect("read source"))
        })
        .collect();
    let counted: usize = files
        .iter()
        .map(|(f, t)| {
            if f.ends_with(".rs") {
                rust_functions(t).len()
            } else {
                python_functions(t).len()
            }
        })
        .sum();
    assert!(counted > 500, "the functions were not read: {counted}");
    let wrong = long_functions(&files);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_function_check_finds_a_long_function() {
    let body = |n: usize, line: &str| vec![line; n].join("\n");
    let rust = format!(
        "/// doc\npub(crate) fn long(a: &str) -> String {{\n    let s = \"}}\"; let c = '{{';\n{}\n    s.into()\n}}\n\nfn short() {{}}\n\n#[test]\nfn long_test() {{\n{}\n}}\n",
        body(80, "    let x = r#\"{ \"#;"),
        body(90, "    f();")
    );
    let python = format!(
        "def long(a,\n         b):\n{}\n\n    return a\n\n\ndef short():\n    pass\n",
        body(80, "    x = '}'")
    );
    let files = vec![
        ("pack/mod.rs".to_string(), rust.clone()),
        ("bootstrap/_pybundle/_x.py".to_string(), python),
    ];
    assert_eq!(
        rust_functions(&rust),
        [("long".to_string(), 2, 84), ("short".to_string(), 87, 1)]
    );
    assert_eq!(
        long_functions(&files),
        [
            "`src/pack/mod.rs`:2 `long` has 84 lines (at most 80)",
            "`src/bootstrap/_pybundle/_x.py`:1 `long` has 84 lines (at most 80)"
        ]
    );
}
