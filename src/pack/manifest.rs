//! The bundle's manifest (`_pybundle/manifest.json`): what a bundle holds and how it was built.
//! Written by `pack`, read by `info`, `verify` and `extract`. The run time does not read it on the
//! warm path; it gets what it needs from the literals in the generated `__main__.py`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The manifest's path inside the bundle.
pub const MANIFEST_PATH: &str = "_pybundle/manifest.json";
/// The manifest schema version; bump it on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

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
    /// Every member of the bundle except this manifest: path → size and sha256.
    pub members: BTreeMap<String, MemberInfo>,
}

/// What the bundle runs when it starts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EntryInfo {
    /// `function`, `module` or `interpreter`; for a script that a distribution installs
    /// (`-c NAME` without such an entry point): `script` (Python, run in the bundle's process),
    /// `executable` (a native program) or `wrapper` (a `#!` script of another interpreter), both
    /// executed from the cache in place of the bundle's process.
    pub kind: String,
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

impl EntryInfo {
    /// Returns the entry as a user would type it (`mod:func`, `-m mod`, `(interpreter)`).
    pub fn describe(&self) -> String {
        match (self.kind.as_str(), &self.module, &self.attr) {
            ("function", Some(module), Some(attr)) => {
                let base = format!("{module}:{attr}");
                match &self.console_script {
                    Some(script) => format!("{base} (console script `{script}`)"),
                    None => base,
                }
            }
            ("module", Some(module), _) => format!("-m {module}"),
            (kind @ ("script" | "executable" | "wrapper"), _, _) => {
                let name = self.console_script.as_deref().unwrap_or("?");
                let path = self.script.as_deref().unwrap_or("?");
                match kind {
                    "script" => {
                        format!("script `{name}` (`{path}`: Python, runs in the bundle's process)")
                    }
                    "executable" => format!(
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
}

impl EntryInfo {
    /// Returns what the entry runs, in a few words (`mod:func`, `-m mod`, ``script `bin/x` (Python)``).
    pub fn target(&self) -> String {
        let path = self.script.as_deref().unwrap_or("?");
        match (self.kind.as_str(), &self.module, &self.attr) {
            ("function", Some(module), Some(attr)) => format!("{module}:{attr}"),
            ("module", Some(module), _) => format!("-m {module}"),
            ("script", _, _) => format!("script `{path}` (Python)"),
            ("executable", _, _) => format!("executable `{path}`"),
            ("wrapper", _, _) => format!("wrapper `{path}`"),
            _ => "(interpreter)".to_string(),
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
}

/// Size and hash of one member.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MemberInfo {
    /// Uncompressed size.
    pub size: u64,
    /// sha256 hex of the uncompressed content.
    pub sha256: String,
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
            kind: "function".into(),
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
            kind: "executable".into(),
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
}
