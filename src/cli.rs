//! Command-line types. This module only mirrors what the user typed: no I/O and no validation
//! beyond trivial ranges. `config` turns these types into a validated `BuildPlan`. A leaf: the
//! value enums (`Resolver`) live here, and nothing of the crate is imported.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Example:
  pybundle -o app.pyz -e myapp.main:main . -r requirements.txt
  ./app.pyz --port 8000

Exit codes: 0 success, 1 build or inspection failed, 2 usage error.";

/// Bundle a Python application and its dependencies into one executable zipapp.
#[derive(Debug, Parser)]
#[command(
    name = "pybundle",
    version,
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub build: BuildArgs,
}

/// Subcommands other than the default build.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what a bundle holds: build id, entry point, target Python, distributions
    Info(InfoArgs),
    /// Check every member of a bundle against the hashes in its manifest, and with --lock its
    /// distributions against a PEP 751 lock
    Verify(VerifyArgs),
    /// Extract a bundle's native distributions, or build a --venv bundle's environment, into a cache root (to pre-seed an image)
    Extract(ExtractArgs),
    /// Write a --venv bundle's virtual environment to a directory (runs as `DIR/bin/<script>`)
    Venv(VenvArgs),
    /// List, prune or clean the run-time extraction cache
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Show what differs between two bundles (exit 0 identical, 1 different, 2 trouble)
    Diff(DiffArgs),
    /// Print a shell completion script (e.g. `pybundle completions bash > /etc/bash_completion.d/pybundle`)
    Completions(CompletionsArgs),
    /// Write a PEP 751 lock (pylock.toml) for a target from requirements, with uv or `pip lock`
    Lock(LockArgs),
}

/// The backend that resolves requirements and fills the staging wheelhouse (`--resolver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resolver {
    /// `pip wheel` (or `pip download` for a cross target) through `--python`.
    #[default]
    Pip,
    /// `uv pip compile` to a PEP 751 lock, then the locked wheel files are fetched.
    Uv,
}

/// Options of the default `build` command.
#[derive(Debug, Args, Default)]
pub struct BuildArgs {
    /// Requirements: anything pip accepts (`requests>=2`, `.`, a wheel or sdist file)
    #[arg(value_name = "REQUIREMENT")]
    pub requirements: Vec<String>,

    /// Where to write the bundle; may hold {name}, {version}, {python}, {platform}, {build_id}, {date}
    ///
    /// Placeholders are filled from the built bundle: `{name}` and `{version}` of the
    /// distribution that provides the entry point (else the local project directory), `{python}`
    /// as a wheel tag (`cp311`), `{platform}` as a wheel tag (`linux_x86_64`, `any` without native
    /// code), the first 12 characters of the build id, and `{date}` as YYYYMMDD (UTC) of
    /// SOURCE_DATE_EPOCH, else of today. `{{` and `}}` are literal braces. Missing directories
    /// are created.
    #[arg(short, long, value_name = "FILE", help_heading = "Output")]
    pub output: Option<PathBuf>,

    /// Also write `<output>.sha256`, in the format `sha256sum -c` reads
    #[arg(long, help_heading = "Output")]
    pub checksum: bool,

    /// Shebang line of the bundle (shiv's `-p`) [default: /usr/bin/env python3]
    #[arg(short = 'p', long, value_name = "SHEBANG", help_heading = "Output")]
    pub python_shebang: Option<String>,

    /// Deflate level, 0 (stored) to 9 [default: 6]
    #[arg(long, value_name = "0-9", value_parser = clap::value_parser!(u8).range(0..=9), help_heading = "Output")]
    pub compress_level: Option<u8>,

    /// Accepted for shiv compatibility: bundles are always compressed
    #[arg(long, help_heading = "Output")]
    pub compressed: bool,

    /// Accepted for shiv compatibility: builds are always reproducible
    #[arg(long, help_heading = "Output")]
    pub reproducible: bool,

    /// A Python script the bundle runs before the entry point
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub preamble: Option<PathBuf>,

    /// Override the build id (by default the sha256 of the content)
    #[arg(long, value_name = "ID", help_heading = "Output")]
    pub build_id: Option<String>,

    /// Run MODULE:FUNC (or MODULE:OBJ.ATTR) when the bundle starts
    #[arg(
        short = 'e',
        long,
        value_name = "MODULE:FUNC",
        group = "entry",
        help_heading = "Entry point"
    )]
    pub entry_point: Option<String>,

    /// Run the console script NAME of a bundled distribution, else the script NAME it installs
    ///
    /// A `console_scripts` or `gui_scripts` entry point named NAME wins. Otherwise a script that a
    /// wheel installs (`.data/scripts/NAME`, or `bin/NAME` of a --site-packages tree) is the entry:
    /// Python runs in the bundle's process, a native program or a `#!` script of another
    /// interpreter replaces it (run from the extraction cache).
    #[arg(
        short = 'c',
        long,
        value_name = "NAME",
        group = "entry",
        help_heading = "Entry point"
    )]
    pub console_script: Option<String>,

    /// Run MODULE like `python -m MODULE`
    #[arg(
        short = 'm',
        long,
        value_name = "MODULE",
        group = "entry",
        help_heading = "Entry point"
    )]
    pub module: Option<String>,

    /// Multi-call bundle: started through a link or copy named after one of its console scripts
    /// or scripts, it runs that command
    ///
    /// `ln -s tools.pyz flake8; ./flake8 app.py` runs flake8. Under any other name the bundle runs
    /// its entry point (-e/-c/-m); with none it runs the command named by its first argument
    /// (`./tools.pyz flake8 app.py`), and without arguments it lists its commands (exit 0).
    #[arg(long, help_heading = "Entry point")]
    pub multicall: bool,

    /// Interpreter that runs pip and whose version and platform the bundle targets [default: python3]
    #[arg(long, value_name = "PATH", help_heading = "Resolver")]
    pub python: Option<String>,

    /// Resolver backend: `pip` (pip wheel) or `uv` (uv pip compile, then the locked wheels are
    /// fetched; needs uv) [default: pip]
    #[arg(long, value_enum, value_name = "BACKEND", help_heading = "Resolver")]
    pub resolver: Option<Resolver>,

    /// A requirements file for pip (repeatable)
    #[arg(
        short = 'r',
        long = "requirement",
        value_name = "FILE",
        help_heading = "Resolver"
    )]
    pub requirement_files: Vec<PathBuf>,

    /// A constraints file for pip (repeatable)
    #[arg(long = "constraint", value_name = "FILE", help_heading = "Resolver")]
    pub constraint_files: Vec<PathBuf>,

    /// Look for wheels and sdists in DIR (pip's --find-links)
    #[arg(short = 'f', long, value_name = "DIR", help_heading = "Resolver")]
    pub find_links: Vec<String>,

    /// Do not use the package index (pip's --no-index)
    #[arg(long, help_heading = "Resolver")]
    pub no_index: bool,

    /// Base URL of the package index (pip's --index-url)
    #[arg(long, value_name = "URL", help_heading = "Resolver")]
    pub index_url: Option<String>,

    /// Extra package index URL (pip's --extra-index-url)
    #[arg(long, value_name = "URL", help_heading = "Resolver")]
    pub extra_index_url: Vec<String>,

    /// Include pre-release versions (pip's --pre)
    #[arg(long, help_heading = "Resolver")]
    pub pre: bool,

    /// Build from a PEP 751 lock (`pylock.toml`): install exactly its wheels, no resolver runs
    ///
    /// Each package's marker is evaluated for the target (--python, or the cross target), the
    /// locked wheel that matches the target's tags is taken from the lock's path or URL, or from
    /// a --find-links directory holding a file of the same name, and checked against the lock's
    /// sha256. REQUIREMENTs must then be local projects (`.`), built with `pip wheel --no-deps`
    /// (as are the lock's own `directory` entries); their dependencies must be satisfied by the
    /// locked set. Ignores --resolver.
    #[arg(long, value_name = "FILE", help_heading = "Lock")]
    pub lock: Option<PathBuf>,

    /// Select an extra the lock offers (its `extras`; repeatable)
    #[arg(long, value_name = "NAME", requires = "lock", help_heading = "Lock")]
    pub lock_extra: Vec<String>,

    /// Select a dependency group the lock offers, instead of its `default-groups` (repeatable)
    #[arg(long, value_name = "NAME", requires = "lock", help_heading = "Lock")]
    pub lock_group: Vec<String>,

    /// Build locked packages that have only an sdist with `pip wheel --no-deps` (else an error)
    #[arg(long, requires = "lock", help_heading = "Lock")]
    pub lock_build_sdists: bool,

    /// Include a ready site-packages tree as-is (repeatable)
    #[arg(long, value_name = "DIR", help_heading = "Resolver")]
    pub site_packages: Vec<PathBuf>,

    /// Default extraction root baked into the bundle (PYBUNDLE_ROOT still wins)
    #[arg(long, value_name = "DIR", help_heading = "Run time")]
    pub root: Option<String>,

    /// Keep the host's site-packages on sys.path behind the bundle's own
    #[arg(long, help_heading = "Run time")]
    pub inherit_path: bool,

    /// Run in a virtual environment that the bundle builds in its cache on its first start
    ///
    /// Every distribution is installed as pip would install it (`share/`, `bin/` under
    /// `sys.prefix`), and every start executes the environment's python. Chosen without the flag
    /// when a distribution installs data that is read through `sys.prefix` (`share/jupyter`).
    #[arg(long, overrides_with = "no_venv", help_heading = "Run time")]
    pub venv: bool,

    /// Never build a --venv bundle, even when the analysis would choose one
    #[arg(long, overrides_with = "venv", help_heading = "Run time")]
    pub no_venv: bool,

    /// Default environment variable for the app, set unless already set (repeatable)
    #[arg(
        short = 'E',
        long = "env",
        value_name = "KEY=VALUE",
        help_heading = "Run time"
    )]
    pub env: Vec<String>,

    /// Read `[tool.pybundle]` options from FILE (default: a REQUIREMENT directory's pyproject.toml)
    #[arg(long, value_name = "FILE", help_heading = "Project")]
    pub config: Option<PathBuf>,

    /// Cross-target build: fetch binary wheels for platform TAG (pip's --platform, repeatable)
    ///
    /// Dependencies must have wheels for the target. A local project, sdist or VCS requirement
    /// given on the command line is built with `pip wheel --no-deps` by --python first; its
    /// wheel must run on the target (pure Python, `py3-none-any`), otherwise the build stops
    /// naming it.
    #[arg(long, value_name = "TAG", help_heading = "Target")]
    pub platform: Vec<String>,

    /// Cross-target build: the target Python version, X.Y
    #[arg(long, value_name = "X.Y", help_heading = "Target")]
    pub python_version: Option<String>,

    /// Cross-target build: the target implementation (pip's --implementation, e.g. `cp`)
    #[arg(long, value_name = "IMPL", help_heading = "Target")]
    pub implementation: Option<String>,

    /// Cross-target build: the target ABI tag (pip's --abi, repeatable)
    #[arg(long, value_name = "ABI", help_heading = "Target")]
    pub abi: Vec<String>,

    /// Extract DIST to the cache at run time whatever the analysis says (repeatable)
    #[arg(long, value_name = "DIST", help_heading = "Zip safety")]
    pub extract: Vec<String>,

    /// Import DIST from the zip whatever the analysis says; native code is still extracted (repeatable)
    #[arg(long, value_name = "DIST", help_heading = "Zip safety")]
    pub zip_safe: Vec<String>,

    /// Extract every distribution to the cache at run time (like shiv)
    #[arg(long, help_heading = "Zip safety")]
    pub extract_all: bool,

    /// Arguments after `--` are passed to pip (or `uv pip compile`) unchanged
    #[arg(last = true, value_name = "PIP_ARG")]
    pub pip_args: Vec<OsString>,

    /// Print only errors
    #[arg(short, long, conflicts_with = "verbose", help_heading = "Display")]
    pub quiet: bool,

    /// Stream pip's output and show each stage
    #[arg(short, long, action = clap::ArgAction::Count, help_heading = "Display")]
    pub verbose: u8,
}

/// Options of `pybundle info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The bundle to inspect
    pub file: PathBuf,
    /// Print the manifest as JSON
    #[arg(long, conflicts_with = "sbom")]
    pub json: bool,
    /// Print a CycloneDX 1.5 JSON software bill of materials
    #[arg(long)]
    pub sbom: bool,
}

/// Options of `pybundle verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle to check
    pub file: PathBuf,
    /// Also check that the bundle holds exactly what this PEP 751 lock selects for its target
    /// (names, versions, wheel sha256); every difference is listed
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// Interpreter that evaluates the lock's markers (with the environment the bundle recorded)
    #[arg(
        long,
        value_name = "PATH",
        default_value = "python3",
        requires = "lock"
    )]
    pub python: String,
}

/// Options of `pybundle extract`.
#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The bundle whose extracted distributions to lay out
    pub file: PathBuf,
    /// The cache root to fill (`<DIR>/v1/dists/<key>/`)
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,
    /// For a --venv bundle: the interpreter its environment links to, as the bundle will be
    /// started [default: the bundle's shebang]
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
}

/// Options of `pybundle venv`.
#[derive(Debug, Args)]
pub struct VenvArgs {
    /// The --venv bundle
    pub file: PathBuf,
    /// The directory to create (it must not exist, or be empty)
    pub dir: PathBuf,
    /// Also write the bytecode the bundle carries (`__pycache__/*.pyc`)
    #[arg(long)]
    pub compile: bool,
    /// The interpreter the environment links to [default: the bundle's shebang]
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
}

/// `pybundle cache …`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List the cache entries with their size and last use
    List(CacheRootArg),
    /// Remove entries not used for a while
    Prune(PruneArgs),
    /// Remove every entry that no running process uses
    Clean(CacheRootArg),
}

/// The `--root` option shared by the cache commands.
#[derive(Debug, Args)]
pub struct CacheRootArg {
    /// Cache root [default: $PYBUNDLE_ROOT, else ${XDG_CACHE_HOME:-~/.cache}/pybundle]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

/// Options of `pybundle cache prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub root: CacheRootArg,
    /// Remove entries whose last use is older than DAYS
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub older_than: u32,
    /// Keep every entry this bundle uses, whatever its age (repeatable)
    #[arg(long, value_name = "FILE")]
    pub keep_bundle: Vec<PathBuf>,
}

/// Options of `pybundle diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The first bundle
    pub a: PathBuf,
    /// The second bundle
    pub b: PathBuf,
}

/// Options of `pybundle lock`.
#[derive(Debug, Args, Default)]
pub struct LockArgs {
    /// Requirements: anything pip accepts (`requests>=2`, `.`)
    #[arg(value_name = "REQUIREMENT")]
    pub requirements: Vec<String>,
    /// The lock to write
    #[arg(short, long, value_name = "FILE", default_value = "pylock.toml")]
    pub output: PathBuf,
    /// A requirements file (repeatable)
    #[arg(short = 'r', long = "requirement", value_name = "FILE")]
    pub requirement_files: Vec<PathBuf>,
    /// The interpreter the lock is for (and that runs pip) [default: python3]
    #[arg(long, value_name = "PATH")]
    pub python: Option<String>,
    /// Lock for another platform (a wheel platform tag, e.g. `manylinux2014_x86_64`)
    #[arg(long, value_name = "TAG")]
    pub platform: Option<String>,
    /// Lock for another Python version, X.Y
    #[arg(long, value_name = "X.Y")]
    pub python_version: Option<String>,
    /// Look for wheels and sdists in DIR (repeatable)
    #[arg(short = 'f', long, value_name = "DIR")]
    pub find_links: Vec<String>,
    /// Do not use the package index
    #[arg(long)]
    pub no_index: bool,
    /// Base URL of the package index
    #[arg(long, value_name = "URL")]
    pub index_url: Option<String>,
    /// Extra package index URL (repeatable)
    #[arg(long, value_name = "URL")]
    pub extra_index_url: Vec<String>,
    /// Include pre-release versions
    #[arg(long)]
    pub pre: bool,
    /// The tool that writes the lock: `uv` (uv pip compile) or `pip` (pip lock, pip 25.1 or
    /// newer) [default: uv when found, else pip]
    #[arg(long, value_enum, value_name = "TOOL")]
    pub tool: Option<Resolver>,
    /// Stream the locking tool's output
    #[arg(short, long)]
    pub verbose: bool,
}

/// Options of `pybundle completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_debug_assert() {
        Cli::command().debug_assert();
    }

    #[test]
    fn entry_flags_conflict() {
        let err = Cli::try_parse_from(["pybundle", "-o", "x", "-e", "a:b", "-m", "a"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn pip_args_after_double_dash() {
        let cli = Cli::try_parse_from(["pybundle", "-o", "x", "six", "--", "--no-deps"]).unwrap();
        assert_eq!(cli.build.requirements, vec!["six"]);
        assert_eq!(cli.build.pip_args, vec![OsString::from("--no-deps")]);
    }

    #[test]
    fn subcommand_info() {
        let cli = Cli::try_parse_from(["pybundle", "info", "a.pyz", "--json"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Info(InfoArgs { json: true, .. }))
        ));
    }

    #[test]
    fn runtime_flags_and_cache_subcommands() {
        let cli = Cli::try_parse_from([
            "pybundle",
            "-o",
            "x",
            "six",
            "--root",
            "/opt/c",
            "--inherit-path",
            "-E",
            "A=1",
            "--env",
            "B=2",
        ])
        .unwrap();
        assert_eq!(cli.build.root.as_deref(), Some("/opt/c"));
        assert!(cli.build.inherit_path);
        assert_eq!(cli.build.env, vec!["A=1", "B=2"]);
        let cli = Cli::try_parse_from([
            "pybundle",
            "cache",
            "prune",
            "--older-than",
            "7",
            "--keep-bundle",
            "a.pyz",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Cache(CacheCommand::Prune(PruneArgs {
                older_than: 7,
                ..
            })))
        ));
    }
}
