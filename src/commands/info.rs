//! `pybundle info`: print what a bundle holds, as a table or as JSON (the manifest itself, a
//! stable schema documented in the README). Input: a bundle path; output: stdout. Read side
//! only: it uses `bundle` and `layout`, never the writer.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::bundle::Bundle;
use crate::layout::{DistInfo, LockInfo, Manifest, Mode, PythonInfo};

/// Prints what the bundle at `path` holds; JSON when `json`.
pub fn info(path: &Path, json: bool) -> Result<()> {
    let bundle = Bundle::open(path)?;
    let m = &bundle.manifest;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, m).context("cannot print the manifest")?;
        writeln!(out)?;
        return Ok(());
    }
    write_build(&mut out, path, m)?;
    write_python(&mut out, &m.python)?;
    if let Some(lock) = &m.lock {
        write_lock(&mut out, lock)?;
    }
    if let Some(why) = &m.venv {
        writeln!(
            out,
            "venv:         a virtual environment, built in the cache on the first start ({why}); `pybundle venv` writes it to a directory"
        )?;
    }
    write_extracted(&mut out, &m.distributions)?;
    write_distributions(&mut out, &m.distributions)
}

/// Prints the bundle's path, how and when it was built, and what it runs.
fn write_build(out: &mut impl Write, path: &Path, m: &Manifest) -> Result<()> {
    writeln!(out, "bundle:       {}", path.display())?;
    writeln!(out, "build id:     {}", m.build_id)?;
    writeln!(out, "built with:   pybundle {}", m.pybundle_version)?;
    writeln!(
        out,
        "built at:     {}",
        m.built_at
            .as_deref()
            .unwrap_or("not recorded (set SOURCE_DATE_EPOCH to record it)")
    )?;
    writeln!(out, "entry point:  {}", m.entry.describe())?;
    if !m.commands.is_empty() {
        writeln!(
            out,
            "commands:     {} (multi-call: started as a link or copy named after one, it runs that one)",
            m.commands.len()
        )?;
        let width = m.commands.keys().map(String::len).max().unwrap_or(0);
        for (name, entry) in &m.commands {
            writeln!(out, "  {name:<width$}  {}", entry.target())?;
        }
    }
    Ok(())
}

/// Prints the interpreter the bundle was built for, and its shebang.
fn write_python(out: &mut impl Write, p: &PythonInfo) -> Result<()> {
    writeln!(
        out,
        "python:       {} {} on {}{}{}",
        p.implementation,
        p.version,
        p.platform,
        if p.native {
            " (native code: this version and platform only)"
        } else {
            ""
        },
        p.requires_python
            .as_ref()
            .map(|r| format!(", requires {r}"))
            .unwrap_or_default()
    )?;
    writeln!(out, "shebang:      #!{}", p.shebang)?;
    Ok(())
}

/// Prints the lock the bundle was built from and what its markers were evaluated with.
fn write_lock(out: &mut impl Write, lock: &LockInfo) -> Result<()> {
    writeln!(out, "lock:         sha256 {}", lock.sha256)?;
    let list = |names: &[String]| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    writeln!(
        out,
        "              extras: {}; groups: {}; local projects: {}",
        list(&lock.extras),
        list(&lock.groups),
        list(&lock.projects)
    )?;
    Ok(())
}

/// Prints how many distributions are extracted (wholly or in part), and their size.
fn write_extracted(out: &mut impl Write, distributions: &[DistInfo]) -> Result<()> {
    let extracted: Vec<_> = distributions
        .iter()
        .filter(|d| d.mode == Mode::Extract)
        .collect();
    let extract_bytes: u64 = extracted.iter().map(|d| d.extracted_totals().1).sum();
    let in_part = extracted.iter().filter(|d| d.unit.is_some()).count();
    writeln!(
        out,
        "extracted:    {} distribution(s){}, {} files, {:.1} MB when all are imported",
        extracted.len(),
        if in_part > 0 {
            format!(" ({in_part} in part)")
        } else {
            String::new()
        },
        extracted
            .iter()
            .map(|d| d.extracted_totals().0)
            .sum::<usize>(),
        extract_bytes as f64 / 1e6
    )?;
    Ok(())
}

/// Prints one line per distribution (zip or extract, and why), with its wheel, its unit and
/// the test suites it leaves in the bundle.
fn write_distributions(out: &mut impl Write, distributions: &[DistInfo]) -> Result<()> {
    writeln!(out, "distributions ({}):", distributions.len())?;
    let width = distributions
        .iter()
        .map(|d| d.name.len() + d.version.len() + 1)
        .max()
        .unwrap_or(0);
    for d in distributions {
        let label = format!("{} {}", d.name, d.version);
        let mode = match d.mode {
            Mode::Zip => "zip",
            Mode::Extract => "extract",
        };
        writeln!(out, "  {label:<width$}  {mode:<7}  {}", d.reason)?;
        if let Some(wheel) = &d.wheel {
            writeln!(
                out,
                "  {:<width$}  {:<7}  wheel {} sha256 {}",
                "", "", wheel.file, wheel.sha256
            )?;
        }
        if let Some(unit) = &d.unit {
            writeln!(
                out,
                "  {:<width$}  {:<7}  unit `{}` ({} files, on import of `{}`): {}",
                "", "", unit.dir, unit.files, unit.trigger, unit.why
            )?;
        }
        if let Some(tests) = &d.tests {
            writeln!(
                out,
                "  {:<width$}  {:<7}  test suites left in the bundle, not written to the cache ({} files, {:.1} MB; nothing imports them): {}",
                "",
                "",
                tests.files,
                tests.size as f64 / 1e6,
                tests.dirs.join(", ")
            )?;
        }
        if !d.parts.is_empty() {
            let dirs: Vec<&str> = d.parts.iter().map(|p| p.dir.as_str()).collect();
            writeln!(
                out,
                "  {:<width$}  {:<7}  subpackages written to the cache on their first import ({} files, {:.1} MB; nothing outside them reaches their files by path): {}",
                "",
                "",
                d.parts.iter().map(|p| p.files).sum::<usize>(),
                d.parts.iter().map(|p| p.size).sum::<u64>() as f64 / 1e6,
                dirs.join(", ")
            )?;
        }
    }
    Ok(())
}
