//! The README quotes the container recipes of `examples/` word for word: each recipe file is a
//! ```` ```dockerfile ```` block of the "Containers" section, and that section's recipe blocks
//! are exactly those files (the container suite of the e2e tests builds the files).

use crate::common::repo_root;

/// The recipes the README quotes, in order.
const RECIPES: &[&str] = &[
    "examples/Dockerfile",
    "examples/Dockerfile.build",
    "examples/Dockerfile.venv",
];

/// Returns the fenced blocks of `lang` in `text`, each without its fences.
fn blocks<'a>(text: &'a str, lang: &str) -> Vec<&'a str> {
    let open = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(&open) {
        let body = &rest[i + open.len()..];
        let end = body.find("\n```").map_or(body.len(), |e| e + 1);
        out.push(&body[..end]);
        rest = &body[end..];
    }
    out
}

fn containers_section() -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("read README.md");
    let start = readme
        .find("\n## Containers\n")
        .expect("README has a Containers section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 4);
    rest[..end].to_string()
}

#[test]
fn readme_quotes_the_container_recipes_word_for_word() {
    let section = containers_section();
    let quoted = blocks(&section, "dockerfile");
    assert_eq!(
        quoted.len(),
        RECIPES.len(),
        "the Containers section should quote exactly the recipes {RECIPES:?}"
    );
    for (block, path) in quoted.iter().zip(RECIPES) {
        let file = std::fs::read_to_string(repo_root().join(path)).expect("read a recipe");
        assert_eq!(
            *block, file,
            "README's Containers section differs from {path}; copy the file into the README"
        );
    }
}

#[test]
fn recipes_keep_the_default_shebang() {
    // `-p /usr/local/bin/python3` breaks on Debian's python3 (/usr/bin/python3).
    for path in RECIPES {
        let file = std::fs::read_to_string(repo_root().join(path)).expect("read a recipe");
        assert!(!file.contains("-p /usr/local"), "{path} sets a shebang");
        assert!(
            (file.contains("pybundle extract") && file.contains("ENV PYBUNDLE_ROOTS="))
                || file.contains("RUN pybundle venv "),
            "{path} neither pre-seeds a read-only root nor writes a virtual environment"
        );
    }
}

/// Returns the numbers of the rules listed in `text` after `prefix` (`1. `, `2. `, …).
fn rule_numbers(text: &str, prefix: &str) -> Vec<u32> {
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .filter_map(|l| l.split_once(". ").and_then(|(n, _)| n.parse().ok()))
        .collect()
}

/// The README's "Zip or extract" and `src/analyze/mod.rs` number the rules alike.
#[test]
fn readme_and_the_analysis_number_the_rules_alike() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme.find("\n## Zip or extract").expect("the section");
    let end = start + 1 + readme[start + 1..].find("\n## ").expect("the next section");
    let analyze = std::fs::read_to_string(repo_root().join("src/analyze/mod.rs")).unwrap();
    let ours = rule_numbers(&readme[start..end], "");
    assert_eq!(ours, (1..=8).collect::<Vec<_>>());
    let rules_end = analyze
        .find("//! The unit of rule 5")
        .expect("the rules end");
    assert_eq!(rule_numbers(&analyze[..rules_end], "//! "), ours);
}
