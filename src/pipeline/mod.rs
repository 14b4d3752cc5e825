//! The build command: runs the stages in order for one [`BuildPlan`] and prints what happened.
//!
//! ```text
//! BuildPlan ─probe→ Target ─resolve→ Resolved ─install→ Installed ─launch, analyze→ Analyzed
//!           ─stage, compile→ Compiled ─pack→ Packed
//! ```
//!
//! Each stage lives in its own module and takes a typed value to the next one; this module only
//! wires them together, adds context to their errors, and wraps progress, timing and printing
//! around the calls ([`build`] reads as the pipeline). The interpreter probe and the cross
//! target are in `target.rs` ([`Target`]); the facts that fill the placeholders of `-o`, and the
//! `--checksum` file, in `naming.rs`; the entry and the multi-call commands, which may be
//! scripts that distributions install, in [`crate::entry`].

mod naming;
mod target;
mod venv;

pub use target::Target;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rayon::prelude::*;

use crate::analyze::Analyzed;
use crate::bootstrap;
use crate::bytecode::{self, Compiled};
use crate::config::{BuildPlan, Resolver};
use crate::entry::{self, Launched};
use crate::install::{self, Installed, InstalledDist};
use crate::layout::main::MainData;
use crate::layout::placement::Placement;
use crate::layout::{Mode, PREAMBLE_PATH};
use crate::name::normalize_name;
use crate::output::{OutputName, OutputTemplate};
use crate::pack::writer::{Member, Source};
use crate::pack::{self, PackSettings, Packed, Placed};
use crate::resolve::{self, Resolved};
use crate::ui;

/// Wall time per stage, for the summary line.
#[derive(Debug, Default)]
struct Timings(Vec<(&'static str, Duration)>);

impl Timings {
    fn record<T>(&mut self, stage: &'static str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.0.push((stage, start.elapsed()));
        out
    }

    fn summary(&self) -> String {
        self.0
            .iter()
            .map(|(s, d)| format!("{s} {:.2}s", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Builds the bundle described by `plan`.
pub fn build(plan: &BuildPlan) -> Result<()> {
    let started = Instant::now();
    let mut timings = Timings::default();
    let template = OutputTemplate::parse(&plan.output)?;
    check_output_dir(&template)?;
    let target = target::probe(plan)?;
    let staging = tempfile::Builder::new()
        .prefix("pybundle-stage-")
        .tempdir()
        .context("cannot create a staging directory")?;
    let dir = staging.path();
    let _on_signal = crate::interrupt::tree(dir);

    let resolved = if plan.pip.has_requirements() || plan.lock.is_some() {
        let message = if plan.lock.is_some() {
            "fetching the locked wheels…"
        } else {
            resolver_message(plan.resolver)
        };
        let progress = ui::progress("resolve", message, None);
        let resolved = timings.record("resolve", || resolve_wheels(plan, &target, dir))?;
        progress.finish(&resolved_summary(&resolved));
        resolved
    } else {
        Resolved::default()
    };

    let total = (resolved.wheels.len() + plan.site_packages.len()) as u64;
    let progress = ui::progress("install", "unpacking wheels", Some(total));
    let installed = timings.record("install", || install_all(plan, &resolved, dir, &progress))?;
    progress.finish(&installed_summary(&installed));
    let mut installed = check_installed(installed)?;

    let entry = entry::prepare(plan, &mut installed.dists)?;
    let why_venv = venv::choose(plan, &installed);
    let overrides = venv::overrides(&plan.overrides, why_venv.as_deref());
    let mut analyzed = timings.record("analyze", || entry.analyze(&installed.dists, &overrides))?;
    venv::relabel(&mut analyzed, why_venv.as_deref());
    if let Some(why) = &why_venv {
        ui::stage(&venv::summary(why));
    }
    let mut placed = place(&target, analyzed, &entry, &installed, why_venv.is_some())?;
    let info = entry.info();
    let output = naming::output_name(plan, template, &target, &installed, &placed, &info)?;

    let (mut staged, jobs) = stage_sources(plan, &target, &mut placed, output, dir, why_venv)?;
    staged.lock = resolved.lock;
    let message = format!(
        "compiling {} modules with {}",
        jobs.jobs.len(),
        target.interp.display_name()
    );
    let progress = ui::progress("compile", &message, None);
    let compiled = compile(&target, jobs, &entry, &mut timings)?;
    progress.finish(&compiled_summary(&compiled));
    check_compiled(&compiled, &entry)?;

    let progress = ui::progress("pack", "writing the zip", None);
    let packed = timings.record("pack", || {
        pack_bundle(plan, &target, &installed, placed, &entry, staged, compiled)
    })?;
    progress.finish(&packed_summary(&packed));
    naming::write_checksum(plan, &packed)?;
    packed.notes.iter().for_each(|note| ui::detail(note));
    ui::stage(&built_summary(&packed, started, &timings));
    Ok(())
}

/// Returns the resolve stage's progress message.
fn resolver_message(resolver: Resolver) -> &'static str {
    match resolver {
        Resolver::Pip => "running pip…",
        Resolver::Uv => "running uv…",
    }
}

/// Resolve: the resolver fills `<dir>/wheels` with a wheel for every requirement.
fn resolve_wheels(plan: &BuildPlan, target: &Target, dir: &Path) -> Result<Resolved> {
    let wheel_dir = dir.join("wheels");
    fs_err::create_dir_all(&wheel_dir)?;
    if let Some(request) = &plan.lock {
        // The lock alone says what is installed: `--resolver` plays no part.
        let lock_target = resolve::lock::LockTarget {
            python: &target.pip_python,
            interp: &target.interp,
            cross: plan.target.as_ref(),
        };
        let (wheels, outcome) = resolve::lock::resolve(
            &lock_target,
            request,
            &plan.pip,
            &wheel_dir,
            &dir.join("resolver"),
            ui::is_verbose(),
        )?;
        return Ok(Resolved {
            wheels,
            lock: Some(outcome),
        });
    }
    let wheels = resolve::resolve(
        plan.resolver,
        &target.pip_python,
        &plan.pip,
        plan.target.as_ref(),
        &wheel_dir,
        &dir.join("resolver"),
        ui::is_verbose(),
    )?;
    Ok(Resolved { wheels, lock: None })
}

fn resolved_summary(resolved: &Resolved) -> String {
    format!(
        "{}, {}",
        ui::count(resolved.wheels.len(), "wheel"),
        ui::size(resolved.bytes())
    )
}

/// Install: every wheel is unpacked in parallel into its own staging root under `<dir>/dists`,
/// and every `--site-packages` tree is scanned in place.
fn install_all(
    plan: &BuildPlan,
    resolved: &Resolved,
    dir: &Path,
    progress: &ui::Progress,
) -> Result<Installed> {
    let dists_dir = dir.join("dists");
    let mut dists = resolved
        .wheels
        .par_iter()
        .enumerate()
        .map(|(i, wheel)| {
            let dist =
                install::install_wheel(wheel, &dists_dir.join(i.to_string())).with_context(|| {
                    format!(
                        "cannot install `{}`",
                        wheel.file_name().unwrap_or_default().to_string_lossy()
                    )
                });
            progress.inc(1);
            dist
        })
        .collect::<Result<Vec<_>>>()?;
    for dir in &plan.site_packages {
        dists.extend(
            install::scan_site_packages(dir).with_context(|| {
                format!("cannot read the site-packages tree `{}`", dir.display())
            })?,
        );
        progress.inc(1);
    }
    Ok(Installed { dists })
}

fn installed_summary(installed: &Installed) -> String {
    let files = installed.dists.iter().map(|d| d.files.len()).sum::<usize>();
    format!(
        "{}, {}",
        ui::count(installed.dists.len(), "distribution"),
        ui::count(files, "file")
    )
}

/// Sorts the distributions by normalized name and fails when one is provided twice.
fn check_installed(mut installed: Installed) -> Result<Installed> {
    let dists = &mut installed.dists;
    dists.sort_by_key(|d| normalize_name(&d.name));
    check_duplicates(dists)?;
    ui::detail(&format!(
        "{} distributions: {}",
        dists.len(),
        dists
            .iter()
            .map(|d| format!("{} {}", d.name, d.version))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(installed)
}

/// Places every distribution as the analysis decided, with the cache keys and native files of
/// the extracted ones and the scripts the `entry` executes (`installed` are the distributions
/// it was prepared with; `venv` for a venv bundle), and prints the analysis: its warnings,
/// and under `-v` each distribution's placement with, for one extracted in part, its unit (the
/// directory, the import that extracts it, and why).
fn place<'a>(
    target: &Target,
    analyzed: Analyzed<'a>,
    entry: &Launched,
    installed: &Installed,
    venv: bool,
) -> Result<Vec<Placed<'a>>> {
    let Analyzed {
        decisions,
        warnings,
    } = analyzed;
    warnings.iter().for_each(|w| ui::warn(w));
    let interp = &target.interp;
    let placed = decisions
        .into_iter()
        .map(|(dist, decision)| {
            let executed = entry.executed_scripts(&installed.dists, dist);
            let bytecode = (interp.cache_tag.as_str(), interp.magic.as_str());
            Placed::new(dist, decision, executed, venv, bytecode)
                .with_context(|| format!("cannot fingerprint `{}`", dist.name))
        })
        .collect::<Result<Vec<_>>>()?;
    for p in &placed {
        let mode = match p.placement() {
            Placement::Zip => "zip".to_string(),
            Placement::Whole { tests, parts } => {
                let mut mode = "extract".to_string();
                if !tests.is_empty() {
                    mode += &format!(
                        ", its test suites left in the bundle ({})",
                        tests.join(", ")
                    );
                }
                if !parts.is_empty() {
                    mode += &format!(", on first import: {}", parts.join(", "));
                }
                mode
            }
            Placement::Unit(unit) => format!(
                "extract `{}` on import of `{}`, {}",
                unit.dir, unit.trigger, unit.why
            ),
        };
        let (dist, reason) = (p.dist, &p.decision.reason);
        ui::detail(&format!(
            "{} {}: {mode} ({reason})",
            dist.name, dist.version
        ));
    }
    Ok(placed)
}

/// The members the build adds besides the distributions' files, and the output's name.
struct Staged {
    /// The run-time package's sources (written under `<dir>/runtime`) and the preamble.
    runtime: Vec<Member>,
    /// The output file, its placeholders filled but `{build_id}`.
    output: OutputName,
    /// The lock the build installs (`--lock`), for the manifest.
    lock: Option<resolve::lock::LockOutcome>,
    /// For a `--venv` bundle, why.
    venv: Option<String>,
}

/// Writes the run-time package into the staging directory and plans the compile jobs (each
/// distribution's bytecode in its [`Placed::planned`]).
fn stage_sources(
    plan: &BuildPlan,
    target: &Target,
    placed: &mut [Placed<'_>],
    output: OutputName,
    dir: &Path,
    venv: Option<String>,
) -> Result<(Staged, bytecode::Plan)> {
    // `{build_id}` stays as written: the id hashes this bytecode, which records the name.
    let bundle_name = output
        .provisional()
        .file_name()
        .map_or_else(|| "bundle".into(), |n| n.to_string_lossy().into_owned());
    let runtime_dir = dir.join("runtime");
    let mut runtime: Vec<Member> = Vec::new();
    let runtime_files = bootstrap::runtime_files(venv.is_some());
    for (path, source) in &runtime_files {
        let disk = runtime_dir.join(path);
        fs_err::create_dir_all(disk.parent().expect("runtime paths have a parent"))?;
        fs_err::write(&disk, source)?;
        runtime.push(Member {
            path: (*path).to_string(),
            source: Source::File(disk),
            executable: false,
        });
    }
    if let Some(preamble) = &plan.preamble {
        runtime.push(Member {
            path: PREAMBLE_PATH.into(),
            source: Source::File(preamble.clone()),
            executable: false,
        });
    }
    let sources: Vec<bytecode::Sources<'_>> = placed
        .iter_mut()
        .map(|p| bytecode::Sources {
            root: &p.dist.root,
            files: &p.dist.files,
            placement: &p.decision.placement,
            pycs: &mut p.planned,
        })
        .collect();
    let runtime_paths: Vec<&str> = runtime_files.iter().map(|(p, _)| *p).collect();
    let jobs = bytecode::plan(
        &runtime_paths,
        &runtime_dir,
        sources,
        &dir.join("pyc"),
        &target.interp.cache_tag,
        &bundle_name,
    );
    Ok((
        Staged {
            runtime,
            output,
            lock: None,
            venv,
        },
        jobs,
    ))
}

/// Compile: every planned source with the target's interpreter (nothing when there is none).
fn compile(
    target: &Target,
    jobs: bytecode::Plan,
    entry: &Launched,
    timings: &mut Timings,
) -> Result<Compiled> {
    let Some(compiler) = &target.compiler else {
        return Ok(Compiled::nothing());
    };
    let attr_checks: Vec<(PathBuf, String)> = entry
        .entry_point()
        .and_then(|r| r.attr_check.clone())
        .into_iter()
        .collect();
    let compiled = timings.record("compile", || {
        bytecode::compile_all(compiler, jobs, &attr_checks)
    })?;
    compiled.warnings.iter().for_each(|w| ui::warn(w));
    compiled.notes.iter().for_each(|n| ui::detail(n));
    if let Some((dir, write_error)) = &compiled.cache {
        ui::detail(&format!(
            "bytecode cache `{}`: {} hit(s), {} miss(es)",
            dir.display(),
            compiled.outcome.cached,
            compiled.outcome.compiled
        ));
        if let Some(err) = write_error {
            ui::warn(&format!(
                "cannot write to the bytecode cache `{}`: {err}; the next build compiles these files again",
                dir.display()
            ));
        }
    }
    Ok(compiled)
}

fn compiled_summary(compiled: &Compiled) -> String {
    let outcome = &compiled.outcome;
    let mut summary = ui::count(compiled.modules(), "module");
    if compiled.cache.is_some() {
        summary.push_str(&format!(
            ": {} cached, {} compiled",
            outcome.cached, outcome.compiled
        ));
    }
    if !outcome.failed.is_empty() {
        summary.push_str(&format!(", {} left as source only", outcome.failed.len()));
    }
    summary
}

/// Fails when the entry function is not defined at its module's top level; lists under `-v`
/// the files that did not compile.
fn check_compiled(compiled: &Compiled, entry: &Launched) -> Result<()> {
    let outcome = &compiled.outcome;
    if let (Some(entry), Some(Some(false))) = (entry.entry_point(), outcome.attrs.first())
        && let Some((file, name)) = &entry.attr_check
    {
        bail!(entry::EntryError::NoAttribute {
            module: entry.info.module.clone().unwrap_or_default(),
            name: name.clone(),
            file: file.display().to_string(),
        });
    }
    if !outcome.failed.is_empty() {
        ui::detail(&format!(
            "{} file(s) did not compile and are shipped as source only",
            outcome.failed.len()
        ));
        for (file, why) in &outcome.failed {
            ui::detail(&format!("  {file}: {why}"));
        }
    }
    Ok(())
}

/// Pack: places every distribution with its bytecode and writes the bundle.
fn pack_bundle(
    plan: &BuildPlan,
    target: &Target,
    installed: &Installed,
    mut placed: Vec<Placed<'_>>,
    entry: &Launched,
    staged: Staged,
    compiled: Compiled,
) -> Result<Packed> {
    let Compiled {
        plan: jobs,
        mut outcome,
        ..
    } = compiled;
    // Bytecode from the cache is read from its cache entry, the rest from the compile output;
    // sources that did not compile have neither.
    let mut bytecode_of = |target: &PathBuf| -> Option<Source> {
        match outcome.pycs.remove(target) {
            Some((entry, offset)) => Some(Source::FileFrom(entry, offset)),
            None => target.is_file().then(|| Source::File(target.clone())),
        }
    };
    let mut runtime = staged.runtime;
    let lock = staged.lock;
    for (path, disk) in &jobs.runtime {
        if let Some(source) = bytecode_of(disk) {
            runtime.push(Member {
                path: path.clone(),
                source,
                executable: false,
            });
        }
    }
    for p in &mut placed {
        p.bytecode = std::mem::take(&mut p.planned)
            .into_iter()
            .filter_map(|(rel, disk)| Some((rel, bytecode_of(&disk)?)))
            .collect();
    }
    let native = placed.iter().any(|p| p.decision.native);
    let python = target.python_info(installed.requires_python(), native, &plan.shebang);
    let literals = entry.literals(&placed);
    let main = MainData {
        entry: literals.main_entry,
        commands: literals.main_commands,
        pth: pack::pth_files(&placed),
        preamble: plan.preamble.is_some(),
        // Run-time defaults (`--root`, `--inherit-path`, `-E`).
        root: plan.runtime.root.clone(),
        inherit_path: plan.runtime.inherit_path,
        env: plan.runtime.env.clone(),
        ..MainData::default()
    };
    let settings = PackSettings {
        output: staged.output,
        shebang: plan.shebang.clone(),
        level: plan.compress_level,
        source_date_epoch: naming::source_date_epoch(),
        build_id: plan.build_id.clone(),
        entry: literals.entry,
        commands: literals.commands,
        main: target.main_data(main, &python),
        python,
        runtime,
        wheels: lock.as_ref().map(|l| l.wheels.clone()).unwrap_or_default(),
        lock: lock.map(|l| l.info),
        venv: staged.venv,
    };
    pack::pack(&mut placed, settings)
}

fn packed_summary(packed: &Packed) -> String {
    format!(
        "{}, {}",
        ui::count(packed.manifest.members.len() + 1, "member"),
        ui::size(packed.size)
    )
}

/// Returns the last line of a build.
fn built_summary(packed: &Packed, started: Instant, timings: &Timings) -> String {
    let manifest = &packed.manifest;
    let extracted = manifest
        .distributions
        .iter()
        .filter(|d| d.mode == Mode::Extract)
        .count();
    format!(
        "built {} ({:.1} MB, {}, {} extracted at run time, build id {}) in {:.2}s [{}]",
        packed.output.display(),
        packed.size as f64 / 1e6,
        ui::count(manifest.distributions.len(), "distribution"),
        extracted,
        &manifest.build_id[..manifest.build_id.len().min(12)],
        started.elapsed().as_secs_f64(),
        timings.summary()
    )
}

/// Fails at once, before any slow stage, when the output exists as anything but a regular file
/// (known only for a path without placeholders; `pack` checks the final path again), or when the
/// output's directory (or the deepest existing
/// directory above it, where the missing ones will be created) does not take new files (the
/// bundle is written there through a temporary file at the end).
fn check_output_dir(template: &OutputTemplate) -> Result<()> {
    if let Some(path) = template.literal() {
        crate::output::check_target(path)?;
    }
    let dir = template.existing_ancestor();
    let dir = dir.as_path();
    tempfile::Builder::new()
        .prefix(".pybundle-probe.")
        .tempfile_in(dir)
        .map(drop)
        .with_context(|| {
            format!(
                "cannot write into `{}`\nhint: choose a writable directory for -o",
                dir.display()
            )
        })
}

/// Fails when two sources provide the same distribution.
fn check_duplicates(dists: &[InstalledDist]) -> Result<()> {
    let mut seen: BTreeMap<String, &InstalledDist> = BTreeMap::new();
    for dist in dists.iter().filter(|d| !d.dist_info.is_empty()) {
        if let Some(other) = seen.insert(normalize_name(&dist.name), dist) {
            bail!(
                "the distribution `{}` is provided twice: {} from `{}` and {} from `{}`\nhint: give each distribution once (a requirement or a --site-packages tree, not both)",
                dist.name,
                other.version,
                other.root.display(),
                dist.version,
                dist.root.display()
            );
        }
    }
    Ok(())
}
