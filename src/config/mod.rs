//! Validated build configuration. Input: the parsed command line (`cli::BuildArgs`) and the
//! project's `[tool.pybundle]` table; output: a [`BuildPlan`] (with the user's [`Overrides`]),
//! the only thing later stages receive. Nothing past this module sees clap's argument structs.
//! Imports only leaves (`cli`, `name`, `output`, `ui`).

mod checks;
mod pyproject;

pub use pyproject::{PybundleTable, PyprojectError};

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use std::collections::BTreeSet;

use crate::cli::BuildArgs;
pub use crate::cli::Resolver;
use crate::name::{EntryTarget, normalize_name};
use crate::output::{OutputError, OutputTemplate};
pub use crate::ui::Verbosity;

/// The shebang line used when `-p` is not given.
pub const DEFAULT_SHEBANG: &str = "/usr/bin/env python3";
/// The interpreter used when `--python` is not given.
pub const DEFAULT_PYTHON: &str = "python3";
/// The deflate level used when `--compress-level` is not given.
pub const DEFAULT_COMPRESS_LEVEL: u8 = 6;

/// What the bundle runs when it starts, as the user asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryRequest {
    /// `-e MODULE:FUNC`.
    Function(EntryTarget),
    /// `-c NAME`: a `console_scripts` (or `gui_scripts`) entry point of a bundled distribution,
    /// else a script one installs (`bin/NAME`, see `launch`).
    ConsoleScript(String),
    /// `-m MODULE`.
    Module(String),
    /// No entry point: the bundle behaves like the `python` command.
    Interpreter,
}

/// Options passed to pip.
#[derive(Debug, Clone, Default)]
pub struct PipOptions {
    /// Requirement specifiers, paths and files.
    pub requirements: Vec<String>,
    /// `-r` files.
    pub requirement_files: Vec<PathBuf>,
    /// `--constraint` files.
    pub constraint_files: Vec<PathBuf>,
    /// `--find-links` locations.
    pub find_links: Vec<String>,
    /// `--no-index`.
    pub no_index: bool,
    /// `--index-url`.
    pub index_url: Option<String>,
    /// `--extra-index-url` (repeatable).
    pub extra_index_urls: Vec<String>,
    /// `--pre`.
    pub pre: bool,
    /// Everything after `--`, verbatim.
    pub extra_args: Vec<OsString>,
}

impl PipOptions {
    /// Returns true if and only if pip has something to resolve.
    pub fn has_requirements(&self) -> bool {
        !self.requirements.is_empty() || !self.requirement_files.is_empty()
    }
}

/// A cross-target build: pip fetches binary wheels for another Python version or platform
/// (`pip download --only-binary=:all:`) instead of building them for `--python`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrossTarget {
    /// `--platform` tags, e.g. `manylinux2014_x86_64`; empty means `--python`'s platform.
    pub platforms: Vec<String>,
    /// `--python-version X.Y`; `None` means `--python`'s version.
    pub python_version: Option<(u32, u32)>,
    /// `--implementation`, e.g. `cp`.
    pub implementation: Option<String>,
    /// `--abi` tags.
    pub abis: Vec<String>,
}

/// User overrides of the automatic zip-or-extract decision (`--extract`, `--zip-safe`,
/// `--extract-all`).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Normalised names to extract whatever the analysis says.
    pub extract: BTreeSet<String>,
    /// Normalised names to keep in the zip whatever the analysis says (native code excepted).
    pub zip_safe: BTreeSet<String>,
    /// Extract everything.
    pub extract_all: bool,
    /// A venv bundle: every file goes into its environment, test suites included (none stays
    /// in the store). Set by the pipeline, not by a flag.
    pub venv: bool,
}

impl Overrides {
    /// Returns the overrides `--extract`, `--zip-safe` and `--extract-all` ask for.
    fn new(extract: &[String], zip_safe: &[String], extract_all: bool) -> Overrides {
        Overrides {
            extract: extract.iter().map(|n| normalize_name(n)).collect(),
            zip_safe: zip_safe.iter().map(|n| normalize_name(n)).collect(),
            extract_all,
            venv: false,
        }
    }
}

/// A validated build request.
#[derive(Debug, Clone)]
pub struct BuildPlan {
    /// The bundle to write, absolute; may hold placeholders (checked: it parses as an
    /// [`OutputTemplate`]).
    pub output: PathBuf,
    /// `--checksum`: also write `<output>.sha256`.
    pub checksum: bool,
    /// The `[project] name` of the local project directory among the requirements, if any
    /// (names the bundle when no entry point does).
    pub local_project: Option<String>,
    /// The shebang line, without `#!`.
    pub shebang: String,
    /// The `--python` value.
    pub python: String,
    /// The entry point.
    pub entry: EntryRequest,
    /// `--multicall`: the name the bundle is started as picks one of its commands.
    pub multicall: bool,
    /// What pip resolves.
    pub pip: PipOptions,
    /// The resolver backend.
    pub resolver: Resolver,
    /// Ready site-packages trees.
    pub site_packages: Vec<PathBuf>,
    /// Deflate level, 0 = stored.
    pub compress_level: u8,
    /// Script run before the entry point.
    pub preamble: Option<PathBuf>,
    /// Build id override.
    pub build_id: Option<String>,
    /// Output verbosity.
    pub verbosity: Verbosity,
    /// `--extract`, `--zip-safe`, `--extract-all` (names normalized).
    pub overrides: Overrides,
    /// The cross target, when any of `--platform`, `--python-version`, `--implementation`,
    /// `--abi` is given.
    pub target: Option<CrossTarget>,
    /// Run-time defaults baked into the bundle (`--root`, `--inherit-path`, `-E`).
    pub runtime: RuntimeOptions,
    /// `--lock`: build from a PEP 751 lock instead of resolving.
    pub lock: Option<LockRequest>,
}

/// A build from a PEP 751 lock (`--lock`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockRequest {
    /// The `pylock.toml`, absolute.
    pub path: PathBuf,
    /// `--lock-extra`.
    pub extras: Vec<String>,
    /// `--lock-group`.
    pub groups: Vec<String>,
    /// `--lock-build-sdists`.
    pub build_sdists: bool,
}

/// Run-time defaults baked into the generated `__main__.py`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeOptions {
    /// `--root`: the default extraction root (`PYBUNDLE_ROOT` still wins).
    pub root: Option<String>,
    /// `--inherit-path`: keep the host's site-packages on `sys.path`.
    pub inherit_path: bool,
    /// `--venv` (`Some(true)`), `--no-venv` (`Some(false)`), or neither: the analysis chooses.
    pub venv: Option<bool>,
    /// `-E KEY=VALUE`: default environment, in the order given.
    pub env: Vec<(String, String)>,
}

/// A build request that cannot be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no output file given\nhint: pass `-o app.pyz`")]
    NoOutput,
    #[error(
        "nothing to bundle\nhint: give requirements (`pybundle -o app.pyz requests`), `-r FILE`, `--site-packages DIR`, or a project directory with `[tool.pybundle]`"
    )]
    NothingToBundle,
    #[error(
        "invalid entry point `{value}`: {reason}\nhint: use MODULE:FUNC, e.g. `-e myapp.main:main`"
    )]
    BadEntryPoint { value: String, reason: String },
    #[error("invalid module name `{0}` for -m\nhint: give a dotted module name, e.g. `-m twisted`")]
    BadModule(String),
    #[error(
        "`{path}` ({what}) does not exist\nhint: check the path; relative paths start at the working directory (or at the pyproject.toml for its keys)"
    )]
    MissingPath { path: PathBuf, what: &'static str },
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(
        "invalid shebang `{0}`: it must be one line\nhint: pass the interpreter command only, e.g. `-p '/usr/bin/env python3'`"
    )]
    BadShebang(String),
    #[error("invalid build id `{0}`\nhint: use letters, digits, `.`, `_` and `-` only")]
    BadBuildId(String),
    #[error(transparent)]
    Pyproject(#[from] PyprojectError),
    #[error("invalid --python-version `{0}`\nhint: give MAJOR.MINOR, e.g. `--python-version 3.12`")]
    BadPythonVersion(String),
    #[error(
        "invalid environment setting `{0}`\nhint: use `-E KEY=VALUE` with KEY made of letters, digits and `_`, not starting with a digit"
    )]
    BadEnv(String),
    #[error(
        "--resolver uv does not do cross-target builds (--platform, --python-version, --implementation, --abi)\nhint: use `--resolver pip` for a cross-target build, or drop the target options"
    )]
    UvCrossTarget,
    #[error("invalid --root `{0}`: it must not be empty or contain a newline or NUL")]
    BadRoot(String),
    #[error(
        "with --lock, `{0}` cannot be a requirement: the lock alone says what is installed\nhint: give only local projects (`.`, `./app`, a wheel or sdist file) next to --lock; their dependencies must be in the lock"
    )]
    LockRequirement(String),
    #[error(
        "with --lock, {0} cannot be given: the lock alone says what is installed\nhint: drop it, or build without --lock"
    )]
    LockConflict(&'static str),
    #[error(
        "invalid lock file name `{0}`: PEP 751 names a lock `pylock.toml` or `pylock.NAME.toml`\nhint: e.g. `-o pylock.toml` or `-o pylock.py312.toml`"
    )]
    LockName(String),
}

/// Parses one `-E KEY=VALUE` (KEY: a portable environment variable name).
fn parse_env(item: &str) -> Result<(String, String), ConfigError> {
    let bad = || ConfigError::BadEnv(item.to_string());
    let (key, value) = item.split_once('=').ok_or_else(bad)?;
    let ok = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok || value.contains('\0') {
        return Err(bad());
    }
    Ok((key.to_string(), value.to_string()))
}

impl BuildPlan {
    /// Returns the plan for `args`, with relative paths resolved against `cwd`.
    pub fn from_args(args: BuildArgs, cwd: &Path) -> Result<BuildPlan, ConfigError> {
        let args = pyproject::apply(args, cwd)?;
        let output = args.output.ok_or(ConfigError::NoOutput)?;
        let output = cwd.join(output);
        let template = OutputTemplate::parse(&output)?;
        let local_project = pyproject::local_project_name(&args.requirements, cwd);
        let entry = checks::entry_request(args.entry_point, args.console_script, args.module)?;
        checks::nameable(template, &entry, local_project.is_some())?;
        let shebang = checks::shebang(args.python_shebang)?;
        checks::build_id(args.build_id.as_deref())?;
        let pip = PipOptions {
            requirements: args.requirements,
            requirement_files: checks::existing(cwd, args.requirement_files, "requirements file")?,
            constraint_files: checks::existing(cwd, args.constraint_files, "constraints file")?,
            find_links: args.find_links,
            no_index: args.no_index,
            index_url: args.index_url,
            extra_index_urls: args.extra_index_url,
            pre: args.pre,
            extra_args: args.pip_args,
        };
        let site_packages = checks::existing(cwd, args.site_packages, "--site-packages directory")?;
        let preamble = args
            .preamble
            .map(|p| checks::existing_path(cwd, p, "--preamble file"))
            .transpose()?;
        let lock = match args.lock {
            None => None,
            Some(path) => Some(LockRequest {
                path: checks::lock_path(cwd, &pip, path)?,
                extras: args.lock_extra,
                groups: args.lock_group,
                build_sdists: args.lock_build_sdists,
            }),
        };
        if !pip.has_requirements() && site_packages.is_empty() && lock.is_none() {
            return Err(ConfigError::NothingToBundle);
        }
        let verbosity = checks::verbosity(args.quiet, args.verbose);
        let runtime = checks::runtime_options(
            &args.env,
            args.root,
            args.inherit_path,
            args.venv,
            args.no_venv,
        )?;
        let target = checks::cross_target(
            args.platform,
            args.python_version.as_deref(),
            args.implementation,
            args.abi,
        )?;
        let resolver = args.resolver.unwrap_or_default();
        if resolver == Resolver::Uv && target.is_some() && lock.is_none() {
            return Err(ConfigError::UvCrossTarget);
        }
        Ok(BuildPlan {
            output,
            checksum: args.checksum,
            local_project,
            resolver,
            shebang,
            python: args.python.unwrap_or_else(|| DEFAULT_PYTHON.to_string()),
            entry,
            multicall: args.multicall,
            pip,
            site_packages,
            compress_level: args.compress_level.unwrap_or(DEFAULT_COMPRESS_LEVEL),
            preamble,
            build_id: args.build_id,
            verbosity,
            runtime,
            target,
            lock,
            overrides: Overrides::new(&args.extract, &args.zip_safe, args.extract_all),
        })
    }
}

/// A `pybundle lock` request: requirements in, a `pylock.toml` for a target out.
#[derive(Debug, Clone)]
pub struct LockPlan {
    /// The lock to write, absolute.
    pub output: PathBuf,
    /// `--python`.
    pub python: String,
    /// What to lock, and the package sources.
    pub pip: PipOptions,
    /// `--python-version` and `--platform`, when given.
    pub target: Option<CrossTarget>,
    /// `-v`: stream the tool's output.
    pub stream: bool,
    /// `--tool`: `None` is uv when found, else pip.
    pub tool: Option<Resolver>,
}

impl LockPlan {
    /// Returns the plan for `args`, with relative paths resolved against `cwd`.
    pub fn from_args(args: crate::cli::LockArgs, cwd: &Path) -> Result<LockPlan, ConfigError> {
        let requirement_files = checks::existing(cwd, args.requirement_files, "requirements file")?;
        let pip = PipOptions {
            requirements: args.requirements,
            requirement_files,
            find_links: args.find_links,
            no_index: args.no_index,
            index_url: args.index_url,
            extra_index_urls: args.extra_index_url,
            pre: args.pre,
            ..PipOptions::default()
        };
        if !pip.has_requirements() {
            return Err(ConfigError::NothingToBundle);
        }
        let target = checks::cross_target(
            args.platform.into_iter().collect(),
            args.python_version.as_deref(),
            None,
            Vec::new(),
        )?;
        // PEP 751's file name rule, which uv enforces too.
        let name = args
            .output
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let middle = name
            .strip_prefix("pylock.")
            .and_then(|n| n.strip_suffix(".toml"));
        if name != "pylock.toml" && middle.is_none_or(|m| m.is_empty() || m.contains('.')) {
            return Err(ConfigError::LockName(name));
        }
        Ok(LockPlan {
            output: cwd.join(args.output),
            python: args.python.unwrap_or_else(|| DEFAULT_PYTHON.to_string()),
            pip,
            target,
            stream: args.verbose,
            tool: args.tool,
        })
    }
}

/// Returns `(3, 12)` for `3.12`; `None` unless the value is `MAJOR.MINOR` with major 3.
fn parse_python_version(value: &str) -> Option<(u32, u32)> {
    let (major, minor) = value.trim().split_once('.')?;
    let major: u32 = major.parse().ok()?;
    let minor: u32 = minor.parse().ok()?;
    (major == 3).then_some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(output: &str) -> BuildArgs {
        BuildArgs {
            output: Some(PathBuf::from(output)),
            requirements: vec!["six".to_string()],
            ..BuildArgs::default()
        }
    }

    #[test]
    fn defaults() {
        let plan = BuildPlan::from_args(args("app.pyz"), Path::new("/tmp")).unwrap();
        assert_eq!(plan.output, PathBuf::from("/tmp/app.pyz"));
        assert_eq!(plan.shebang, DEFAULT_SHEBANG);
        assert_eq!(plan.python, DEFAULT_PYTHON);
        assert_eq!(plan.entry, EntryRequest::Interpreter);
        assert_eq!(plan.compress_level, 6);
    }

    #[test]
    fn entry_point_needs_function() {
        let mut a = args("app.pyz");
        a.entry_point = Some("myapp.main".to_string());
        let err = BuildPlan::from_args(a, Path::new("/tmp")).unwrap_err();
        assert!(err.to_string().contains("no function after"), "{err}");
    }

    #[test]
    fn module_rejects_colon() {
        let mut a = args("app.pyz");
        a.module = Some("a:b".to_string());
        assert!(matches!(
            BuildPlan::from_args(a, Path::new("/tmp")),
            Err(ConfigError::BadModule(_))
        ));
    }

    #[test]
    fn missing_output_dir_is_created_later() {
        let plan = BuildPlan::from_args(args("/nonexistent-dir/app.pyz"), Path::new("/tmp"));
        assert_eq!(
            plan.unwrap().output,
            PathBuf::from("/nonexistent-dir/app.pyz")
        );
    }

    #[test]
    fn output_placeholders_are_checked_before_the_build() {
        let err = BuildPlan::from_args(args("dist/{nme}.pyz"), Path::new("/tmp")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown placeholder `{nme}` in the output `/tmp/dist/{nme}.pyz`"),
            "{err}"
        );
        // No entry point and no local project: nothing can fill {name}.
        let err = BuildPlan::from_args(args("{name}.pyz"), Path::new("/tmp")).unwrap_err();
        assert!(err.to_string().contains("uses `{name}`"), "{err}");
        let mut a = args("{name}-{version}-{python}.pyz");
        a.console_script = Some("six".into());
        assert!(BuildPlan::from_args(a, Path::new("/tmp")).is_ok());
        assert!(BuildPlan::from_args(args("{python}-{date}.pyz"), Path::new("/tmp")).is_ok());
    }

    #[test]
    fn runtime_options() {
        let mut a = args("app.pyz");
        a.env = vec!["A_1=x=y".into(), "_B=".into()];
        a.root = Some("/opt/cache".into());
        a.inherit_path = true;
        let plan = BuildPlan::from_args(a, Path::new("/tmp")).unwrap();
        assert_eq!(
            plan.runtime,
            RuntimeOptions {
                root: Some("/opt/cache".into()),
                inherit_path: true,
                venv: None,
                env: vec![("A_1".into(), "x=y".into()), ("_B".into(), String::new())],
            }
        );
        for bad in ["NOVALUE", "=x", "1A=x", "A-B=x", "A B=x"] {
            let mut a = args("app.pyz");
            a.env = vec![bad.into()];
            assert!(
                matches!(
                    BuildPlan::from_args(a, Path::new("/tmp")),
                    Err(ConfigError::BadEnv(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn cross_target() {
        let mut a = args("app.pyz");
        a.python_version = Some("3.12".into());
        a.platform = vec!["manylinux2014_x86_64".into()];
        let plan = BuildPlan::from_args(a, Path::new("/tmp")).unwrap();
        let target = plan.target.unwrap();
        assert_eq!(target.python_version, Some((3, 12)));
        let mut a = args("app.pyz");
        a.python_version = Some("312".into());
        assert!(matches!(
            BuildPlan::from_args(a, Path::new("/tmp")),
            Err(ConfigError::BadPythonVersion(_))
        ));
        assert!(
            BuildPlan::from_args(args("app.pyz"), Path::new("/tmp"))
                .unwrap()
                .target
                .is_none()
        );
    }

    #[test]
    fn uv_resolver() {
        assert_eq!(
            BuildPlan::from_args(args("app.pyz"), Path::new("/tmp"))
                .unwrap()
                .resolver,
            Resolver::Pip
        );
        let mut a = args("app.pyz");
        a.resolver = Some(Resolver::Uv);
        let plan = BuildPlan::from_args(a, Path::new("/tmp")).unwrap();
        assert_eq!(plan.resolver, Resolver::Uv);
        let mut a = args("app.pyz");
        a.resolver = Some(Resolver::Uv);
        a.platform = vec!["manylinux2014_x86_64".into()];
        assert!(matches!(
            BuildPlan::from_args(a, Path::new("/tmp")),
            Err(ConfigError::UvCrossTarget)
        ));
    }

    #[test]
    fn nothing_to_bundle() {
        let mut a = args("app.pyz");
        a.requirements.clear();
        assert!(matches!(
            BuildPlan::from_args(a, Path::new("/tmp")),
            Err(ConfigError::NothingToBundle)
        ));
    }
}
