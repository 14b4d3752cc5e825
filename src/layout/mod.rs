//! The bundle format, defined once: the manifest (`_pybundle/manifest.json`) and its types, where
//! members go inside the zip, the run-time cache's layout (version directory, completion marker,
//! the `.pybundle-pyc` bytecode pack) and the cache key of an extracted distribution.
//!
//! Written by `pack` (and `commands::extract`), read by `bundle` and the `commands`. The run time
//! does not read the manifest on the warm path; it gets what it needs from the literals in the
//! generated `__main__.py`. The constants the Python run time shares (`MARKER`, `LAYOUT`,
//! `PYC_PACK`) are checked against `src/bootstrap/_pybundle/` by a test, so the two sides cannot
//! drift. The site store (`_pybundle/site.data` and `site.index`, the files of zip-imported
//! distributions) is defined in [`store`]. A leaf: it imports only `fsutil` and `name`.

pub mod main;
pub mod placement;
pub mod store;
pub mod venv;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fsutil::hex;
use crate::name::normalize_name;

/// The manifest's path inside the bundle.
pub const MANIFEST_PATH: &str = "_pybundle/manifest.json";
/// The manifest schema version; bump it on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;
/// The generated entry module at the bundle's root.
pub const MAIN_PATH: &str = "__main__.py";
/// The `--preamble` script inside the bundle.
pub const PREAMBLE_PATH: &str = "_pybundle/preamble.py";

/// Zip-imported distributions have no archive directory of their own: their paths are the
/// bundle's root (the site store), the only place inside a zip where `importlib.metadata` finds
/// `.dist-info` directories.
///
/// The archive directory of extracted distributions (`extract/<key>.zip` in the bundle; the
/// manifest lists their files as `extract/<key>/<path>`).
pub const EXTRACT_DIR: &str = "extract";

/// The layout version of the run-time extraction cache: the directory under a cache root
/// (`<root>/v1/dists/<key>/`) and a salt of every [`cache_key`]. Bump it when the layout of an
/// extracted entry changes, so old cache entries are not reused (`LAYOUT` in `_pybundle`).
pub const LAYOUT: &str = "v1";
/// The marker file of a complete cache entry (`MARKER` in `_pybundle`): first line
/// `pybundle-complete 1 <file count> <total bytes>`, then one `<size> <relative path>` line per
/// file, in zip order, `\n`-terminated.
pub const MARKER: &str = ".pybundle-complete";
/// The marker's first words (`MARKER_HEADER` in `_pybundle`), before the file count and size.
pub const MARKER_HEADER: &str = "pybundle-complete 1";
/// The directory of complete cache entries under `<root>/<LAYOUT>/` (`DISTS_DIR` in `_pybundle`).
pub const DISTS_DIR: &str = "dists";
/// The directory of entries being written under `<root>/<LAYOUT>/`, renamed into
/// [`DISTS_DIR`] when complete (`TMP_DIR` in `_pybundle`).
pub const TMP_DIR: &str = "tmp";
/// The file of an extracted entry that holds its bytecode (`PYC_PACK` in `_pybundle`); see
/// [`PycPack`].
pub const PYC_PACK: &str = ".pybundle-pyc";
/// The directory of an extracted entry that holds its files, beside [`MARKER`] and [`PYC_PACK`]
/// (`SITE_DIR` in `_pybundle`): code runs from `<entry>/site-packages/`, as from a venv.
pub const SITE_DIR: &str = "site-packages";
/// The directory of an extracted entry, beside [`SITE_DIR`], that holds the listing
/// (`<dir dotted>.list`, the marker's format) and the pack (`<dir dotted>.pyc`) of each
/// subpackage written on its first import (`PARTS_DIR` in `_pybundle`).
pub const PARTS_DIR: &str = ".pybundle-parts";

/// Everything a bundle records about itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Schema version of this manifest.
    pub schema: u32,
    /// sha256 over the bundle's content (or the `--build-id` override).
    pub build_id: String,
    /// Version of pybundle that wrote the bundle.
    pub pybundle_version: String,
    /// Build time (UTC, RFC 3339) when `SOURCE_DATE_EPOCH` was set; `None` otherwise, so that
    /// builds stay reproducible.
    pub built_at: Option<String>,
    /// What the bundle runs.
    pub entry: EntryInfo,
    /// The interpreter the bundle was built for.
    pub python: PythonInfo,
    /// The bundled distributions, sorted by normalised name.
    pub distributions: Vec<DistInfo>,
    /// The commands of a multi-call bundle (`--multicall`): the file name the bundle is started
    /// as → what it runs. Empty (and absent from the JSON) otherwise.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub commands: BTreeMap<String, EntryInfo>,
    /// For a `--venv` bundle: why it runs in a virtual environment (`--venv`, or the
    /// distribution whose prefix data chose it). Absent from the JSON otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venv: Option<String>,
    /// Every member of the bundle except this manifest: path → size and sha256.
    pub members: BTreeMap<String, MemberInfo>,
    /// The lock the bundle was built from (`--lock`). Absent from the JSON otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<LockInfo>,
}

/// The PEP 751 lock a bundle was built from, with what its markers were evaluated for, so that
/// `verify --lock` can select again from a lock file on any machine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockInfo {
    /// sha256 of the lock file's bytes.
    pub sha256: String,
    /// The extras selected (`--lock-extra`).
    pub extras: Vec<String>,
    /// The dependency groups selected (`--lock-group`, else the lock's `default-groups`).
    pub groups: Vec<String>,
    /// The marker variables the lock's markers read, with the target's values.
    pub environment: BTreeMap<String, String>,
    /// The local projects bundled with the locked set (not in the lock).
    pub projects: Vec<String>,
}

/// What the bundle runs when it starts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EntryInfo {
    /// What kind of entry point it is.
    pub kind: EntryKind,
    /// The module imported (function) or run (module).
    pub module: Option<String>,
    /// The attribute called, possibly dotted (`OBJ.ATTR`).
    pub attr: Option<String>,
    /// The console script this entry came from (`-c`).
    pub console_script: Option<String>,
    /// For a script: its path in the bundle (`bin/NAME`, or `extract/<key>/bin/NAME` when its
    /// distribution is extracted). Absent from the JSON otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
}

/// The kind of an entry point (`"function"`, `"module"`, `"interpreter"`, `"script"`,
/// `"executable"` or `"wrapper"` in the manifest and in `ENTRY` of the generated `__main__.py`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// Import `module` and call `attr`.
    Function,
    /// Run `module` like `python -m`.
    Module,
    /// No entry point: behave like the `python` command.
    Interpreter,
    /// A Python script a distribution installs (`-c NAME` without such an entry point), run in
    /// the bundle's process.
    Script,
    /// A native program a distribution installs, executed from the cache in place of the
    /// bundle's process.
    Executable,
    /// A `#!` script of another interpreter, executed from the cache in place of the bundle's
    /// process, with `python` on `PATH` running the bundle.
    Wrapper,
}

impl EntryKind {
    /// Returns the name the manifest and the run time use.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Function => "function",
            EntryKind::Module => "module",
            EntryKind::Interpreter => "interpreter",
            EntryKind::Script => "script",
            EntryKind::Executable => "executable",
            EntryKind::Wrapper => "wrapper",
        }
    }
}

impl EntryInfo {
    /// Returns the entry as a user would type it (`mod:func`, `-m mod`, `(interpreter)`).
    pub fn describe(&self) -> String {
        match (self.kind, &self.module, &self.attr) {
            (EntryKind::Function, Some(module), Some(attr)) => {
                let base = format!("{module}:{attr}");
                match &self.console_script {
                    Some(script) => format!("{base} (console script `{script}`)"),
                    None => base,
                }
            }
            (EntryKind::Module, Some(module), _) => format!("-m {module}"),
            (kind @ (EntryKind::Script | EntryKind::Executable | EntryKind::Wrapper), _, _) => {
                let name = self.console_script.as_deref().unwrap_or("?");
                let path = self.script.as_deref().unwrap_or("?");
                match kind {
                    EntryKind::Script => {
                        format!("script `{name}` (`{path}`: Python, runs in the bundle's process)")
                    }
                    EntryKind::Executable => format!(
                        "executable `{name}` (`{path}`: a native program, replaces the bundle's process)"
                    ),
                    _ => format!(
                        "wrapper `{name}` (`{path}`: a `#!` script, replaces the bundle's process; the `python` it finds runs the bundle)"
                    ),
                }
            }
            _ => "(interpreter)".to_string(),
        }
    }

    /// Returns what the entry runs, in a few words (`mod:func`, `-m mod`, ``script `bin/x` (Python)``).
    pub fn target(&self) -> String {
        let path = self.script.as_deref().unwrap_or("?");
        match (self.kind, &self.module, &self.attr) {
            (EntryKind::Function, Some(module), Some(attr)) => format!("{module}:{attr}"),
            (EntryKind::Module, Some(module), _) => format!("-m {module}"),
            (EntryKind::Script, _, _) => format!("script `{path}` (Python)"),
            (EntryKind::Executable, _, _) => format!("executable `{path}`"),
            (EntryKind::Wrapper, _, _) => format!("wrapper `{path}`"),
            _ => "(interpreter)".to_string(),
        }
    }

    /// Returns the path in the bundle of the script this entry executes from the cache (kinds
    /// `executable` and `wrapper`), or `None` (Python scripts and entry points run in the
    /// bundle's process).
    pub fn executed_script(&self) -> Option<&str> {
        match self.kind {
            EntryKind::Executable | EntryKind::Wrapper => self.script.as_deref(),
            _ => None,
        }
    }
}

/// The interpreter a bundle targets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PythonInfo {
    /// `cpython`.
    pub implementation: String,
    /// `X.Y`.
    pub version: String,
    /// `sys.implementation.cache_tag` of the bytecode, e.g. `cpython-311`.
    pub cache_tag: String,
    /// `sysconfig.get_platform()`, e.g. `linux-x86_64`.
    pub platform: String,
    /// `sys.platform` and `platform.machine()` (checked at run time without importing sysconfig).
    pub sys_platform: String,
    /// `platform.machine()`.
    pub machine: String,
    /// The extension-module suffix native code was built for.
    pub ext_suffix: String,
    /// The bundled distributions' `Requires-Python`, joined with `,`.
    pub requires_python: Option<String>,
    /// Whether the bundle holds native code (and so needs this exact interpreter).
    pub native: bool,
    /// The shebang line.
    pub shebang: String,
}

/// Where a distribution runs from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Imported straight from the bundle.
    Zip,
    /// Extracted to the cache on first use.
    Extract,
}

/// One bundled distribution.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DistInfo {
    /// Project name as in its metadata.
    pub name: String,
    /// Version.
    pub version: String,
    /// zip or extract.
    pub mode: Mode,
    /// Why that mode was chosen.
    pub reason: String,
    /// Cache key (`extract/<key>/` in the bundle, `<root>/v1/dists/<key>/` at run time).
    pub key: Option<String>,
    /// Number of files (including bytecode).
    pub files: usize,
    /// Total bytes of those files.
    pub size: u64,
    /// sha256 over the distribution's files (paths and contents).
    pub sha256: String,
    /// License from the metadata.
    pub license: Option<String>,
    /// Summary from the metadata.
    pub summary: Option<String>,
    /// Wheel tags.
    pub tags: Vec<String>,
    /// Top-level importable names.
    pub top_level: Vec<String>,
    /// For a distribution extracted in part: the package subtree that goes to disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<UnitInfo>,
    /// For a distribution extracted whole: its test suites that nothing imports, left in the
    /// bundle (importable from it, never written to the cache).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests: Option<TestsInfo>,
    /// For a distribution extracted whole: its subpackages that a start writes to the cache
    /// only when they are first imported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartInfo>,
    /// The wheel it was installed from (bundles built from a lock). Absent from the JSON
    /// otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wheel: Option<WheelInfo>,
}

/// The wheel file a distribution was installed from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WheelInfo {
    /// Its file name.
    pub file: String,
    /// sha256 of the file.
    pub sha256: String,
}

impl DistInfo {
    /// Returns the number of files and bytes its inner archive holds: the unit's when it is
    /// extracted in part, else the whole distribution's.
    pub fn extracted_totals(&self) -> (usize, u64) {
        match (&self.unit, &self.tests) {
            (Some(unit), _) => (unit.files, unit.size),
            (None, Some(t)) => (self.files - t.files, self.size - t.size),
            (None, None) => (self.files, self.size),
        }
    }
}

/// The test suites of a distribution extracted whole that stay in the bundle's site store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TestsInfo {
    /// Their directories, relative to the site root (`numpy/linalg/tests`), sorted.
    pub dirs: Vec<String>,
    /// Number of their files (including bytecode).
    pub files: usize,
    /// Total bytes of those files.
    pub size: u64,
}

/// A subpackage of a distribution extracted whole that is written on its first import.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartInfo {
    /// Its directory, relative to the site root (`scipy/stats`).
    pub dir: String,
    /// Number of its files (including bytecode).
    pub files: usize,
    /// Total bytes of those files.
    pub size: u64,
}

/// The package subtree of a distribution extracted in part (the rest runs from the bundle).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UnitInfo {
    /// Its directory, relative to the site root (`azure/cli/command_modules/acs`).
    pub dir: String,
    /// The dotted module whose first import extracts it.
    pub trigger: String,
    /// Why only this part.
    pub why: String,
    /// Number of files extracted (including bytecode).
    pub files: usize,
    /// Total bytes of those files.
    pub size: u64,
}

/// Size and hash of one member.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MemberInfo {
    /// Uncompressed size.
    pub size: u64,
    /// sha256 hex of the uncompressed content.
    pub sha256: String,
}

/// Returns the cache key of an extracted distribution: `<normalized name>-<version>-<16 hex>`.
/// The fingerprint covers the distribution's RECORD (`<root>/<dist_info>/RECORD`, which lists
/// every file's hash), the part extracted (`unit`: its directory and trigger, `""` for the whole),
/// the bytecode's interpreter (`cache_tag`, `magic`), [`LAYOUT`] and [`SITE_DIR`] (an entry
/// of another shape never shares a key), or the files themselves
/// when there is no RECORD (the leftover unit of `--site-packages`).
#[allow(clippy::too_many_arguments)]
pub fn cache_key(
    name: &str,
    version: &str,
    root: &Path,
    dist_info: &str,
    files: &[String],
    unit: &str,
    cache_tag: &str,
    magic: &str,
) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(format!(
        "{LAYOUT}\0{SITE_DIR}\0{cache_tag}\0{magic}\0{name}\0{version}\0"
    ));
    if !unit.is_empty() {
        hasher.update(format!("unit\0{unit}\0"));
    }
    let record = root.join(dist_info).join("RECORD");
    if !dist_info.is_empty() && record.is_file() {
        hasher.update(fs_err::read(&record)?);
        // Files not listed in RECORD (rare) still count by name.
        for file in files {
            hasher.update(file.as_bytes());
            hasher.update([0]);
        }
    } else {
        for file in files {
            hasher.update(file.as_bytes());
            hasher.update([0]);
            hasher.update(fs_err::read(root.join(file))?);
        }
    }
    let digest = hex(&hasher.finalize());
    Ok(format!(
        "{}-{}-{}",
        normalize_name(name),
        sanitize(version),
        &digest[..16]
    ))
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The bytecode of an extracted entry in one file ([`PYC_PACK`]): the `.pyc` contents one after
/// the other, then the source paths joined by newlines, the (offset, size) of each as
/// little-endian u64, the number of paths and the byte length of the joined paths (u64 each).
/// `pybundle extract` writes it; the run time writes the same bytes when it extracts, and reads
/// the bytecode of the entry's modules from it.
#[derive(Default)]
pub struct PycPack {
    data: Vec<u8>,
    sources: Vec<String>,
    numbers: Vec<u64>,
}

impl PycPack {
    /// Appends the bytecode `pyc` of the source file `source` (a `/`-path in the entry).
    pub fn push(&mut self, source: String, pyc: Vec<u8>) {
        self.numbers.push(self.data.len() as u64);
        self.numbers.push(pyc.len() as u64);
        self.data.extend_from_slice(&pyc);
        self.sources.push(source);
    }

    /// Returns true if and only if nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Returns the bytes of the pack file.
    pub fn finish(mut self) -> Vec<u8> {
        let joined = self.sources.join("\n");
        self.data.extend_from_slice(joined.as_bytes());
        for n in &self.numbers {
            self.data.extend_from_slice(&n.to_le_bytes());
        }
        self.data
            .extend_from_slice(&(self.sources.len() as u64).to_le_bytes());
        self.data
            .extend_from_slice(&(joined.len() as u64).to_le_bytes());
        self.data
    }
}

/// Returns the source path (`pkg/mod.py`) of `rel` when it is bytecode the run time packs
/// (`pkg/__pycache__/mod<suffix>`, suffix `.<cache_tag>.pyc`).
pub fn pyc_source(rel: &str, suffix: &str) -> Option<String> {
    let (dir, file) = rel.rsplit_once('/')?;
    let stem = file.strip_suffix(suffix)?;
    let parent = match dir.rsplit_once('/') {
        Some((parent, "__pycache__")) => Some(parent),
        None if dir == "__pycache__" => None,
        _ => return None,
    };
    Some(match parent {
        Some(parent) => format!("{parent}/{stem}.py"),
        None => format!("{stem}.py"),
    })
}

/// Returns the RFC 3339 UTC form of a Unix time.
pub fn rfc3339(epoch: u64) -> String {
    let (year, month, day, hour, minute, second) = civil_from_epoch(epoch);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

/// Returns (year, month, day, hour, minute, second) in UTC for a Unix time.
pub fn civil_from_epoch(epoch: u64) -> (u64, u64, u64, u64, u64, u64) {
    let days = epoch / 86_400;
    let secs = epoch % 86_400;
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 (non-negative here).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day, secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(315_532_800), "1980-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn entry_describe() {
        let entry = EntryInfo {
            kind: EntryKind::Function,
            module: Some("black".into()),
            attr: Some("patched_main".into()),
            console_script: Some("black".into()),
            script: None,
        };
        assert_eq!(
            entry.describe(),
            "black:patched_main (console script `black`)"
        );
        let entry = EntryInfo {
            kind: EntryKind::Executable,
            module: None,
            attr: None,
            console_script: Some("ruff".into()),
            script: Some("extract/ruff-0.9.0-0123456789abcdef/bin/ruff".into()),
        };
        assert_eq!(
            entry.describe(),
            "executable `ruff` (`extract/ruff-0.9.0-0123456789abcdef/bin/ruff`: a native program, replaces the bundle's process)"
        );
    }

    /// Returns the values of `NAME = "value"` at the top level of the run-time package's files.
    fn python_constant(name: &str) -> Vec<(String, String)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bootstrap/_pybundle");
        let mut found = Vec::new();
        for entry in fs_err::read_dir(&dir).expect("the run-time package") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_none_or(|e| e != "py") {
                continue;
            }
            let text = fs_err::read_to_string(&path).expect("a Python file");
            let prefix = format!("{name} = ");
            for line in text.lines() {
                if let Some(value) = line.strip_prefix(&prefix) {
                    let file = path.file_name().unwrap_or_default().to_string_lossy();
                    found.push((file.into_owned(), value.trim().to_string()));
                }
            }
        }
        found
    }

    /// The bundle format's names as `_pybundle/__init__.py` defines them: every
    /// `NAME = "value"` line between its `# --- bundle format` and `# --- end of the bundle
    /// format` comments.
    fn python_layout() -> Vec<(String, String)> {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bootstrap/_pybundle/__init__.py");
        let init = fs_err::read_to_string(path).expect("the run-time package");
        let start = init
            .find("\n# --- bundle format")
            .expect("`__init__.py` has a bundle format block");
        let len = init[start..]
            .find("\n# --- end of the bundle format")
            .expect("the bundle format block ends");
        let line = regex::Regex::new(r#"(?m)^([A-Z][A-Z0-9_]*) = "([^"\\]*)"$"#).unwrap();
        line.captures_iter(&init[start..start + len])
            .map(|c| (c[1].to_string(), c[2].to_string()))
            .collect()
    }

    /// The Python side defines exactly these names, with these values: a name added, removed or
    /// changed on either side fails here.
    #[test]
    fn the_run_time_shares_the_format_constants() {
        let rust: &[(&str, &str)] = &[
            ("EXTRACT_DIR", EXTRACT_DIR),
            ("LAYOUT", LAYOUT),
            ("MARKER", MARKER),
            ("MARKER_HEADER", MARKER_HEADER),
            ("PYC_PACK", PYC_PACK),
            ("SITE_DIR", SITE_DIR),
            ("PARTS_DIR", PARTS_DIR),
            ("PREAMBLE", PREAMBLE_PATH),
            ("DISTS_DIR", DISTS_DIR),
            ("TMP_DIR", TMP_DIR),
        ];
        let mut python = python_layout();
        python.sort();
        let mut expected: Vec<(String, String)> = rust
            .iter()
            .map(|(name, value)| ((*name).to_string(), (*value).to_string()))
            .collect();
        expected.sort();
        assert_eq!(python, expected);
        // No other module of the package redefines one of them.
        for (name, _) in rust {
            for (file, _) in python_constant(name) {
                assert_eq!(
                    file, "__init__.py",
                    "`{name}` is defined again in _pybundle/{file}"
                );
            }
        }
    }

    #[test]
    fn pyc_pack_layout() {
        let mut pack = PycPack::default();
        pack.push("a.py".into(), b"AB".to_vec());
        pack.push("p/b.py".into(), b"C".to_vec());
        let bytes = pack.finish();
        let mut want = b"ABCa.py\np/b.py".to_vec();
        for n in [0u64, 2, 2, 1, 2, 11] {
            want.extend_from_slice(&n.to_le_bytes());
        }
        assert_eq!(bytes, want);
    }
}
