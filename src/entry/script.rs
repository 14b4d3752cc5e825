//! How a bundle is launched besides an entry point: scripts that a distribution installs (`-c NAME`
//! when no `console_scripts`/`gui_scripts` entry point is called NAME) and multi-call bundles
//! (`--multicall`: the file name the bundle was started as picks the command). Input: the
//! installed distributions and the `--site-packages` trees; output: [`Script`]s, the entry or
//! commands that use them, and the distributions that must be extracted so that a native program
//! can be executed from the cache.
//!
//! A script is `bin/NAME` of a distribution: a wheel's `.data/scripts/NAME` (see
//! [`crate::install::data`]), or `bin/NAME` of a `--site-packages` tree (pip's `--target` puts
//! scripts there and lists them in `RECORD` as `../../bin/NAME`). How it runs depends on its
//! content ([`ScriptKind`]): Python code in the bundle's process; a native program (ELF, or any
//! binary) replacing the bundle's process; a `#!` script of another interpreter (a shell wrapper)
//! replacing it too, with `python` on its PATH running the bundle. This module does not decide
//! anything at run time: the bootstrap's `_launch` module does, from the literals written here.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::point::{self, EntryError, Located};
use crate::config::EntryRequest;
use crate::install::InstalledDist;
use crate::layout::main::EntryLiteral;
use crate::layout::{EntryInfo, EntryKind};
use crate::name::normalize_name;

/// How a script runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind {
    /// Python source (a `#!…python…` first line, or text without `#!`): run as `__main__` in
    /// the bundle's process.
    Python,
    /// A native program (ELF or another binary format): executed from the extracted
    /// distribution, replacing the bundle's process.
    Native,
    /// A `#!` script of another interpreter (`#!/bin/sh`, `#!/usr/bin/env bash`): executed like a
    /// native program, with a `python` on PATH that runs the bundle.
    Wrapper,
}

impl ScriptKind {
    /// Returns the entry kind of the generated `__main__.py` and the manifest.
    pub fn entry_kind(self) -> EntryKind {
        match self {
            Self::Python => EntryKind::Script,
            Self::Native => EntryKind::Executable,
            Self::Wrapper => EntryKind::Wrapper,
        }
    }

    /// Returns true if and only if the script runs from a file in the cache (it is executed).
    pub fn needs_extraction(self) -> bool {
        self != Self::Python
    }
}

/// A script that a bundled distribution installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The command name (the file name).
    pub name: String,
    /// The distribution (index into the distributions) whose files include it, or `None` for a
    /// file of a `--site-packages` tree that no `RECORD` claims (it goes to that tree's unit of
    /// unclaimed files, see [`attach`]).
    pub owner: Option<usize>,
    /// The tree the script lives in (the owner's root).
    pub root: PathBuf,
    /// Its `/`-path relative to `root`: `bin/NAME`.
    pub rel: String,
    /// How it runs.
    pub kind: ScriptKind,
}

/// The entry of a build: an entry point (function or module) or a script.
#[derive(Debug, Clone)]
pub enum Launch {
    /// `-e`, `-m`, a console script or the interpreter: located by [`point::locate`].
    EntryPoint(Located),
    /// `-c NAME` where NAME is a script: an index into the scripts.
    Script(usize),
}

/// One command of a multi-call bundle.
#[derive(Debug, Clone)]
pub struct Command {
    /// The name the bundle is started as (a link or copy) to run it.
    pub name: String,
    /// What it runs.
    pub launch: Launch,
}

/// A script or command that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(
        "`{name}` is neither an entry point nor a script of the bundle (looked in the `console_scripts` and `gui_scripts` entry points and in the scripts installed into `bin/` by {dists})\nentry points: {entry_points}\nscripts: {scripts}\nhint: give -c one of these names, or run a function with -e MODULE:FUNC or a module with -m MODULE"
    )]
    Unknown {
        name: String,
        dists: String,
        entry_points: String,
        scripts: String,
    },
    #[error(
        "--multicall found no commands: no bundled distribution declares console scripts or installs scripts\nhint: bundle the distributions whose commands you want, or drop --multicall"
    )]
    NoCommands,
    #[error("cannot read the script `{}`: {error}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error(transparent)]
    Entry(#[from] EntryError),
}

/// Returns how the script whose first bytes are `head` runs: `#!` with a Python interpreter
/// (`#!python`, `#!/usr/bin/env python3`, `#!/opt/bin/pypy3 -u`, or pip's `#!/bin/sh` +
/// `'''exec'` launcher) or text without `#!` → Python; another `#!` → a wrapper; anything else
/// (ELF, Mach-O, PE, …) → native.
pub fn classify(head: &[u8]) -> ScriptKind {
    if let Some(rest) = head.strip_prefix(b"#!") {
        let first = rest.split(|&b| b == b'\n').next().unwrap_or(rest);
        let line = String::from_utf8_lossy(first);
        let mut words = line.split_whitespace();
        let mut program = words.next().unwrap_or("");
        if program.rsplit('/').next() == Some("env") {
            program = words.find(|w| !w.starts_with('-')).unwrap_or("");
        }
        let base = program.rsplit('/').next().unwrap_or(program);
        // pip's launcher for long interpreter paths: `#!/bin/sh` then `'''exec' python "$0" …`.
        let exec_trick = head
            .split(|&b| b == b'\n')
            .nth(1)
            .is_some_and(|l| l.starts_with(b"'''exec'"));
        return if base.starts_with("python") || base.starts_with("pypy") || exec_trick {
            ScriptKind::Python
        } else {
            ScriptKind::Wrapper
        };
    }
    if head.starts_with(b"\x7fELF") || head.contains(&0) {
        return ScriptKind::Native;
    }
    // Text is Python source; a UTF-8 sequence cut off by the read limit still counts as text.
    match std::str::from_utf8(head) {
        Ok(_) => ScriptKind::Python,
        Err(e) if e.error_len().is_none() => ScriptKind::Python,
        Err(_) => ScriptKind::Native,
    }
}

/// Reads enough of `path` to [`classify`] it.
fn classify_file(path: &Path) -> Result<ScriptKind, LaunchError> {
    let read = || -> std::io::Result<Vec<u8>> {
        let mut head = Vec::with_capacity(4096);
        fs_err::File::open(path)?
            .take(4096)
            .read_to_end(&mut head)?;
        Ok(head)
    };
    read()
        .map(|head| classify(&head))
        .map_err(|error| LaunchError::Read {
            path: path.to_path_buf(),
            error,
        })
}

/// Returns true if and only if `name` is a script's file name worth a command: not a Windows
/// launcher (`.exe`, `.bat`, `.cmd`, `.ps1`), not hidden.
fn is_command_name(name: &str) -> bool {
    const WINDOWS: &[&str] = &[".exe", ".bat", ".cmd", ".ps1", ".dll"];
    !name.is_empty()
        && !name.starts_with('.')
        && !WINDOWS
            .iter()
            .any(|ext| name.to_ascii_lowercase().ends_with(ext))
}

/// Returns every script of `dists` and of the `--site-packages` trees `site_packages`, sorted by
/// name (a name that two distributions install comes first from the first distribution).
///
/// Scripts of a wheel are the `bin/NAME` files it installed. Files in `bin/` of a
/// `--site-packages` tree are not among any distribution's files (pip lists them in `RECORD` as
/// `../../bin/NAME`, outside the tree): the distribution whose `RECORD` has that row owns one.
pub fn collect(
    dists: &[InstalledDist],
    site_packages: &[PathBuf],
) -> Result<Vec<Script>, LaunchError> {
    let mut scripts = Vec::new();
    let mut seen: BTreeSet<(PathBuf, String)> = BTreeSet::new();
    for (i, dist) in dists.iter().enumerate() {
        for rel in &dist.files {
            let Some(name) = rel.strip_prefix("bin/").filter(|n| !n.contains('/')) else {
                continue;
            };
            if seen.insert((dist.root.clone(), rel.clone())) {
                scripts.push(Script {
                    name: name.to_string(),
                    owner: Some(i),
                    root: dist.root.clone(),
                    rel: rel.clone(),
                    kind: classify_file(&dist.root.join(rel))?,
                });
            }
        }
    }
    for tree in site_packages {
        let bin = tree.join("bin");
        let Ok(entries) = fs_err::read_dir(&bin) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect();
        names.sort();
        let owners = record_scripts(dists, tree);
        for name in names {
            let rel = format!("bin/{name}");
            if !seen.insert((tree.clone(), rel.clone())) {
                continue;
            }
            scripts.push(Script {
                owner: owners.get(&name).copied(),
                root: tree.clone(),
                kind: classify_file(&tree.join(&rel))?,
                name,
                rel,
            });
        }
    }
    scripts.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(scripts)
}

/// Maps each script name that a `RECORD` of a distribution scanned from `tree` lists as
/// `…/bin/NAME` (pip `--target`: `../../bin/NAME`) to that distribution's index.
fn record_scripts(dists: &[InstalledDist], tree: &Path) -> BTreeMap<String, usize> {
    let mut owners = BTreeMap::new();
    for (i, dist) in dists.iter().enumerate() {
        if dist.dist_info.is_empty() || dist.root != tree {
            continue;
        }
        let Ok(text) = fs_err::read_to_string(tree.join(&dist.dist_info).join("RECORD")) else {
            continue;
        };
        let Ok(rows) = crate::install::record::parse_csv(&text) else {
            continue;
        };
        for (_, fields) in rows {
            let Some(path) = fields.first() else {
                continue;
            };
            let mut rest = path.as_str();
            while let Some(r) = rest.strip_prefix("../") {
                rest = r;
            }
            if let Some(name) = rest.strip_prefix("bin/").filter(|n| !n.contains('/')) {
                owners.entry(name.to_string()).or_insert(i);
            }
        }
    }
    owners
}

/// Returns the target of the `console_scripts` (else `gui_scripts`) entry point `name` of the
/// first distribution that declares it.
fn entry_point_named(dists: &[InstalledDist], name: &str) -> bool {
    dists.iter().any(|d| {
        d.entry_points.console_script(name).is_some()
            || d.entry_points.entry("gui_scripts", name).is_some()
    })
}

/// Returns the entry of the build: a script for `-c NAME` when no distribution declares an
/// entry point NAME but one installs a script NAME, otherwise what [`point::locate`] returns.
/// An unknown NAME is an error that lists the entry points and the scripts separately.
pub fn locate_entry(
    request: &EntryRequest,
    dists: &[InstalledDist],
    scripts: &[Script],
) -> Result<Launch, LaunchError> {
    if let EntryRequest::ConsoleScript(name) = request
        && !entry_point_named(dists, name)
    {
        if let Some(i) = scripts.iter().position(|s| &s.name == name) {
            return Ok(Launch::Script(i));
        }
        let list = |names: Vec<String>| {
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        };
        let mut scripts: Vec<String> = scripts.iter().map(|s| s.name.clone()).collect();
        scripts.dedup();
        return Err(LaunchError::Unknown {
            name: name.clone(),
            dists: dists
                .iter()
                .map(|d| format!("`{}`", d.name))
                .collect::<Vec<_>>()
                .join(", "),
            entry_points: list(entry_point_names(dists).into_keys().collect()),
            scripts: list(scripts),
        });
    }
    Ok(Launch::EntryPoint(point::locate(request, dists)?))
}

/// Returns every `console_scripts` and `gui_scripts` name, each with the first distribution
/// that declares it.
fn entry_point_names(dists: &[InstalledDist]) -> BTreeMap<String, usize> {
    let mut names = BTreeMap::new();
    for (i, dist) in dists.iter().enumerate() {
        for group in ["console_scripts", "gui_scripts"] {
            for name in dist.entry_points.groups.get(group).into_iter().flatten() {
                names.entry(name.0.clone()).or_insert(i);
            }
        }
    }
    names
}

/// Returns the commands of a multi-call bundle: every `console_scripts` and `gui_scripts` entry
/// point, then every script whose name no entry point takes (Windows launchers and hidden files
/// left out), by name. An entry point whose module is not in the bundle is left out with a
/// warning; with no command at all the build fails.
pub fn commands(dists: &[InstalledDist], scripts: &[Script]) -> Result<Vec<Command>, LaunchError> {
    let mut out: BTreeMap<String, Launch> = BTreeMap::new();
    for name in entry_point_names(dists).into_keys() {
        match point::locate(&EntryRequest::ConsoleScript(name.clone()), dists) {
            Ok(located) => {
                out.insert(name, Launch::EntryPoint(located));
            }
            Err(err) => crate::ui::warn(&format!(
                "--multicall leaves out the command `{name}`: {}",
                err.to_string().lines().next().unwrap_or_default()
            )),
        }
    }
    for (i, script) in scripts.iter().enumerate() {
        if is_command_name(&script.name) && !out.contains_key(&script.name) {
            out.insert(script.name.clone(), Launch::Script(i));
        }
    }
    if out.is_empty() {
        return Err(LaunchError::NoCommands);
    }
    Ok(out
        .into_iter()
        .map(|(name, launch)| Command { name, launch })
        .collect())
}

/// Makes the scripts `used` part of their distributions' files, so that they are packed: a
/// script of a `--site-packages` tree that no `RECORD` claims joins the tree's unit of unclaimed
/// files (created when the tree has none). Updates each script's `owner`.
pub fn attach(dists: &mut Vec<InstalledDist>, scripts: &mut [Script], used: &BTreeSet<usize>) {
    for &i in used {
        let script = &mut scripts[i];
        let owner = match script.owner {
            Some(owner) => owner,
            None => {
                let unit = dists
                    .iter()
                    .position(|d| d.dist_info.is_empty() && d.root == script.root);
                // A tree whose files are all claimed has no such unit yet: its scripts start one.
                unit.unwrap_or_else(|| {
                    dists.push(InstalledDist::unclaimed(script.root.clone(), Vec::new()));
                    dists.len() - 1
                })
            }
        };
        script.owner = Some(owner);
        let files = &mut dists[owner].files;
        if let Err(at) = files.binary_search(&script.rel) {
            files.insert(at, script.rel.clone());
        }
    }
}

/// Returns the normalised names of the distributions that must be extracted because a script
/// in `used` is executed from the cache, each with the first such script's name.
pub fn extraction_needed(
    dists: &[InstalledDist],
    scripts: &[Script],
    used: &BTreeSet<usize>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for &i in used {
        let script = &scripts[i];
        if let (true, Some(owner)) = (script.kind.needs_extraction(), script.owner) {
            out.entry(normalize_name(&dists[owner].name))
                .or_insert_with(|| script.name.clone());
        }
    }
    out
}

/// Returns what the generated `__main__.py` and the manifest record for `script`, whose
/// distribution's files go under `archive_dir` in the bundle (`""` for the bundle's root,
/// `extract/<key>` for an extracted distribution): the `ENTRY` triple
/// `(kind, archive_dir, "bin/NAME")` and the manifest's entry.
pub fn script_entry(script: &Script, archive_dir: &str) -> (EntryLiteral, EntryInfo) {
    let kind = script.kind.entry_kind();
    let path = if archive_dir.is_empty() {
        script.rel.clone()
    } else {
        format!("{archive_dir}/{}", script.rel)
    };
    (
        (
            kind.as_str().to_string(),
            Some(archive_dir.to_string()),
            Some(script.rel.clone()),
        ),
        EntryInfo {
            kind,
            module: None,
            attr: None,
            console_script: Some(script.name.clone()),
            script: Some(path),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_scripts() {
        for python in [
            &b"#!python\nimport sys\n"[..],
            b"#!/usr/bin/env python3\n",
            b"#!/usr/bin/env -S python3.11 -u\n",
            b"#!/opt/venv/bin/python3.12\n",
            b"#!pythonw\n",
            b"#!/usr/bin/pypy3\n",
            b"#!/bin/sh\n'''exec' \"/x/python\" \"$0\" \"$@\"\n' '''\nimport sys\n",
            b"import sys\nprint(sys.argv)\n",
            b"",
        ] {
            assert_eq!(
                classify(python),
                ScriptKind::Python,
                "{}",
                String::from_utf8_lossy(python)
            );
        }
        for wrapper in [
            &b"#!/bin/sh\nexec python -m x \"$@\"\n"[..],
            b"#!/usr/bin/env bash\n",
            b"#! /bin/bash -e\n",
            b"#!/usr/bin/perl\n",
        ] {
            assert_eq!(classify(wrapper), ScriptKind::Wrapper);
        }
        for native in [
            &b"\x7fELF\x02\x01\x01\0\0\0"[..],
            b"\xcf\xfa\xed\xfe\x07\0\0\x01",
            b"MZ\x90\0\x03\0",
            b"\xff\xfe\xfd",
        ] {
            assert_eq!(classify(native), ScriptKind::Native);
        }
        // A UTF-8 character cut by the read limit is still text.
        assert_eq!(classify("# é".as_bytes()[..3].as_ref()), ScriptKind::Python);
    }

    #[test]
    fn command_names() {
        assert!(is_command_name("flake8"));
        assert!(is_command_name("django-admin.py"));
        assert!(!is_command_name("tool.EXE"));
        assert!(!is_command_name("tool.bat"));
        assert!(!is_command_name(".hidden"));
    }

    #[test]
    fn script_entries() {
        let script = Script {
            name: "ruff".into(),
            owner: Some(0),
            root: PathBuf::new(),
            rel: "bin/ruff".into(),
            kind: ScriptKind::Native,
        };
        let (main, info) = script_entry(&script, "extract/ruff-1-abc");
        assert_eq!(
            main,
            (
                "executable".into(),
                Some("extract/ruff-1-abc".into()),
                Some("bin/ruff".into())
            )
        );
        assert_eq!(info.script.as_deref(), Some("extract/ruff-1-abc/bin/ruff"));
        let script = Script {
            kind: ScriptKind::Python,
            ..script
        };
        let (main, info) = script_entry(&script, "");
        assert_eq!(main.0, "script");
        assert_eq!(main.1.as_deref(), Some(""));
        assert_eq!(info.script.as_deref(), Some("bin/ruff"));
    }
}
