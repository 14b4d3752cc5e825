//! The subpackages of a distribution extracted whole that a start writes to its cache entry
//! only when they are first imported (scipy's `stats`, `optimize`, `sparse`… when the
//! application imports only `scipy.linalg`): a first start writes the rest of the distribution
//! (its top-level modules, shared libraries and every subpackage that cannot wait) and leaves
//! each of these in the inner archive until its import. Input: an [`InstalledDist`] extracted
//! whole and the path uses of every distribution; output: the subpackage directories.

use std::collections::{BTreeMap, BTreeSet};

use regex::bytes::Regex;

use super::unit::{self, Layout, Target, under};
use super::{Decision, Overrides, Reason, is_native_file};
use crate::install::InstalledDist;
use crate::name::is_identifier;
use crate::name::normalize_name;

/// Gives each distribution extracted whole for its native code or its own path uses the
/// subpackages that can wait for their import (see [`deferred`]). Distributions whose top-level
/// name another distribution's path use names (`dirname(scipy.__file__)`) get none, nor those
/// `--extract`/`--extract-all` names: the user wants every file on disk.
pub(super) fn defer_parts(
    dists: &[InstalledDist],
    decisions: &mut [Decision],
    overrides: &Overrides,
) {
    let whole: Vec<usize> = (0..dists.len())
        .filter(|&i| decisions[i].placement.is_whole())
        .filter(|&i| {
            matches!(
                decisions[i].reason,
                Reason::Native(_) | Reason::Platlib | Reason::Scan(_)
            )
        })
        .filter(|&i| {
            !overrides.extract_all && !overrides.extract.contains(&normalize_name(&dists[i].name))
        })
        .collect();
    if whole.is_empty() {
        return;
    }
    let owners: BTreeMap<&str, usize> = dists
        .iter()
        .enumerate()
        .flat_map(|(i, d)| d.files.iter().map(move |f| (f.as_str(), i)))
        .collect();
    let mut named: BTreeSet<String> = BTreeSet::new();
    let mut reach: BTreeMap<usize, Option<Uses>> = BTreeMap::new();
    for (i, dist) in dists.iter().enumerate() {
        let scanned = reached(dist);
        if let Some((_, foreign)) = &scanned {
            named.extend(foreign.iter().cloned());
        }
        if whole.contains(&i) {
            reach.insert(i, scanned.map(|(uses, _)| uses));
        }
    }
    for i in whole {
        let Some(Some(uses)) = reach.get(&i) else {
            continue;
        };
        let dist = &dists[i];
        let tests = decisions[i].placement.tests().to_vec();
        let parts = deferred(dist, &tests, uses, |dir| {
            let prefix = format!("{dir}/");
            let top = dir.split('/').next().unwrap_or(dir);
            named.contains(top)
                || owners
                    .range(prefix.as_str()..)
                    .take_while(|(f, _)| f.starts_with(&prefix))
                    .any(|(_, &owner)| owner != i)
        });
        if !parts.is_empty() {
            decisions[i].placement = super::Placement::Whole { tests, parts };
        }
    }
}

/// Path uses as (the file that uses a path, the directory it reaches).
type Uses = Vec<(String, String)>;

/// What the path uses of `dist`'s own code reach, as (file, directory) pairs, and the top-level
/// names of other distributions whose files they turn into paths; `None` when a use may reach
/// anything (a top-level module's use, code run by path, an unreadable source, a not-zip-safe
/// flag or a `.pth` file that runs code). A listing or walk, and the file of a module that
/// cannot be told, reach the top-level package of the file that uses them. Uses in doctest
/// lines (`>>> import scipy.io as sio`) and in modules that import pytest do not count.
fn reached(dist: &InstalledDist) -> Option<(Uses, BTreeSet<String>)> {
    if unit::declared_whole(dist).is_some() {
        return None;
    }
    let (_, sources) = unit::read_sources(dist);
    let layout = Layout::of(dist);
    let mut out = Vec::new();
    let mut foreign = BTreeSet::new();
    for (f, s) in &sources {
        if s.unreadable || s.exec_use.is_some() {
            return None;
        }
        // Test tooling (numpy's `_pytesttester`, scipy's `_testutils`): it hands pytest the
        // package's directory, where the test suites are not anyway (they stay in the store).
        if s.uses.is_empty()
            || s.imports
                .values()
                .any(|m| m == "pytest" || m.starts_with("pytest."))
        {
            continue;
        }
        if !f.contains('/') {
            return None;
        }
        let text = fs_err::read(dist.root.join(f)).ok()?;
        let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
        let top = f.split('/').next().unwrap_or(f);
        for u in &s.uses {
            let line = lines
                .get(u.line.saturating_sub(1))
                .map_or(&b""[..], |l| l.trim_ascii_start());
            if line.starts_with(b">>>") || line.starts_with(b"...") {
                continue;
            }
            let dir = match layout.target(f, &s.imports, &u.reach, &mut foreign) {
                (Target::Dir(d), false) => d,
                _ => top.to_string(),
            };
            out.push((f.to_string(), dir));
        }
    }
    Some((out, foreign))
}

/// Returns the subpackages of `dist` that can wait for their first import, sorted: every
/// directory `P/S` where `P` is a top-level regular package and `S` a regular package in it
/// (both with an `__init__.py`, every component an identifier), that is not a test suite left
/// in the store (`tests`), that holds no executable file but its native code, that `blocked(dir)` does not rule out (another distribution has
/// files below it or names its top-level package in a path use), that no path use of the
/// distribution outside it reaches (`uses`: a use reaching the directory, one below it or one
/// above it, `dirname(scipy.__file__)`, keeps it with the rest), and whose shared libraries
/// (native files that are not extension modules) no native file outside it names, as the
/// dynamic loader would look them up.
pub(super) fn deferred(
    dist: &InstalledDist,
    tests: &[String],
    uses: &[(String, String)],
    blocked: impl Fn(&str) -> bool,
) -> Vec<String> {
    let files: BTreeSet<&str> = dist.files.iter().map(String::as_str).collect();
    let mut candidates: Vec<String> = dist
        .files
        .iter()
        .filter_map(|f| {
            let dir = f.strip_suffix("/__init__.py")?;
            let (top, sub) = dir.split_once('/')?;
            let ok = !sub.contains('/')
                && is_identifier(top)
                && is_identifier(sub)
                && files.contains(format!("{top}/__init__.py").as_str())
                && !tests.iter().any(|t| under(dir, t));
            ok.then(|| dir.to_string())
        })
        .filter(|dir| !blocked(dir))
        // A program run by path (`executable` entries, subprocesses) must be on disk.
        .filter(|dir| {
            let prefix = format!("{dir}/");
            !files
                .range(prefix.as_str()..)
                .take_while(|f| f.starts_with(&prefix))
                .any(|f| !is_native_file(f) && crate::fsutil::is_executable(&dist.root.join(f)))
        })
        .filter(|dir| {
            !uses
                .iter()
                .any(|(f, d)| !under(f, dir) && (under(d, dir) || under(dir, d) || d.is_empty()))
        })
        .collect();
    candidates.sort();
    let libraries = named_libraries(dist, &candidates);
    candidates.retain(|dir| !libraries.contains(dir));
    candidates
}

/// Returns the candidates holding a shared library (a native file that is not an extension
/// module, `scipy/special/libsf_error_state.so`) whose file name a native file outside the
/// candidate contains (as its list of needed libraries does); an unreadable native file
/// keeps every such candidate.
fn named_libraries(dist: &InstalledDist, candidates: &[String]) -> BTreeSet<String> {
    let mut libraries: Vec<(&str, &str)> = Vec::new();
    for f in &dist.files {
        let name = f.rsplit('/').next().unwrap_or(f);
        if !is_native_file(f) || is_extension_module(name) {
            continue;
        }
        if let Some(dir) = candidates.iter().find(|d| under(f, d)) {
            libraries.push((dir.as_str(), name));
        }
    }
    if libraries.is_empty() {
        return BTreeSet::new();
    }
    let names: Vec<String> = libraries.iter().map(|(_, n)| regex::escape(n)).collect();
    let pattern = Regex::new(&names.join("|")).expect("escaped names form a valid regex");
    let mut out = BTreeSet::new();
    for f in dist.files.iter().filter(|f| is_native_file(f)) {
        let Ok(bytes) = fs_err::read(dist.root.join(f)) else {
            out.extend(libraries.iter().map(|(d, _)| d.to_string()));
            break;
        };
        for m in pattern.find_iter(&bytes) {
            for (dir, name) in &libraries {
                if m.as_bytes() == name.as_bytes() && !under(f, dir) {
                    out.insert(dir.to_string());
                }
            }
        }
    }
    out
}

/// Returns true if the file name `name` is an extension module the import system loads
/// (`_ufuncs.cpython-311-x86_64-linux-gnu.so`, `_x.abi3.so`, `_x.pyd`), not a library other
/// native code links against.
fn is_extension_module(name: &str) -> bool {
    let stem = match name
        .strip_suffix(".so")
        .or_else(|| name.strip_suffix(".pyd"))
    {
        Some(stem) => stem,
        None => return false,
    };
    let module = stem.split('.').next().unwrap_or(stem);
    !module.starts_with("lib") && is_identifier(module)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::suites::tests::dist;

    #[test]
    fn subpackages_nothing_reaches_by_path_wait_for_their_import() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dist(
            tmp.path(),
            &[
                ("pkg/__init__.py", "from . import core\n"),
                ("pkg/core.py", "import os\n"),
                (
                    "pkg/_core.cpython-311-x86_64-linux-gnu.so",
                    "needs libshared.so",
                ),
                ("pkg/fast/__init__.py", ""),
                (
                    "pkg/fast/_f.cpython-311-x86_64-linux-gnu.so",
                    "needs libown.so",
                ),
                ("pkg/fast/libown.so", ""),
                ("pkg/linked/__init__.py", ""),
                ("pkg/linked/libshared.so", ""),
                ("pkg/data/__init__.py", ""),
                ("pkg/data/table.csv", ""),
                ("pkg/reader/__init__.py", ""),
                (
                    "pkg/reader/load.py",
                    "import os\nHERE = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'data')\n",
                ),
                ("pkg/selfish/__init__.py", ""),
                (
                    "pkg/selfish/own.py",
                    "import os\nHERE = os.path.dirname(__file__)\n",
                ),
                ("pkg/tests/__init__.py", ""),
                ("pkg/selfish/tests/__init__.py", ""),
                ("pkg/deep/inner/__init__.py", ""),
                ("pkg/spaced/mod.py", ""),
                ("loose/__init__.py", ""),
            ],
        );
        let (uses, _) = reached(&d).expect("no use reaches everything");
        let tests = vec!["pkg/selfish/tests".to_string(), "pkg/tests".to_string()];
        assert_eq!(
            deferred(&d, &tests, &uses, |_| false),
            vec!["pkg/reader"],
            "reader's use climbs to pkg, above every subpackage but its own"
        );
        fs_err::write(tmp.path().join("pkg/reader/load.py"), "import os\n").unwrap();
        let (uses, _) = reached(&d).unwrap();
        assert_eq!(
            deferred(&d, &tests, &uses, |_| false),
            vec!["pkg/data", "pkg/fast", "pkg/reader", "pkg/selfish"],
            "linked holds a library that pkg/_core names; fast's library is named inside it"
        );
        assert_eq!(
            deferred(&d, &tests, &uses, |dir| dir == "pkg/fast"),
            vec!["pkg/data", "pkg/reader", "pkg/selfish"]
        );
        fs_err::write(
            tmp.path().join("pkg/fast/__init__.py"),
            "import os\nfor f in os.listdir(os.path.dirname(__file__)): pass\n\"\"\"\n>>> os.path.dirname(sio.__file__)\n\"\"\"\n",
        )
        .unwrap();
        let (uses, _) = reached(&d).unwrap();
        assert_eq!(
            deferred(&d, &tests, &uses, |_| false),
            vec!["pkg/fast"],
            "a listing reaches its top-level package; a doctest line does not count"
        );
        fs_err::write(
            tmp.path().join("top.py"),
            "import os\nX = os.path.dirname(__file__)\n",
        )
        .unwrap();
        let mut d = d;
        d.files.push("top.py".into());
        assert!(
            reached(&d).is_none(),
            "a top-level module's use reaches the site root"
        );
    }
}
