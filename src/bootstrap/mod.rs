//! The run time that ships inside every bundle: the `_pybundle` package (real `.py` files in
//! `src/bootstrap/_pybundle/`, embedded here) and the generated `__main__.py`, which holds only
//! data literals and one call into `_pybundle`. The contract between the two is documented in
//! `docs/DESIGN.md`.
//!
//! The package, by concern: `__init__` is the warm path and the only module every start imports
//! (it also holds the Python side's only definitions of the bundle format's names, checked
//! against the Rust side by a test below); `_cache` the extraction cache as a start reads it
//! (roots, lookup, the `.pybundle-pyc` format), imported when an extracted distribution is
//! first needed; `_extract` creating roots, the marker format, checking and writing entries;
//! `_zip` the bundle's directory and the inner archives; `_metadata` importlib.metadata;
//! `_errors` error messages, the exit on KeyboardInterrupt and the thread traceback hook;
//! `_interp` interpreter mode; `_launch` scripts as entries and the commands of a multi-call
//! bundle; `_pth` the `.pth` files (imported only by bundles that ship some); `_importer` the
//! finder and loader of the zip-safe distributions (the store `_pybundle/site.data` indexed by
//! `_pybundle/site.index`), imported by every start; `_resources` their resources
//! (`importlib.resources`, `pkg_resources`); `_child` and `child/sitecustomize.py` the children
//! (`PYBUNDLE_EXTEND_PYTHONPATH`, multiprocessing spawn and forkserver) that import them.

use std::fmt::Write as _;

/// Every file of the run-time package, as (path inside the bundle, source).
pub const RUNTIME_FILES: &[(&str, &str)] = &[
    (
        "_pybundle/__init__.py",
        include_str!("_pybundle/__init__.py"),
    ),
    ("_pybundle/_cache.py", include_str!("_pybundle/_cache.py")),
    ("_pybundle/_child.py", include_str!("_pybundle/_child.py")),
    ("_pybundle/_errors.py", include_str!("_pybundle/_errors.py")),
    (
        "_pybundle/_extract.py",
        include_str!("_pybundle/_extract.py"),
    ),
    (
        "_pybundle/_importer.py",
        include_str!("_pybundle/_importer.py"),
    ),
    ("_pybundle/_interp.py", include_str!("_pybundle/_interp.py")),
    ("_pybundle/_launch.py", include_str!("_pybundle/_launch.py")),
    (
        "_pybundle/_metadata.py",
        include_str!("_pybundle/_metadata.py"),
    ),
    ("_pybundle/_pth.py", include_str!("_pybundle/_pth.py")),
    (
        "_pybundle/_resources.py",
        include_str!("_pybundle/_resources.py"),
    ),
    (
        "_pybundle/child/sitecustomize.py",
        include_str!("_pybundle/child/sitecustomize.py"),
    ),
    ("_pybundle/_zip.py", include_str!("_pybundle/_zip.py")),
];

/// The end of every `__main__.py`, before the call into `_pybundle`: the guard that makes
/// zipimport's reads of the bundle's members (`_pybundle` included) CRC-32 checked, and checks
/// `__main__.py` itself. The tests' hand-made bundles (`tests/python/helpers.py`) read the
/// same file.
pub const GUARD: &str = include_str!("guard.py");

/// The run-time files only a `--venv` bundle carries (so that every other bundle stays as it
/// was): the start that builds and executes its environment.
pub const VENV_RUNTIME_FILES: &[(&str, &str)] =
    &[("_pybundle/_venv.py", include_str!("_pybundle/_venv.py"))];

/// The run-time files a `--venv` bundle leaves out: its start only builds and executes the
/// environment (`_venv` with `__init__`, `_importer`'s store reader, `_cache`, `_extract`'s
/// roots and rename, `_errors`, `_launch` for a multi-call bundle), nothing is imported from the
/// bundle, no distribution is extracted from an inner archive.
pub const NOT_IN_VENV_BUNDLES: &[&str] = &[
    "_pybundle/_child.py",
    "_pybundle/_interp.py",
    "_pybundle/_metadata.py",
    "_pybundle/_pth.py",
    "_pybundle/_resources.py",
    "_pybundle/_zip.py",
    "_pybundle/child/sitecustomize.py",
];

/// Returns the run-time files of a bundle: for a `venv` one with [`VENV_RUNTIME_FILES`] and
/// without [`NOT_IN_VENV_BUNDLES`].
pub fn runtime_files(venv: bool) -> Vec<(&'static str, &'static str)> {
    if !venv {
        return RUNTIME_FILES.to_vec();
    }
    RUNTIME_FILES
        .iter()
        .filter(|(path, _)| !NOT_IN_VENV_BUNDLES.contains(path))
        .chain(VENV_RUNTIME_FILES)
        .copied()
        .collect()
}

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

/// Returns the source of the generated `__main__.py`.
pub fn render_main(data: &MainData) -> String {
    let (kind, module, attr) = &data.entry;
    let dists: Vec<String> = data
        .dists
        .iter()
        .map(|(name, dir)| format!("({}, {})", py_str(name), py_str(dir)))
        .collect();
    let extract: Vec<String> = data
        .extract
        .iter()
        .map(|item| {
            let names: Vec<String> = item.lazy_names.iter().map(|n| py_str(n)).collect();
            let native: Vec<String> = item
                .native
                .iter()
                .map(|(path, size)| format!("({}, {size})", py_str(path)))
                .collect();
            let unit = match &item.unit {
                Some(dir) => format!(", {}", py_str(dir)),
                None => String::new(),
            };
            format!(
                "({}, {}, {}, {}, {}, {}{unit})",
                py_str(&item.key),
                item.files,
                item.bytes,
                py_tuple(&names),
                py_opt(item.dist_info.as_deref()),
                py_tuple(&native),
            )
        })
        .collect();
    let pth: Vec<String> = data
        .pth
        .iter()
        .map(|(dir, name)| format!("({}, {})", py_str(dir), py_str(name)))
        .collect();
    let commands: String = if data.commands.is_empty() {
        String::new()
    } else {
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
        format!("COMMANDS = {}\n", py_tuple(&items))
    };
    // A venv bundle's start is `_venv.main` (the module ships only in those bundles).
    let (commands, package) = match &data.venv {
        Some(key) => (
            format!("{commands}VENV = {}\n", py_str(key)),
            "_pybundle._venv",
        ),
        None => (commands, "_pybundle"),
    };
    let env: Vec<String> = data
        .env
        .iter()
        .map(|(k, v)| format!("({}, {})", py_str(k), py_str(v)))
        .collect();
    format!(
        "# Generated by pybundle {version}. Data, then the guard that checks what zipimport reads; \
         the logic lives in _pybundle.\n\
         BUILD_ID = {build_id}\n\
         ENTRY = ({kind}, {module}, {attr})\n\
         PYTHON = {{\"implementation\": {implementation}, \"version\": ({major}, {minor}), \"cache_tag\": {cache_tag}, \
         \"requires_python\": {requires_python}, \"native\": {native}, \"platform\": {platform}, \
         \"sys_platform\": {sys_platform}, \"machine\": {machine}, \"multiarch\": {multiarch}}}\n\
         EXTRACT = {extract}\n\
         DISTS = {dists}\n\
         PTH = {pth}\n\
         PREAMBLE = {preamble}\n\
         ENV = {env}\n\
         ROOT = {root}\n\
         INHERIT_PATH = {inherit}\n\
         {commands}\
         {guard}\
         import {package}\n\
         {package}.main(globals())\n",
        version = env!("CARGO_PKG_VERSION"),
        build_id = py_str(&data.build_id),
        kind = py_str(kind),
        module = py_opt(module.as_deref()),
        attr = py_opt(attr.as_deref()),
        implementation = py_str(&data.implementation),
        major = data.version.0,
        minor = data.version.1,
        cache_tag = py_str(&data.cache_tag),
        requires_python = py_opt(data.requires_python.as_deref()),
        native = py_bool(data.native),
        platform = py_str(&data.platform),
        sys_platform = py_str(&data.sys_platform),
        machine = py_str(&data.machine),
        multiarch = py_opt(data.multiarch.as_deref()),
        extract = py_tuple(&extract),
        dists = py_tuple(&dists),
        pth = py_tuple(&pth),
        preamble = py_bool(data.preamble),
        env = py_tuple(&env),
        root = py_opt(data.root.as_deref()),
        inherit = py_bool(data.inherit_path),
        commands = commands,
        guard = GUARD,
        package = package,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::store;

    /// `NAME = value` lines of the `# --- site index format` block of `_pybundle/_importer.py`.
    fn importer_format() -> Vec<(String, String)> {
        let text = include_str!("_pybundle/_importer.py");
        let start = text
            .find("\n# --- site index format")
            .expect("`_importer.py` has a site index format block");
        let len = text[start..]
            .find("\n# --- end of the site index format")
            .expect("the site index format block ends");
        let line = regex::Regex::new(r"(?m)^(_?[A-Z][A-Z0-9_]*) = (.+)$").unwrap();
        let mut found: Vec<(String, String)> = line
            .captures_iter(&text[start..start + len])
            .map(|c| (c[1].to_string(), c[2].trim().to_string()))
            .collect();
        found.sort();
        found
    }

    /// The Python reader of the site store uses the Rust writer's format: every constant of
    /// its format block, by value; a name added, removed or changed on either side fails here.
    #[test]
    fn the_importer_shares_the_site_index_format() {
        let quoted = |s: &str| format!("\"{s}\"");
        let magic = format!("b\"{}\"", std::str::from_utf8(store::MAGIC).unwrap());
        let mut rust: Vec<(String, String)> = [
            ("DATA", quoted(store::DATA_MEMBER)),
            ("INDEX", quoted(store::INDEX_MEMBER)),
            ("MAGIC", magic),
            ("HEADER", quoted(store::HEADER_STRUCT)),
            ("SLOT", quoted(store::SLOT_STRUCT)),
            ("RECORD", quoted(store::RECORD_STRUCT)),
            ("KIND_FILE", store::KIND_FILE.to_string()),
            ("KIND_DIR", store::KIND_DIR.to_string()),
            ("F_DEFLATED", store::FLAG_DEFLATED.to_string()),
            ("F_BYTECODE", store::FLAG_PYC.to_string()),
            ("F_PYC_DEFLATED", store::FLAG_PYC_DEFLATED.to_string()),
            ("F_EXEC", store::FLAG_EXECUTABLE.to_string()),
            ("_HEADER_SIZE", store::HEADER_LEN.to_string()),
            ("_SLOT_SIZE", store::SLOT_LEN.to_string()),
            ("_RECORD_SIZE", store::RECORD_LEN.to_string()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
        rust.sort();
        assert_eq!(importer_format(), rust);
    }

    /// The guard of `__main__.py` cannot import `_pybundle` (it checks it): its damage
    /// paragraph is written out, in the words of `_pybundle.damaged`.
    #[test]
    fn the_guard_reports_damage_in_the_package_words() {
        let init = include_str!("_pybundle/__init__.py");
        for words in ["\"error: the bundle `%s` is damaged (", "); rebuild it or "] {
            assert!(GUARD.contains(words) && init.contains(words), "{words}");
        }
        assert!(GUARD.ends_with("\n_pybundle_guard(globals())\n"));
    }

    #[test]
    fn string_literals() {
        assert_eq!(py_str("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(py_str("é"), "\"é\"");
    }

    #[test]
    fn every_runtime_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bootstrap");
        let mut on_disk: Vec<String> = walkdir::WalkDir::new(&dir)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "py"))
            .filter(|e| e.path() != dir.join("guard.py")) // rendered into `__main__.py`
            .map(|e| {
                e.path()
                    .strip_prefix(&dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = RUNTIME_FILES
            .iter()
            .chain(VENV_RUNTIME_FILES)
            .map(|(p, _)| (*p).to_string())
            .collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    /// `_venv.py` imports none of the modules a venv bundle leaves out.
    #[test]
    fn the_venv_module_needs_no_module_it_leaves_out() {
        let text = include_str!("_pybundle/_venv.py");
        for path in NOT_IN_VENV_BUNDLES {
            let module = path.trim_end_matches(".py").rsplit('/').next().unwrap();
            assert!(!text.contains(&format!(" {module}")), "{module}");
            assert!(!text.contains(&format!(".{module}")), "{module}");
        }
        assert_eq!(
            runtime_files(true).len() + NOT_IN_VENV_BUNDLES.len(),
            RUNTIME_FILES.len() + 1
        );
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

    /// `_venv.py` names the environments' directory and `venv.json` as the Rust side does.
    #[test]
    fn the_venv_module_shares_the_format() {
        let text = include_str!("_pybundle/_venv.py");
        for (name, value) in [
            ("VENVS_DIR", crate::layout::venv::VENVS_DIR),
            ("VENV_INFO", crate::layout::venv::VENV_INFO_PATH),
        ] {
            assert!(
                text.contains(&format!("\n{name} = \"{value}\"\n")),
                "{name}"
            );
        }
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
