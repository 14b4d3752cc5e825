//! The scan of one distribution: whether its own code needs its files on disk, and which part of
//! them ([`Unit`]). Input: an [`InstalledDist`]; output: a [`Verdict`]. It reads every `.py` file
//! once (see [`scan::scan_source`]) and works out what each path use reaches against the
//! distribution's files. It does not look at other distributions: [`super::decide_all`] does.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use super::Unit;
use super::scan::{self, Reach, SourceScan, Use};
use crate::install::InstalledDist;
use crate::layout::placement::{holds_code, in_tests};
use crate::name::is_identifier;

/// What the scan of one distribution decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Verdict {
    /// Extract (else zip).
    pub extract: bool,
    /// A short reason shown by `pybundle info`.
    pub reason: String,
    /// The part that goes to disk when it is less than the whole (only with `extract`).
    pub unit: Option<Unit>,
    /// Zipped because no code of its own can find its data files by path: another
    /// distribution's path use of it extracts it after all.
    pub data_only: bool,
    /// What its path uses point at outside the distribution.
    pub refs: Refs,
}

/// What the path uses of a distribution point at outside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Refs {
    /// Top-level names of modules of other distributions (`dirname(tzdata.__file__)` after
    /// `import tzdata`).
    pub foreign: BTreeSet<String>,
    /// The first use of `X.__file__` where what `X` is cannot be told (a module it is handed,
    /// `dirname(pkg.__file__)`): it may be any distribution's module. The reason it gives.
    pub unknown: Option<String>,
}

/// Data files that code usually opens by path when nothing reads them through the loader.
const DATA_EXTENSIONS: &[&str] = &[
    "pem", "crt", "cer", "json", "txt", "html", "htm", "xml", "xsd", "yaml", "yml", "toml", "cfg",
    "ini", "conf", "csv", "tsv", "sql", "js", "css", "jinja", "jinja2", "j2", "tmpl", "tpl",
    "mako", "svg", "png", "gif", "ico", "jpg", "mo", "po", "dat", "db", "sqlite", "bin", "zip",
    "gz", "wav", "ttf", "woff", "woff2", "sh", "bat", "exe",
];

/// Returns true if `top` (a first path component) is metadata, not importable code.
pub(super) fn is_meta(top: &str) -> bool {
    top.ends_with(".dist-info") || top.ends_with(".egg-info") || top.ends_with(".data")
}

/// Returns what `dist`'s own code needs. Reads each `.py` file at most once; an unreadable file
/// counts as a reason to extract it whole.
pub(super) fn scan(dist: &InstalledDist) -> Verdict {
    if let Some(reason) = declared_whole(dist) {
        return Verdict::whole(reason);
    }
    let (scanned, sources) = read_sources(dist);
    if let Some((f, _)) = sources.iter().find(|(_, s)| s.unreadable) {
        return Verdict::whole(format!("unreadable source (`{f}`)"));
    }
    let found = Found {
        scanned: &scanned,
        loader_read: sources.iter().any(|(_, s)| s.loader_read),
        other_locate: sources.iter().any(|(_, s)| s.other_locate),
        exec_use: sources.iter().find_map(|(f, s)| {
            s.exec_use
                .as_ref()
                .map(|(what, line)| format!("runs files by path with `{what}` ({f}:{line})"))
        }),
    };
    if sources.iter().any(|(_, s)| !s.uses.is_empty()) {
        return found.with_path_uses(dist, &sources);
    }
    found.without_path_uses()
}

/// Returns the files of `dist` that can hold code or data its code reads (not metadata,
/// scripts, tests), and the scan of each of its `.py` files, in path order.
pub(super) fn read_sources(dist: &InstalledDist) -> (Vec<&String>, Vec<(&str, SourceScan)>) {
    let scanned: Vec<&String> = dist
        .files
        .iter()
        .filter(|f| {
            let top = f.split('/').next().unwrap_or(f);
            holds_code(top) && !in_tests(f)
        })
        .collect();
    // Sources are read in parallel (a single large distribution is the slow case); the result
    // is the same as a sequential pass, in path order.
    let sources: Vec<(&str, SourceScan)> = scanned
        .par_iter()
        .filter(|f| f.ends_with(".py"))
        .map(|f| {
            let scan = match fs_err::read(dist.root.join(f.as_str())) {
                Ok(bytes) => scan::scan_source(&bytes),
                Err(_) => SourceScan {
                    unreadable: true,
                    ..SourceScan::default()
                },
            };
            (f.as_str(), scan)
        })
        .collect();
    (scanned, sources)
}

impl Verdict {
    /// Extract the whole distribution, for `reason`.
    fn whole(reason: String) -> Verdict {
        Verdict {
            extract: true,
            reason,
            ..Verdict::default()
        }
    }
}

/// Returns why `dist` is extracted whole before its sources are read: it declares itself not
/// zip-safe, or a `.pth` file of its runs code (or cannot be read).
pub(super) fn declared_whole(dist: &InstalledDist) -> Option<String> {
    for f in &dist.files {
        if let Some((top, "not-zip-safe")) = f.split_once('/')
            && is_meta(top)
        {
            return Some(format!("declares not zip-safe (`{f}`)"));
        }
    }
    for f in dist
        .files
        .iter()
        .filter(|f| !f.contains('/') && f.ends_with(".pth"))
    {
        let Ok(text) = fs_err::read(dist.root.join(f)) else {
            return Some(format!("unreadable `.pth` file (`{f}`)"));
        };
        let runs_code = text
            .split(|&b| b == b'\n')
            .any(|line| line.starts_with(b"import ") || line.starts_with(b"import\t"));
        if runs_code {
            return Some(format!(
                "`.pth` file runs code that needs a directory (`{f}`)"
            ));
        }
    }
    None
}

/// What the sources of one distribution showed, besides their path uses.
struct Found<'a> {
    /// The files that can hold code or data its code reads (not metadata, scripts, tests).
    scanned: &'a [&'a String],
    /// Some source reads resources through the loader.
    loader_read: bool,
    /// Some source locates files another way than `__file__`.
    other_locate: bool,
    /// The first source that runs files by path, as a reason.
    exec_use: Option<String>,
}

impl Found<'_> {
    /// Returns the first data file, outside `outside` when given.
    fn data_file(&self, outside: Option<&str>) -> Option<&str> {
        self.scanned
            .iter()
            .find(|f| {
                !f.ends_with(".py")
                    && f.contains('/')
                    && is_data_file(f)
                    && outside.is_none_or(|d| !under(f, d))
            })
            .map(|f| f.as_str())
    }

    /// The verdict when some source uses paths: a unit when they stay under one package
    /// directory (and nothing else needs the disk), else the whole distribution.
    fn with_path_uses(self, dist: &InstalledDist, sources: &[(&str, SourceScan)]) -> Verdict {
        let (unit, reason, refs) = Layout::of(dist).unit(sources);
        let reason = reason.unwrap_or_else(|| {
            let (f, u) = sources
                .iter()
                .find_map(|(f, s)| s.uses.first().map(|u| (*f, u)))
                .expect("some source has uses");
            use_reason(f, u)
        });
        let unit = match (unit, &self.exec_use) {
            (Some(_), Some(exec)) => Err(format!("also {exec}")),
            (Some(unit), None) => match self.data_file(Some(&unit.dir)) {
                Some(f) if !self.loader_read && self.other_locate => Err(format!(
                    "data files outside `{}` and no loader-based reader (`{f}`)",
                    unit.dir
                )),
                _ => Ok(unit),
            },
            (None, _) => Err(String::new()),
        };
        match unit {
            Ok(unit) => Verdict {
                extract: true,
                reason,
                unit: Some(unit),
                refs,
                data_only: false,
            },
            Err(why) if why.is_empty() => Verdict {
                refs,
                ..Verdict::whole(reason)
            },
            Err(why) => Verdict {
                refs,
                ..Verdict::whole(format!("{reason}; whole: {why}"))
            },
        }
    }

    /// The verdict when no source uses paths: zip, unless files are run by path or data files
    /// are found some other way than through the loader.
    fn without_path_uses(self) -> Verdict {
        if let Some(reason) = self.exec_use {
            return Verdict::whole(reason);
        }
        match self.data_file(None) {
            Some(f) if !self.loader_read && self.other_locate => Verdict::whole(format!(
                "data files next to modules and no loader-based reader (`{f}`)"
            )),
            Some(f) if !self.loader_read => Verdict {
                extract: false,
                reason: format!(
                    "data files (`{f}`) that no code of its own can find by path (read through the loader)"
                ),
                data_only: true,
                ..Verdict::default()
            },
            _ => Verdict {
                extract: false,
                reason: "pure Python, no file-system use of its own files".to_string(),
                ..Verdict::default()
            },
        }
    }
}

/// Returns the reason a path use gives.
fn use_reason(file: &str, u: &Use) -> String {
    format!("uses `{}` for paths ({file}:{})", u.shown, u.line)
}

/// Returns true if `path` is `dir` or below it (`dir` non-empty).
pub(super) fn under(path: &str, dir: &str) -> bool {
    path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

/// Returns the parent of a `/`-path (`""` for a top-level name).
pub(super) fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

/// Returns `dir` raised `up` levels (`""` is the site root; above it stays the root).
fn raise(dir: &str, up: usize) -> String {
    let mut d = dir;
    for _ in 0..up {
        d = parent(d);
    }
    d.to_string()
}

/// What a use points at.
pub(super) enum Target {
    /// A directory (`""`: the site root or above).
    Dir(String),
    /// The whole distribution.
    Whole,
}

/// The distribution's files as the unit computation needs them.
pub(super) struct Layout<'d> {
    /// Every file.
    files: BTreeSet<&'d str>,
    /// Directories holding `.py` files directly, every component an identifier: what can be a
    /// unit (regular packages and PEP 420 portions alike).
    packages: BTreeSet<String>,
    /// Importable top-level names (packages and modules).
    tops: BTreeSet<String>,
    /// The top-level package, when it is the only thing the distribution installs besides its
    /// metadata and scripts.
    single_top: Option<String>,
}

impl<'d> Layout<'d> {
    /// Returns the layout of `dist`.
    pub(super) fn of(dist: &'d InstalledDist) -> Self {
        let files: BTreeSet<&str> = dist.files.iter().map(String::as_str).collect();
        let mut packages = BTreeSet::new();
        let mut tops = BTreeSet::new();
        let mut entries = BTreeSet::new();
        for f in &dist.files {
            let top = f.split('/').next().unwrap_or(f);
            if !holds_code(top) {
                continue;
            }
            entries.insert(top);
            if let Some(stem) = top.strip_suffix(".py").filter(|_| !f.contains('/')) {
                tops.insert(stem.to_string());
            }
            if f.ends_with(".py") && f.contains('/') {
                let dir = parent(f);
                if dir.split('/').all(is_identifier) {
                    packages.insert(dir.to_string());
                    tops.insert(top.to_string());
                }
            }
        }
        let single_top = match entries.iter().collect::<Vec<_>>()[..] {
            [top] if packages.contains(*top) => Some((*top).to_string()),
            _ => None,
        };
        Layout {
            files,
            packages,
            tops,
            single_top,
        }
    }

    /// Returns the unit of `sources` (all path uses of the distribution), or `None` with the
    /// reason naming the use that keeps it whole; and what the uses point at outside it.
    fn unit(&self, sources: &[(&str, SourceScan)]) -> (Option<Unit>, Option<String>, Refs) {
        let mut refs = Refs::default();
        let mut dirs: Vec<(String, &str, &Use)> = Vec::new();
        let mut blocker: Option<String> = None;
        for (f, s) in sources {
            for u in &s.uses {
                if !f.contains('/') {
                    blocker.get_or_insert_with(|| {
                        format!("{}; whole: a top-level module uses paths", use_reason(f, u))
                    });
                    continue;
                }
                let (target, unknown) = self.target(f, &s.imports, &u.reach, &mut refs.foreign);
                if unknown {
                    refs.unknown
                        .get_or_insert_with(|| format!("`{}` at {f}:{}", u.shown, u.line));
                }
                match target {
                    Target::Whole => {
                        blocker.get_or_insert_with(|| {
                            format!("{}; whole: it lists or walks directories", use_reason(f, u))
                        });
                    }
                    Target::Dir(d) => {
                        dirs.push((parent(f).to_string(), f, u));
                        dirs.push((d, f, u));
                    }
                }
            }
        }
        if blocker.is_some() {
            return (None, blocker, refs);
        }
        match self.unit_of(&dirs) {
            Ok(unit) => (Some(unit), None, refs),
            Err(why) => (None, Some(why), refs),
        }
    }

    /// Returns the unit the directories `dirs` reach (with the file and use that reach each):
    /// the package directory above them all, with the one module that uses paths as its
    /// trigger when there is one; or why the whole distribution goes.
    fn unit_of(&self, dirs: &[(String, &str, &Use)]) -> Result<Unit, String> {
        let mut common: Option<String> = None;
        for (d, ..) in dirs {
            common = Some(match common {
                None => d.clone(),
                Some(c) => common_ancestor(&c, d),
            });
        }
        let mut dir = common.unwrap_or_default();
        while !dir.is_empty() && !self.packages.contains(&dir) {
            dir = parent(&dir).to_string();
        }
        if dir.is_empty() {
            match &self.single_top {
                Some(top) => dir.clone_from(top),
                None => {
                    let (_, f, u) = dirs.iter().find(|(d, ..)| d.is_empty()).unwrap_or(&dirs[0]);
                    return Err(format!(
                        "{}; whole: it reaches the site root",
                        use_reason(f, u)
                    ));
                }
            }
        }
        let files: BTreeSet<&str> = dirs.iter().map(|(_, f, _)| *f).collect();
        let dotted = dir.replace('/', ".");
        let module = match files.iter().collect::<Vec<_>>()[..] {
            [f] if parent(f) == dir
                && dirs
                    .iter()
                    .all(|(_, _, u)| matches!(u.reach, Reach::Own { .. })) =>
            {
                f.rsplit('/')
                    .next()
                    .and_then(|n| n.strip_suffix(".py"))
                    .filter(|stem| *stem != "__init__" && is_identifier(stem))
                    .map(|stem| (*f, stem))
            }
            _ => None,
        };
        Ok(match module {
            Some((f, stem)) => Unit {
                why: format!("path use only in `{f}`, under `{dir}`"),
                trigger: format!("{dotted}.{stem}"),
                dir,
            },
            None => Unit {
                why: format!("path use only under `{dir}`"),
                trigger: dotted,
                dir,
            },
        })
    }

    /// Returns what a use in `file` reaches, and whether it is the file of a module that cannot
    /// be told; names of modules outside the distribution that it points at go to `foreign`.
    pub(super) fn target(
        &self,
        file: &str,
        imports: &BTreeMap<String, String>,
        reach: &Reach,
        foreign: &mut BTreeSet<String>,
    ) -> (Target, bool) {
        // When what `X` is cannot be told: the top-level package holding the file.
        let top = file.split('/').next().unwrap_or(file);
        let mut unknown = false;
        let mut module_dir = |name: &str| match self.module_dir(file, imports, name) {
            Ok(dir) => dir,
            Err(Some(outside)) => {
                foreign.insert(outside);
                top.to_string()
            }
            Err(None) => {
                unknown = true;
                top.to_string()
            }
        };
        let target = match reach {
            Reach::Listing(None) => Target::Whole,
            Reach::Listing(Some(name)) => {
                module_dir(name);
                Target::Whole
            }
            Reach::Own { up } => Target::Dir(raise(parent(file), *up)),
            Reach::Module { name, up } => Target::Dir(raise(&module_dir(name), *up)),
            Reach::Resource(Some(package)) => {
                let dir = package.replace('.', "/");
                if self.packages.contains(&dir) {
                    Target::Dir(dir)
                } else {
                    let first = package.split('.').next().unwrap_or(package);
                    if !self.tops.contains(first) {
                        foreign.insert(first.to_string());
                    }
                    Target::Dir(top.to_string())
                }
            }
            Reach::Resource(None) => Target::Dir(top.to_string()),
        };
        (target, unknown)
    }

    /// Returns the directory of the module `name` names in `file` (a package's own directory,
    /// a module's parent), through the file's imports; or, when it is not one of the
    /// distribution's, the top-level name it has when an import binds it.
    fn module_dir(
        &self,
        file: &str,
        imports: &BTreeMap<String, String>,
        name: &str,
    ) -> Result<String, Option<String>> {
        let name: String = name.chars().filter(|c| !c.is_whitespace()).collect();
        let name = match name.strip_prefix("sys.modules[") {
            Some(inner) => inner
                .trim_end_matches(']')
                .trim_matches(|c| c == '"' || c == '\'')
                .to_string(),
            None => name,
        };
        let (first, rest) = name.split_once('.').unwrap_or((&name, ""));
        let imported = imports.get(first);
        let mut full = imported.cloned().unwrap_or_else(|| first.to_string());
        if !rest.is_empty() {
            full = format!("{full}.{rest}");
        }
        if let Some(relative) = full.strip_prefix('.') {
            let mut package: Vec<&str> = parent(file).split('/').collect();
            let mut rel = relative;
            while let Some(r) = rel.strip_prefix('.') {
                package.pop();
                rel = r;
            }
            if !rel.is_empty() {
                package.extend(rel.split('.'));
            }
            full = package.join(".");
        }
        let parts: Vec<&str> = full.split('.').collect();
        if !self.tops.contains(parts[0]) {
            let named = imported.is_some() && is_identifier(parts[0]);
            return Err(named.then(|| parts[0].to_string()));
        }
        for n in (1..=parts.len()).rev() {
            let path = parts[..n].join("/");
            if self.packages.contains(&path)
                || self.files.contains(format!("{path}/__init__.py").as_str())
            {
                return Ok(path);
            }
            if self.files.contains(format!("{path}.py").as_str()) {
                return Ok(parent(&path).to_string());
            }
        }
        Err(None)
    }
}

/// Returns the deepest directory holding both `/`-paths (`""` when they share none).
pub(super) fn common_ancestor(a: &str, b: &str) -> String {
    a.split('/')
        .zip(b.split('/'))
        .take_while(|(x, y)| x == y && !x.is_empty())
        .map(|(x, _)| x)
        .collect::<Vec<_>>()
        .join("/")
}

/// Returns true if `path` looks like a data file that code opens by name.
pub(super) fn is_data_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((_, ext)) => DATA_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()),
        // Extensionless files in a package (templates, `VERSION`) except marker files.
        None => !matches!(
            name,
            "py.typed" | "LICENSE" | "COPYING" | "NOTICE" | "AUTHORS"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files() {
        assert!(is_data_file("certifi/cacert.pem"));
        assert!(is_data_file(
            "django/contrib/admin/templates/admin/base.html"
        ));
        assert!(is_data_file("pkg/VERSION"));
        assert!(!is_data_file("click/py.typed"));
        assert!(!is_data_file("pkg/mod.pyi"));
        assert!(in_tests("pkg/tests/test_a.py"));
        assert!(!in_tests("pkg/tests.py"));
        assert!(in_tests("twisted/internet/test/process_helper.py"));
    }

    #[test]
    fn paths() {
        assert_eq!(common_ancestor("a/b/c", "a/b/d"), "a/b");
        assert_eq!(common_ancestor("a/b", "a/b/d"), "a/b");
        assert_eq!(common_ancestor("a", "b"), "");
        assert_eq!(common_ancestor("", "a"), "");
        assert_eq!(raise("a/b/c", 2), "a");
        assert_eq!(raise("a", 3), "");
        assert!(under("a/b/c.py", "a/b"));
        assert!(!under("a/bc/c.py", "a/b"));
    }
}
