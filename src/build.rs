//! The build command: runs the stages in order (probe → resolve → install → analyze → compile →
//! pack) for one [`BuildPlan`] and prints the summary line. Each stage lives in its own module;
//! this one only wires them together and adds context to their errors.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rayon::prelude::*;

use crate::analyze;
use crate::bootstrap::{self, MainData};
use crate::config::{BuildPlan, Resolver};
use crate::entry;
use crate::install::{self, InstalledDist, normalize_name};
use crate::launch::{self, Launch};
use crate::pack::bytecode::{self, Job};
use crate::pack::manifest::{EntryInfo, Mode, PythonInfo};
use crate::pack::pyc_cache::PycCache;
use crate::pack::writer::{Member, Source};
use crate::pack::{self, PackSettings, Placed};
use crate::python::{self, Interpreter};
use crate::resolve;
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
    check_output_dir(&plan.output)?;
    let pip_python = Interpreter::probe(&plan.python)?;
    // `interp` is the target: `--python` itself, or the cross target's facts. `compiler` is the
    // interpreter that compiles bytecode, of the target's version, if one is installed.
    let (interp, compiler) = match &plan.target {
        None => (pip_python.clone(), Some(pip_python.clone())),
        Some(target) => {
            let mut interp = pip_python.retarget(target);
            let (major, minor) = (interp.version.0, interp.version.1);
            let compiler = python::find_compiler(&pip_python, major, minor);
            match &compiler {
                Some(c) => {
                    interp.cache_tag = c.cache_tag.clone();
                    interp.magic = c.magic.clone();
                }
                None => ui::warn(&format!(
                    "no Python {major}.{minor} found to compile bytecode: the bundle ships sources only (pass --python with a {major}.{minor} interpreter, or install python{major}.{minor})"
                )),
            }
            (interp, compiler)
        }
    };
    ui::detail(&format!(
        "target interpreter: {} on {} (the resolver runs with {})",
        interp.display_name(),
        interp.platform,
        pip_python.executable.display()
    ));
    let stage = tempfile::Builder::new()
        .prefix("pybundle-stage-")
        .tempdir()
        .context("cannot create a staging directory")?;

    // Resolve with pip (or uv).
    let wheels = if plan.pip.has_requirements() {
        let wheel_dir = stage.path().join("wheels");
        fs_err::create_dir_all(&wheel_dir)?;
        let running = match plan.resolver {
            Resolver::Pip => "running pip…",
            Resolver::Uv => "running uv…",
        };
        let progress = ui::progress("resolve", running, None);
        let wheels = timings.record("resolve", || {
            resolve::resolve(
                plan.resolver,
                &pip_python,
                &plan.pip,
                plan.target.as_ref(),
                &wheel_dir,
                &stage.path().join("resolver"),
                ui::is_verbose(),
            )
        })?;
        let bytes: u64 = wheels
            .iter()
            .filter_map(|w| fs_err::metadata(w).ok())
            .map(|m| m.len())
            .sum();
        progress.finish(&format!(
            "{}, {}",
            ui::count(wheels.len(), "wheel"),
            ui::size(bytes)
        ));
        wheels
    } else {
        Vec::new()
    };

    // Install the wheels in parallel, each into its own staging root.
    let dists_dir = stage.path().join("dists");
    let progress = ui::progress(
        "install",
        "unpacking wheels",
        Some((wheels.len() + plan.site_packages.len()) as u64),
    );
    let mut dists: Vec<InstalledDist> =
        timings.record("install", || -> Result<Vec<InstalledDist>> {
            let mut dists = wheels
                .par_iter()
                .enumerate()
                .map(|(i, wheel)| {
                    let dist = install::install_wheel(wheel, &dists_dir.join(i.to_string()))
                        .with_context(|| {
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
                dists.extend(install::scan_site_packages(dir).with_context(|| {
                    format!("cannot read the site-packages tree `{}`", dir.display())
                })?);
                progress.inc(1);
            }
            Ok(dists)
        })?;
    progress.finish(&format!(
        "{}, {}",
        ui::count(dists.len(), "distribution"),
        ui::count(dists.iter().map(|d| d.files.len()).sum::<usize>(), "file")
    ));
    dists.sort_by_key(|d| normalize_name(&d.name));
    check_duplicates(&dists)?;
    ui::detail(&format!(
        "{} distributions: {}",
        dists.len(),
        dists
            .iter()
            .map(|d| format!("{} {}", d.name, d.version))
            .collect::<Vec<_>>()
            .join(", ")
    ));

    let mut scripts = launch::collect(&dists, &plan.site_packages)?;
    let launch_entry = launch::resolve_entry(&plan.entry, &dists, &scripts)?;
    let commands = if plan.multicall {
        launch::commands(&dists, &scripts)?
    } else {
        Vec::new()
    };
    let overrides = use_scripts(plan, &mut dists, &mut scripts, &launch_entry, &commands);
    let mut decisions = timings.record("analyze", || analyze::decide_all(&dists, &overrides.0))?;
    explain_script_extraction(&dists, &mut decisions, &overrides.1, &plan.overrides);
    let resolved = match &launch_entry {
        Launch::EntryPoint(resolved) => Some(resolved),
        Launch::Script(_) => None,
    };
    for (dist, decision) in dists.iter().zip(&decisions) {
        ui::detail(&format!(
            "{} {}: {} ({})",
            dist.name,
            dist.version,
            if decision.mode == Mode::Zip {
                "zip"
            } else {
                "extract"
            },
            decision.reason
        ));
    }

    // Compile bytecode: the run time's own package and every distribution's sources.
    let bundle_name = plan
        .output
        .file_name()
        .map_or_else(|| "bundle".into(), |n| n.to_string_lossy().into_owned());
    let pyc_dir = stage.path().join("pyc");
    let runtime_dir = stage.path().join("runtime");
    let mut runtime: Vec<Member> = Vec::new();
    let mut jobs: Vec<Job> = Vec::new();
    for (path, source) in bootstrap::RUNTIME_FILES {
        let disk = runtime_dir.join(path);
        fs_err::create_dir_all(disk.parent().expect("runtime paths have a parent"))?;
        fs_err::write(&disk, source)?;
        runtime.push(Member {
            path: (*path).to_string(),
            source: Source::File(disk.clone()),
            executable: false,
        });
        let pyc = bytecode::pyc_path(path, &interp.cache_tag, true);
        jobs.push(Job {
            source: disk,
            target: runtime_dir.join(&pyc),
            dfile: format!("{bundle_name}/{path}"),
        });
    }
    if let Some(preamble) = &plan.preamble {
        runtime.push(Member {
            path: "_pybundle/preamble.py".into(),
            source: Source::File(preamble.clone()),
            executable: false,
        });
    }
    let mut placed: Vec<Placed<'_>> = Vec::new();
    let mut dist_jobs: Vec<Vec<(String, PathBuf)>> = Vec::new();
    for (i, (dist, decision)) in dists.iter().zip(&decisions).enumerate() {
        let legacy = decision.mode == Mode::Zip;
        let key = if decision.mode == Mode::Extract {
            Some(
                pack::cache_key(dist, &interp.cache_tag, &interp.magic)
                    .with_context(|| format!("cannot fingerprint `{}`", dist.name))?,
            )
        } else {
            None
        };
        let mut pycs = Vec::new();
        let shadowed = shadowed_sources(&dist.files);
        for file in dist
            .files
            .iter()
            .filter(|f| compiles(f) && !shadowed.contains(f.as_str()))
        {
            let pyc = bytecode::pyc_path(file, &interp.cache_tag, legacy);
            let target = pyc_dir.join(i.to_string()).join(&pyc);
            let dfile = if legacy {
                format!("{bundle_name}/{file}")
            } else {
                file.clone()
            };
            jobs.push(Job {
                source: dist.root.join(file),
                target: target.clone(),
                dfile,
            });
            pycs.push((pyc, target));
        }
        dist_jobs.push(pycs);
        placed.push(Placed {
            dist,
            mode: decision.mode,
            reason: decision.reason.clone(),
            native: decision.native,
            key,
            bytecode: Vec::new(),
        });
    }
    let progress = ui::progress(
        "compile",
        &format!(
            "compiling {} modules with {}",
            jobs.len(),
            interp.display_name()
        ),
        None,
    );
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let attr_checks: Vec<(PathBuf, String)> = resolved
        .and_then(|r| r.attr_check.clone())
        .into_iter()
        .collect();
    let outcome = match &compiler {
        Some(compiler) => timings.record("compile", || {
            let cache = PycCache::from_env();
            let outcome =
                bytecode::compile_cached(compiler, &jobs, &attr_checks, workers, cache.as_ref());
            if let Some(cache) = &cache {
                ui::detail(&format!(
                    "bytecode cache `{}`: {} hit(s), {} miss(es)",
                    cache.dir().display(),
                    outcome.as_ref().map_or(0, |o| o.cached),
                    outcome.as_ref().map_or(0, |o| o.compiled)
                ));
                if let Some(err) = cache.write_error() {
                    ui::warn(&format!(
                        "cannot write to the bytecode cache `{}`: {err}; the next build compiles these files again",
                        cache.dir().display()
                    ));
                }
            }
            outcome.map(|o| (o, cache.is_some()))
        })?,
        None => {
            jobs.clear();
            (bytecode::Outcome::default(), false)
        }
    };
    let (mut outcome, cache_used) = outcome;
    let mut summary = ui::count(jobs.len(), "module");
    if cache_used {
        summary.push_str(&format!(
            ": {} cached, {} compiled",
            outcome.cached, outcome.compiled
        ));
    }
    if !outcome.failed.is_empty() {
        summary.push_str(&format!(", {} left as source only", outcome.failed.len()));
    }
    progress.finish(&summary);
    if let (Some(resolved), Some(Some(false))) = (resolved, outcome.attrs.first())
        && let Some((file, name)) = &resolved.attr_check
    {
        bail!(entry::EntryError::NoAttribute {
            module: resolved.info.module.clone().unwrap_or_default(),
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
    // Bytecode from the cache is in memory, the rest on disk; sources that did not compile have
    // neither.
    let mut bytecode_of = |target: &PathBuf| -> Option<Source> {
        match outcome.pycs.remove(target) {
            Some(bytes) => Some(Source::Bytes(bytes)),
            None => target.is_file().then(|| Source::File(target.clone())),
        }
    };
    for job in &jobs {
        if let Ok(rel) = job.target.strip_prefix(&runtime_dir)
            && let Some(source) = bytecode_of(&job.target)
        {
            runtime.push(Member {
                path: rel.to_string_lossy().into_owned(),
                source,
                executable: false,
            });
        }
    }
    for (p, pycs) in placed.iter_mut().zip(dist_jobs) {
        p.bytecode = pycs
            .into_iter()
            .filter_map(|(rel, disk)| Some((rel, bytecode_of(&disk)?)))
            .collect();
    }

    // Pack.
    let native = placed.iter().any(|p| p.native);
    let requires_python = join_requires_python(&dists);
    let (main_entry, entry_info) = launch_literals(&launch_entry, &scripts, &placed);
    let mut main_commands = Vec::new();
    let mut manifest_commands = BTreeMap::new();
    for command in &commands {
        let (literal, info) = launch_literals(&command.launch, &scripts, &placed);
        main_commands.push((command.name.clone(), literal));
        manifest_commands.insert(command.name.clone(), info);
    }
    let main = MainData {
        entry: main_entry,
        commands: main_commands,
        implementation: interp.implementation.clone(),
        version: (interp.version.0, interp.version.1),
        cache_tag: interp.cache_tag.clone(),
        requires_python: requires_python.clone(),
        native,
        platform: interp.platform.clone(),
        sys_platform: interp.sys_platform.clone(),
        machine: interp.machine.clone(),
        pth: pth_files(&placed),
        preamble: plan.preamble.is_some(),
        // Run-time defaults (`--root`, `--inherit-path`, `-E`).
        multiarch: interp.multiarch.clone(),
        root: plan.runtime.root.clone(),
        inherit_path: plan.runtime.inherit_path,
        env: plan.runtime.env.clone(),
        ..MainData::default()
    };
    let settings = PackSettings {
        output: plan.output.clone(),
        shebang: plan.shebang.clone(),
        level: plan.compress_level,
        source_date_epoch: std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.trim().parse().ok()),
        build_id: plan.build_id.clone(),
        entry: entry_info,
        commands: manifest_commands,
        python: PythonInfo {
            implementation: interp.implementation.clone(),
            version: interp.short_version(),
            cache_tag: interp.cache_tag.clone(),
            platform: interp.platform.clone(),
            sys_platform: interp.sys_platform.clone(),
            machine: interp.machine.clone(),
            ext_suffix: interp.ext_suffix.clone(),
            requires_python,
            native,
            shebang: plan.shebang.clone(),
        },
        main,
        runtime,
    };
    let progress = ui::progress("pack", "writing the zip", None);
    let outcome = timings.record("pack", || pack::pack(&mut placed, settings))?;
    progress.finish(&format!(
        "{}, {}",
        ui::count(outcome.manifest.members.len() + 1, "member"),
        ui::size(outcome.size)
    ));
    let extracted = outcome
        .manifest
        .distributions
        .iter()
        .filter(|d| d.mode == Mode::Extract)
        .count();
    ui::stage(&format!(
        "built {} ({:.1} MB, {}, {} extracted at run time, build id {}) in {:.2}s [{}]",
        plan.output.display(),
        outcome.size as f64 / 1e6,
        ui::count(outcome.manifest.distributions.len(), "distribution"),
        extracted,
        &outcome.manifest.build_id[..outcome.manifest.build_id.len().min(12)],
        started.elapsed().as_secs_f64(),
        timings.summary()
    ));
    Ok(())
}

/// Makes the scripts that the entry and the multi-call commands run part of their
/// distributions (see [`launch::attach`]) and returns the zip-or-extract overrides with the
/// distributions whose scripts are executed from the cache added to `--extract`, and those
/// distributions (normalised name → script name).
fn use_scripts(
    plan: &BuildPlan,
    dists: &mut Vec<InstalledDist>,
    scripts: &mut [launch::Script],
    entry: &Launch,
    commands: &[launch::Command],
) -> (analyze::Overrides, BTreeMap<String, String>) {
    let used: BTreeSet<usize> = std::iter::once(entry)
        .chain(commands.iter().map(|c| &c.launch))
        .filter_map(|l| match l {
            Launch::Script(i) => Some(*i),
            Launch::EntryPoint(_) => None,
        })
        .collect();
    launch::attach(dists, scripts, &used);
    let forced = launch::extraction_needed(dists, scripts, &used);
    let mut overrides = plan.overrides.clone();
    overrides.extract.extend(forced.keys().cloned());
    (overrides, forced)
}

/// Gives the distributions extracted only because a script of theirs is executed from the cache
/// a reason that says so (instead of `--extract`).
fn explain_script_extraction(
    dists: &[InstalledDist],
    decisions: &mut [analyze::Decision],
    forced: &BTreeMap<String, String>,
    user: &analyze::Overrides,
) {
    for (dist, decision) in dists.iter().zip(decisions.iter_mut()) {
        let name = normalize_name(&dist.name);
        if let Some(script) = forced.get(&name)
            && decision.reason == "--extract"
            && !user.extract.contains(&name)
        {
            decision.reason = format!("its script `{script}` is executed from the cache");
        }
    }
}

/// Returns the `__main__.py` literal and the manifest entry of `launch`.
fn launch_literals(
    launch: &Launch,
    scripts: &[launch::Script],
    placed: &[Placed<'_>],
) -> (bootstrap::EntryLiteral, EntryInfo) {
    match launch {
        Launch::EntryPoint(resolved) => {
            let info = resolved.info.clone();
            (
                (info.kind.clone(), info.module.clone(), info.attr.clone()),
                info,
            )
        }
        Launch::Script(i) => {
            let script = &scripts[*i];
            let owner = script
                .owner
                .expect("attach gave every used script an owner");
            launch::script_entry(script, &placed[owner].archive_dir())
        }
    }
}

/// Fails at once, before any slow stage, when the output's directory does not take new files
/// (the bundle is written there through a temporary file at the end).
fn check_output_dir(output: &std::path::Path) -> Result<()> {
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
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

/// Returns true if and only if `file` is a Python source that gets bytecode.
/// The `.py` files that an extension module of the same name in the same directory shadows
/// (mypyc-compiled packages such as black ship both): the import system picks the extension, so
/// their bytecode would never run. Their source is still shipped (tracebacks, `inspect`).
fn shadowed_sources(files: &[String]) -> BTreeSet<&str> {
    let stems: BTreeSet<(&str, &str)> = files
        .iter()
        .filter(|f| f.ends_with(".so") || f.ends_with(".pyd"))
        .map(|f| {
            let (dir, name) = f.rsplit_once('/').unwrap_or(("", f));
            (dir, name.split('.').next().unwrap_or(name))
        })
        .collect();
    files
        .iter()
        .filter(|f| {
            f.ends_with(".py") && {
                let (dir, name) = f.rsplit_once('/').unwrap_or(("", f));
                stems.contains(&(dir, &name[..name.len() - 3]))
            }
        })
        .map(String::as_str)
        .collect()
}

fn compiles(file: &str) -> bool {
    let top = file.split('/').next().unwrap_or(file);
    file.ends_with(".py")
        && !top.ends_with(".dist-info")
        && !top.ends_with(".data")
        && top != "bin"
        && top != "include"
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

/// Returns the distributions' `Requires-Python` specifiers joined with `,`, without repeats;
/// of several `>=` lower bounds only the highest is kept (`>=3.8,>=3.10` → `>=3.10`).
fn join_requires_python(dists: &[InstalledDist]) -> Option<String> {
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

/// Returns the `.pth` files at the top of each distribution, as (archive directory, name), in
/// the order `site` would process them (sorted by name within a directory).
fn pth_files(placed: &[Placed<'_>]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = placed
        .iter()
        .flat_map(|p| {
            let dir = p.archive_dir();
            p.dist
                .files
                .iter()
                .filter(|f| !f.contains('/') && f.ends_with(".pth"))
                .map(move |f| (dir.clone(), f.clone()))
        })
        .collect();
    out.sort_by(|a, b| {
        (a.0 != pack::SITE_PACKAGES, &a.0, &a.1).cmp(&(b.0 != pack::SITE_PACKAGES, &b.0, &b.1))
    });
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(requires: Option<&str>) -> InstalledDist {
        InstalledDist {
            name: "x".into(),
            version: "1".into(),
            dist_info: "x-1.dist-info".into(),
            root: PathBuf::new(),
            files: Vec::new(),
            purelib: true,
            tags: Vec::new(),
            entry_points: crate::install::EntryPoints::default(),
            requires_python: requires.map(str::to_string),
            license: None,
            summary: None,
            top_level: Vec::new(),
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

    #[test]
    fn compiled_sources() {
        assert!(compiles("pkg/mod.py"));
        assert!(compiles("top.py"));
        assert!(!compiles("pkg-1.0.dist-info/x.py"));
        assert!(!compiles("bin/tool.py"));
        assert!(!compiles("pkg/data.txt"));
    }

    #[test]
    fn sources_shadowed_by_extensions() {
        let files: Vec<String> = [
            "black/__init__.py",
            "black/linegen.cpython-311-x86_64-linux-gnu.so",
            "black/linegen.py",
            "black/mode.py",
            "top.abi3.so",
            "top.py",
            "other/linegen.py",
        ]
        .map(String::from)
        .to_vec();
        let shadowed: Vec<&str> = shadowed_sources(&files).into_iter().collect();
        assert_eq!(shadowed, ["black/linegen.py", "top.py"]);
    }
}
