//! The generated `__main__.py`, part of the bundle format: what it tells the run time
//! ([`MainData`], one [`ExtractItem`] per extracted distribution) and its renderer
//! ([`render_main`]): data literals, the guard (`src/bootstrap/guard.py`), then one call into
//! `_pybundle`, whose `__init__.py` reads the literals (the order of an `EXTRACT` tuple is
//! checked against its `Item` by a test).

use std::fmt::Write as _;

/// The end of every `__main__.py`, before the call into `_pybundle`: the guard that makes
/// zipimport's reads of the bundle's members (`_pybundle` included) CRC-32 checked, and checks
/// `__main__.py` itself. The tests' hand-made bundles (`tests/python/helpers.py`) read the
/// same file.
pub const GUARD: &str = include_str!("../bootstrap/guard.py");

/// An `ENTRY` literal of `__main__.py`: `(kind, module or archive dir, attr or script path)`.
pub type EntryLiteral = (String, Option<String>, Option<String>);

/// What the generated `__main__.py` tells the run time.
#[derive(Debug, Clone, Default)]
pub struct MainData {
    /// Build id.
    pub build_id: String,
    /// `("function", module, attr)`, `("module", module, None)`, `("interpreter", None, None)`,
    /// or for a script `(kind, archive_dir, "bin/NAME")` with kind `script`, `executable` or
    /// `wrapper` and archive_dir `""` (the bundle's root) or `extract/<key>`.
    pub entry: EntryLiteral,
    /// The commands of a multi-call bundle: (name, entry as in `entry`). When not empty,
    /// `__main__.py` gets a `COMMANDS` literal.
    pub commands: Vec<(String, EntryLiteral)>,
    /// Implementation name, e.g. `cpython`.
    pub implementation: String,
    /// (major, minor).
    pub version: (u32, u32),
    /// `sys.implementation.cache_tag`.
    pub cache_tag: String,
    /// `Requires-Python` of the bundled distributions, joined with `,`.
    pub requires_python: Option<String>,
    /// Whether the bundle holds native code.
    pub native: bool,
    /// `sysconfig.get_platform()`.
    pub platform: String,
    /// `sys.platform`.
    pub sys_platform: String,
    /// `platform.machine()`.
    pub machine: String,
    /// `sys.implementation._multiarch`, where the build interpreter has it.
    pub multiarch: Option<String>,
    /// Extracted distributions.
    pub extract: Vec<ExtractItem>,
    /// Distributions imported from the zip, as (normalised name, `.dist-info` directory), for
    /// the run time's importlib.metadata finder.
    pub dists: Vec<(String, String)>,
    /// `.pth` files: (directory in the bundle, file name).
    pub pth: Vec<(String, String)>,
    /// Whether `_pybundle/preamble.py` exists.
    pub preamble: bool,
    /// Default environment.
    pub env: Vec<(String, String)>,
    /// Extraction root baked in at build time.
    pub root: Option<String>,
    /// Keep the host's site-packages on sys.path.
    pub inherit_path: bool,
    /// For a `--venv` bundle, the build half of its environment's key: `__main__.py` gets a
    /// `VENV` literal and the start executes the environment's python (`_pybundle._venv`).
    pub venv: Option<String>,
}

/// One distribution that runs from the extraction cache (an `EXTRACT` item of `__main__.py`).
#[derive(Debug, Clone, Default)]
pub struct ExtractItem {
    /// Cache key (`extract/<key>/` in the bundle).
    pub key: String,
    /// Number of file members.
    pub files: usize,
    /// Total bytes of the file members.
    pub bytes: u64,
    /// Top-level import names whose first import extracts the entry; empty: extracted at start.
    pub lazy_names: Vec<String>,
    /// The `.dist-info` directory, for metadata before the entry is extracted.
    pub dist_info: Option<String>,
    /// Native files (extension modules, shared libraries, executables) as (path inside the
    /// entry, size), sorted: every start that uses the entry checks that they exist with these
    /// sizes, and repairs the entry if not.
    pub native: Vec<(String, u64)>,
    /// For a distribution extracted in part: the directory of its unit, relative to the
    /// entry (`azure/cli/command_modules/acs`); `lazy_names` then holds the one dotted module
    /// whose import extracts it, and the module is found in that directory's parent.
    pub unit: Option<String>,
    /// For a distribution extracted whole: its test suites left in the site store
    /// (`numpy/linalg/tests`), not in the entry; the run time imports them from the store.
    pub tests: Vec<String>,
    /// For a distribution extracted whole: its subpackages written to the entry on their first
    /// import, each with its files and bytes and its native files (as `native`). `files`,
    /// `bytes` and `native` above count the rest, what a first start writes up front.
    pub parts: Vec<ExtractPart>,
}

/// A subpackage of an extracted entry written on its first import (an `EXTRACT` item's
/// `parts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractPart {
    /// Its directory, relative to the entry's `site-packages` (`scipy/stats`).
    pub dir: String,
    /// Number of its file members (bytecode included).
    pub files: usize,
    /// Total bytes of those members.
    pub bytes: u64,
    /// Its native files as (path inside the entry, size), sorted.
    pub native: Vec<(String, u64)>,
}

/// Returns `s` as a Python string literal (valid on every supported version).
pub fn py_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn py_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "None".to_string(), py_str)
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn py_tuple(items: &[String]) -> String {
    match items.len() {
        0 => "()".to_string(),
        1 => format!("({},)", items[0]),
        _ => format!("({})", items.join(", ")),
    }
}

/// The fields of an `EXTRACT` item, in the order of the tuple (the parameters of `Item` in
/// `_pybundle/__init__.py`, checked by a test); trailing fields with no value (`unit` of
/// `None`, no `tests`) are left out.
pub const EXTRACT_FIELDS: [&str; 9] = [
    "key",
    "files",
    "size",
    "names",
    "dist_info",
    "native",
    "unit",
    "tests",
    "parts",
];

/// Returns the `EXTRACT` tuple of `item`, its fields in the order of [`EXTRACT_FIELDS`].
fn extract_literal(item: &ExtractItem) -> String {
    let names: Vec<String> = item.lazy_names.iter().map(|n| py_str(n)).collect();
    let native = natives_literal(&item.native);
    let mut fields: Vec<(&str, String)> = vec![
        ("key", py_str(&item.key)),
        ("files", item.files.to_string()),
        ("size", item.bytes.to_string()),
        ("names", py_tuple(&names)),
        ("dist_info", py_opt(item.dist_info.as_deref())),
        ("native", native),
    ];
    let (tests, parts) = (!item.tests.is_empty(), !item.parts.is_empty());
    if item.unit.is_some() || tests || parts {
        fields.push(("unit", py_opt(item.unit.as_deref())));
    }
    if tests || parts {
        let tests: Vec<String> = item.tests.iter().map(|t| py_str(t)).collect();
        fields.push(("tests", py_tuple(&tests)));
    }
    if parts {
        let parts: Vec<String> = item
            .parts
            .iter()
            .map(|p| {
                let native = natives_literal(&p.native);
                format!("({}, {}, {}, {native})", py_str(&p.dir), p.files, p.bytes)
            })
            .collect();
        fields.push(("parts", py_tuple(&parts)));
    }
    debug_assert!(fields.iter().zip(EXTRACT_FIELDS).all(|((n, _), f)| *n == f));
    let values: Vec<String> = fields.into_iter().map(|(_, v)| v).collect();
    format!("({})", values.join(", "))
}

/// Returns the tuple literal of native files as (path, size).
fn natives_literal(native: &[(String, u64)]) -> String {
    let items: Vec<String> = native
        .iter()
        .map(|(path, size)| format!("({}, {size})", py_str(path)))
        .collect();
    py_tuple(&items)
}

/// Returns a tuple of pairs of string literals.
fn pairs_literal(pairs: &[(String, String)]) -> String {
    let items: Vec<String> = pairs
        .iter()
        .map(|(a, b)| format!("({}, {})", py_str(a), py_str(b)))
        .collect();
    py_tuple(&items)
}

/// Returns the optional lines after `INHERIT_PATH` (`COMMANDS` of a multi-call bundle, `VENV`
/// of a `--venv` bundle) and the package whose `main` starts the bundle (a venv bundle's start
/// is `_venv.main`, a module that ships only in those bundles).
fn optional_lines(data: &MainData) -> (String, &'static str) {
    let mut lines = String::new();
    if !data.commands.is_empty() {
        let items: Vec<String> = data
            .commands
            .iter()
            .map(|(name, (kind, module, attr))| {
                format!(
                    "({}, {}, {}, {})",
                    py_str(name),
                    py_str(kind),
                    py_opt(module.as_deref()),
                    py_opt(attr.as_deref())
                )
            })
            .collect();
        lines = format!("COMMANDS = {}\n", py_tuple(&items));
    }
    match &data.venv {
        Some(key) => (
            format!("{lines}VENV = {}\n", py_str(key)),
            "_pybundle._venv",
        ),
        None => (lines, "_pybundle"),
    }
}

/// Returns the `PYTHON` dict of `__main__.py`.
fn python_literal(data: &MainData) -> String {
    format!(
        "{{\"implementation\": {}, \"version\": ({}, {}), \"cache_tag\": {}, \
         \"requires_python\": {}, \"native\": {}, \"platform\": {}, \
         \"sys_platform\": {}, \"machine\": {}, \"multiarch\": {}}}",
        py_str(&data.implementation),
        data.version.0,
        data.version.1,
        py_str(&data.cache_tag),
        py_opt(data.requires_python.as_deref()),
        py_bool(data.native),
        py_str(&data.platform),
        py_str(&data.sys_platform),
        py_str(&data.machine),
        py_opt(data.multiarch.as_deref()),
    )
}

/// Returns the source of the generated `__main__.py`.
pub fn render_main(data: &MainData) -> String {
    let (kind, module, attr) = &data.entry;
    let extract: Vec<String> = data.extract.iter().map(extract_literal).collect();
    let (optional, package) = optional_lines(data);
    format!(
        "# Generated by pybundle {version}. Data, then the guard that checks what zipimport reads; \
         the logic lives in _pybundle.\n\
         BUILD_ID = {build_id}\n\
         ENTRY = ({kind}, {module}, {attr})\n\
         PYTHON = {python}\n\
         EXTRACT = {extract}\n\
         DISTS = {dists}\n\
         PTH = {pth}\n\
         PREAMBLE = {preamble}\n\
         ENV = {env}\n\
         ROOT = {root}\n\
         INHERIT_PATH = {inherit}\n\
         {optional}\
         {GUARD}\
         import {package}\n\
         {package}.main(globals())\n",
        version = env!("CARGO_PKG_VERSION"),
        build_id = py_str(&data.build_id),
        kind = py_str(kind),
        module = py_opt(module.as_deref()),
        attr = py_opt(attr.as_deref()),
        python = python_literal(data),
        extract = py_tuple(&extract),
        dists = pairs_literal(&data.dists),
        pth = pairs_literal(&data.pth),
        preamble = py_bool(data.preamble),
        env = pairs_literal(&data.env),
        root = py_opt(data.root.as_deref()),
        inherit = py_bool(data.inherit_path),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The order of an `EXTRACT` tuple is the order of the parameters of `Item` in
    /// `_pybundle/__init__.py`, which reads the tuples with `Item(*item)`.
    #[test]
    fn extract_tuples_match_the_run_time_reader() {
        let init = include_str!("../bootstrap/_pybundle/__init__.py");
        assert_eq!(item_parameters(init), EXTRACT_FIELDS);
        let item = ExtractItem {
            key: "k".into(),
            files: 1,
            bytes: 2,
            lazy_names: vec!["n".into()],
            dist_info: Some("d".into()),
            native: vec![("f.so".into(), 3)],
            unit: Some("u".into()),
            tests: Vec::new(),
            parts: Vec::new(),
        };
        assert_eq!(
            extract_literal(&item),
            "(\"k\", 1, 2, (\"n\",), \"d\", ((\"f.so\", 3),), \"u\")"
        );
        let whole = ExtractItem {
            unit: None,
            tests: vec!["p/tests".into()],
            ..item
        };
        assert_eq!(
            extract_literal(&whole),
            "(\"k\", 1, 2, (\"n\",), \"d\", ((\"f.so\", 3),), None, (\"p/tests\",))"
        );
        let parted = ExtractItem {
            tests: Vec::new(),
            parts: vec![ExtractPart {
                dir: "p/s".into(),
                files: 4,
                bytes: 5,
                native: vec![("p/s/g.so".into(), 6)],
            }],
            ..whole
        };
        assert_eq!(
            extract_literal(&parted),
            "(\"k\", 1, 2, (\"n\",), \"d\", ((\"f.so\", 3),), None, (), ((\"p/s\", 4, 5, ((\"p/s/g.so\", 6),)),))"
        );
    }

    /// Returns the parameter names of `Item.__init__` in `init` (`self` and `*_later` aside).
    fn item_parameters(init: &str) -> Vec<String> {
        let class = init.find("\nclass Item(").expect("`Item` in `__init__.py`");
        let def = class
            + init[class..]
                .find("def __init__(self,")
                .expect("Item.__init__");
        let open = def + "def __init__(self,".len();
        let close = open + init[open..].find("):").expect("end of the parameters");
        init[open..close]
            .split(',')
            .map(|p| p.split('=').next().unwrap_or("").trim().to_string())
            .filter(|p| !p.is_empty() && !p.starts_with('*'))
            .collect()
    }

    #[test]
    fn the_order_check_reads_a_changed_reader() {
        let init = "x\nclass Item(object):\n    def __init__(self, key, size=None, files=None,\n                 *_later):\n";
        assert_eq!(item_parameters(init), ["key", "size", "files"]);
        assert_ne!(item_parameters(init), EXTRACT_FIELDS);
    }

    #[test]
    fn string_literals() {
        assert_eq!(py_str("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(py_str("é"), "\"é\"");
    }

    /// A venv bundle's `__main__.py` names its environment and starts through `_venv`.
    #[test]
    fn venv_bundles_start_through_the_venv_module() {
        let data = MainData {
            entry: ("module".into(), Some("tool".into()), None),
            venv: Some("app-0123456789abcdef".into()),
            ..MainData::default()
        };
        let text = render_main(&data);
        assert!(
            text.contains("VENV = \"app-0123456789abcdef\"\ndef _pybundle_guard(g):\n"),
            "{text}"
        );
        assert!(
            text.ends_with(
                "\n_pybundle_guard(globals())\nimport _pybundle._venv\n_pybundle._venv.main(globals())\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn main_snapshot() {
        let data = MainData {
            build_id: "abc".into(),
            entry: (
                "function".into(),
                Some("app.main".into()),
                Some("main".into()),
            ),
            implementation: "cpython".into(),
            version: (3, 11),
            cache_tag: "cpython-311".into(),
            requires_python: Some(">=3.8".into()),
            native: true,
            platform: "linux-x86_64".into(),
            sys_platform: "linux".into(),
            machine: "x86_64".into(),
            multiarch: Some("x86_64-linux-gnu".into()),
            extract: vec![ExtractItem {
                key: "spam-1.0-0123456789abcdef".into(),
                files: 3,
                bytes: 100,
                lazy_names: vec!["spam".into()],
                dist_info: Some("spam-1.0.dist-info".into()),
                native: vec![(
                    "spam/_speedups.cpython-311-x86_64-linux-gnu.so".into(),
                    16_000,
                )],
                unit: None,
                tests: Vec::new(),
                parts: Vec::new(),
            }],
            dists: vec![("six".into(), "six-1.17.0.dist-info".into())],
            pth: vec![],
            preamble: false,
            env: vec![("K".into(), "V\"q".into())],
            root: Some("/opt/app cache".into()),
            inherit_path: true,
            commands: vec![],
            venv: None,
        };
        let text = render_main(&data);
        let expected = "BUILD_ID = \"abc\"\n\
            ENTRY = (\"function\", \"app.main\", \"main\")\n\
            PYTHON = {\"implementation\": \"cpython\", \"version\": (3, 11), \"cache_tag\": \"cpython-311\", \"requires_python\": \">=3.8\", \"native\": True, \"platform\": \"linux-x86_64\", \"sys_platform\": \"linux\", \"machine\": \"x86_64\", \"multiarch\": \"x86_64-linux-gnu\"}\n\
            EXTRACT = ((\"spam-1.0-0123456789abcdef\", 3, 100, (\"spam\",), \"spam-1.0.dist-info\", ((\"spam/_speedups.cpython-311-x86_64-linux-gnu.so\", 16000),)),)\n\
            DISTS = ((\"six\", \"six-1.17.0.dist-info\"),)\n\
            PTH = ()\n\
            PREAMBLE = False\n\
            ENV = ((\"K\", \"V\\\"q\"),)\n\
            ROOT = \"/opt/app cache\"\n\
            INHERIT_PATH = True\n";
        let rest = text.split_once('\n').unwrap().1;
        assert_eq!(
            rest,
            format!("{expected}{GUARD}import _pybundle\n_pybundle.main(globals())\n")
        );
    }

    #[test]
    fn commands_literal_only_for_multicall() {
        let data = MainData {
            entry: ("interpreter".into(), None, None),
            commands: vec![
                (
                    "aws".into(),
                    ("script".into(), Some(String::new()), Some("bin/aws".into())),
                ),
                (
                    "black".into(),
                    (
                        "function".into(),
                        Some("black".into()),
                        Some("patched_main".into()),
                    ),
                ),
            ],
            ..MainData::default()
        };
        let text = render_main(&data);
        assert!(
            text.contains(
                "INHERIT_PATH = False\nCOMMANDS = ((\"aws\", \"script\", \"\", \"bin/aws\"), (\"black\", \"function\", \"black\", \"patched_main\"))\ndef _pybundle_guard(g):\n"
            ),
            "{text}"
        );
        let plain = render_main(&MainData::default());
        assert!(!plain.contains("COMMANDS"), "{plain}");
    }
}
