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
}
