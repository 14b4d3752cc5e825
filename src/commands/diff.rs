//! `pybundle diff A B`: what differs between two built bundles, from their manifests alone:
//! distributions added, removed or at another version (or same version, other content), manifest
//! fields (build id, entry point, target Python), and members whose content differs. Exit status
//! like `diff(1)`: 0 identical, 1 different, 2 trouble.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::bundle::Bundle;
use crate::layout::{DistInfo, Manifest};
use crate::name::normalize_name;

/// One difference between two bundles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A manifest field: (field, value in A, value in B).
    Field(&'static str, String, String),
    /// A distribution only in B: (name, version).
    DistAdded(String, String),
    /// A distribution only in A: (name, version).
    DistRemoved(String, String),
    /// A distribution at another version: (name, version in A, version in B).
    DistVersion(String, String, String),
    /// A distribution at the same version with other content: (name, version).
    DistContent(String, String),
    /// A member only in B.
    MemberAdded(String),
    /// A member only in A.
    MemberRemoved(String),
    /// A member in both with other content.
    MemberChanged(String),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Field(name, a, b) => write!(f, "~ {name}: {a} -> {b}"),
            Change::DistAdded(n, v) => write!(f, "+ distribution {n} {v}"),
            Change::DistRemoved(n, v) => write!(f, "- distribution {n} {v}"),
            Change::DistVersion(n, a, b) => write!(f, "~ distribution {n} {a} -> {b}"),
            Change::DistContent(n, v) => {
                write!(f, "~ distribution {n} {v} (same version, other content)")
            }
            Change::MemberAdded(p) => write!(f, "+ {p}"),
            Change::MemberRemoved(p) => write!(f, "- {p}"),
            Change::MemberChanged(p) => write!(f, "~ {p}"),
        }
    }
}

/// Returns every difference between the manifests `a` and `b`: fields first, then
/// distributions, then members, each in name order.
pub fn compare(a: &Manifest, b: &Manifest) -> Vec<Change> {
    let mut out = Vec::new();
    compare_fields(a, b, &mut out);
    compare_distributions(a, b, &mut out);
    compare_members(a, b, &mut out);
    out
}

/// Pushes the manifest fields that differ (build id, entry point, target Python, commands).
fn compare_fields(a: &Manifest, b: &Manifest, out: &mut Vec<Change>) {
    let commands = |m: &Manifest| -> String {
        if m.commands.is_empty() {
            return "none".to_string();
        }
        m.commands
            .iter()
            .map(|(name, entry)| format!("{name}={}", entry.target()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let fields: [(&'static str, String, String); 7] = [
        ("build id", a.build_id.clone(), b.build_id.clone()),
        ("entry point", a.entry.describe(), b.entry.describe()),
        (
            "python",
            format!("{} {}", a.python.implementation, a.python.version),
            format!("{} {}", b.python.implementation, b.python.version),
        ),
        (
            "platform",
            a.python.platform.clone(),
            b.python.platform.clone(),
        ),
        (
            "shebang",
            a.python.shebang.clone(),
            b.python.shebang.clone(),
        ),
        (
            "pybundle version",
            a.pybundle_version.clone(),
            b.pybundle_version.clone(),
        ),
        ("commands", commands(a), commands(b)),
    ];
    for (name, x, y) in fields {
        if x != y {
            out.push(Change::Field(name, x, y));
        }
    }
}

/// Pushes the distributions (by normalized name) removed, at another version or with other
/// content, then those added.
fn compare_distributions(a: &Manifest, b: &Manifest, out: &mut Vec<Change>) {
    let by_name = |m: &Manifest| -> BTreeMap<String, DistInfo> {
        m.distributions
            .iter()
            .map(|d| (normalize_name(&d.name), d.clone()))
            .collect()
    };
    let (da, db) = (by_name(a), by_name(b));
    for (key, x) in &da {
        match db.get(key) {
            None => out.push(Change::DistRemoved(x.name.clone(), x.version.clone())),
            Some(y) if x.version != y.version => out.push(Change::DistVersion(
                x.name.clone(),
                x.version.clone(),
                y.version.clone(),
            )),
            Some(y) if x.sha256 != y.sha256 => {
                out.push(Change::DistContent(x.name.clone(), x.version.clone()));
            }
            Some(_) => {}
        }
    }
    for (key, y) in &db {
        if !da.contains_key(key) {
            out.push(Change::DistAdded(y.name.clone(), y.version.clone()));
        }
    }
}

/// Pushes the members removed or changed, then those added.
fn compare_members(a: &Manifest, b: &Manifest, out: &mut Vec<Change>) {
    for (path, x) in &a.members {
        match b.members.get(path) {
            None => out.push(Change::MemberRemoved(path.clone())),
            Some(y) if y.sha256 != x.sha256 => out.push(Change::MemberChanged(path.clone())),
            Some(_) => {}
        }
    }
    for path in b.members.keys() {
        if !a.members.contains_key(path) {
            out.push(Change::MemberAdded(path.clone()));
        }
    }
}

/// Prints the differences between the bundles `a` and `b`; returns true if and only if they are
/// identical.
pub fn diff(a: &Path, b: &Path) -> Result<bool> {
    let ma = Bundle::open(a)?.manifest;
    let mb = Bundle::open(b)?.manifest;
    let changes = compare(&ma, &mb);
    let mut out = std::io::stdout().lock();
    if changes.is_empty() {
        writeln!(out, "identical (build id {})", ma.build_id)?;
        return Ok(true);
    }
    writeln!(out, "--- {}", a.display())?;
    writeln!(out, "+++ {}", b.display())?;
    for change in &changes {
        writeln!(out, "{change}")?;
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{EntryInfo, EntryKind, MemberInfo, Mode, PythonInfo};

    fn manifest(dists: &[(&str, &str)], members: &[(&str, &str)]) -> Manifest {
        Manifest {
            schema: 1,
            build_id: "id".into(),
            pybundle_version: "0.1.0".into(),
            built_at: None,
            entry: EntryInfo {
                kind: EntryKind::Module,
                module: Some("app".into()),
                attr: None,
                console_script: None,
                script: None,
            },
            python: PythonInfo {
                implementation: "cpython".into(),
                version: "3.11".into(),
                cache_tag: "cpython-311".into(),
                platform: "linux-x86_64".into(),
                sys_platform: "linux".into(),
                machine: "x86_64".into(),
                ext_suffix: ".so".into(),
                requires_python: None,
                native: false,
                shebang: "/usr/bin/env python3".into(),
            },
            distributions: dists
                .iter()
                .map(|(n, v)| DistInfo {
                    tests: None,
                    parts: Vec::new(),
                    name: (*n).into(),
                    version: (*v).into(),
                    mode: Mode::Zip,
                    reason: String::new(),
                    key: None,
                    files: 1,
                    size: 1,
                    sha256: format!("{n}{v}"),
                    unit: None,
                    wheel: None,
                    license: None,
                    summary: None,
                    tags: vec![],
                    top_level: vec![],
                })
                .collect(),
            commands: Default::default(),
            lock: None,
            venv: None,
            members: members
                .iter()
                .map(|(p, h)| {
                    (
                        (*p).to_string(),
                        MemberInfo {
                            size: 1,
                            sha256: (*h).into(),
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn identical() {
        let m = manifest(&[("a", "1")], &[("a.py", "x")]);
        assert!(compare(&m, &m).is_empty());
    }

    #[test]
    fn every_kind_of_change() {
        let a = manifest(&[("a", "1"), ("b", "1")], &[("a.py", "x"), ("b.py", "y")]);
        let mut b = manifest(&[("A", "2"), ("c", "1")], &[("a.py", "z"), ("c.py", "y")]);
        b.build_id = "other".into();
        b.commands.insert(
            "tool".into(),
            EntryInfo {
                kind: crate::layout::EntryKind::Script,
                module: None,
                attr: None,
                console_script: Some("tool".into()),
                script: Some("bin/tool".into()),
            },
        );
        let text: Vec<String> = compare(&a, &b).iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "~ build id: id -> other",
                "~ commands: none -> tool=script `bin/tool` (Python)",
                "~ distribution a 1 -> 2",
                "- distribution b 1",
                "+ distribution c 1",
                "~ a.py",
                "- b.py",
                "+ c.py",
            ]
        );
    }
}
