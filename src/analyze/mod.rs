//! Decide, per distribution, whether it runs from the zip or is extracted to the cache, and why.
//! Input: the installed distributions and the user's [`Overrides`]; output: one [`Decision`] each.
//!
//! Rules, first match wins: native code (or a platlib wheel) → extract, whatever `--zip-safe`
//! says; `--extract-all` / `--extract` → extract; `--zip-safe` → zip; a `not-zip-safe` flag in
//! `*.egg-info`/`*.dist-info` → extract; a top-level `.pth` file that runs code → extract; Python
//! code that turns `__file__`/`__path__` into file-system paths (`os.path.dirname(__file__)`,
//! `Path(__file__)`, `os.listdir(__path__[0])`, `pkg_resources.resource_filename`) → extract;
//! failing that, code that runs files by path (`exec(open(…))`, `execfile`, `runpy.run_path`) →
//! extract; data files next to modules when no code of the distribution reads resources through
//! a loader (`importlib.resources`, `pkgutil.get_data`, `pkg_resources.resource_string`) →
//! extract; otherwise zip. Distributions that share a package directory holding an `__init__.py`
//! (or a namespace set up by a legacy `-nspkg.pth`) with an extracted one are extracted too, so
//! that no regular package is split between the zip and the cache; PEP 420 portions may be.
//!
//! `importlib.resources.as_file`/`path` count as path use: they hand out a real file (a temporary
//! copy in every process when run from a zip), as certifi's `where()` does for OpenSSL.
//!
//! Each `.py` file is read once and searched with byte regexes; files under `tests/` and
//! `test/` directories are skipped (they do not run in a bundle). The analysis errs on the side of
//! extracting: a false positive costs a one-time extraction, a false negative a crash.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use rayon::prelude::*;
use regex::bytes::Regex;

use crate::config::Overrides;
use crate::install::InstalledDist;
use crate::layout::Mode;
use crate::name::normalize_name;

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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analyzed {
    /// One decision per distribution, in the order of the distributions.
    pub decisions: Vec<Decision>,
    /// Warnings for the user (an override that cannot be honoured), in the same order; the
    /// caller prints them.
    pub warnings: Vec<String>,
}

/// Returns one decision per distribution, in the same order, with the warnings to show, and
/// fails when an override names a distribution that is not in `dists`. Prints nothing.
pub fn decide_all(
    dists: &[InstalledDist],
    overrides: &Overrides,
) -> Result<Analyzed, AnalyzeError> {
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
    let (mut decisions, warnings): (Vec<Decision>, Vec<Option<String>>) =
        dists.par_iter().map(|d| decide(d, overrides)).unzip();
    let warnings = warnings.into_iter().flatten().collect();
    // A package directory with an `__init__.py` (regular or pkgutil-style), or a namespace set
    // up by a legacy `-nspkg.pth`, shared by a zipped and an extracted distribution would be
    // split: extract all of them. Pure PEP 420 namespaces (no `__init__.py` in the shared
    // directory in any distribution) are fine: zipimport and the path finder each contribute a
    // portion.
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
    loop {
        let mut changed = false;
        for (dir, idxs) in &owners {
            let Some(&extracted) = idxs.iter().find(|&&i| decisions[i].mode == Mode::Extract)
            else {
                continue;
            };
            for &i in idxs {
                if decisions[i].mode == Mode::Zip {
                    decisions[i] = Decision {
                        mode: Mode::Extract,
                        reason: format!(
                            "shares the package `{}` with extracted `{}`",
                            dir.replace('/', "."),
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
    Ok(Analyzed {
        decisions,
        warnings,
    })
}

/// Returns the decision for `dist` and, when an override is ignored, a warning saying why.
fn decide(dist: &InstalledDist, overrides: &Overrides) -> (Decision, Option<String>) {
    let native_file = dist.files.iter().find(|f| is_native_file(f));
    let native = native_file.is_some() || !dist.purelib;
    let name = normalize_name(&dist.name);
    let extract = |reason: String| Decision {
        mode: Mode::Extract,
        reason,
        native,
    };
    let forced_zip = overrides.zip_safe.contains(&name);
    let native_reason = if let Some(file) = native_file {
        Some(format!("native code (`{file}`)"))
    } else if !dist.purelib {
        Some("platlib wheel (Root-Is-Purelib: false)".to_string())
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
        return (extract(reason), warning);
    }
    let decision = if overrides.extract_all {
        extract("--extract-all".to_string())
    } else if overrides.extract.contains(&name) {
        extract("--extract".to_string())
    } else if forced_zip {
        Decision {
            mode: Mode::Zip,
            reason: "--zip-safe".to_string(),
            native,
        }
    } else {
        match scan(dist) {
            Some(reason) => extract(reason),
            None => Decision {
                mode: Mode::Zip,
                reason: "pure Python, no file-system use of its own files".to_string(),
                native,
            },
        }
    };
    (decision, None)
}

/// Code that turns a module's location into file-system paths, or runs files by path.
static PATH_USE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        // os.path.dirname(__file__), Path(__file__), FilePath(x.__file__), open(__file__),
        // os.listdir(__path__[0]), os.walk(pkg.__path__[0]), glob(__file__ …)
        r#"(?:dirname|abspath|realpath|normpath|join|split|exists|isfile|isdir|listdir|scandir|walk|glob|Path|open|chdir|stat)\s*\(\s*(?:[A-Za-z_][\w.\[\]'"]*\.)?__(?:file|path)__"#,
        // __path__[0] anywhere: the package directory as a string
        r"|\b__path__\s*\[\s*0\s*\]",
        // pkg_resources hands out real file names
        r"|\bresource_filename\s*\(",
        // importlib.resources.as_file / path: the caller needs a real file (a temporary copy
        // per process when run from a zip), e.g. certifi's `where()` handed to OpenSSL
        r"|\bas_file\s*\(|resources\.path\s*\(|\bimport\s+path\s+as\s+\w+",
    ))
    .expect("valid regex")
});

/// Standard-library modules whose `X.__file__` code often turns into paths (`dirname(os.__file__)`
/// finds the stdlib directory): that says nothing about the distribution's own files.
const STDLIB_MODULES: &[&str] = &[
    "abc",
    "asyncio",
    "codecs",
    "collections",
    "concurrent",
    "ctypes",
    "distutils",
    "doctest",
    "email",
    "encodings",
    "ensurepip",
    "gettext",
    "http",
    "idlelib",
    "importlib",
    "inspect",
    "io",
    "json",
    "lib2to3",
    "locale",
    "logging",
    "multiprocessing",
    "os",
    "pdb",
    "pickle",
    "pkgutil",
    "platform",
    "pydoc",
    "re",
    "runpy",
    "shutil",
    "site",
    "socket",
    "sqlite3",
    "ssl",
    "string",
    "subprocess",
    "sys",
    "sysconfig",
    "tempfile",
    "test",
    "threading",
    "tkinter",
    "traceback",
    "turtle",
    "types",
    "typing",
    "unittest",
    "urllib",
    "venv",
    "warnings",
    "xml",
    "zipfile",
];

/// Returns the first [`PATH_USE`] match that is about the code's own files: `os.__file__` and
/// the like (see [`STDLIB_MODULES`]) are skipped.
fn first_path_use(bytes: &[u8]) -> Option<regex::bytes::Match<'_>> {
    PATH_USE.find_iter(bytes).find(|m| {
        let text = m.as_bytes();
        let Some(at) = text.windows(8).position(|w| w == b"__file__") else {
            return true;
        };
        let before = &text[..at];
        let Some(open) = before.iter().rposition(|&b| b == b'(') else {
            return true;
        };
        let object = before[open + 1..].trim_ascii();
        let Some(object) = object.strip_suffix(b".") else {
            return true;
        };
        !STDLIB_MODULES.iter().any(|s| s.as_bytes() == object)
    })
}

/// Code that runs files by path: `exec(open(…))`, `execfile(…)`, `runpy.run_path(…)`. Weaker
/// evidence than [`PATH_USE`] (the file may be the user's, not the distribution's): reported
/// only when nothing stronger is found.
static EXEC_USE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bexec\s*\(\s*(?:compile\s*\(\s*)?open\s*\(|\bexecfile\s*\(|\brun_path\s*\(")
        .expect("valid regex")
});

/// Readers that work from a zip (they go through the module's loader).
static LOADER_READ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\bimportlib(?:_resources|\.resources)\b|\bget_data\s*\(|\bresource_(?:string|stream|exists|isdir|listdir)\s*\(|\bread_(?:text|binary)\s*\(",
    )
    .expect("valid regex")
});

/// Data files that code usually opens by path when nothing reads them through the loader.
const DATA_EXTENSIONS: &[&str] = &[
    "pem", "crt", "cer", "json", "txt", "html", "htm", "xml", "xsd", "yaml", "yml", "toml", "cfg",
    "ini", "conf", "csv", "tsv", "sql", "js", "css", "jinja", "jinja2", "j2", "tmpl", "tpl",
    "mako", "svg", "png", "gif", "ico", "jpg", "mo", "po", "dat", "db", "sqlite", "bin", "zip",
    "gz", "wav", "ttf", "woff", "woff2", "sh", "bat", "exe",
];

/// Returns why `dist` must be extracted, or `None` if it can run from the zip. Reads each `.py`
/// file at most once; an unreadable file counts as a reason to extract.
fn scan(dist: &InstalledDist) -> Option<String> {
    let is_meta = |top: &str| {
        top.ends_with(".dist-info") || top.ends_with(".egg-info") || top.ends_with(".data")
    };
    for f in &dist.files {
        let Some((top, rest)) = f.split_once('/') else {
            continue;
        };
        if is_meta(top) && (rest == "not-zip-safe") {
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
    let scanned: Vec<&String> = dist
        .files
        .iter()
        .filter(|f| {
            let top = f.split('/').next().unwrap_or(f);
            !(is_meta(top) || top == "bin" || top == "include" || in_tests(f))
        })
        .collect();
    // Sources are read in parallel (a single large distribution is the slow case); the result
    // is the same as a sequential pass: the first file in path order wins.
    let sources: Vec<SourceScan> = scanned
        .par_iter()
        .filter(|f| f.ends_with(".py"))
        .map(|f| scan_source(dist, f))
        .collect();
    if let Some(reason) = sources.iter().find_map(|s| s.path_use.clone()) {
        return Some(reason);
    }
    if let Some(reason) = sources.iter().find_map(|s| s.exec_use.clone()) {
        return Some(reason);
    }
    let loader_read = sources.iter().any(|s| s.loader_read);
    let data_file = scanned
        .iter()
        .find(|f| !f.ends_with(".py") && f.contains('/') && is_data_file(f));
    match data_file {
        Some(f) if !loader_read => Some(format!(
            "data files next to modules and no loader-based reader (`{f}`)"
        )),
        _ => None,
    }
}

/// What one source file shows.
#[derive(Debug, Default)]
struct SourceScan {
    /// A reason to extract from [`PATH_USE`] (or an unreadable file).
    path_use: Option<String>,
    /// A reason to extract from [`EXEC_USE`].
    exec_use: Option<String>,
    /// Whether [`LOADER_READ`] matched.
    loader_read: bool,
}

/// Reads `file` of `dist` once and searches it.
fn scan_source(dist: &InstalledDist, f: &str) -> SourceScan {
    let Ok(bytes) = fs_err::read(dist.root.join(f)) else {
        return SourceScan {
            path_use: Some(format!("unreadable source (`{f}`)")),
            ..SourceScan::default()
        };
    };
    let bytes = mask_inert_lines(&bytes);
    if let Some(m) = first_path_use(&bytes) {
        return SourceScan {
            path_use: Some(format!(
                "uses `{}` for paths ({f}:{})",
                shown(m),
                line_of(&bytes, m)
            )),
            ..SourceScan::default()
        };
    }
    SourceScan {
        path_use: None,
        exec_use: EXEC_USE.find(&bytes).map(|m| {
            format!(
                "runs files by path with `{}` ({f}:{})",
                shown(m),
                line_of(&bytes, m)
            )
        }),
        loader_read: LOADER_READ.is_match(&bytes),
    }
}

/// Returns `source` with the lines that never run on import blanked (their newlines kept, so line
/// numbers stay right): comment lines, and the body of a top-level
/// `if __name__ == "__main__":` block (code that runs only when the module is executed as a
/// script, such as pygments' builtin tables regenerating themselves with `open(__file__)`). An
/// `else:`/`elif` of that block runs on import and is kept.
fn mask_inert_lines(source: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(source.len());
    let mut in_main = false;
    // The triple quote of a string that spans lines: its lines are never top-level code.
    let mut open_string: Option<&[u8]> = None;
    for line in source.split_inclusive(|&b| b == b'\n') {
        let trimmed = line.trim_ascii_start();
        let top_level = open_string.is_none()
            && trimmed.len() == line.len()
            && !trimmed.is_empty()
            && trimmed[0] != b'#';
        if top_level {
            in_main = line.starts_with(b"if __name__") && line.windows(8).any(|w| w == b"__main__");
        }
        let comment = open_string.is_none() && trimmed.first() == Some(&b'#');
        if in_main || comment {
            out.extend(line.iter().filter(|&&b| b == b'\n'));
        } else {
            out.extend_from_slice(line);
        }
        open_string = track_triple_quotes(line, open_string);
    }
    out
}

/// Returns the triple quote still open at the end of `line`, given the one open at its start.
fn track_triple_quotes<'q>(line: &[u8], mut open: Option<&'q [u8]>) -> Option<&'q [u8]> {
    const QUOTES: [&[u8]; 2] = [b"\"\"\"", b"'''"];
    let mut i = 0;
    while i + 3 <= line.len() {
        let here = &line[i..i + 3];
        match open {
            Some(q) if here == q => {
                open = None;
                i += 3;
            }
            None if here[0] == b'#' => break,
            None => {
                if let Some(q) = QUOTES.iter().find(|q| **q == here) {
                    open = Some(q);
                    i += 3;
                } else {
                    i += 1;
                }
            }
            Some(_) => i += 1,
        }
    }
    open
}

/// Returns the matched code with blanks removed and the call closed, e.g. `dirname(__file__)`.
fn shown(m: regex::bytes::Match<'_>) -> String {
    let mut what: String = String::from_utf8_lossy(m.as_bytes())
        .split_whitespace()
        .collect();
    if what.ends_with("__") {
        what.push(')');
    } else if what.ends_with('(') {
        what.push_str("…)");
    }
    what
}

/// Returns the 1-based line number of `m` in `bytes`.
fn line_of(bytes: &[u8], m: regex::bytes::Match<'_>) -> usize {
    1 + bytes[..m.start()].iter().filter(|&&b| b == b'\n').count()
}

/// Returns true if `path` is under a `tests` directory (test suites do not run in a bundle).
fn in_tests(path: &str) -> bool {
    path.split('/')
        .rev()
        .skip(1)
        .any(|c| c == "tests" || c == "test")
}

/// Returns true if `path` looks like a data file that code opens by name.
fn is_data_file(path: &str) -> bool {
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
    out.retain(|d| {
        let top = d.split('/').next().unwrap_or(d);
        !top.ends_with(".dist-info")
            && !top.ends_with(".data")
            && !top.ends_with(".egg-info")
            && top != "bin"
            && top != "include"
            && top != "__pycache__"
    });
    out
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

    fn path_use(src: &str) -> bool {
        first_path_use(&mask_inert_lines(src.as_bytes())).is_some()
    }

    #[test]
    fn path_uses() {
        assert!(path_use("HERE = os.path.dirname(__file__)"));
        assert!(path_use("f = os.path.dirname( os.path.abspath(__file__))"));
        assert!(path_use("root = Path(__file__).parent"));
        assert!(path_use("p = pathlib.Path(__file__).resolve()"));
        assert!(path_use("fp = FilePath(twisted.__file__)"));
        assert!(!path_use("stdlib = os.path.dirname(os.__file__)"));
        assert!(path_use(
            "d = dirname(os.__file__)\nhere = dirname(__file__)"
        ));
        assert!(path_use("d = dirname(osx.__file__)"));
        assert!(path_use(
            "d = os.path.dirname(sys.modules[__name__].__file__)"
        ));
        assert!(path_use("with importlib_resources.path('pkg', 'x') as p:"));
        assert!(path_use("os.path.join(django.__path__[0], 'conf')"));
        assert!(path_use("for n in os.listdir(__path__[0]):"));
        assert!(path_use("with open(__file__) as f:"));
        assert!(path_use("pkg_resources.resource_filename(__name__, 'x')"));
        assert!(path_use(
            "_CACERT_CTX = as_file(files('certifi').joinpath('cacert.pem'))"
        ));
        assert!(path_use(
            "from importlib.resources import path as get_path, read_text"
        ));
        assert!(!path_use("__path__ = extend_path(__path__, __name__)"));
        assert!(!path_use("log.debug('loaded %s', __file__)"));
        assert!(!path_use("getattr(sys, '_MEIPASS', None)"));
        assert!(!path_use("data = pkgutil.get_data(__name__, 'x.json')"));
        assert!(!path_use("for m in pkgutil.iter_modules(__path__):"));
    }

    #[test]
    fn main_blocks_and_comments_do_not_count() {
        let script_only = "TABLE = {}\n\nif __name__ == '__main__':  # pragma: no cover\n    import os\n\n    with open(__file__) as f:\n        content = f.read()\n";
        assert!(!path_use(script_only));
        assert!(!path_use("# see os.path.dirname(__file__)\nx = 1\n"));
        // Code after the block, or in its `else:`, runs on import.
        assert!(path_use(
            "if __name__ == '__main__':\n    main()\nHERE = os.path.dirname(__file__)\n"
        ));
        assert!(path_use(
            "if __name__ == '__main__':\n    main()\nelse:\n    HERE = os.path.dirname(__file__)\n"
        ));
        // A multi-line string inside the block does not end it.
        let with_string = "if __name__ == '__main__':\n    s = f\'\'\'\\\nfd = x;\nmclose(fd)\'\'\')\n    with open(__file__) as f:\n        pass\n";
        assert!(!path_use(with_string), "{with_string}");
        // Line numbers survive the masking.
        let masked = mask_inert_lines(b"# c\nif __name__ == '__main__':\n    x\ny = 1\n");
        assert_eq!(masked, b"\n\n\ny = 1\n");
    }

    #[test]
    fn exec_uses() {
        for src in [
            "exec(open('version.py').read())",
            "exec(compile(open(p).read(), p, 'exec'))",
            "execfile(filename, g, l)",
            "runpy.run_path(script)",
        ] {
            assert!(EXEC_USE.is_match(src.as_bytes()), "{src}");
        }
        assert!(!EXEC_USE.is_match(b"exec(code, ns)"));
    }

    #[test]
    fn loader_readers() {
        for src in [
            "from importlib.resources import files",
            "import importlib_resources",
            "pkgutil.get_data(__name__, 'a.json')",
            "pkg_resources.resource_string(__name__, 'a')",
        ] {
            assert!(LOADER_READ.is_match(src.as_bytes()), "{src}");
        }
        assert!(!LOADER_READ.is_match(b"import json"));
    }

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
}
