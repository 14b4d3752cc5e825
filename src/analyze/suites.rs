//! The test suites of a distribution extracted whole that no code outside them imports (numpy's
//! 561 test files, pandas' 1,248 of 1,720): they stay in the site store, where the run time
//! still finds them on import, instead of being written to the cache on every first start.
//! Input: an [`InstalledDist`] and the files of the other distributions; output: the suite
//! directories.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use regex::bytes::Regex;

use super::{Decision, Placement, is_native_file};
use crate::install::InstalledDist;
use crate::layout::placement::{holds_code, in_tests};
use crate::name::is_identifier;

/// Leaves in the store the test suites of each distribution extracted whole that can stay there
/// (see [`stored_suites`]).
pub(super) fn leave_in_store(dists: &[InstalledDist], decisions: &mut [Decision]) {
    if !decisions.iter().any(|d| d.placement.is_whole()) {
        return;
    }
    let owners: BTreeMap<&str, usize> = dists
        .iter()
        .enumerate()
        .flat_map(|(i, d)| d.files.iter().map(move |f| (f.as_str(), i)))
        .collect();
    for (i, dist) in dists.iter().enumerate() {
        if !decisions[i].placement.is_whole() {
            continue;
        }
        let tests = stored_suites(dist, |dir| {
            let prefix = format!("{dir}/");
            owners
                .range(prefix.as_str()..)
                .take_while(|(f, _)| f.starts_with(&prefix))
                .any(|(_, &owner)| owner != i)
        });
        if !tests.is_empty() {
            decisions[i].placement = Placement::Whole {
                tests,
                parts: Vec::new(),
            };
        }
    }
}

/// Returns the test-suite directories of `dist` that can stay in the store, sorted: every
/// topmost directory named `tests` or `test` below a top-level package (every component an
/// identifier) that holds a `.py` file, no native or executable file, no file of another
/// distribution (`shared(dir)` says whether another has files below `dir`), and that no source of the distribution
/// outside the test suites imports or names (`pkg.sub.tests`, or `from .tests`/`from . import
/// tests` next to it). A source that cannot be read keeps every suite on disk.
pub(super) fn stored_suites(dist: &InstalledDist, shared: impl Fn(&str) -> bool) -> Vec<String> {
    let candidates = candidates(dist);
    if candidates.is_empty() {
        return Vec::new();
    }
    let sources: Vec<&String> = dist
        .files
        .iter()
        .filter(|f| f.ends_with(".py") && !in_tests(f))
        .collect();
    let named = match named_suites(dist, &sources, &candidates) {
        Some(named) => named,
        None => return Vec::new(),
    };
    candidates
        .into_iter()
        .filter(|dir| !named.contains(dir) && !shared(dir))
        .collect()
}

/// Returns the topmost test directories of `dist` whose files can all be imported from the
/// store (see [`stored_suites`]), sorted. One pass over the files: each belongs to at most one
/// (its first `tests`/`test` component).
fn candidates(dist: &InstalledDist) -> Vec<String> {
    // Per directory: (holds a `.py` file, holds a native or executable file).
    let mut dirs: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for f in &dist.files {
        let parts: Vec<&str> = f.split('/').collect();
        if parts.len() < 3 || !holds_code(parts[0]) {
            continue;
        }
        let Some(end) = (1..parts.len() - 1).find(|&i| matches!(parts[i], "tests" | "test")) else {
            continue;
        };
        if !parts[..=end].iter().all(|p| is_identifier(p)) {
            continue;
        }
        let (py, unimportable) = dirs.entry(parts[..=end].join("/")).or_default();
        *py |= f.ends_with(".py");
        *unimportable =
            *unimportable || is_native_file(f) || crate::fsutil::is_executable(&dist.root.join(f));
    }
    dirs.into_iter()
        .filter(|(_, (py, unimportable))| *py && !*unimportable)
        .map(|(dir, _)| dir)
        .collect()
}

/// Returns the candidate directories that some source in `sources` imports or names, or `None`
/// when a source cannot be read.
fn named_suites(
    dist: &InstalledDist,
    sources: &[&String],
    candidates: &[String],
) -> Option<BTreeSet<String>> {
    let dotted: Vec<String> = candidates
        .iter()
        .map(|d| regex::escape(&d.replace('/', ".")))
        .collect();
    let absolute = Regex::new(&format!(r"\b({})\b", dotted.join("|"))).expect("valid regex");
    let relative = Regex::new(
        r"(?m)^\s*from\s+\.(tests|test)\b|^\s*from\s+\.\s+import\s+[^\n]*\b(tests|test)\b",
    )
    .expect("valid regex");
    let found: Vec<Option<Vec<String>>> = sources
        .par_iter()
        .map(|f| {
            let bytes = fs_err::read(dist.root.join(f.as_str())).ok()?;
            let mut named: Vec<String> = absolute
                .captures_iter(&bytes)
                .map(|c| String::from_utf8_lossy(&c[1]).replace('.', "/"))
                .collect();
            let dir = f.rsplit_once('/').map_or("", |(d, _)| d);
            for c in relative.captures_iter(&bytes) {
                let name = c.get(1).or_else(|| c.get(2)).expect("one group matches");
                named.push(format!(
                    "{dir}/{}",
                    String::from_utf8_lossy(name.as_bytes())
                ));
            }
            Some(named)
        })
        .collect();
    let mut out = BTreeSet::new();
    for named in found {
        out.extend(named?);
    }
    Some(out)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::path::Path;

    /// Writes `files` (path, text) under `root` and returns them as a distribution.
    pub(in crate::analyze) fn dist(root: &Path, files: &[(&str, &str)]) -> InstalledDist {
        for (f, text) in files {
            let path = root.join(f);
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(path, text).unwrap();
        }
        let files = files.iter().map(|(f, _)| f.to_string()).collect();
        InstalledDist::unclaimed(root.to_path_buf(), files)
    }

    #[test]
    fn suites_nothing_imports_stay_in_the_store() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dist(
            tmp.path(),
            &[
                ("pkg/__init__.py", "from . import core\n"),
                ("pkg/core.py", "import os\n"),
                ("pkg/tests/__init__.py", ""),
                ("pkg/tests/test_core.py", "from pkg.core import x\n"),
                ("pkg/tests/data/a.npy", "x"),
                ("pkg/tests/deep/test/t.py", ""),
                ("pkg/sub/__init__.py", "from .tests import helper\n"),
                ("pkg/sub/tests/helper.py", ""),
                ("pkg/lib/__init__.py", "import pkg.lib.test.util\n"),
                ("pkg/lib/test/util.py", ""),
                ("pkg/ext/tests/_t.cpython-311-x86_64-linux-gnu.so", ""),
                ("pkg/ext/tests/t.py", ""),
                ("pkg/data/tests/only.txt", ""),
                ("tests/t.py", ""),
            ],
        );
        assert_eq!(stored_suites(&d, |_| false), vec!["pkg/tests"]);
        assert!(stored_suites(&d, |dir| dir == "pkg/tests").is_empty());
    }
}
