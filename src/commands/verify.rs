//! `pybundle verify`: check every member of a bundle against the hashes its manifest lists.
//! Input: a bundle path; output: one line on stdout, and whether the bundle is intact (the exit
//! status). Read side only.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::bundle::Bundle;

/// Checks every member of the bundle at `path`; returns false when any is damaged.
pub fn verify(path: &Path) -> Result<bool> {
    let mut bundle = Bundle::open(path)?;
    let damage = bundle.verify();
    let mut out = std::io::stdout().lock();
    if damage.is_empty() {
        writeln!(
            out,
            "ok: {} members match the manifest (build id {})",
            bundle.manifest.members.len(),
            bundle.manifest.build_id
        )?;
        return Ok(true);
    }
    // Every damaged member, one line each (as `sha256sum -c` names every failed file).
    for d in &damage {
        writeln!(out, "damaged: `{}`: {}", d.path, d.what)?;
    }
    writeln!(
        out,
        "{} damaged member(s); rebuild the bundle or copy it again",
        damage.len()
    )?;
    Ok(false)
}
