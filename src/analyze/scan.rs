//! One source file of a distribution, read once: every place where it turns a module's location
//! into a file-system path ([`Use`]), with what that path reaches as far as the statement (and the
//! variables it assigns) shows; whether it runs files by path, reads resources through a loader,
//! or locates its modules in a way the path uses do not explain; and the names its imports bind.
//!
//! It does not know the distribution's other files: [`super::unit`] works out what a use points at.
//! Everything is byte regexes over the source with comments and `if __name__ == "__main__":`
//! bodies blanked; no Python is parsed.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::LazyLock;

use regex::bytes::Regex;

/// Code that turns a module's location into file-system paths.
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

/// Code that runs files by path: `exec(open(…))`, `execfile(…)`, `runpy.run_path(…)`. Weaker
/// evidence than [`PATH_USE`] (the file may be the user's, not the distribution's): reported
/// only when nothing stronger is found.
pub(super) static EXEC_USE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bexec\s*\(\s*(?:compile\s*\(\s*)?open\s*\(|\bexecfile\s*\(|\brun_path\s*\(")
        .expect("valid regex")
});

/// Readers that work from a zip (they go through the module's loader).
pub(super) static LOADER_READ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\bimportlib(?:_resources|\.resources)\b|\bget_data\s*\(|\bresource_(?:string|stream|exists|isdir|listdir)\s*\(|\bread_(?:text|binary)\s*\(",
    )
    .expect("valid regex")
});

/// Anything that can find where a module's files are: without it, code cannot open its own
/// files by path (it can only read them through the loader, or open a path it is given).
static LOCATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"__file__|__path__|__spec__|__loader__|\bgetfile\b|\bgetsourcefile\b|\bfind_spec\b",
        r"|\bget_filename\b|\bfind_loader\b|\blocate_file\b|\bsys\.path\b|\bgetsitepackages\b",
        r"|\bsys\.(?:base_)?prefix\b|\.location\b|\bresource_filename\b",
    ))
    .expect("valid regex")
});

/// Calls that list or walk a directory: a path use that reaches one makes the whole
/// distribution go to disk (plugin discovery such as Twisted's lists package directories).
static LISTING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:listdir|scandir|walk|iglob|glob|iterdir|rglob|iter_modules|walk_packages)\s*\(",
    )
    .expect("valid regex")
});

/// One level up from a directory: `dirname(`, `os.pardir`, `os.path.split(`.
static RAISE_CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bdirname\s*\(|\bpardir\b|\bpath\.split\s*\(").expect("valid regex")
});

/// `.parent`, `.parents[N]` and a bare `.parents` of a `pathlib.Path`.
static PARENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\.parent(s?)\b(?:\s*\[\s*(-?\d+)\s*\])?").expect("valid regex"));

/// A statement that assigns to one name (`HERE = …`, `self.root: Path = …`).
static ASSIGNED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*((?:self\.)?[A-Za-z_]\w*)\s*(?::[^=\n]+)?=[^=]").expect("valid regex")
});

/// `import a.b [as c], …` and `from .a import (b as c, …)`.
static IMPORT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+)?import[ \t]+(\([^)]*\)|[^\n#;]+)")
        .expect("valid regex")
});

/// What a path use reaches, as the source shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Reach {
    /// The module's own `__file__`, `up` directories above the module's directory.
    Own {
        /// Levels above the module's directory.
        up: usize,
    },
    /// `X.__file__` of the module `X` as written (`states`, `argcomplete`, `a.b`), `up` levels
    /// above that module's directory.
    Module {
        /// The expression before `.__file__`.
        name: String,
        /// Levels above the module's directory.
        up: usize,
    },
    /// `resource_filename`, `as_file`, `importlib.resources.path`: the named package (a literal
    /// argument), or `None` when the argument is not a literal.
    Resource(Option<String>),
    /// Lists or walks directories, or uses `__path__[0]`: the whole distribution. With the
    /// module `X` when the directory is `X`'s (`listdir(dirname(pkg.__file__))`).
    Listing(Option<String>),
}

/// One path use of a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Use {
    /// 1-based line of the match.
    pub line: usize,
    /// The matched code, e.g. `dirname(__file__)`.
    pub shown: String,
    /// What it reaches.
    pub reach: Reach,
}

/// What one source file shows.
#[derive(Debug, Default)]
pub(super) struct SourceScan {
    /// The file could not be read.
    pub unreadable: bool,
    /// Every path use, in source order.
    pub uses: Vec<Use>,
    /// The first [`EXEC_USE`] match: the code shown and its line.
    pub exec_use: Option<(String, usize)>,
    /// Whether [`LOADER_READ`] matched.
    pub loader_read: bool,
    /// Whether code locates modules ([`LOCATE`]) outside the statements of `uses`.
    pub other_locate: bool,
    /// Names bound by imports → the dotted module they name (relative ones keep their dots);
    /// filled only when there are uses.
    pub imports: BTreeMap<String, String>,
}

/// Searches `source` (the bytes of one `.py` file).
pub(super) fn scan_source(source: &[u8]) -> SourceScan {
    let bytes = mask_inert_lines(source);
    let (uses, spans) = path_uses(&bytes);
    let other_locate = LOCATE
        .find_iter(&bytes)
        .any(|m| !spans.iter().any(|s| s.contains(&m.start())));
    let imports = if uses.is_empty() {
        BTreeMap::new()
    } else {
        imports(&bytes)
    };
    SourceScan {
        unreadable: false,
        exec_use: EXEC_USE
            .find(&bytes)
            .map(|m| (shown(m), line_of(&bytes, m.start()))),
        uses,
        loader_read: LOADER_READ.is_match(&bytes),
        other_locate,
        imports,
    }
}

/// Returns every path use of `bytes` (already masked) that is about the code's own files, and
/// the byte span of each one's statement. `os.__file__` and the like (see [`STDLIB_MODULES`])
/// are skipped.
fn path_uses(bytes: &[u8]) -> (Vec<Use>, Vec<Range<usize>>) {
    let mut uses = Vec::new();
    let mut spans = Vec::new();
    for m in PATH_USE.find_iter(bytes) {
        let text = m.as_bytes();
        let object = object_of(text);
        let named = object
            .map(|o| String::from_utf8_lossy(o).replace(' ', ""))
            .filter(|o| o != "sys.modules[__name__]");
        if object.is_some_and(|o| STDLIB_MODULES.iter().any(|s| s.as_bytes() == o)) {
            continue;
        }
        let span = statement(bytes, m.start());
        let stmt = &bytes[span.clone()];
        let reach = if contains(text, b"__path__") {
            Reach::Listing(path_object(text))
        } else if LISTING.is_match(stmt) {
            Reach::Listing(named)
        } else if contains(text, b"__file__") {
            match (levels_up(bytes, span.clone()), named) {
                (None, named) => Reach::Listing(named),
                (Some(up), None) => Reach::Own { up },
                (Some(up), Some(name)) => Reach::Module { name, up },
            }
        } else {
            Reach::Resource(resource_package(&bytes[m.end()..span.end]))
        };
        // `resources.path(__name__, …)` and the like: the module's own package.
        let reach = match reach {
            Reach::Resource(Some(p)) if p == "__name__" || p == "__package__" => {
                Reach::Own { up: 0 }
            }
            other => other,
        };
        uses.push(Use {
            line: line_of(bytes, m.start()),
            shown: shown(m),
            reach,
        });
        spans.push(span);
    }
    (uses, spans)
}

/// Returns true if `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Returns the object of `X.__file__` in a [`PATH_USE`] match (`states` of
/// `Path(states.__file__`), or `None` for a bare `__file__`.
fn object_of(text: &[u8]) -> Option<&[u8]> {
    let at = text.windows(8).position(|w| w == b"__file__")?;
    let before = &text[..at];
    let open = before.iter().rposition(|&b| b == b'(')?;
    before[open + 1..].trim_ascii().strip_suffix(b".")
}

/// Returns the module of `X.__path__` in a [`PATH_USE`] match (`django` of
/// `join(django.__path__`), or `None` for a bare `__path__`.
fn path_object(text: &[u8]) -> Option<String> {
    let at = text.windows(8).position(|w| w == b"__path__")?;
    let before = text[..at].strip_suffix(b".")?;
    let start = before
        .iter()
        .rposition(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'.'))
        .map_or(0, |p| p + 1);
    let name = String::from_utf8_lossy(&before[start..]).into_owned();
    (!name.is_empty()).then_some(name)
}

/// Returns the package a resource call names: the first argument when it is a string literal
/// (`resource_filename('pkg', …)`, `as_file(files('pkg') / …)`), `__name__`/`__package__`, or
/// `None`. `args` is the text after the call's opening parenthesis.
fn resource_package(args: &[u8]) -> Option<String> {
    let mut rest = args.trim_ascii_start();
    for prefix in [
        &b"files("[..],
        b"importlib.resources.files(",
        b"resources.files(",
    ] {
        if let Some(r) = rest.strip_prefix(prefix) {
            rest = r.trim_ascii_start();
        }
    }
    let text = String::from_utf8_lossy(rest);
    let quote = text.chars().next()?;
    if quote == '"' || quote == '\'' {
        let end = text[1..].find(quote)?;
        let name = &text[1..=end];
        return name
            .split('.')
            .all(crate::name::is_identifier)
            .then(|| name.to_string());
    }
    let word: String = text
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (word == "__name__" || word == "__package__").then_some(word)
}

/// Returns the byte span of the statement around offset `at`: its line, the lines before it
/// that leave a bracket or a continuation open, and the lines after it until the brackets
/// close (a few lines at most: this is a heuristic, not a parser).
fn statement(bytes: &[u8], at: usize) -> Range<usize> {
    let line_start = |i: usize| {
        bytes[..i]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
    };
    let mut start = line_start(at);
    for _ in 0..5 {
        if start == 0 {
            break;
        }
        let prev = line_start(start - 1);
        let text = bytes[prev..start - 1].trim_ascii_end();
        if text.last().is_some_and(|b| b"([{,\\=".contains(b)) {
            start = prev;
        } else {
            break;
        }
    }
    let mut end = at;
    for _ in 0..10 {
        end = bytes[end..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| end + p);
        let text = &bytes[start..end];
        let open: isize = text
            .iter()
            .map(|b| match b {
                b'(' | b'[' | b'{' => 1,
                b')' | b']' | b'}' => -1,
                _ => 0,
            })
            .sum();
        if end == bytes.len() || (open <= 0 && text.trim_ascii_end().last() != Some(&b'\\')) {
            break;
        }
        end += 1;
    }
    start..end
}

/// Returns how many directory levels `stmt` climbs: each `dirname(`, `.parent`, `..` path
/// component and `os.pardir` counts one, `.parents[N]` counts N + 1, and a bare `.parents`
/// (iterated: any ancestor) counts as many as it takes to reach the top.
fn raises(stmt: &[u8]) -> usize {
    let mut n = RAISE_CALL.find_iter(stmt).count();
    for c in PARENT.captures_iter(stmt) {
        let plural = c.get(1).is_some_and(|m| !m.is_empty());
        let index = c
            .get(2)
            .and_then(|m| std::str::from_utf8(m.as_bytes()).ok())
            .and_then(|s| s.parse::<usize>().ok());
        n += match (plural, index) {
            (false, _) => 1,
            (true, Some(i)) => i + 1,
            (true, None) => 64,
        };
    }
    let edge = |b: Option<&u8>| b.is_some_and(|b| b"\"'/\\".contains(b));
    for i in 0..stmt.len().saturating_sub(1) {
        if &stmt[i..i + 2] == b".." && i > 0 && edge(stmt.get(i - 1)) && edge(stmt.get(i + 2)) {
            n += 1;
        }
    }
    n
}

/// Returns how many levels above its module's directory the path built in the statement
/// `span` of `bytes` goes, following the names it is assigned to through the rest of the file
/// (`HERE = dirname(__file__)` then `ROOT = dirname(HERE)`), or `None` when one of those
/// statements lists or walks a directory.
fn levels_up(bytes: &[u8], span: Range<usize>) -> Option<usize> {
    // Depth 0 is the module file, 1 its directory (`dirname(__file__)`), and so on.
    let depth = raises(&bytes[span.clone()]);
    let mut best = depth;
    let mut work: Vec<(String, usize, Range<usize>)> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    if let Some(name) = assigned(&bytes[span.clone()]) {
        seen.insert(name.clone());
        work.push((name, depth, span));
    }
    while let Some((name, depth, def)) = work.pop() {
        if seen.len() > 16 {
            break;
        }
        for at in word_positions(bytes, name.as_bytes()) {
            if def.contains(&at) {
                continue;
            }
            let span = statement(bytes, at);
            let stmt = &bytes[span.clone()];
            let target = assigned(stmt);
            if target.as_deref() == Some(name.as_str())
                && word_positions(stmt, name.as_bytes()).len() < 2
            {
                continue; // reassigned from something else
            }
            if LISTING.is_match(stmt) {
                return None;
            }
            let d = depth + raises(stmt);
            best = best.max(d);
            if let Some(t) = target
                && seen.insert(t.clone())
            {
                work.push((t, d, span));
            }
        }
    }
    Some(best.saturating_sub(1))
}

/// Returns the name `stmt` assigns to, if it is a simple assignment.
fn assigned(stmt: &[u8]) -> Option<String> {
    let c = ASSIGNED.captures(stmt)?;
    Some(String::from_utf8_lossy(&c[1]).into_owned())
}

/// Returns the offsets where `word` occurs as a whole name (not an attribute of something else).
fn word_positions(bytes: &[u8], word: &[u8]) -> Vec<usize> {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = bytes[i..].windows(word.len()).position(|w| w == word) {
        let at = i + p;
        let before = at.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(at + word.len()).copied();
        if !before.is_some_and(|b| is_word(b) || b == b'.') && !after.is_some_and(is_word) {
            out.push(at);
        }
        i = at + word.len();
    }
    out
}

/// Returns the names the imports of `bytes` bind → the dotted module (or module attribute)
/// each names; relative names keep their leading dots.
fn imports(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for c in IMPORT.captures_iter(bytes) {
        let from = c
            .get(1)
            .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned());
        let items = String::from_utf8_lossy(&c[2]).into_owned();
        let items = items.trim().trim_start_matches('(').trim_end_matches(')');
        for item in items.split(',') {
            let mut words = item.split_whitespace();
            let Some(target) = words.next() else {
                continue;
            };
            let alias = match (words.next(), words.next()) {
                (Some("as"), Some(alias)) => Some(alias),
                _ => None,
            };
            match &from {
                Some(module) => {
                    let full = if module.ends_with('.') {
                        format!("{module}{target}")
                    } else {
                        format!("{module}.{target}")
                    };
                    out.insert(alias.unwrap_or(target).to_string(), full);
                }
                None => {
                    let bound = alias.unwrap_or_else(|| target.split('.').next().unwrap_or(target));
                    let full = if alias.is_some() { target } else { bound };
                    out.insert(bound.to_string(), full.to_string());
                }
            }
        }
    }
    out
}

/// Returns `source` with the lines that never run on import blanked (their newlines kept, so line
/// numbers stay right): comment lines, and the body of a top-level
/// `if __name__ == "__main__":` block (code that runs only when the module is executed as a
/// script, such as pygments' builtin tables regenerating themselves with `open(__file__)`). An
/// `else:`/`elif` of that block runs on import and is kept.
pub(super) fn mask_inert_lines(source: &[u8]) -> Vec<u8> {
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

/// Returns the 1-based line number of offset `at` in `bytes`.
fn line_of(bytes: &[u8], at: usize) -> usize {
    1 + bytes[..at].iter().filter(|&&b| b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uses(src: &str) -> Vec<Reach> {
        scan_source(src.as_bytes())
            .uses
            .into_iter()
            .map(|u| u.reach)
            .collect()
    }

    fn path_use(src: &str) -> bool {
        !uses(src).is_empty()
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
    fn what_a_use_reaches() {
        let own = |up| vec![Reach::Own { up }];
        assert_eq!(uses("HERE = os.path.dirname(__file__)"), own(0));
        assert_eq!(uses("p = Path(__file__).resolve().parent"), own(0));
        assert_eq!(uses("p = abspath(__file__)"), own(0));
        assert_eq!(uses("ROOT = dirname(dirname(abspath(__file__)))"), own(1));
        assert_eq!(uses("ROOT = Path(__file__).parent.parent"), own(1));
        assert_eq!(uses("ROOT = Path(__file__).parents[2] / 'docs'"), own(2));
        assert_eq!(uses("ROOT = join(dirname(__file__), '..', '..')"), own(2));
        assert_eq!(uses("ROOT = join(dirname(__file__), '../..')"), own(2));
        assert_eq!(
            uses("ROOT = os.path.join(\n    os.path.dirname(__file__),\n    os.pardir)\n"),
            own(1)
        );
        // The name a path is assigned to is followed.
        assert_eq!(
            uses("HERE = dirname(abspath(__file__))\nTOP = dirname(HERE)\nX = join(TOP, 'a')\n"),
            own(1)
        );
        assert_eq!(
            uses(
                "HERE = dirname(__file__)\ndef f():\n    return join(HERE, 'x', os.pardir, os.pardir)\n"
            ),
            own(2)
        );
        // `os.path` is not the name `path`.
        assert_eq!(
            uses("path = dirname(__file__)\nx = os.path.dirname(y)\n"),
            own(0)
        );
        assert_eq!(
            uses("d = os.path.dirname(sys.modules[__name__].__file__)"),
            own(0)
        );
        assert_eq!(
            uses("p = Path(states.__file__).parent / 'x'"),
            vec![Reach::Module {
                name: "states".into(),
                up: 0
            }]
        );
        // Listing or walking, directly or through a name.
        assert_eq!(
            uses("for n in os.listdir(__path__[0]):"),
            vec![Reach::Listing(None)]
        );
        assert_eq!(
            uses("for r, d, f in os.walk(os.path.dirname(__file__)):"),
            vec![Reach::Listing(None)]
        );
        assert_eq!(
            uses("HERE = Path(__file__).parent\nfor p in HERE.glob('*.json'):\n    pass\n"),
            vec![Reach::Listing(None)]
        );
        assert_eq!(
            uses("x = join(django.__path__[0], 'conf')"),
            vec![Reach::Listing(Some("django".into()))]
        );
        assert_eq!(
            uses(
                "pkg_path = os.path.dirname(pkg.__file__)\nfor sub in os.listdir(pkg_path):\n    pass\n"
            ),
            vec![Reach::Listing(Some("pkg".into()))]
        );
        // Resource calls name their package.
        assert_eq!(
            uses("p = resource_filename('pkg.data', 'x.txt')"),
            vec![Reach::Resource(Some("pkg.data".into()))]
        );
        assert_eq!(
            uses("c = as_file(files('certifi').joinpath('cacert.pem'))"),
            vec![Reach::Resource(Some("certifi".into()))]
        );
        assert_eq!(uses("p = resource_filename(__name__, 'x.txt')"), own(0));
        assert_eq!(
            uses("p = resource_filename(pkg, 'x.txt')"),
            vec![Reach::Resource(None)]
        );
    }

    #[test]
    fn imports_bind_names() {
        let got = imports(
            b"import a.b.c\nimport x.y as z\nfrom . import states\nfrom ..p import (q as r,\n  s)\nfrom m import n\n",
        );
        let want: BTreeMap<String, String> = [
            ("a", "a"),
            ("z", "x.y"),
            ("states", ".states"),
            ("r", "..p.q"),
            ("s", "..p.s"),
            ("n", "m.n"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn locating_modules() {
        assert!(scan_source(b"x = __file__[:-3]\n").other_locate);
        assert!(!scan_source(b"HERE = dirname(__file__)\n").other_locate);
        assert!(!scan_source(b"IANA_VERSION = '2024a'\n").other_locate);
        assert!(
            !scan_source(b"if __name__ == '__main__':\n    d = dirname(__file__)\n").other_locate
        );
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
}
