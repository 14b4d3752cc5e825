//! The format of a `--venv` bundle: what `_pybundle/venv.json` tells the run time's `_venv`
//! module (read on the cold path only, when it builds the environment), the key of the
//! environment, and where environments live in a cache root (`<root>/v1/venvs/<key>/`).
//!
//! A `--venv` bundle carries every distribution in the site store (`_pybundle/site.data`), laid
//! out as `pip install --target` would (scripts in `bin/`, data at the top, headers in
//! `include/<name>/`), each `.py` with its bytecode attached; [`VenvDist::roots`] says which
//! store paths are a distribution's, [`VenvDist::prefixes`] which of those belong under the
//! environment's prefix rather than in its site-packages. Its `__main__.py` holds
//! `VENV = "<key>"` and no `EXTRACT` items, so a warm start parses a few literals, stats the
//! marker of `<root>/v1/venvs/<key>-<interpreter>/` and executes its python.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fsutil::hex;

/// The member of a `--venv` bundle that describes its environment.
pub const VENV_INFO_PATH: &str = "_pybundle/venv.json";
/// Complete environments under a cache root's layout directory: `<root>/v1/venvs/<key>/`
/// (`VENVS_DIR` in `_pybundle/_venv.py`).
pub const VENVS_DIR: &str = "venvs";
/// Version of the way the run time builds an environment from [`VenvInfo`]; part of the key.
pub const VENV_FORMAT: u32 = 1;

/// What the run time needs to build a bundle's environment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VenvInfo {
    /// [`VENV_FORMAT`].
    pub format: u32,
    /// The build half of the environment's key (see [`venv_key`]); the run time appends the
    /// interpreter's.
    pub key: String,
    /// The cache tag of the bytecode attached in the store: `X.py`'s goes to
    /// `__pycache__/X.<cache_tag>.pyc`.
    pub cache_tag: String,
    /// The distributions, in the bundle's order.
    pub dists: Vec<VenvDist>,
}

/// One distribution of a `--venv` bundle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VenvDist {
    /// Project name as in its metadata (pip's `include/site/pythonX.Y/<name>/` for headers).
    pub name: String,
    /// Its cache key (as if it were extracted; part of the environment's key).
    pub key: String,
    /// The `.dist-info` directory (its `RECORD` is rewritten for the environment's paths);
    /// empty for the unit of unclaimed files of `--site-packages`.
    pub dist_info: String,
    /// File count (bytecode included) and total bytes of its files in the store (checked
    /// while it is installed).
    pub files: usize,
    /// See `files`.
    pub size: u64,
    /// Its files in the store: directories (ending in `/`) all of whose files are its own, and
    /// single files (see `pack::venv::roots`). A path that several distributions ship is the
    /// first one's.
    pub roots: Vec<String>,
    /// Paths (a directory ending in `/`, or one file) of its files that belong under
    /// the prefix, with their scheme: `scripts` (`bin/…`, `#!python` rewritten), `data`
    /// (`share/…` at the prefix) or `headers` (`include/<name>/…`). Everything else goes to
    /// site-packages.
    pub prefixes: Vec<(String, String)>,
    /// Console and GUI scripts to write into `bin/`: (name, module, dotted attribute).
    pub scripts: Vec<(String, String, String)>,
}

/// Returns the build half of an environment's key: `<normalised name>-<16 hex>`, the hex being a
/// sha256 over [`VENV_FORMAT`] and the distributions' cache keys (which cover their files and
/// the bytecode's interpreter), so that two bundles with the same distributions share one
/// environment.
pub fn venv_key(name: &str, dist_keys: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(format!("pybundle-venv {VENV_FORMAT}\n"));
    for key in dist_keys {
        h.update(key.as_bytes());
        h.update(b"\n");
    }
    let digest = hex(&h.finalize());
    format!("{name}-{}", &digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_covers_the_distributions() {
        let a = venv_key("app", &["a-1-0123", "b-2-4567"]);
        assert!(a.starts_with("app-") && a.len() == 4 + 16, "{a}");
        assert_ne!(a, venv_key("app", &["a-1-0123"]));
        assert_eq!(a, venv_key("app", &["a-1-0123", "b-2-4567"]));
    }
}
