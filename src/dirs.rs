//! Where pybundle keeps things on the user's machine: the run-time extraction root that the
//! `cache` and `extract` commands default to, and the XDG cache directory the build's bytecode
//! cache lives under. A leaf: environment look-ups only, nothing of the crate imported.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// Returns the cache root: `explicit`, else `PYBUNDLE_ROOT`, else the XDG cache dir.
pub fn default_root(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(root) = explicit {
        return Ok(root.to_path_buf());
    }
    if let Some(root) = std::env::var_os("PYBUNDLE_ROOT").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(root));
    }
    match xdg_root() {
        Some(root) => Ok(root),
        None => bail!("cannot find the cache root: HOME is not set\nhint: pass `--root DIR`"),
    }
}

/// Returns `${XDG_CACHE_HOME:-~/.cache}/pybundle` (a relative `XDG_CACHE_HOME` is ignored, as the
/// XDG spec asks), or `None` when HOME is not set either.
pub fn xdg_root() -> Option<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from)
        && xdg.is_absolute()
    {
        return Some(xdg.join("pybundle"));
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|home| home.is_absolute())
        .map(|home| home.join(".cache").join("pybundle"))
}
