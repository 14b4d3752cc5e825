//! `pybundle verify`: check every member of a bundle against the hashes its manifest lists, and
//! with `--lock`, that the bundle holds exactly what a PEP 751 lock selects for the bundle's
//! target (names, versions, wheel hashes). Input: a bundle path (and a lock); output: lines on
//! stdout, and whether the bundle is intact and matches (the exit status). Read side only.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::bundle::Bundle;
use crate::layout::DistInfo;
use crate::name::normalize_name;
use crate::pylock::{self, LoadedLock, Package};

/// Checks every member of the bundle at `path`; with `lock`, also its distributions against
/// the lock's selection, markers evaluated by `python`. Returns false when any check fails.
pub fn verify(path: &Path, lock: Option<&Path>, python: &str) -> Result<bool> {
    let mut bundle = Bundle::open(path)?;
    let damage = bundle.verify();
    let mut out = std::io::stdout().lock();
    let intact = if damage.is_empty() {
        writeln!(
            out,
            "ok: {} members match the manifest (build id {})",
            bundle.manifest.members.len(),
            bundle.manifest.build_id
        )?;
        true
    } else {
        // Every damaged member, one line each (as `sha256sum -c` names every failed file).
        for d in &damage {
            writeln!(out, "damaged: `{}`: {}", d.path, d.what)?;
        }
        writeln!(
            out,
            "{} damaged member(s); rebuild the bundle or copy it again",
            damage.len()
        )?;
        false
    };
    let Some(lock) = lock else {
        return Ok(intact);
    };
    let differences = lock_differences(&bundle, lock, python)?;
    if differences.is_empty() {
        writeln!(
            out,
            "ok: the distributions are exactly the lock's selection for the bundle's target ({} from `{}`)",
            bundle.manifest.distributions.len()
                - bundle
                    .manifest
                    .lock
                    .as_ref()
                    .map_or(0, |l| l.projects.len()),
            lock.display()
        )?;
        return Ok(intact);
    }
    writeln!(
        out,
        "differs from the lock `{}` ({} difference(s)):",
        lock.display(),
        differences.len()
    )?;
    for line in &differences {
        writeln!(out, "  {line}")?;
    }
    Ok(false)
}

/// Returns every difference between the bundle's distributions and what `lock` selects for the
/// target the bundle recorded; empty when they match.
fn lock_differences(bundle: &Bundle, lock: &Path, python: &str) -> Result<Vec<String>> {
    let manifest = &bundle.manifest;
    let Some(recorded) = &manifest.lock else {
        bail!(
            "the bundle records no lock: it was not built with --lock, so its target's marker environment is unknown\nhint: build it with `pybundle --lock {}`",
            lock.display()
        );
    };
    let loaded = LoadedLock::read(lock)?;
    let evaluated = pylock::evaluate(
        Path::new(python),
        &loaded.lock,
        &pylock::Request {
            environment: Some(recorded.environment.clone()),
            extras: recorded.extras.clone(),
            groups: recorded.groups.clone(),
            ..pylock::Request::default()
        },
    )
    .context("cannot select from the lock for the bundle's target")?;
    let mut differences: Vec<String> = evaluated
        .problems
        .iter()
        .map(|p| format!("unusable: {p}"))
        .collect();
    if loaded.sha256 != recorded.sha256 {
        differences.push(format!(
            "lock file: sha256 {} (the bundle was built from {})",
            loaded.sha256, recorded.sha256
        ));
    }
    let projects: BTreeSet<String> = recorded
        .projects
        .iter()
        .map(|p| normalize_name(p))
        .collect();
    let mut bundled: BTreeMap<String, &DistInfo> = manifest
        .distributions
        .iter()
        .filter(|d| !projects.contains(&normalize_name(&d.name)))
        .map(|d| (normalize_name(&d.name), d))
        .collect();
    for (package, _) in loaded
        .lock
        .packages
        .iter()
        .zip(&evaluated.selected)
        .filter(|(_, chosen)| **chosen)
    {
        let version = package.version.clone().unwrap_or_default();
        let Some(dist) = bundled.remove(&normalize_name(&package.name)) else {
            differences.push(format!(
                "missing: {} {version} (the lock selects it)",
                package.name
            ));
            continue;
        };
        differences.extend(difference(package, dist));
    }
    for dist in bundled.values() {
        differences.push(format!(
            "extra: {} {} (not in the lock's selection)",
            dist.name, dist.version
        ));
    }
    Ok(differences)
}

/// Returns how the bundled `dist` differs from the lock's `package` of the same name: its
/// version, else its wheel's hash (when the lock lists wheel hashes); `None` when it matches.
fn difference(package: &Package, dist: &DistInfo) -> Option<String> {
    let version = package.version.clone().unwrap_or_default();
    if !package
        .version
        .as_ref()
        .is_none_or(|v| same_version(v, &dist.version))
    {
        return Some(format!(
            "version differs: {}: the bundle has {}, the lock {version}",
            package.name, dist.version
        ));
    }
    let hashes: BTreeSet<String> = package
        .wheels
        .iter()
        .chain(package.archive.iter())
        .filter_map(|f| f.sha256())
        .collect();
    if hashes.is_empty() {
        return None; // built from an sdist: no wheel hash to compare
    }
    match &dist.wheel {
        Some(wheel) if hashes.contains(&wheel.sha256) => None,
        Some(wheel) => Some(format!(
            "hash differs: {} {}: the wheel `{}` has sha256 {}, which is not one the lock lists for it",
            package.name, dist.version, wheel.file, wheel.sha256
        )),
        None => Some(format!(
            "hash unknown: {} {}: the bundle does not record its wheel",
            package.name, dist.version
        )),
    }
}

/// Returns true if and only if two versions are equal, ignoring a leading `v`, case and
/// trailing `.0` release segments (`1.0` and `1.0.0`).
fn same_version(a: &str, b: &str) -> bool {
    let norm = |v: &str| {
        let mut v = v.trim().trim_start_matches(['v', 'V']).to_ascii_lowercase();
        while v.ends_with(".0") && v.matches('.').count() > 1 {
            v.truncate(v.len() - 2);
        }
        v
    };
    norm(a) == norm(b)
}
