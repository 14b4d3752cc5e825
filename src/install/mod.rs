//! The `install` stage: unpack each wheel into its own site-packages-shaped root, verifying it
//! against its `RECORD` ([`wheel`]), and describe ready-made site-packages trees
//! (`--site-packages DIR`) in the same terms without copying them ([`site_packages`]). Output:
//! one [`InstalledDist`] per distribution, the [`Installed`] set.
//!
//! The parsers it uses are submodules: [`filename`] (wheel file names), [`record`] (`RECORD`),
//! [`metadata`] (`WHEEL` and `METADATA`), [`entry_points`], [`data`] (`.data/` placement) and
//! [`top_level`]; [`error`] holds the one error enum.

pub mod data;
pub mod entry_points;
pub mod error;
pub mod filename;
pub mod metadata;
pub mod record;
pub mod site_packages;
pub mod top_level;
pub mod wheel;

use std::path::PathBuf;

pub use entry_points::{EntryPointError, EntryPoints};
pub use error::InstallError;
pub use filename::{FilenameError, WheelFilename};
pub use site_packages::scan_site_packages;
pub use top_level::derive_top_level;
pub use wheel::install_wheel;

#[cfg(test)]
#[path = "../../tests/common/wheel_builder.rs"]
mod wheel_builder;

/// The install stage's output: every distribution of the bundle, staged, sorted by normalized
/// name.
#[derive(Debug, Clone, Default)]
pub struct Installed {
    /// The distributions.
    pub dists: Vec<InstalledDist>,
}

impl Installed {
    /// Returns the distributions' `Requires-Python` specifiers joined with `,` (see
    /// [`join_requires_python`]).
    pub fn requires_python(&self) -> Option<String> {
        join_requires_python(&self.dists)
    }
}

/// One installed (or scanned) distribution.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InstalledDist {
    /// Project name from `METADATA` `Name:`, as written.
    pub name: String,
    /// `METADATA` `Version:`.
    pub version: String,
    /// The `.dist-info` directory name, e.g. `foo_bar-1.0.dist-info`; empty for the unit of
    /// unclaimed files of a scanned tree.
    pub dist_info: String,
    /// The directory holding this distribution's files (a site-packages-shaped tree).
    pub root: PathBuf,
    /// Relative `/`-paths under `root` of every file of the distribution (including its
    /// `.dist-info`), sorted and unique.
    pub files: Vec<String>,
    /// `WHEEL` `Root-Is-Purelib: true`.
    pub purelib: bool,
    /// `WHEEL` `Tag:` lines, e.g. `cp311-cp311-manylinux_2_17_x86_64`.
    pub tags: Vec<String>,
    /// The parsed `entry_points.txt` (empty when there is none).
    pub entry_points: EntryPoints,
    /// `METADATA` `Requires-Python`.
    pub requires_python: Option<String>,
    /// `License-Expression`, else the first line of `License`, else the last segment of the first
    /// `License :: …` classifier.
    pub license: Option<String>,
    /// `METADATA` `Summary`.
    pub summary: Option<String>,
    /// Top-level importable names: `top_level.txt` if present, else derived from the library
    /// files (first path component of `.py`/`.so`/`.pyd` files and of package directories).
    pub top_level: Vec<String>,
    /// The files installed from the wheel's `scripts`, `data` and `headers` schemes, as
    /// (path under `root`, scheme), sorted: where a virtual environment puts them under its
    /// prefix (`--venv`). Empty for a scanned tree, whose schemes are not known.
    #[serde(skip)]
    pub prefix_files: Vec<(String, data::Scheme)>,
}

impl InstalledDist {
    /// The unit of the files of the scanned tree `root` that no `.dist-info` claims (named
    /// `site-packages`, version `0`, no `.dist-info`), holding `files`.
    pub fn unclaimed(root: PathBuf, files: Vec<String>) -> InstalledDist {
        InstalledDist {
            name: "site-packages".to_string(),
            version: "0".to_string(),
            dist_info: String::new(),
            root,
            files,
            purelib: true,
            tags: Vec::new(),
            entry_points: EntryPoints::default(),
            requires_python: None,
            license: None,
            summary: None,
            top_level: Vec::new(),
            prefix_files: Vec::new(),
        }
    }
}

/// Returns the distributions' `Requires-Python` specifiers joined with `,`, without repeats;
/// of several `>=` lower bounds only the highest is kept (`>=3.8,>=3.10` → `>=3.10`).
pub fn join_requires_python(dists: &[InstalledDist]) -> Option<String> {
    let mut specs: Vec<String> = dists
        .iter()
        .filter_map(|d| d.requires_python.as_deref())
        .flat_map(|s| s.split(','))
        .map(|s| s.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .filter(|s| !s.is_empty())
        .collect();
    let release = |v: &str| -> Option<Vec<u64>> { v.split('.').map(|p| p.parse().ok()).collect() };
    let highest_floor = specs
        .iter()
        .filter_map(|s| {
            s.strip_prefix(">=")
                .and_then(|v| Some((release(v)?, s.clone())))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, s)| s);
    if let Some(floor) = &highest_floor {
        specs.retain(|s| s == floor || !s.starts_with(">=") || release(&s[2..]).is_none());
    }
    specs.sort();
    specs.dedup();
    (!specs.is_empty()).then(|| specs.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn dist(requires: Option<&str>) -> InstalledDist {
        InstalledDist {
            name: "x".into(),
            version: "1".into(),
            dist_info: "x-1.dist-info".into(),
            root: PathBuf::new(),
            files: Vec::new(),
            purelib: true,
            tags: Vec::new(),
            entry_points: EntryPoints::default(),
            requires_python: requires.map(str::to_string),
            license: None,
            summary: None,
            top_level: Vec::new(),
            prefix_files: Vec::new(),
        }
    }

    #[test]
    fn requires_python_keeps_the_highest_floor() {
        let dists = [
            dist(Some(">=3.8")),
            dist(Some(">=3.10, !=3.11.0")),
            dist(Some(">=3.9")),
            dist(None),
        ];
        assert_eq!(
            join_requires_python(&dists).as_deref(),
            Some("!=3.11.0,>=3.10")
        );
        assert_eq!(join_requires_python(&[dist(None)]), None);
    }
}
