//! Builds from a PEP 751 lock (`--lock pylock.toml`): no resolver runs. The lock's markers are
//! evaluated for the target (`pylock`), the local projects given next to it are built with
//! `pip wheel --no-deps` and their `Requires-Dist` checked against the selection, then for every
//! selected package `fetch.py` picks the locked wheel pip would pick for the target's tags
//! (strictly: a package with no wheel for the target stops the build) and puts it into the
//! staging wheelhouse, from a `--find-links` directory holding a file of that name, else from
//! the lock's path or URL (through the sha256-keyed download cache). Every wheel is checked
//! against the lock's sha256, which the lock must give. Packages with only an sdist (or a
//! directory or VCS source) are built with `pip wheel --no-deps` when the user allows it.
//! See: #23

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::uv::{Candidate, Fetcher, Plan};
use super::{ResolveError, create_dir, cross, list_wheels, pip_command, run_pip, wheelhouse_error};
use crate::config::{CrossTarget, LockRequest, PipOptions};
use crate::install::filename::WheelFilename;
use crate::layout::{LockInfo, WheelInfo};
use crate::name::normalize_name;
use crate::pylock::{self, File, LoadedLock, Package};
use crate::python::Interpreter;

/// What a lock build records in the manifest.
#[derive(Debug, Clone)]
pub struct LockOutcome {
    /// The lock and what its markers were evaluated for.
    pub info: LockInfo,
    /// The wheel of every staged distribution, by normalized name.
    pub wheels: BTreeMap<String, WheelInfo>,
}

/// The interpreters and target of a lock build.
pub struct LockTarget<'a> {
    /// `--python`: evaluates the markers, runs pip and the fetcher.
    pub python: &'a Interpreter,
    /// The target: `--python` itself, or the cross target's facts.
    pub interp: &'a Interpreter,
    /// The cross target, if any.
    pub cross: Option<&'a CrossTarget>,
}

impl LockTarget<'_> {
    fn describe(&self) -> String {
        match self.cross {
            Some(cross) => cross::describe_target(self.python, cross),
            None => format!("{} on {}", self.interp.display_name(), self.interp.platform),
        }
    }

    /// Returns the marker variables that differ from `--python`'s for a cross target.
    fn overrides(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        let (host, target) = (self.python, self.interp);
        if (host.version.0, host.version.1) != (target.version.0, target.version.1) {
            let (major, minor, micro) = target.version;
            let full = format!("{major}.{minor}.{micro}");
            env.insert("python_version".into(), format!("{major}.{minor}"));
            env.insert("python_full_version".into(), full.clone());
            env.insert("implementation_version".into(), full);
        }
        if host.platform != target.platform {
            let (system, os) = match target.sys_platform.as_str() {
                "linux" => ("Linux", "posix"),
                "darwin" => ("Darwin", "posix"),
                "win32" => ("Windows", "nt"),
                _ => ("", "posix"),
            };
            env.insert("sys_platform".into(), target.sys_platform.clone());
            env.insert("platform_machine".into(), target.machine.clone());
            env.insert("platform_system".into(), system.into());
            env.insert("os_name".into(), os.into());
            env.insert("platform_release".into(), String::new());
            env.insert("platform_version".into(), String::new());
        }
        env
    }
}

/// Fills `wheel_dir` with the wheels `request`'s lock selects for `target`, plus the local
/// projects of `options.requirements`; `work_dir` is scratch space. Returns the staged wheels,
/// sorted by file name, and what the manifest records.
pub fn resolve(
    target: &LockTarget<'_>,
    request: &LockRequest,
    options: &PipOptions,
    wheel_dir: &Path,
    work_dir: &Path,
    stream: bool,
) -> Result<(Vec<PathBuf>, LockOutcome), ResolveError> {
    let loaded = LoadedLock::read(&request.path)?;
    let groups = loaded.selection(&request.extras, &request.groups)?;
    let lock_dir = request.path.parent().unwrap_or(Path::new("/"));

    // The local projects: built first, since the selection must satisfy their requirements.
    let projects_dir = create_dir(work_dir.join("projects"))?;
    let projects = build_projects(target, options, &projects_dir, stream)?;

    let evaluated = pylock::evaluate(
        &target.python.executable,
        &loaded.lock,
        &pylock::Request {
            environment: None,
            overrides: target.overrides(),
            extras: request.extras.clone(),
            groups: groups.clone(),
            projects: projects.clone(),
        },
    )?;
    let selected = selected_packages(&loaded, &evaluated, request, target)?;
    let project_names: BTreeSet<String> = evaluated
        .projects
        .iter()
        .map(|n| normalize_name(n))
        .collect();
    let sources = Sources::classify(
        &selected,
        &project_names,
        lock_dir,
        request,
        options,
        target,
    )?;

    fetch_wheels(target, &sources, wheel_dir)?;
    build_sdists(target, options, sources.sdists, work_dir, wheel_dir, stream)?;
    let mut built = projects;
    if !sources.directories.is_empty() {
        let dir = create_dir(work_dir.join("directories"))?;
        let options = PipOptions {
            requirements: sources.directories,
            ..options.clone()
        };
        built.extend(build_projects(target, &options, &dir, stream)?);
    }
    for wheel in &built {
        let dest = wheel_dir.join(wheel.file_name().unwrap_or_default());
        fs_err::copy(wheel, &dest).map_err(wheelhouse_error(&dest))?;
    }

    let staged = list_wheels(wheel_dir)?;
    let wheels = locked_wheels(&sources.wheels, &staged);
    let info = LockInfo {
        sha256: loaded.sha256,
        extras: request.extras.clone(),
        groups,
        environment: evaluated.environment,
        projects: evaluated.projects,
    };
    Ok((staged, LockOutcome { info, wheels }))
}

/// Returns the packages the lock's markers select for the target, in lock order; a lock whose
/// markers fail to evaluate, or select a package twice, is unusable.
fn selected_packages<'l>(
    loaded: &'l LoadedLock,
    evaluated: &pylock::Evaluated,
    request: &LockRequest,
    target: &LockTarget<'_>,
) -> Result<Vec<&'l Package>, ResolveError> {
    let unusable = |problems| ResolveError::LockUnusable {
        path: request.path.clone(),
        target: target.describe(),
        problems,
    };
    if !evaluated.problems.is_empty() {
        return Err(unusable(evaluated.problems.join("\n  ")));
    }
    let selected: Vec<&Package> = loaded
        .lock
        .packages
        .iter()
        .zip(&evaluated.selected)
        .filter_map(|(p, chosen)| chosen.then_some(p))
        .collect();
    let mut seen = BTreeSet::new();
    if let Some(twice) = selected
        .iter()
        .find(|p| !seen.insert(normalize_name(&p.name)))
    {
        return Err(unusable(format!(
            "`{}` is selected more than once: the markers of its entries overlap",
            twice.name
        )));
    }
    Ok(selected)
}

/// The selected packages of a lock, by how each gets into the wheelhouse.
struct Sources<'l> {
    /// The locked wheels of each package that has some: the fetcher picks one per package.
    wheels: Plan,
    /// The package of each entry of `wheels.wheels`.
    owners: Vec<&'l Package>,
    /// Packages without a wheel, built from their sdist (or archive) as the user allows.
    sdists: Vec<(&'l Package, Candidate)>,
    /// The lock's local project directories that the command line does not give: built.
    directories: Vec<String>,
}

impl<'l> Sources<'l> {
    /// Classifies `selected`; `project_names` are the local projects of the command line. A package
    /// with no wheel stops the build unless the user allows building its sdist.
    fn classify(
        selected: &[&'l Package],
        project_names: &BTreeSet<String>,
        lock_dir: &Path,
        request: &LockRequest,
        options: &PipOptions,
        target: &LockTarget<'_>,
    ) -> Result<Self, ResolveError> {
        let mut sources = Sources {
            wheels: Plan::default(),
            owners: Vec::new(),
            sdists: Vec::new(),
            directories: Vec::new(),
        };
        for &package in selected {
            // A local project of the lock (`uv export` lists the project itself as a directory):
            // built like the projects of the command line, or taken from there when given.
            if package.wheels.is_empty()
                && let Some(dir) = package
                    .directory
                    .as_ref()
                    .and_then(|d| d.get("path"))
                    .and_then(|p| p.as_str())
            {
                if !project_names.contains(&normalize_name(&package.name)) {
                    sources
                        .directories
                        .push(lock_dir.join(dir).display().to_string());
                }
                continue;
            }
            let wheels: Vec<Candidate> = package
                .wheels
                .iter()
                .chain(package.archive.iter())
                .filter(|f| f.file_name().is_some_and(|n| n.ends_with(".whl")))
                .map(|f| candidate(package, f, lock_dir, &options.find_links))
                .collect::<Result<_, _>>()?;
            if !wheels.is_empty() {
                sources.wheels.wheels.push(wheels);
                sources.owners.push(package);
                continue;
            }
            let file = sdist(package, request, target)?;
            let found = candidate(package, file, lock_dir, &options.find_links)?;
            sources.sdists.push((package, found));
        }
        Ok(sources)
    }
}

/// Returns the source archive of `package`, which has no wheel: its sdist (or archive) when the
/// user allows building one for this target, else the error that says what the lock offers.
fn sdist<'l>(
    package: &'l Package,
    request: &LockRequest,
    target: &LockTarget<'_>,
) -> Result<&'l File, ResolveError> {
    let source = package.sdist.as_ref().or(package.archive.as_ref());
    match source {
        Some(file) if request.build_sdists && target.cross.is_none() => Ok(file),
        _ => Err(ResolveError::LockNoWheelFile {
            package: describe(package),
            what: match source {
                Some(file) => file.file_name().unwrap_or_default(),
                None if package.directory.is_some() => "a directory source".to_string(),
                None if package.vcs.is_some() => "a VCS source".to_string(),
                None => "nothing to install".to_string(),
            },
            cross: target.cross.is_some(),
        }),
    }
}

/// Puts into `wheel_dir` the locked wheel of every package of `sources.wheels` that the
/// target's tags choose, checked against the lock's sha256.
fn fetch_wheels(
    target: &LockTarget<'_>,
    sources: &Sources<'_>,
    wheel_dir: &Path,
) -> Result<(), ResolveError> {
    let (plan, owners) = (&sources.wheels, &sources.owners);
    let tags = match target.cross {
        Some(cross) => Some(cross::ranked_target_tags(target.python, cross)?),
        None => None,
    };
    let fetcher = Fetcher::spawn(target.python)?;
    let unusable = fetcher
        .run_with(plan, wheel_dir, tags.as_deref(), true)
        .map_err(|err| with_package(err, plan, owners))?;
    if let Some(&first) = unusable.first() {
        return Err(ResolveError::LockNoWheel {
            package: describe(owners[first]),
            files: plan.wheels[first]
                .iter()
                .map(|c| c.filename.clone())
                .collect::<Vec<_>>()
                .join(", "),
            target: target.describe(),
        });
    }
    Ok(())
}

/// Fetches the sdists the user allowed, checked like wheels, and builds them into `wheel_dir`.
fn build_sdists(
    target: &LockTarget<'_>,
    options: &PipOptions,
    sources: Vec<(&Package, Candidate)>,
    work_dir: &Path,
    wheel_dir: &Path,
    stream: bool,
) -> Result<(), ResolveError> {
    if sources.is_empty() {
        return Ok(());
    }
    let sdist_dir = create_dir(work_dir.join("sdists"))?;
    let (owners, candidates): (Vec<&Package>, Vec<Candidate>) = sources.into_iter().unzip();
    let sdists = Plan {
        wheels: candidates.into_iter().map(|c| vec![c]).collect(),
        builds: Vec::new(),
    };
    Fetcher::spawn(target.python)?
        .run_with(&sdists, &sdist_dir, None, false)
        .map_err(|err| with_package(err, &sdists, &owners))?;
    let files: Vec<String> = sdists
        .wheels
        .iter()
        .flatten()
        .map(|c| sdist_dir.join(&c.filename).display().to_string())
        .collect();
    build_no_deps(target.python, options, files, wheel_dir, stream)
}

/// Returns the wheel of every staged distribution that came from the lock, by normalized name.
///
/// The manifest records the locked wheels (checked against the lock's sha256), not the ones
/// built here: a wheel built from a project or an sdist differs from build to build (file
/// times), and the lock has no hash for it anyway.
fn locked_wheels(plan: &Plan, staged: &[PathBuf]) -> BTreeMap<String, WheelInfo> {
    let locked: BTreeMap<&str, &str> = plan
        .wheels
        .iter()
        .flatten()
        .filter_map(|c| Some((c.filename.as_str(), c.sha256.as_deref()?)))
        .collect();
    let mut wheels = BTreeMap::new();
    for wheel in staged {
        let file = wheel
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let Some(sha256) = locked.get(file.as_str()) else {
            continue;
        };
        let name = file
            .parse::<WheelFilename>()
            .map(|w| normalize_name(&w.name))
            .unwrap_or_else(|_| normalize_name(file.split('-').next().unwrap_or(&file)));
        wheels.insert(
            name,
            WheelInfo {
                file,
                sha256: (*sha256).to_string(),
            },
        );
    }
    wheels
}

/// Returns `name version` of a package, for messages.
fn describe(package: &Package) -> String {
    match &package.version {
        Some(v) => format!("{} {v}", package.name),
        None => package.name.clone(),
    }
}

/// Returns where to get `file` of `package`: a `--find-links` directory holding a file of its
/// name, else the lock's path (relative to the lock) or URL. The lock must give its sha256.
fn candidate(
    package: &Package,
    file: &File,
    lock_dir: &Path,
    find_links: &[String],
) -> Result<Candidate, ResolveError> {
    let filename = file.file_name().unwrap_or_default();
    let sha256 = file.sha256().ok_or_else(|| ResolveError::LockNoHash {
        package: describe(package),
        file: filename.clone(),
    })?;
    let local = find_links
        .iter()
        .filter(|l| !l.contains("://"))
        .map(|dir| Path::new(dir).join(&filename))
        .find(|p| p.is_file());
    let (url, path) = match (local, &file.path, &file.url) {
        (Some(found), _, _) => (None, Some(found)),
        (None, Some(path), _) => (None, Some(lock_dir.join(path))),
        (None, None, Some(url)) => match url.strip_prefix("file://") {
            Some(rest) => (None, Some(PathBuf::from(pylock::percent_decode(rest)))),
            None => (Some(url.clone()), None),
        },
        (None, None, None) => {
            return Err(ResolveError::LockNoWheelFile {
                package: describe(package),
                what: format!("`{filename}` without a path or URL"),
                cross: false,
            });
        }
    };
    Ok(Candidate {
        filename,
        url,
        path,
        sha256: Some(sha256),
    })
}

/// Names the package of a hash mismatch, and where its file came from.
fn with_package(err: ResolveError, plan: &Plan, owners: &[&Package]) -> ResolveError {
    let ResolveError::HashMismatch {
        file,
        expected,
        actual,
    } = err
    else {
        return err;
    };
    let found = plan
        .wheels
        .iter()
        .zip(owners)
        .find_map(|(cands, owner)| Some((cands.iter().find(|c| c.filename == file)?, owner)));
    let (from, package) = match found {
        Some((c, owner)) => (
            c.path
                .as_ref()
                .map(|p| p.display().to_string())
                .or_else(|| c.url.clone())
                .unwrap_or_default(),
            describe(owner),
        ),
        None => (String::new(), String::new()),
    };
    ResolveError::LockHashMismatch {
        package,
        file,
        from,
        expected,
        actual,
    }
}

/// Builds the local projects given next to `--lock` (and, for a cross target, checks that their
/// wheels run on it); returns their wheels.
fn build_projects(
    target: &LockTarget<'_>,
    options: &PipOptions,
    dir: &Path,
    stream: bool,
) -> Result<Vec<PathBuf>, ResolveError> {
    if options.requirements.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(cross) = target.cross {
        let built = cross::build_sources(
            target.python,
            options,
            cross,
            &options.requirements,
            dir,
            stream,
        )?;
        return Ok(built.into_iter().map(|b| b.wheel).collect());
    }
    build_no_deps(
        target.python,
        options,
        options.requirements.clone(),
        dir,
        stream,
    )?;
    list_wheels(dir)
}

/// Runs `pip wheel --no-deps` on `requirements` into `dir`.
fn build_no_deps(
    python: &Interpreter,
    options: &PipOptions,
    requirements: Vec<String>,
    dir: &Path,
    stream: bool,
) -> Result<(), ResolveError> {
    if !python.pip {
        return Err(super::no_pip(python));
    }
    let mut extra_args = vec![OsString::from("--no-deps")];
    extra_args.extend(options.extra_args.iter().cloned());
    let build = PipOptions {
        requirements,
        requirement_files: Vec::new(),
        constraint_files: Vec::new(),
        extra_args,
        ..options.clone()
    };
    run_pip(&mut pip_command(python, &build, None, dir), stream)
}
