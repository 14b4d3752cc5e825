//! The resolve stage: fill a staging wheelhouse with a wheel for every requirement and
//! dependency. The default backend is pip (`python -m pip wheel`): this module assembles its
//! command line, streams or captures its output, and reports its failures. `--resolver uv`
//! resolves with uv instead and fetches the same wheel files (see [`uv`]).

pub mod cross;
pub mod lock;
pub mod uv;
pub mod write_lock;

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::config::{CrossTarget, PipOptions, Resolver};
use crate::python::Interpreter;

/// How many of pip's last output lines a failure shows.
const TAIL_LINES: usize = 20;

/// pip did not produce the wheels.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "`{python}` has no pip\nhint: install it ({install}), or pass --python with an interpreter that has pip"
    )]
    NoPip { python: String, install: String },
    #[error("cannot run pip: {0}")]
    Spawn(#[source] std::io::Error),
    #[error(
        "pip failed ({status}) running:\n  {command}\n--- last lines of pip's output ---\n{tail}\n---\nhint: pip's own error is quoted above; fix the requirement it names, or rerun with -v to see all of pip's output"
    )]
    PipFailed {
        command: String,
        status: String,
        tail: String,
    },
    #[error("cannot run {tool}: {source}")]
    ToolSpawn {
        tool: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "--resolver uv needs uv, and none was found ({detail})\nhint: install it (`{python} -m pip install uv`, or see https://docs.astral.sh/uv/), set PYBUNDLE_UV to the uv binary, or build with the default `--resolver pip`"
    )]
    UvMissing { python: String, detail: String },
    #[error(
        "uv failed ({status}) running:\n  {command}\n--- last lines of uv's output ---\n{tail}\n---\nhint: uv's own error is quoted above; fix the requirement it names, or rerun with -v to see all of uv's output"
    )]
    UvFailed {
        command: String,
        status: String,
        tail: String,
    },
    #[error("cannot read uv's lock `{path}`: {message}")]
    BadLock { path: PathBuf, message: String },
    #[error(
        "cannot fetch the wheels uv resolved: {message}\nhint: check the network (and the proxy variables), or rerun with `--resolver pip`"
    )]
    FetchFailed { message: String },
    #[error(
        "the wheel `{file}` does not match uv's lock: sha256 {actual}, expected {expected}\nhint: a damaged copy in the download cache ($PYBUNDLE_WHEEL_CACHE, else ~/.cache/pybundle/wheels) has been removed; build again to download it anew"
    )]
    HashMismatch {
        file: String,
        expected: String,
        actual: String,
    },
    #[error(
        "the project `{project}` (from `{requirement}`) was built into `{wheel}`, tagged `{tag}`, which does not run on the target ({target})\nhint: a cross-target build can bundle a project built here only if its wheel is pure Python; build this wheel on (or for) the target and pass the wheel file instead, or build the bundle with a `--python` of the target's version and platform"
    )]
    CrossIncompatible {
        project: String,
        requirement: String,
        wheel: String,
        tag: String,
        target: String,
    },
    #[error(
        "`{file}` line {line} names `{requirement}`, which pip builds from source: a cross-target build cannot take a source requirement from a requirements file\nhint: give it on the command line instead (pybundle then builds it into a wheel with --python and checks that the wheel runs on the target), or name its wheel file"
    )]
    CrossSourceInFile {
        file: PathBuf,
        line: usize,
        requirement: String,
    },
    #[error(
        "the requirement `{requirement}` is not in the resolved set: no wheel of `{project}` is in the wheelhouse\nhint: this is a bug in pybundle or the resolver; rerun with -v to see the resolver's output"
    )]
    LeftOut {
        requirement: String,
        project: String,
    },
    #[error(transparent)]
    Lock(#[from] crate::pylock::LockError),
    #[error("the lock `{path}` cannot be used for the target ({target}):\n  {problems}")]
    LockUnusable {
        path: PathBuf,
        target: String,
        problems: String,
    },
    #[error(
        "the lock gives no sha256 for `{file}` of `{package}`\nhint: write the lock with hashes (uv, `pip lock` and pex do); pybundle installs only files it can check"
    )]
    LockNoHash { package: String, file: String },
    #[error(
        "`{package}` has no wheel in the lock, only {what}{}",
        if *cross {
            "\nhint: a cross-target build cannot build from source; lock a version that has a wheel for the target"
        } else {
            "\nhint: pass --lock-build-sdists to build it with `pip wheel --no-deps`, or lock a version that has a wheel"
        }
    )]
    LockNoWheelFile {
        package: String,
        what: String,
        cross: bool,
    },
    #[error(
        "`{package}` has no wheel for the target ({target}); the lock has: {files}\nhint: lock for this target (e.g. `pybundle lock --python-version X.Y --platform TAG`), or build for a target the lock covers"
    )]
    LockNoWheel {
        package: String,
        files: String,
        target: String,
    },
    #[error(
        "the file `{file}` of `{package}` (from `{from}`) does not match the lock: sha256 {actual}, expected {expected}\nhint: the file changed since the lock was written; restore it, or lock again"
    )]
    LockHashMismatch {
        package: String,
        file: String,
        from: String,
        expected: String,
        actual: String,
    },
    #[error(
        "uv has no --python-platform for the platform tag `{tag}`\nhint: give a manylinux, musllinux, linux, macosx or win tag"
    )]
    NoUvPlatform { tag: String },
    #[error(
        "`pip lock` locks for the interpreter that runs it only: it has no --platform or --python-version\nhint: install uv (`python -m pip install uv`) for a cross-target lock, or pass --python with an interpreter of the target"
    )]
    PipLockCross,
    #[error("cannot read the wheelhouse `{path}`: {source}")]
    Wheelhouse {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Returns the pip command that fills `wheel_dir` for `options`: `pip wheel` for the running
/// interpreter, or `pip download --only-binary=:all:` with the target's tags for a cross build.
pub fn pip_command(
    interp: &Interpreter,
    options: &PipOptions,
    target: Option<&CrossTarget>,
    wheel_dir: &Path,
) -> Command {
    let mut cmd = Command::new(&interp.executable);
    cmd.args(["-m", "pip"]);
    match target {
        None => {
            cmd.args(["wheel", "--disable-pip-version-check", "--no-input"]);
            cmd.arg("--wheel-dir").arg(wheel_dir);
        }
        Some(target) => {
            cmd.args([
                "download",
                "--disable-pip-version-check",
                "--no-input",
                "--only-binary=:all:",
            ]);
            cmd.arg("--dest").arg(wheel_dir);
            for platform in &target.platforms {
                cmd.arg("--platform").arg(platform);
            }
            if let Some((major, minor)) = target.python_version {
                cmd.arg("--python-version").arg(format!("{major}.{minor}"));
            }
            if let Some(implementation) = &target.implementation {
                cmd.arg("--implementation").arg(implementation);
            }
            for abi in &target.abis {
                cmd.arg("--abi").arg(abi);
            }
        }
    }
    index_args(&mut cmd, options);
    if options.pre {
        cmd.arg("--pre");
    }
    for file in &options.requirement_files {
        cmd.arg("--requirement").arg(file);
    }
    for file in &options.constraint_files {
        cmd.arg("--constraint").arg(file);
    }
    cmd.args(&options.requirements);
    cmd.args(&options.extra_args);
    // pip's own progress bars are noise in a captured tail.
    cmd.env("PIP_PROGRESS_BAR", "off");
    cmd
}

/// The resolve stage's output: the wheels of every requirement and dependency.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// Wheel files in the staging wheelhouse, sorted by file name.
    pub wheels: Vec<PathBuf>,
    /// For a build from a lock (`--lock`): what the manifest records.
    pub lock: Option<lock::LockOutcome>,
}

impl Resolved {
    /// Returns the wheels' total size in bytes.
    pub fn bytes(&self) -> u64 {
        self.wheels
            .iter()
            .filter_map(|w| fs_err::metadata(w).ok())
            .map(|m| m.len())
            .sum()
    }
}

/// Runs the `resolver` backend and returns the wheels it left in `wheel_dir`, sorted by file
/// name; `work_dir` is scratch space for the backend (uv's lock).
///
/// With `stream` true the tool's output goes to stderr as it comes; otherwise it is captured and
/// its last lines are shown if it fails.
pub fn resolve(
    resolver: Resolver,
    interp: &Interpreter,
    options: &PipOptions,
    target: Option<&CrossTarget>,
    wheel_dir: &Path,
    work_dir: &Path,
    stream: bool,
) -> Result<Vec<PathBuf>, ResolveError> {
    let (wheels, built) = match resolver {
        Resolver::Pip => resolve_pip(interp, options, target, wheel_dir, work_dir, stream)?,
        // `config` refuses a cross target with uv.
        Resolver::Uv => (
            uv::resolve(interp, options, wheel_dir, work_dir, stream)?,
            Vec::new(),
        ),
    };
    // Nothing named on the command line is left out silently.
    let cwd = std::env::current_dir().map_err(|source| ResolveError::Wheelhouse {
        path: PathBuf::from("."),
        source,
    })?;
    cross::check_named(&options.requirements, &built, &wheels, &cwd)?;
    Ok(wheels)
}

/// The error for an interpreter without pip, with the way to install pip there: Debian and
/// Ubuntu disable `ensurepip` for their system Python and ship pip as `python3-pip`.
pub(crate) fn no_pip(interp: &Interpreter) -> ResolveError {
    let python = interp.executable.display().to_string();
    let install = if interp.debian_system {
        "`apt install python3-pip`: this is Debian's python3, whose ensurepip is disabled"
            .to_string()
    } else {
        format!("`{python} -m ensurepip`")
    };
    ResolveError::NoPip { python, install }
}

/// Runs pip and returns the wheels it left in `wheel_dir`, sorted by file name, and the source
/// requirements a cross build built first (see [`cross`]; their wheels are among the others).
fn resolve_pip(
    interp: &Interpreter,
    options: &PipOptions,
    target: Option<&CrossTarget>,
    wheel_dir: &Path,
    work_dir: &Path,
    stream: bool,
) -> Result<(Vec<PathBuf>, Vec<cross::Built>), ResolveError> {
    if !interp.pip {
        return Err(no_pip(interp));
    }
    let Some(target) = target else {
        run_pip(&mut pip_command(interp, options, None, wheel_dir), stream)?;
        return Ok((list_wheels(wheel_dir)?, Vec::new()));
    };
    // `pip download --only-binary=:all:` cannot take a source tree: build those first.
    let cwd = std::env::current_dir().map_err(|source| ResolveError::Wheelhouse {
        path: PathBuf::from("."),
        source,
    })?;
    if let Some((file, line, requirement)) =
        cross::source_in_files(&options.requirement_files, &cwd)
    {
        return Err(ResolveError::CrossSourceInFile {
            file,
            line,
            requirement,
        });
    }
    let sources: Vec<String> = options
        .requirements
        .iter()
        .filter(|r| cross::is_source(r, &cwd))
        .cloned()
        .collect();
    let built = cross::build_sources(
        interp,
        options,
        target,
        &sources,
        &work_dir.join("built"),
        stream,
    )?;
    let download = PipOptions {
        requirements: options
            .requirements
            .iter()
            .filter(|r| !sources.contains(r))
            .cloned()
            .chain(built.iter().map(|b| b.wheel.display().to_string()))
            .collect(),
        ..options.clone()
    };
    run_pip(
        &mut pip_command(interp, &download, Some(target), wheel_dir),
        stream,
    )?;
    Ok((list_wheels(wheel_dir)?, built))
}

/// Adds the package-source options pip and uv share: `--no-index`, `--find-links`,
/// `--index-url`, `--extra-index-url`.
pub(crate) fn index_args(cmd: &mut Command, options: &PipOptions) {
    if options.no_index {
        cmd.arg("--no-index");
    }
    for link in &options.find_links {
        cmd.arg("--find-links").arg(link);
    }
    if let Some(url) = &options.index_url {
        cmd.arg("--index-url").arg(url);
    }
    for url in &options.extra_index_urls {
        cmd.arg("--extra-index-url").arg(url);
    }
}

/// Runs a pip command, its failure as [`ResolveError::PipFailed`] with the output's tail.
pub(crate) fn run_pip(cmd: &mut Command, stream: bool) -> Result<(), ResolveError> {
    let command = quote_command(cmd);
    run_captured("pip", cmd, stream).map_err(|failure| match failure {
        Err(source) => ResolveError::Spawn(source),
        Ok((status, tail)) => ResolveError::PipFailed {
            command,
            status,
            tail,
        },
    })
}

/// Runs `cmd` (the tool `tool`) with its output streamed to stderr (`stream`) or captured. On
/// failure returns
/// `Err(Ok((exit status, last output lines)))`, or `Err(Err(_))` when it cannot run.
pub(crate) fn run_captured(
    tool: &'static str,
    cmd: &mut Command,
    stream: bool,
) -> Result<(), Result<(String, String), std::io::Error>> {
    crate::interrupt::own_group(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(Err)?;
    let _on_signal = crate::interrupt::child(child.id());
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    // Both pipes are drained on their own threads so that neither can fill up and block the tool.
    let echo = stream.then_some(tool);
    let err_thread = std::thread::spawn(move || collect_lines(stderr, echo));
    let mut tail = collect_lines(stdout, echo);
    let err_tail = err_thread.join().unwrap_or_default();
    let status = child.wait().map_err(Err)?;
    if status.success() {
        return Ok(());
    }
    tail.extend(err_tail);
    while tail.len() > TAIL_LINES {
        tail.pop_front();
    }
    Err(Ok((
        status.to_string(),
        tail.into_iter().collect::<Vec<_>>().join("\n"),
    )))
}

/// Returns the `.whl` files directly in `dir`, sorted by name.
pub fn list_wheels(dir: &Path) -> Result<Vec<PathBuf>, ResolveError> {
    let entries = fs_err::read_dir(dir).map_err(|source| ResolveError::Wheelhouse {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut wheels = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ResolveError::Wheelhouse {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "whl") {
            wheels.push(path);
        }
    }
    wheels.sort();
    Ok(wheels)
}

/// Reads `reader` line by line, echoing to stderr labelled with the tool name `echo` when given,
/// and returns the last lines.
fn collect_lines(reader: impl std::io::Read, echo: Option<&str>) -> VecDeque<String> {
    let mut tail = VecDeque::with_capacity(TAIL_LINES + 1);
    for line in BufReader::new(reader).lines() {
        let Ok(line) = line else { break };
        if let Some(tool) = echo {
            crate::ui::tool_line(tool, &line);
        }
        if line.trim().is_empty() {
            continue;
        }
        tail.push_back(line);
        if tail.len() > TAIL_LINES {
            tail.pop_front();
        }
    }
    tail
}

/// Returns `cmd` as a line a user can paste into a POSIX shell.
pub fn quote_command(cmd: &Command) -> String {
    std::iter::once(cmd.get_program().to_os_string())
        .chain(cmd.get_args().map(OsString::from))
        .map(|arg| shell_quote(&arg.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(arg: &str) -> String {
    let safe = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=+,@%".contains(c));
    if safe {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Returns the error for a failed file operation on `path` in the wheelhouse or scratch space.
fn wheelhouse_error(path: &Path) -> impl FnOnce(std::io::Error) -> ResolveError {
    let path = path.to_path_buf();
    move |source| ResolveError::Wheelhouse { path, source }
}

/// Creates the directory `dir` (and its parents); returns it.
fn create_dir(dir: PathBuf) -> Result<PathBuf, ResolveError> {
    fs_err::create_dir_all(&dir).map_err(wheelhouse_error(&dir))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interp() -> Interpreter {
        serde_json::from_str(
            r#"{"executable":"/usr/bin/python3","implementation":"cpython","version":[3,11,7],
            "cache_tag":"cpython-311","ext_suffix":".so","platform":"linux-x86_64","sys_platform":"linux",
            "machine":"x86_64","multiarch":null,"magic":"a70d0d0a","pip":true}"#,
        )
        .unwrap()
    }

    #[test]
    fn pip_argv() {
        let options = PipOptions {
            requirements: vec!["requests>=2".into(), ".".into()],
            requirement_files: vec![PathBuf::from("/w/req.txt")],
            find_links: vec!["/w/wheels".into()],
            no_index: true,
            pre: true,
            extra_args: vec!["--no-deps".into()],
            ..PipOptions::default()
        };
        let cmd = pip_command(&interp(), &options, None, Path::new("/stage/wheels"));
        assert_eq!(
            quote_command(&cmd),
            "/usr/bin/python3 -m pip wheel --disable-pip-version-check --no-input --wheel-dir /stage/wheels \
             --no-index --find-links /w/wheels --pre --requirement /w/req.txt 'requests>=2' . --no-deps"
        );
    }

    #[test]
    fn pip_argv_cross() {
        let options = PipOptions {
            requirements: vec!["markupsafe".into()],
            ..PipOptions::default()
        };
        let target = CrossTarget {
            platforms: vec!["manylinux2014_x86_64".into()],
            python_version: Some((3, 12)),
            implementation: Some("cp".into()),
            abis: vec!["cp312".into()],
        };
        let cmd = pip_command(&interp(), &options, Some(&target), Path::new("/w"));
        assert_eq!(
            quote_command(&cmd),
            "/usr/bin/python3 -m pip download --disable-pip-version-check --no-input \
             --only-binary=:all: --dest /w --platform manylinux2014_x86_64 --python-version 3.12 \
             --implementation cp --abi cp312 markupsafe"
        );
    }

    #[test]
    fn no_pip_hint_names_the_distribution_package_on_debian() {
        let mut python = interp();
        python.pip = false;
        assert_eq!(
            no_pip(&python).to_string(),
            "`/usr/bin/python3` has no pip\nhint: install it (`/usr/bin/python3 -m ensurepip`), \
             or pass --python with an interpreter that has pip"
        );
        python.debian_system = true;
        assert_eq!(
            no_pip(&python).to_string(),
            "`/usr/bin/python3` has no pip\nhint: install it (`apt install python3-pip`: this is \
             Debian's python3, whose ensurepip is disabled), or pass --python with an interpreter \
             that has pip"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a/b.c"), "a/b.c");
    }
}
