//! Decide, per distribution, whether it runs from the zip or is extracted to the cache, and why.
//! Input: the installed distributions; output: one [`Decision`] each. Native code always needs a
//! real file system, so a distribution holding any is extracted whole. Distributions that share a
//! top-level package with an extracted one are extracted too, so that no package is ever split
//! between the zip and the cache.

use std::collections::{BTreeMap, BTreeSet};

use crate::install::{InstalledDist, normalize_name};
use crate::pack::manifest::Mode;

/// Where one distribution runs from, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// zip or extract.
    pub mode: Mode,
    /// A short reason shown by `pybundle info`.
    pub reason: String,
    /// Whether the distribution holds native code.
    pub native: bool,
}

/// User overrides of the automatic decision.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Normalised names to extract whatever the analysis says.
    pub extract: BTreeSet<String>,
    /// Normalised names to keep in the zip whatever the analysis says (native code excepted).
    pub zip_safe: BTreeSet<String>,
    /// Extract everything.
    pub extract_all: bool,
}

/// Returns true if and only if `path` (a `/`-path inside a distribution) is native code or a
/// vendored shared library.
pub fn is_native_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let top = path.split('/').next().unwrap_or(path);
    name.ends_with(".so")
        || name.ends_with(".pyd")
        || name.ends_with(".dylib")
        || name.ends_with(".dll")
        || name.contains(".so.")
        || (top.ends_with(".libs") && path.contains('/'))
}

/// Returns one decision per distribution, in the same order.
pub fn decide_all(dists: &[InstalledDist], overrides: &Overrides) -> Vec<Decision> {
    let mut decisions: Vec<Decision> = dists.iter().map(|d| decide(d, overrides)).collect();
    // A top-level name shared by a zipped and an extracted distribution would split a package
    // (pkgutil-style namespaces cannot span a zip and a directory): extract all of them.
    let mut owners: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, dist) in dists.iter().enumerate() {
        for top in top_level_dirs(dist) {
            owners.entry(top).or_default().push(i);
        }
    }
    loop {
        let mut changed = false;
        for (top, idxs) in &owners {
            let Some(&extracted) = idxs.iter().find(|&&i| decisions[i].mode == Mode::Extract)
            else {
                continue;
            };
            for &i in idxs {
                if decisions[i].mode == Mode::Zip {
                    decisions[i] = Decision {
                        mode: Mode::Extract,
                        reason: format!(
                            "shares the package `{top}` with extracted `{}`",
                            dists[extracted].name
                        ),
                        native: decisions[i].native,
                    };
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    decisions
}

fn decide(dist: &InstalledDist, overrides: &Overrides) -> Decision {
    let native_file = dist.files.iter().find(|f| is_native_file(f));
    let native = native_file.is_some() || !dist.purelib;
    let name = normalize_name(&dist.name);
    let extract = |reason: String| Decision {
        mode: Mode::Extract,
        reason,
        native,
    };
    if let Some(file) = native_file {
        return extract(format!("native code (`{file}`)"));
    }
    if !dist.purelib {
        return extract("platlib wheel (Root-Is-Purelib: false)".to_string());
    }
    if overrides.extract_all {
        return extract("--extract-all".to_string());
    }
    if overrides.extract.contains(&name) {
        return extract("--extract".to_string());
    }
    Decision {
        mode: Mode::Zip,
        reason: "pure Python".to_string(),
        native,
    }
}

/// Returns the top-level package directories (and module names) a distribution writes.
fn top_level_dirs(dist: &InstalledDist) -> BTreeSet<String> {
    dist.files
        .iter()
        .filter_map(|f| {
            let (top, rest) = f.split_once('/')?;
            let importable = !top.ends_with(".dist-info")
                && !top.ends_with(".data")
                && top != "bin"
                && top != "include"
                && top != "__pycache__";
            (importable && !rest.is_empty()).then(|| top.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_files() {
        assert!(is_native_file(
            "numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"
        ));
        assert!(is_native_file(
            "numpy.libs/libopenblas64_p-r0-15028c96.3.21.so"
        ));
        assert!(is_native_file("pkg/lib.so.1"));
        assert!(!is_native_file("pkg/socket.py"));
        assert!(!is_native_file("pkg/sonnet.txt"));
    }
}
