//! Decide, per distribution, whether it runs from the zip or is extracted to the cache, what part
//! of it is extracted, and why. Input: the installed distributions and the user's [`Overrides`];
//! output: one [`Decision`] each.
//!
//! Rules, first match wins:
//! 1. native code (or a platlib wheel) → extract whole, whatever `--zip-safe` says;
//! 2. `--extract-all` / `--extract` → extract whole; `--zip-safe` → zip;
//! 3. a `not-zip-safe` flag in `*.egg-info`/`*.dist-info` → extract whole;
//! 4. a top-level `.pth` file that runs code → extract whole;
//! 5. Python code that turns `__file__`/`__path__` into file-system paths (`os.path.dirname(__file__)`,
//!    `Path(__file__)`, `os.listdir(__path__[0])`, `pkg_resources.resource_filename`,
//!    `importlib.resources.as_file`/`path`, which hand out a real file as certifi's `where()`
//!    does for OpenSSL) → extract, and only the [`Unit`] those uses reach when it is less than
//!    the whole (see below);
//! 6. code that runs files by path (`exec(open(…))`, `execfile`, `runpy.run_path`) → extract whole;
//! 7. data files next to modules when no code of the distribution reads resources through a
//!    loader (`importlib.resources`, `pkgutil.get_data`, `pkg_resources.resource_string`) →
//!    extract whole, unless no code of its own that runs on import can find where its modules
//!    are (no `__file__`, `__path__`, `__spec__`, `inspect.getfile`, `sys.path`, …): then
//!    nothing of its own opens them by path, whoever reads them goes through the loader (the
//!    stdlib's `zoneinfo` reads tzdata with `importlib.resources`) or opens a path it was given
//!    (pycparser's `_c_ast.cfg`, named only by its code generator's `__main__` block) → zip.
//!    Such a distribution is extracted whole after all when another distribution's path use
//!    points at it (`dirname(tzdata.__file__)` after `import tzdata`);
//! 8. otherwise zip.
//!
//! The unit of rule 5: every path use of the distribution is collected with what it reaches.
//! `dirname(__file__)`, `Path(__file__).parent`, `abspath(__file__)` reach the module's own
//! directory; each further `dirname(`, `.parent`, `..` component or `os.pardir` in the statement,
//! or in the statements that use the name it is assigned to, climbs one level
//! (`.parents[N]` climbs N). `X.__file__` reaches the directory of the module `X` names through
//! the file's imports (absolute or relative), or, when that cannot be told, the top-level package
//! holding the file. `resource_filename`/`as_file`/`resources.path` reach the package their
//! literal first argument names, else the top-level package of the caller. The unit is the
//! deepest package directory (a directory of the distribution holding `.py` files, regular
//! package or PEP 420 portion, every component an identifier) holding every path-using module
//! and everything reached. The distribution stays whole when a use lists or walks directories
//! (`listdir`, `os.walk`, `glob`, `iterdir`, `__path__[0]`: plugin discovery such as Twisted's),
//! when a top-level module (`six.py`) uses paths, when the unit would be the site root (unless
//! the distribution installs one top-level package and nothing else but metadata and scripts:
//! then that package is the unit, which keeps the `.dist-info` in the bundle), when it also
//! runs files by path, when data files outside the unit have no loader-based reader and some
//! code locates modules in a way the uses do not explain, when another distribution has files
//! at or below the unit's directory, or when another distribution's path use may reach the part
//! left in the bundle: it names one of the distribution's top-level modules that is not the unit
//! (`dirname(lib.__file__)` after `import lib`), or it shares a top-level directory with it and
//! turns modules it is handed into paths (azure-cli-core lists `dirname(pkg.__file__)` for the
//! `aaz` packages of azure-cli's command modules). In that last case the unit grows instead, to
//! the package holding every package of the distribution, when there is one and the only files
//! outside it are modules in namespace directories above it: azure-cli's unit is
//! `azure/cli/command_modules` (its `azure/cli/__main__.py` stays in the bundle), so
//! `python -m azure.cli --version` extracts none of it. Distributions extracted for native code
//! or by an override are not scanned, so their path uses do not count here.
//!
//! The unit's trigger (the import that extracts it) is its package, except when every use is in
//! one module directly in the unit's directory and is about that module's own `__file__`: then
//! it is that module. A `__main__.py` (run only by `python -m pkg`) or a console-script helper
//! therefore extracts nothing until it runs (portalocker's `__main__`, semver's `__main__`); the
//! rest of the package is imported from the zip first, and the module itself, loaded from disk,
//! finds its siblings there. A use of another module's `__file__` does not get a module
//! trigger: that module may already be imported from the zip when the trigger fires, its
//! `__file__` in the zip. So argcomplete's shell helper (`argcomplete/scripts/…`, reading
//! `dirname(argcomplete.__file__)`) makes the unit `argcomplete` with the trigger `argcomplete`.
//!
//! Distributions that share a package directory holding an `__init__.py` (or a namespace set up
//! by a legacy `-nspkg.pth`) with one extracted whole are extracted whole too, so that no regular
//! package is split between the zip and the cache; PEP 420 portions may be. A unit claims only
//! its own directory and those below it: distributions that share its ancestors (`azure/`,
//! `azure/cli/`, `sphinxcontrib/`) are not pulled in.
//!
//! Files under `tests/` and `test/` directories are not read (they do not run in a bundle; those
//! of a distribution extracted whole stay in the store, see `suites.rs`), nor are comment lines
//! and `if __name__ == "__main__":` bodies. The analysis errs on the side of extracting: a false
//! positive costs a one-time extraction, a false negative a crash.

mod parts;
mod scan;
mod suites;
mod unit;

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use crate::config::Overrides;
use crate::install::InstalledDist;
use crate::layout::placement::holds_code;
pub use crate::layout::placement::{Placement, Unit};
use crate::name::normalize_name;

/// Why a distribution is placed as it is; shown by `pybundle info` and `-v` as its
/// [`Display`](std::fmt::Display) text, the manifest's `reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// It holds native code: this file.
    Native(String),
    /// A platlib wheel (`Root-Is-Purelib: false`).
    Platlib,
    /// `--extract-all` (also every distribution of a `--venv` bundle).
    ExtractAll,
    /// `--extract NAME`.
    ExtractFlag,
    /// `--zip-safe NAME`.
    ZipSafeFlag,
    /// Extracted because its script, this one, is executed from the cache.
    ScriptExecuted(String),
    /// Installed into the environment of a `--venv` bundle.
    Venv,
    /// This other distribution finds its files by path (rule 7's exception).
    FoundByPath(String),
    /// It shares a package directory (dotted) with a distribution extracted whole.
    SharesPackage {
        /// The dotted package.
        package: String,
        /// The distribution extracted whole.
        with: String,
    },
    /// What the scan of its own sources found (rules 4 to 7).
    Scan(String),
    /// Extracted whole although its scan asked for a unit: the first reason, and why whole.
    Whole(Box<Reason>, String),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Native(file) => write!(f, "native code (`{file}`)"),
            Reason::Platlib => f.write_str("platlib wheel (Root-Is-Purelib: false)"),
            Reason::ExtractAll => f.write_str("--extract-all"),
            Reason::ExtractFlag => f.write_str("--extract"),
            Reason::ZipSafeFlag => f.write_str("--zip-safe"),
            Reason::ScriptExecuted(script) => {
                write!(f, "its script `{script}` is executed from the cache")
            }
            Reason::Venv => f.write_str("installed into the bundle's virtual environment"),
            Reason::FoundByPath(other) => write!(
                f,
                "`{other}` finds its files by path (a path use of its module)"
            ),
            Reason::SharesPackage { package, with } => {
                write!(f, "shares the package `{package}` with extracted `{with}`")
            }
            Reason::Scan(text) => f.write_str(text),
            Reason::Whole(first, why) => write!(f, "{first}; whole: {why}"),
        }
    }
}

impl Reason {
    /// Returns this reason with `why` the distribution is extracted whole after all.
    fn made_whole(self, why: String) -> Reason {
        Reason::Whole(Box::new(self), why)
    }
}

/// Where one distribution runs from, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Zip, extract whole, or extract a unit.
    pub placement: Placement,
    /// Why.
    pub reason: Reason,
    /// Whether the distribution holds native code.
    pub native: bool,
}

impl Decision {
    /// Extracts the distribution whole, the reason extended with `why` when it had a unit.
    fn make_whole(&mut self, why: String) {
        let reason = std::mem::replace(&mut self.reason, Reason::Platlib);
        self.reason = reason.made_whole(why);
        self.placement = Placement::whole();
    }
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

/// A build request the analysis cannot carry out.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// `--extract`/`--zip-safe` named distributions that are not in the bundle.
    #[error(
        "{flag} names distributions that are not in the bundle: {names}\nhint: use the names `pybundle info` lists (normalized, e.g. `zope-interface`)"
    )]
    UnknownDist {
        /// The flag, e.g. `--extract`.
        flag: &'static str,
        /// The unknown names, in backticks, comma-separated.
        names: String,
    },
}

/// The analysis of every distribution: what the build packs, and what it tells the user.
#[derive(Debug, Clone)]
pub struct Analyzed<'a> {
    /// Every distribution with its decision, in the order of the distributions.
    pub decisions: Vec<(&'a InstalledDist, Decision)>,
    /// Warnings for the user (an override that cannot be honoured), in the same order; the
    /// caller prints them.
    pub warnings: Vec<String>,
}

/// What [`decide`] found besides the decision, for the rules across distributions.
struct Facts {
    /// Zipped by rule 7 (data files no code of its own finds by path).
    data_only: bool,
    /// What its path uses point at outside the distribution.
    refs: unit::Refs,
}

/// Returns every distribution with its decision, in the same order, with the warnings to show,
/// and fails when an override names a distribution that is not in `dists`. Prints nothing.
pub fn decide_all<'a>(
    dists: &'a [InstalledDist],
    overrides: &Overrides,
) -> Result<Analyzed<'a>, AnalyzeError> {
    let known: BTreeSet<String> = dists.iter().map(|d| normalize_name(&d.name)).collect();
    for (flag, set) in [
        ("--extract", &overrides.extract),
        ("--zip-safe", &overrides.zip_safe),
    ] {
        let unknown: Vec<String> = set
            .iter()
            .filter(|n| !known.contains(*n))
            .map(|n| format!("`{n}`"))
            .collect();
        if !unknown.is_empty() {
            return Err(AnalyzeError::UnknownDist {
                flag,
                names: unknown.join(", "),
            });
        }
    }
    let decided: Vec<(Decision, Option<String>, Facts)> =
        dists.par_iter().map(|d| decide(d, overrides)).collect();
    let mut decisions = Vec::with_capacity(dists.len());
    let mut warnings = Vec::new();
    let mut facts = Vec::with_capacity(dists.len());
    for (decision, warning, fact) in decided {
        decisions.push(decision);
        warnings.extend(warning);
        facts.push(fact);
    }
    pull_found_data(dists, &facts, &mut decisions);
    whole_when_reached(dists, &facts, &mut decisions);
    whole_when_shared_below(dists, &mut decisions);
    pull_sharing(dists, &mut decisions);
    if !overrides.venv {
        suites::leave_in_store(dists, &mut decisions);
        parts::defer_parts(dists, &mut decisions, overrides);
    }
    Ok(Analyzed {
        decisions: dists.iter().zip(decisions).collect(),
        warnings,
    })
}

/// Rule 7's exception: a distribution zipped because no code of its own finds its data by path
/// is extracted whole when another distribution's path use points at one of its top-level names.
fn pull_found_data(dists: &[InstalledDist], facts: &[Facts], decisions: &mut [Decision]) {
    for (i, dist) in dists.iter().enumerate() {
        if !facts[i].data_only || decisions[i].placement != Placement::Zip {
            continue;
        }
        let tops = top_level_names(dist);
        let finder = facts
            .iter()
            .enumerate()
            .find(|(j, f)| *j != i && f.refs.foreign.iter().any(|n| tops.contains(n)));
        // A framework that turns the modules it is handed into paths (Flask's `get_root_path`,
        // Django's app configs) may be handed any module: data files in a directory that is
        // not a package (`app/templates/`) must be on disk then. Data laid out as packages to
        // be read through the loader (tzdata: an `__init__.py` in every zone directory) stays
        // zipped.
        let packages: BTreeSet<&str> = dist
            .files
            .iter()
            .filter_map(|f| f.strip_suffix("/__init__.py"))
            .collect();
        let loose_data = dist.files.iter().any(|f| {
            !f.ends_with(".py")
                && !f.contains(".dist-info/")
                && f.rsplit_once('/')
                    .is_some_and(|(dir, _)| !packages.contains(dir))
        });
        let framework = facts
            .iter()
            .enumerate()
            .find(|(j, f)| *j != i && loose_data && f.refs.unknown.is_some());
        if let Some((j, _)) = finder.or(framework) {
            decisions[i] = Decision {
                placement: Placement::whole(),
                reason: Reason::FoundByPath(dists[j].name.clone()),
                native: decisions[i].native,
            };
        }
    }
}

/// A unit is only the part of a distribution its own path uses reach: when another
/// distribution's path use reaches it, it is extracted whole. That is the case when the other one
/// turns one of its top-level modules into a path (`dirname(tzdata.__file__)` after `import
/// tzdata`) and the unit is not that whole package, and when the other one turns modules it is
/// handed into paths (azure-cli-core lists `dirname(pkg.__file__)` for the `aaz` packages of
/// azure-cli's command modules) and shares a top-level directory with it: those modules may be
/// any of the family's.
fn whole_when_reached(dists: &[InstalledDist], facts: &[Facts], decisions: &mut [Decision]) {
    let tops: Vec<BTreeSet<String>> = dists.iter().map(top_level_names).collect();
    for (i, decision) in decisions.iter_mut().enumerate() {
        let Some(unit) = decision.placement.unit() else {
            continue;
        };
        let why = facts.iter().enumerate().find_map(|(j, f)| {
            if j == i {
                return None;
            }
            if let Some(name) = f.refs.foreign.iter().find(|n| tops[i].contains(*n))
                && *name != unit.dir
            {
                return Some(Reached::Module(format!(
                    "`{}` turns its module `{name}` into a path",
                    dists[j].name
                )));
            }
            let shared = tops[j].iter().find(|t| {
                tops[i].contains(*t)
                    && dists[j]
                        .files
                        .iter()
                        .any(|f| f.starts_with(&format!("{t}/")))
            })?;
            let what = f.refs.unknown.as_ref()?;
            Some(Reached::Handed(format!(
                "`{}` shares `{shared}` and turns modules it is handed into paths ({what})",
                dists[j].name
            )))
        });
        match why {
            Some(Reached::Handed(why)) => match every_package(&dists[i], &unit.dir) {
                Some(dir) => {
                    decision.placement = Placement::Unit(Unit {
                        why: format!("every package of the distribution is under `{dir}`: {why}"),
                        trigger: dir.replace('/', "."),
                        dir,
                    });
                }
                None => decision.make_whole(why),
            },
            Some(Reached::Module(why)) => decision.make_whole(why),
            None => {}
        }
    }
}

/// How another distribution's path use reaches a unit (see [`whole_when_reached`]).
enum Reached {
    /// It turns one of the distribution's modules into a path, outside the unit.
    Module(String),
    /// It turns modules it is handed into paths, and shares a top-level directory.
    Handed(String),
}

/// The package directory holding every package of `dist` and `unit`, when the modules a
/// framework can be handed are all inside it or sit next to its ancestors: azure-cli's
/// `azure/cli/command_modules` (the only file outside is `azure/cli/__main__.py`, in the
/// namespace `azure.cli`). A handed package is listed below its own directory, which is then
/// on disk; a handed module outside is in a namespace directory the bundle serves as it does
/// without units. None when a package, a top-level module, or a data file next to such a
/// module is outside it: the distribution goes whole then.
fn every_package(dist: &InstalledDist, unit: &str) -> Option<String> {
    let packages: BTreeSet<&str> = dist
        .files
        .iter()
        .filter(|f| !unit::is_meta(f.split('/').next().unwrap_or(f)))
        .filter_map(|f| f.strip_suffix("/__init__.py"))
        .collect();
    let mut dir = unit.to_string();
    for p in &packages {
        dir = unit::common_ancestor(&dir, p);
    }
    if !packages.contains(dir.as_str()) {
        return None;
    }
    let prefix = format!("{dir}/");
    let ancestor = |d: &str| prefix.starts_with(&format!("{d}/"));
    let outside_ok = dist.files.iter().all(|f| {
        let top = f.split('/').next().unwrap_or(f);
        if f.starts_with(&prefix) || !holds_code(top) || f.contains("/__pycache__/") {
            return true;
        }
        let Some((parent, _)) = f.rsplit_once('/') else {
            return false; // a top-level module or file: its directory is the site root
        };
        // a module only in a namespace directory above it; no other file there, which a
        // listing of that directory could look for
        ancestor(parent) == f.ends_with(".py")
    });
    outside_ok.then_some(dir)
}

/// A unit another distribution has files at or below is not a subtree of one distribution: the
/// owner of the unit is extracted whole instead.
fn whole_when_shared_below(dists: &[InstalledDist], decisions: &mut [Decision]) {
    for (i, decision) in decisions.iter_mut().enumerate() {
        let Some(unit) = decision.placement.unit() else {
            continue;
        };
        let prefix = format!("{}/", unit.dir);
        let other = dists.iter().enumerate().find(|(j, d)| {
            *j != i
                && d.files
                    .iter()
                    .any(|f| f.starts_with(&prefix) && !f.contains("/__pycache__/"))
        });
        if let Some((_, other)) = other {
            let why = format!("`{}` also has files under `{}`", other.name, unit.dir);
            decision.make_whole(why);
        }
    }
}

/// A package directory with an `__init__.py` (regular or pkgutil-style), or a namespace set up
/// by a legacy `-nspkg.pth`, shared by a distribution extracted whole and another one (zipped,
/// or extracted as a unit) would be split: extract all of them whole. Pure PEP 420 namespaces
/// (no `__init__.py` in the shared directory in any distribution) are fine: zipimport and the
/// path finder each contribute a portion. Only wholly extracted distributions pull: a unit's
/// own directories are never shared (see [`whole_when_shared_below`]), and its ancestors stay
/// in the bundle.
fn pull_sharing(dists: &[InstalledDist], decisions: &mut [Decision]) {
    let mut owners: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut regular: BTreeSet<String> = BTreeSet::new();
    let mut nspkg: BTreeSet<usize> = BTreeSet::new();
    for (i, dist) in dists.iter().enumerate() {
        for dir in package_dirs(dist) {
            owners.entry(dir).or_default().push(i);
        }
        for f in &dist.files {
            if let Some(dir) = f.strip_suffix("/__init__.py") {
                regular.insert(dir.to_string());
            }
            if !f.contains('/') && f.ends_with("-nspkg.pth") {
                nspkg.insert(i);
            }
        }
    }
    owners.retain(|dir, idxs| {
        idxs.len() > 1 && (regular.contains(dir) || idxs.iter().any(|i| nspkg.contains(i)))
    });
    let whole = |d: &Decision| d.placement == Placement::whole();
    loop {
        let mut changed = false;
        for (dir, idxs) in &owners {
            let Some(&extracted) = idxs.iter().find(|&&i| whole(&decisions[i])) else {
                continue;
            };
            for &i in idxs {
                if whole(&decisions[i]) {
                    continue;
                }
                let shares = Reason::SharesPackage {
                    package: dir.replace('/', "."),
                    with: dists[extracted].name.clone(),
                };
                if decisions[i].placement == Placement::Zip {
                    decisions[i].reason = shares;
                    decisions[i].placement = Placement::whole();
                } else {
                    decisions[i].make_whole(shares.to_string());
                }
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// Returns the decision for `dist` and, when an override is ignored, a warning saying why.
fn decide(dist: &InstalledDist, overrides: &Overrides) -> (Decision, Option<String>, Facts) {
    let native_file = dist.files.iter().find(|f| is_native_file(f));
    let native = native_file.is_some() || !dist.purelib;
    let name = normalize_name(&dist.name);
    let no_facts = || Facts {
        data_only: false,
        refs: unit::Refs::default(),
    };
    let extract = |reason: Reason| Decision {
        placement: Placement::whole(),
        reason,
        native,
    };
    let forced_zip = overrides.zip_safe.contains(&name);
    let native_reason = if let Some(file) = native_file {
        Some(Reason::Native(file.clone()))
    } else if !dist.purelib {
        Some(Reason::Platlib)
    } else {
        None
    };
    if let Some(reason) = native_reason {
        let warning = forced_zip.then(|| {
            format!(
                "`--zip-safe {name}` is ignored: `{}` holds {reason}, which cannot be loaded from a zip",
                dist.name
            )
        });
        return (extract(reason), warning, no_facts());
    }
    let decision = if overrides.extract_all {
        extract(Reason::ExtractAll)
    } else if overrides.extract.contains(&name) {
        extract(Reason::ExtractFlag)
    } else if forced_zip {
        Decision {
            placement: Placement::Zip,
            reason: Reason::ZipSafeFlag,
            native,
        }
    } else {
        let verdict = unit::scan(dist);
        let facts = Facts {
            data_only: verdict.data_only,
            refs: verdict.refs,
        };
        let decision = Decision {
            placement: match (verdict.extract, verdict.unit) {
                (false, _) => Placement::Zip,
                (true, None) => Placement::whole(),
                (true, Some(unit)) => Placement::Unit(unit),
            },
            reason: Reason::Scan(verdict.reason),
            native,
        };
        return (decision, None, facts);
    };
    (decision, None, no_facts())
}

/// Returns the importable top-level names of `dist` (`pkg` for `pkg/…`, `mod` for `mod.py`).
fn top_level_names(dist: &InstalledDist) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = top_level_dirs(dist);
    out.extend(
        dist.files
            .iter()
            .filter(|f| !f.contains('/'))
            .filter_map(|f| f.strip_suffix(".py").map(str::to_string)),
    );
    out
}

/// Returns every directory holding importable files of `dist` (`pkg`, `pkg/sub`, …).
fn package_dirs(dist: &InstalledDist) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for top in top_level_dirs(dist) {
        out.insert(top);
    }
    for f in &dist.files {
        let top = f.split('/').next().unwrap_or(f);
        if top.ends_with(".dist-info") || top.ends_with(".data") || !f.contains('/') {
            continue;
        }
        let mut dir = f.as_str();
        while let Some((parent, _)) = dir.rsplit_once('/') {
            if !out.insert(parent.to_string()) && parent.contains('/') {
                break;
            }
            dir = parent;
        }
    }
    out.retain(|d| holds_code(d.split('/').next().unwrap_or(d)));
    out
}

/// Returns the top-level package directories (and module names) a distribution writes.
fn top_level_dirs(dist: &InstalledDist) -> BTreeSet<String> {
    dist.files
        .iter()
        .filter_map(|f| {
            let (top, rest) = f.split_once('/')?;
            (holds_code(top) && !rest.is_empty()).then(|| top.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

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

    /// Writes a distribution named `name` into the site-packages-shaped tree `site`.
    fn dist(site: &Path, name: &str, files: &[(&str, &str)]) -> InstalledDist {
        let dist_info = format!("{}-1.dist-info", name.replace('-', "_"));
        let mut paths = vec![format!("{dist_info}/RECORD")];
        for (path, text) in files {
            let disk = site.join(path);
            fs_err::create_dir_all(disk.parent().expect("has a parent")).expect("mkdir");
            fs_err::write(&disk, text).expect("write");
            paths.push((*path).to_string());
        }
        paths.sort();
        InstalledDist {
            name: name.into(),
            version: "1".into(),
            dist_info,
            ..InstalledDist::unclaimed(site.to_path_buf(), paths)
        }
    }

    fn decide(dists: &[InstalledDist]) -> Vec<Decision> {
        decide_all(dists, &Overrides::default())
            .expect("no overrides")
            .decisions
            .into_iter()
            .map(|(_, decision)| decision)
            .collect()
    }

    /// Returns `(dir, trigger)` of the unit, `"whole"` for a whole extraction, `"zip"` for zip.
    fn unit(d: &Decision) -> (String, String) {
        match &d.placement {
            Placement::Zip => ("zip".into(), String::new()),
            Placement::Whole { .. } => ("whole".into(), String::new()),
            Placement::Unit(u) => (u.dir.clone(), u.trigger.clone()),
        }
    }

    fn units(dists: &[InstalledDist]) -> Vec<(String, String)> {
        decide(dists).iter().map(unit).collect()
    }

    fn pair(dir: &str, trigger: &str) -> (String, String) {
        (dir.into(), trigger.into())
    }

    #[test]
    fn a_subtree_unit() {
        let site = tempfile::tempdir().expect("tempdir");
        let az = dist(
            site.path(),
            "azure-cli",
            &[
                ("azure/cli/command_modules/__init__.py", ""),
                ("azure/cli/command_modules/vm/__init__.py", "x = 1\n"),
                (
                    "azure/cli/command_modules/acs/__init__.py",
                    "import os\nHELP = os.path.join(os.path.dirname(__file__), 'help.yaml')\n",
                ),
                (
                    "azure/cli/command_modules/acs/custom.py",
                    "import os\ndef f():\n    return os.path.realpath(__file__)\n",
                ),
                ("azure/cli/command_modules/acs/help.yaml", "x: 1\n"),
            ],
        );
        let decisions = decide(&[az]);
        assert_eq!(
            unit(&decisions[0]),
            pair(
                "azure/cli/command_modules/acs",
                "azure.cli.command_modules.acs"
            )
        );
        let u = decisions[0].placement.unit().expect("a unit");
        assert_eq!(u.why, "path use only under `azure/cli/command_modules/acs`");
        assert_eq!(
            decisions[0].reason.to_string(),
            "uses `dirname(__file__)` for paths (azure/cli/command_modules/acs/__init__.py:2)"
        );
    }

    #[test]
    fn each_dirname_raises_the_unit() {
        let site = tempfile::tempdir().expect("tempdir");
        let files = [
            ("pkg/__init__.py", ""),
            ("pkg/sub/__init__.py", ""),
            (
                "pkg/sub/deep/mod.py",
                "import os\nROOT = os.path.dirname(os.path.dirname(__file__))\n",
            ),
            ("other/__init__.py", ""),
        ];
        assert_eq!(
            units(&[dist(site.path(), "p", &files)]),
            [pair("pkg/sub", "pkg.sub")]
        );
        let site = tempfile::tempdir().expect("tempdir");
        let files = [
            ("pkg/__init__.py", ""),
            (
                "pkg/sub/mod.py",
                "from pathlib import Path\nHERE = Path(__file__).parent\nDATA = HERE.parent / 'data'\n",
            ),
            ("other/__init__.py", ""),
        ];
        assert_eq!(
            units(&[dist(site.path(), "p", &files)]),
            [pair("pkg", "pkg")]
        );
    }

    #[test]
    fn another_modules_file() {
        for import in [
            "from docutils.parsers.rst import states",
            "from .. import states",
            "import docutils.parsers.rst.states as states",
        ] {
            let site = tempfile::tempdir().expect("tempdir");
            let misc = format!(
                "from pathlib import Path\n{import}\nINCLUDES = Path(states.__file__).parent / 'include'\n"
            );
            let files = [
                ("docutils/__init__.py", ""),
                ("docutils/parsers/__init__.py", ""),
                ("docutils/parsers/rst/__init__.py", ""),
                ("docutils/parsers/rst/states.py", ""),
                ("docutils/parsers/rst/include/isonum.txt", ""),
                ("docutils/parsers/rst/directives/__init__.py", ""),
                ("docutils/parsers/rst/directives/misc.py", misc.as_str()),
                ("docutils/writers/__init__.py", ""),
            ];
            assert_eq!(
                units(&[dist(site.path(), "docutils", &files)]),
                [pair("docutils/parsers/rst", "docutils.parsers.rst")],
                "{import}"
            );
        }
    }

    #[test]
    fn listing_or_walking_keeps_the_whole() {
        for code in [
            "import os\nfor n in os.listdir(os.path.dirname(__file__)):\n    pass\n",
            "import os\nHERE = os.path.dirname(__file__)\nfor r, d, f in os.walk(HERE):\n    pass\n",
            "import os\nPLUGINS = os.listdir(__path__[0])\n",
        ] {
            let site = tempfile::tempdir().expect("tempdir");
            let files = [("pkg/__init__.py", ""), ("pkg/plugins/__init__.py", code)];
            let decisions = decide(&[dist(site.path(), "p", &files)]);
            assert_eq!(unit(&decisions[0]), pair("whole", ""), "{code}");
            assert!(
                decisions[0]
                    .reason
                    .to_string()
                    .ends_with("; whole: it lists or walks directories"),
                "{}",
                decisions[0].reason
            );
        }
    }

    #[test]
    fn other_uses_keep_the_whole() {
        let cases: [(&[(&str, &str)], &str); 3] = [
            (
                &[("six.py", "import os\nHERE = os.path.dirname(__file__)\n")],
                "uses `dirname(__file__)` for paths (six.py:2); whole: a top-level module uses paths",
            ),
            (
                &[
                    (
                        "pkg/__init__.py",
                        "import os\nHERE = os.path.dirname(__file__)\n",
                    ),
                    ("pkg/conf.py", "def load(p):\n    exec(open(p).read())\n"),
                ],
                "uses `dirname(__file__)` for paths (pkg/__init__.py:2); whole: also runs files by path with `exec(open(…)` (pkg/conf.py:2)",
            ),
            (
                &[
                    (
                        "pkg/__init__.py",
                        "import os\nROOT = os.path.dirname(os.path.dirname(__file__))\n",
                    ),
                    ("other.py", ""),
                ],
                "uses `dirname(__file__)` for paths (pkg/__init__.py:2); whole: it reaches the site root",
            ),
        ];
        for (files, reason) in cases {
            let site = tempfile::tempdir().expect("tempdir");
            let decisions = decide(&[dist(site.path(), "p", files)]);
            assert_eq!(unit(&decisions[0]), pair("whole", ""), "{reason}");
            assert_eq!(decisions[0].reason.to_string(), reason);
        }
    }

    #[test]
    fn main_modules_extract_when_run() {
        // portalocker: `__main__.py` reaches the site root; the package is all it installs.
        let site = tempfile::tempdir().expect("tempdir");
        let files = [
            ("portalocker/__init__.py", ""),
            ("portalocker/utils.py", ""),
            (
                "portalocker/__main__.py",
                "import pathlib\nbase_path = pathlib.Path(__file__).parent.parent\nsrc_path = base_path / 'portalocker'\n",
            ),
        ];
        assert_eq!(
            units(&[dist(site.path(), "portalocker", &files)]),
            [pair("portalocker", "portalocker.__main__")]
        );
        // The same beside another top-level name: the site root is not a unit.
        let site = tempfile::tempdir().expect("tempdir");
        let mut two = files.to_vec();
        two.push(("portalocker_extra.py", ""));
        assert_eq!(
            units(&[dist(site.path(), "portalocker", &two)]),
            [pair("whole", "")]
        );
        // semver: its own directory only.
        let site = tempfile::tempdir().expect("tempdir");
        let files = [
            ("semver/__init__.py", ""),
            (
                "semver/__main__.py",
                "import os\ndef main():\n    path = os.path.dirname(__file__)\n",
            ),
            ("semver_extra.py", ""),
        ];
        assert_eq!(
            units(&[dist(site.path(), "semver", &files)]),
            [pair("semver", "semver.__main__")]
        );
    }

    #[test]
    fn script_helpers() {
        // argcomplete: the helper reads its parent package's file, imported before the helper:
        // the package is the trigger.
        let site = tempfile::tempdir().expect("tempdir");
        let files = [
            ("argcomplete/__init__.py", ""),
            ("argcomplete/bash_completion.d/_python-argcomplete", "x"),
            ("argcomplete/scripts/__init__.py", ""),
            (
                "argcomplete/scripts/activate_global_python_argcomplete.py",
                "import os\nimport argcomplete\ndef get_activator_dir():\n    return os.path.join(os.path.abspath(os.path.dirname(argcomplete.__file__)), 'bash_completion.d')\n",
            ),
            ("argcomplete_extra.py", ""),
        ];
        assert_eq!(
            units(&[dist(site.path(), "argcomplete", &files)]),
            [pair("argcomplete", "argcomplete")]
        );
        // A helper that reads only next to itself is its own trigger.
        let site = tempfile::tempdir().expect("tempdir");
        let files = [
            ("tool/__init__.py", ""),
            (
                "tool/scripts/helper.py",
                "import os\nHERE = os.path.dirname(__file__)\n",
            ),
            ("tool/scripts/helper.sh", "x"),
        ];
        assert_eq!(
            units(&[dist(site.path(), "tool", &files)]),
            [pair("tool/scripts", "tool.scripts.helper")]
        );
    }

    #[test]
    fn namespace_portions_are_their_own_units() {
        let site = tempfile::tempdir().expect("tempdir");
        let uses = "from os import path\npackage_dir = path.abspath(path.dirname(__file__))\n";
        let dists: Vec<InstalledDist> = ["applehelp", "devhelp", "jsmath"]
            .iter()
            .map(|name| {
                let init = format!("sphinxcontrib/{name}/__init__.py");
                let mo = format!("sphinxcontrib/{name}/locales/de/LC_MESSAGES/{name}.mo");
                let code = if *name == "jsmath" { "x = 1\n" } else { uses };
                dist(
                    site.path(),
                    &format!("sphinxcontrib-{name}"),
                    &[(init.as_str(), code), (mo.as_str(), "")],
                )
            })
            .collect();
        let got = units(&dists);
        assert_eq!(
            got[0],
            pair("sphinxcontrib/applehelp", "sphinxcontrib.applehelp")
        );
        assert_eq!(
            got[1],
            pair("sphinxcontrib/devhelp", "sphinxcontrib.devhelp")
        );
        // jsmath's data has no reader that can find it by path.
        assert_eq!(got[2], pair("zip", ""));
    }

    #[test]
    fn shared_regular_ancestors_do_not_pull() {
        let site = tempfile::tempdir().expect("tempdir");
        let telemetry = dist(
            site.path(),
            "azure-cli-telemetry",
            &[
                ("azure/cli/__init__.py", ""),
                ("azure/cli/telemetry/__init__.py", "x = 1\n"),
            ],
        );
        let core = dist(
            site.path(),
            "azure-cli-core",
            &[
                (
                    "azure/cli/core/__init__.py",
                    "import os\nHERE = os.path.dirname(__file__)\n",
                ),
                (
                    "azure/cli/core/util.py",
                    "import os\nX = os.path.dirname(__file__)\n",
                ),
            ],
        );
        let cli = dist(
            site.path(),
            "azure-cli",
            &[
                ("azure/cli/command_modules/__init__.py", ""),
                ("azure/cli/command_modules/acs/__init__.py", ""),
                (
                    "azure/cli/command_modules/acs/custom.py",
                    "import os\nHERE = os.path.realpath(__file__)\n",
                ),
            ],
        );
        assert_eq!(
            units(&[telemetry, core, cli]),
            [
                pair("zip", ""),
                pair("azure/cli/core", "azure.cli.core"),
                pair(
                    "azure/cli/command_modules/acs",
                    "azure.cli.command_modules.acs.custom"
                ),
            ]
        );
    }

    /// azure-cli-core's `aaz` loader: it lists the directory of each package it is handed.
    const AAZ_LISTING: &str = "import os\ndef load(pkg):\n    pkg_path = os.path.dirname(pkg.__file__)\n    for sub in os.listdir(pkg_path):\n        pass\n";

    #[test]
    fn path_uses_from_other_distributions() {
        // azure-cli-core lists the directories of packages it is handed: they may be any of the
        // `azure` family's, so azure-cli's unit becomes the whole.
        let site = tempfile::tempdir().expect("tempdir");
        let core = dist(
            site.path(),
            "azure-cli-core",
            &[("azure/cli/core/aaz/_command.py", AAZ_LISTING)],
        );
        let cli = dist(
            site.path(),
            "azure-cli",
            &[
                ("azure/cli/command_modules/vm/aaz/__init__.py", ""),
                (
                    "azure/cli/command_modules/acs/custom.py",
                    "import os\nHERE = os.path.realpath(__file__)\n",
                ),
            ],
        );
        let other = dist(
            site.path(),
            "other",
            &[(
                "other/__init__.py",
                "import os\nHERE = os.path.dirname(__file__)\n",
            )],
        );
        let decisions = decide(&[core, cli, other]);
        assert_eq!(unit(&decisions[0]), pair("whole", ""));
        assert_eq!(unit(&decisions[1]), pair("whole", ""));
        assert_eq!(
            decisions[1].reason.to_string(),
            "uses `realpath(__file__)` for paths (azure/cli/command_modules/acs/custom.py:2); whole: `azure-cli-core` shares `azure` and turns modules it is handed into paths (`dirname(pkg.__file__)` at azure/cli/core/aaz/_command.py:3)"
        );
        assert_eq!(unit(&decisions[2]), pair("other", "other"));
        // As azure-cli is laid out: every package under `command_modules`, and `__main__.py`
        // in the namespace `azure.cli`. A handed package is below the unit; the unit is the
        // package holding them all, and `python -m azure.cli --version` imports none of it.
        let handed = |extra: &[(&str, &str)]| {
            let site = tempfile::tempdir().expect("tempdir");
            let core = dist(
                site.path(),
                "azure-cli-core",
                &[("azure/cli/core/aaz/_command.py", AAZ_LISTING)],
            );
            let mut files = vec![
                ("azure/cli/__main__.py", "import sys\n"),
                ("azure/cli/command_modules/__init__.py", ""),
                ("azure/cli/command_modules/vm/__init__.py", ""),
                ("azure/cli/command_modules/vm/aaz/__init__.py", ""),
                ("azure/cli/command_modules/acs/__init__.py", ""),
                (
                    "azure/cli/command_modules/acs/custom.py",
                    "import os\nHERE = os.path.realpath(__file__)\n",
                ),
            ];
            files.extend_from_slice(extra);
            let cli = dist(site.path(), "azure-cli", &files);
            let decisions = decide(&[core, cli]);
            (unit(&decisions[1]), decisions[1].clone())
        };
        let (got, decision) = handed(&[]);
        assert_eq!(
            got,
            pair("azure/cli/command_modules", "azure.cli.command_modules")
        );
        assert_eq!(
            decision.placement.unit().expect("unit").why,
            "every package of the distribution is under `azure/cli/command_modules`: `azure-cli-core` shares `azure` and turns modules it is handed into paths (`dirname(pkg.__file__)` at azure/cli/core/aaz/_command.py:3)"
        );
        // A package outside, a module in another namespace directory, a data file next to
        // `__main__.py`, a top-level module: any of them may be handed or listed, so whole.
        for extra in [
            ("azure/cli/other/__init__.py", ""),
            ("azure/cli/loose/mod.py", ""),
            ("azure/cli/data.json", "{}"),
            ("cli_helper.py", ""),
        ] {
            assert_eq!(handed(&[extra]).0, pair("whole", ""), "{}", extra.0);
        }
        // A named module of another distribution outside its unit.
        let site = tempfile::tempdir().expect("tempdir");
        let lib = dist(
            site.path(),
            "lib",
            &[
                ("lib/__init__.py", ""),
                (
                    "lib/sub/__init__.py",
                    "import os\nHERE = os.path.dirname(__file__)\n",
                ),
            ],
        );
        let user = dist(
            site.path(),
            "user",
            &[(
                "user/__init__.py",
                "import os\nimport lib\nD = os.path.dirname(lib.__file__)\n",
            )],
        );
        let decisions = decide(&[lib, user]);
        assert_eq!(unit(&decisions[0]), pair("whole", ""));
        assert!(
            decisions[0]
                .reason
                .to_string()
                .ends_with("; whole: `user` turns its module `lib` into a path"),
            "{}",
            decisions[0].reason
        );
    }

    #[test]
    fn files_of_another_distribution_below_a_unit() {
        let site = tempfile::tempdir().expect("tempdir");
        let owner = dist(
            site.path(),
            "owner",
            &[
                ("pkg/__init__.py", ""),
                (
                    "pkg/sub/__init__.py",
                    "import os\nHERE = os.path.dirname(__file__)\n",
                ),
                (
                    "pkg/sub/x.py",
                    "import os\nHERE = os.path.dirname(__file__)\n",
                ),
            ],
        );
        let plugin = dist(site.path(), "plugin", &[("pkg/sub/more/extra.py", "")]);
        let neighbour = dist(site.path(), "neighbour", &[("pkg/other/__init__.py", "")]);
        let decisions = decide(&[owner, plugin, neighbour]);
        assert_eq!(unit(&decisions[0]), pair("whole", ""));
        assert!(
            decisions[0]
                .reason
                .to_string()
                .ends_with("; whole: `plugin` also has files under `pkg/sub`"),
            "{}",
            decisions[0].reason
        );
        // `pkg` and `pkg/sub` are regular packages shared with `owner`, now extracted whole.
        assert_eq!(unit(&decisions[1]), pair("whole", ""));
        assert_eq!(unit(&decisions[2]), pair("whole", ""));
        assert_eq!(
            decisions[2].reason.to_string(),
            "shares the package `pkg` with extracted `owner`"
        );
    }

    #[test]
    fn a_framework_that_paths_handed_modules_pulls_data_with_code() {
        let site = tempfile::tempdir().expect("tempdir");
        let web = dist(
            site.path(),
            "web",
            &[(
                "web/helpers.py",
                "import os, sys\ndef root(name):\n    mod = sys.modules[name]\n    return os.path.dirname(os.path.abspath(mod.__file__))\n",
            )],
        );
        let app = dist(
            site.path(),
            "app",
            &[
                ("app/__init__.py", ""),
                ("app/templates/hello.html", "<p>hi</p>"),
            ],
        );
        let tz = dist(
            site.path(),
            "tzdata",
            &[
                ("tzdata/__init__.py", ""),
                ("tzdata/zoneinfo/__init__.py", ""),
                ("tzdata/zoneinfo/Africa/__init__.py", ""),
                ("tzdata/zoneinfo/Africa/Abidjan", "TZif"),
            ],
        );
        let decisions = decide(&[web, app, tz]);
        assert_eq!(unit(&decisions[1]), pair("whole", ""));
        assert_eq!(
            decisions[1].reason.to_string(),
            "`web` finds its files by path (a path use of its module)"
        );
        // Data laid out as packages for the loader is not what a framework reads by path.
        assert_eq!(unit(&decisions[2]), pair("zip", ""));
    }

    #[test]
    fn data_only_distributions_stay_zipped() {
        let site = tempfile::tempdir().expect("tempdir");
        let tzdata = dist(
            site.path(),
            "tzdata",
            &[
                ("tzdata/__init__.py", "IANA_VERSION = '2024a'\n"),
                ("tzdata/zoneinfo/__init__.py", ""),
                ("tzdata/zoneinfo/Africa/__init__.py", ""),
                ("tzdata/zoneinfo/Africa/Abidjan", "TZif"),
            ],
        );
        let decisions = decide(std::slice::from_ref(&tzdata));
        assert_eq!(unit(&decisions[0]), pair("zip", ""));
        assert_eq!(
            decisions[0].reason.to_string(),
            "data files (`tzdata/zoneinfo/Africa/Abidjan`) that no code of its own can find by path (read through the loader)"
        );
        // Code that finds its files by path extracts it after all.
        let reader = dist(
            site.path(),
            "reader",
            &[(
                "reader/__init__.py",
                "import os\nimport tzdata\nZONES = os.path.join(os.path.dirname(tzdata.__file__), 'zoneinfo')\n",
            )],
        );
        let decisions = decide(&[tzdata, reader]);
        assert_eq!(unit(&decisions[0]), pair("whole", ""));
        assert_eq!(
            decisions[0].reason.to_string(),
            "`reader` finds its files by path (a path use of its module)"
        );
    }

    #[test]
    fn build_time_data_stays_zipped() {
        let generator = "import os\nclass Gen:\n    def __init__(self, cfg_filename='_c_ast.cfg'):\n        self.cfg = open(cfg_filename)\n\nif __name__ == '__main__':\n    base_dir = os.path.dirname(os.path.abspath(__file__))\n    Gen(os.path.join(base_dir, '_c_ast.cfg'))\n";
        let site = tempfile::tempdir().expect("tempdir");
        let files = [
            (
                "pycparser/__init__.py",
                "def parse_file(filename):\n    with open(filename) as f:\n        return f.read()\n",
            ),
            ("pycparser/_ast_gen.py", generator),
            ("pycparser/_c_ast.cfg", "Node: [a]\n"),
        ];
        let decisions = decide(&[dist(site.path(), "pycparser", &files)]);
        assert_eq!(unit(&decisions[0]), pair("zip", ""));
        // Code that can locate its modules another way keeps the old rule.
        let site = tempfile::tempdir().expect("tempdir");
        let mut located = files.to_vec();
        located.push(("pycparser/where.py", "NAME = __file__[:-3] + '.cfg'\n"));
        let decisions = decide(&[dist(site.path(), "pycparser", &located)]);
        assert_eq!(unit(&decisions[0]), pair("whole", ""));
        assert_eq!(
            decisions[0].reason.to_string(),
            "data files next to modules and no loader-based reader (`pycparser/_c_ast.cfg`)"
        );
    }
}
