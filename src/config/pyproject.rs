//! `[tool.pybundle]` in `pyproject.toml`: build options kept next to the project. Input: the
//! parsed command line; output: the same command line with every option the user did not type
//! filled in from the table. Keys are the long flags' names in kebab-case; relative paths are
//! relative to the `pyproject.toml`; flags typed on the command line win over keys.
//!
//! Where the table comes from: `--config FILE`, otherwise the first REQUIREMENT that is a local
//! directory holding a `pyproject.toml`. Such a directory stays a requirement for pip only when
//! its `pyproject.toml` has a `[build-system]` or `[project]` table (pip can build it); otherwise
//! it only carries configuration and is dropped from what pip resolves.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::BuildArgs;

/// The `[tool.pybundle]` table. Every field is optional; unknown keys are an error.
#[derive(Debug, Default, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PybundleTable {
    /// `-o`: the bundle to write (relative to the pyproject.toml).
    pub output: Option<PathBuf>,
    /// `-e`: `MODULE:FUNC`.
    pub entry_point: Option<String>,
    /// `-c`: a console script name.
    pub console_script: Option<String>,
    /// `-m`: a module run like `python -m`.
    pub module: Option<String>,
    /// `--multicall`: the name the bundle is started as picks the command.
    pub multicall: Option<bool>,
    /// `-p`: the shebang line.
    pub python_shebang: Option<String>,
    /// `--python`: the interpreter running pip (a path relative to the pyproject.toml when it
    /// holds a `/`, otherwise a name looked up on PATH).
    pub python: Option<String>,
    /// `--resolver`: `pip` or `uv`.
    pub resolver: Option<crate::cli::Resolver>,
    /// `-r`: requirements files (relative to the pyproject.toml).
    pub requirements: Option<Vec<PathBuf>>,
    /// `--constraint`: constraints files (relative to the pyproject.toml).
    pub constraints: Option<Vec<PathBuf>>,
    /// `-f`: find-links locations (directories relative to the pyproject.toml, or URLs).
    pub find_links: Option<Vec<String>>,
    /// `--no-index`.
    pub no_index: Option<bool>,
    /// `--index-url`.
    pub index_url: Option<String>,
    /// `--extra-index-url`.
    pub extra_index_url: Option<Vec<String>>,
    /// `--pre`.
    pub pre: Option<bool>,
    /// `--site-packages`: ready trees (relative to the pyproject.toml).
    pub site_packages: Option<Vec<PathBuf>>,
    /// `--compress-level`.
    pub compress_level: Option<u8>,
    /// `--preamble` (relative to the pyproject.toml).
    pub preamble: Option<PathBuf>,
    /// `--build-id`.
    pub build_id: Option<String>,
    /// Arguments passed to pip verbatim (what follows `--` on the command line).
    pub pip_args: Option<Vec<String>>,
    /// `--platform`: target platform tags for a cross-target build.
    pub platform: Option<Vec<String>>,
    /// `--python-version`: target `X.Y` for a cross-target build.
    pub python_version: Option<String>,
    /// `--implementation`: target implementation (`cp`) for a cross-target build.
    pub implementation: Option<String>,
    /// `--abi`: target ABI tags for a cross-target build.
    pub abi: Option<Vec<String>>,

    /// `--extract NAME`: distributions to extract at run time.
    pub extract: Option<Vec<String>>,
    /// `--zip-safe NAME`: distributions to import from the zip.
    pub zip_safe: Option<Vec<String>>,
    /// `--extract-all`.
    pub extract_all: Option<bool>,
    /// `--root DIR`: the default extraction root baked into the bundle (a run-time path, kept
    /// as written).
    pub root: Option<String>,
    /// `--inherit-path`: keep the host's site-packages behind the bundle's own.
    pub inherit_path: Option<bool>,
    /// `--venv` (`true`) or `--no-venv` (`false`); unset: the analysis chooses.
    pub venv: Option<bool>,
    /// `--env KEY=VALUE`: environment variables the bundle sets.
    pub env: Option<Vec<String>>,
    /// `--checksum`: write `<output>.sha256` next to the bundle.
    pub checksum: Option<bool>,
    /// `--lock`: a PEP 751 `pylock.toml` to build from (relative to the pyproject.toml).
    pub lock: Option<PathBuf>,
    /// `--lock-extra`: extras of the lock to install.
    pub lock_extra: Option<Vec<String>>,
    /// `--lock-group`: dependency groups of the lock to install.
    pub lock_group: Option<Vec<String>>,
    /// `--lock-build-sdists`: build sdist-only locked packages.
    pub lock_build_sdists: Option<bool>,
}

/// The parts of `pyproject.toml` pybundle reads.
#[derive(Debug, Default, Deserialize)]
struct PyProject {
    #[serde(rename = "build-system")]
    build_system: Option<toml::Table>,
    project: Option<toml::Table>,
    tool: Option<Tools>,
}

#[derive(Debug, Default, Deserialize)]
struct Tools {
    pybundle: Option<PybundleTable>,
}

/// A `pyproject.toml` that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PyprojectError {
    #[error("cannot read `{path}`: {source}\nhint: check the --config path")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "invalid `[tool.pybundle]` in `{path}`: {message}\nhint: keys are the long flags' names in kebab-case (see `pybundle --help`)"
    )]
    Invalid { path: PathBuf, message: String },
}

/// A loaded `pyproject.toml`.
#[derive(Debug, Clone)]
pub struct LoadedPyproject {
    /// The file.
    pub path: PathBuf,
    /// Whether pip can build the project (it has `[build-system]` or `[project]`).
    pub buildable: bool,
    /// `[project] name`, when the file has it.
    pub project_name: Option<String>,
    /// The `[tool.pybundle]` table (empty when absent).
    pub table: PybundleTable,
}

/// Reads `path` (a `pyproject.toml` or any TOML file with a `[tool.pybundle]` table).
pub fn load(path: &Path) -> Result<LoadedPyproject, PyprojectError> {
    let text = fs_err::read_to_string(path).map_err(|source| PyprojectError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let doc: PyProject = toml::from_str(&text).map_err(|err| PyprojectError::Invalid {
        path: path.to_path_buf(),
        message: err.message().to_string(),
    })?;
    let table = doc.tool.and_then(|t| t.pybundle).unwrap_or_default();
    if let Some(level) = table.compress_level
        && level > 9
    {
        return Err(PyprojectError::Invalid {
            path: path.to_path_buf(),
            message: format!("`compress-level` is {level}; it must be 0 to 9"),
        });
    }
    let project_name = doc
        .project
        .as_ref()
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string);
    Ok(LoadedPyproject {
        path: path.to_path_buf(),
        buildable: doc.build_system.is_some() || doc.project.is_some(),
        project_name,
        table,
    })
}

/// Finds the configuration for `args` (from `--config` or a project-directory REQUIREMENT),
/// drops configuration-only directories from the requirements, and fills in every option the
/// command line left unset. Returns `args` unchanged when there is no configuration.
pub fn apply(mut args: BuildArgs, cwd: &Path) -> Result<BuildArgs, PyprojectError> {
    let mut loaded = match &args.config {
        Some(file) => Some(load(&cwd.join(file))?),
        None => None,
    };
    let mut keep = Vec::with_capacity(args.requirements.len());
    for req in std::mem::take(&mut args.requirements) {
        // `components()` drops the `.` in `cwd/./proj`, so keys resolve to clean paths.
        let file: PathBuf = cwd.join(&req).join("pyproject.toml").components().collect();
        if !looks_like_path(&req) || !file.is_file() {
            keep.push(req);
            continue;
        }
        let project = load(&file)?;
        if project.buildable {
            keep.push(req);
        }
        if loaded.is_none() {
            loaded = Some(project);
        }
    }
    args.requirements = keep;
    let Some(loaded) = loaded else {
        return Ok(args);
    };
    let base = loaded.path.parent().unwrap_or(cwd).to_path_buf();
    merge(&mut args, loaded.table, &base);
    Ok(args)
}

/// Returns the `[project] name` of the first REQUIREMENT that is a local project directory
/// (what `{name}` in `-o` falls back to when no entry point names the bundle). Call it after
/// [`apply`], which has dropped configuration-only directories.
pub fn local_project_name(requirements: &[String], cwd: &Path) -> Option<String> {
    requirements
        .iter()
        .filter(|req| looks_like_path(req))
        .map(|req| cwd.join(req).join("pyproject.toml"))
        .filter(|file| file.is_file())
        .find_map(|file| load(&file).ok()?.project_name)
}

/// Returns true if and only if the requirement `req` names a local path rather than a specifier.
fn looks_like_path(req: &str) -> bool {
    req == "." || req == ".." || req.contains('/') || req.contains(std::path::MAIN_SEPARATOR)
}

/// Fills every option of `args` the command line left unset from `table`; paths are made
/// absolute against `base`.
fn merge(args: &mut BuildArgs, table: PybundleTable, base: &Path) {
    let path = |p: PathBuf| base.join(p);
    let paths = |v: Option<Vec<PathBuf>>| v.map(|v| v.into_iter().map(path).collect());
    let link = |l: String| {
        if l.contains("://") || Path::new(&l).is_absolute() {
            l
        } else {
            base.join(l).display().to_string()
        }
    };
    fill(&mut args.output, table.output.map(path));
    // The entry point is one choice: any of -e/-c/-m on the command line replaces all three keys.
    if args.entry_point.is_none() && args.console_script.is_none() && args.module.is_none() {
        args.entry_point = table.entry_point;
        args.console_script = table.console_script;
        args.module = table.module;
    }
    args.multicall |= table.multicall.unwrap_or(false);
    fill(&mut args.python_shebang, table.python_shebang);
    fill(&mut args.python, table.python.map(|p| interpreter(p, base)));
    fill(&mut args.resolver, table.resolver);
    fill_vec(&mut args.requirement_files, paths(table.requirements));
    fill_vec(&mut args.constraint_files, paths(table.constraints));
    fill_vec(
        &mut args.find_links,
        table.find_links.map(|v| v.into_iter().map(link).collect()),
    );
    args.no_index |= table.no_index.unwrap_or(false);
    fill(&mut args.index_url, table.index_url);
    fill_vec(&mut args.extra_index_url, table.extra_index_url);
    args.pre |= table.pre.unwrap_or(false);
    fill_vec(&mut args.site_packages, paths(table.site_packages));
    fill(&mut args.compress_level, table.compress_level);
    fill(&mut args.preamble, table.preamble.map(path));
    fill(&mut args.build_id, table.build_id);
    fill_vec(
        &mut args.pip_args,
        table
            .pip_args
            .map(|v| v.into_iter().map(Into::into).collect()),
    );
    fill_vec(&mut args.platform, table.platform);
    // `root` is a path on the machine the bundle runs on: it is kept as written.
    fill(&mut args.root, table.root);
    args.inherit_path |= table.inherit_path.unwrap_or(false);
    if !args.venv && !args.no_venv {
        args.venv = table.venv == Some(true);
        args.no_venv = table.venv == Some(false);
    }
    fill_vec(&mut args.env, table.env);
    fill_vec(&mut args.extract, table.extract);
    fill_vec(&mut args.zip_safe, table.zip_safe);
    args.extract_all |= table.extract_all.unwrap_or(false);
    args.checksum |= table.checksum.unwrap_or(false);
    fill(&mut args.lock, table.lock.map(path));
    fill_vec(&mut args.lock_extra, table.lock_extra);
    fill_vec(&mut args.lock_group, table.lock_group);
    args.lock_build_sdists |= table.lock_build_sdists.unwrap_or(false);
    fill(&mut args.python_version, table.python_version);
    fill(&mut args.implementation, table.implementation);
    fill_vec(&mut args.abi, table.abi);
}

/// Returns the `python` key: a path (it has a `/`) made absolute against `base`; a command name
/// is kept as written.
fn interpreter(python: String, base: &Path) -> String {
    if python.contains('/') {
        base.join(python).display().to_string()
    } else {
        python
    }
}

/// Sets an option the command line left unset to the configured value.
fn fill<T>(target: &mut Option<T>, configured: Option<T>) {
    if target.is_none() {
        *target = configured;
    }
}

/// Replaces an empty list with the configured one: a list on the command line replaces the key.
fn fill_vec<T>(target: &mut Vec<T>, configured: Option<Vec<T>>) {
    if target.is_empty()
        && let Some(values) = configured
    {
        *target = values;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let file = dir.join("pyproject.toml");
        fs_err::write(&file, text).unwrap();
        file
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "[tool.pybundle]\noutptu = \"a.pyz\"\n");
        let err = load(&file).unwrap_err().to_string();
        assert!(err.contains("`outptu`"), "{err}");
        assert!(err.contains(&file.display().to_string()), "{err}");
    }

    #[test]
    fn config_only_directory_is_dropped_and_paths_are_relative_to_it() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir(dir.path().join("proj")).unwrap();
        write(
            &dir.path().join("proj"),
            "[tool.pybundle]\noutput = \"app.pyz\"\nrequirements = [\"reqs.txt\"]\nfind-links = [\"wheels\", \"https://x/y\"]\nno-index = true\n",
        );
        let args = BuildArgs {
            requirements: vec!["./proj".into(), "six".into()],
            ..BuildArgs::default()
        };
        let args = apply(args, dir.path()).unwrap();
        let proj = dir.path().join("proj");
        assert_eq!(args.requirements, vec!["six"]);
        assert_eq!(args.output, Some(proj.join("app.pyz")));
        assert_eq!(args.requirement_files, vec![proj.join("reqs.txt")]);
        assert_eq!(
            args.find_links,
            vec![
                proj.join("wheels").display().to_string(),
                "https://x/y".into()
            ]
        );
        assert!(args.no_index);
    }

    #[test]
    fn buildable_project_stays_a_requirement_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "[project]\nname = \"x\"\n[tool.pybundle]\nmodule = \"x\"\ncompress-level = 9\n",
        );
        let args = BuildArgs {
            requirements: vec![".".into()],
            entry_point: Some("x.main:run".into()),
            compress_level: Some(1),
            ..BuildArgs::default()
        };
        let args = apply(args, dir.path()).unwrap();
        assert_eq!(args.requirements, vec!["."]);
        assert_eq!(
            local_project_name(&args.requirements, dir.path()).as_deref(),
            Some("x")
        );
        assert_eq!(args.entry_point.as_deref(), Some("x.main:run"));
        assert_eq!(args.module, None);
        assert_eq!(args.compress_level, Some(1));
    }

    #[test]
    fn run_time_and_zip_safety_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "[tool.pybundle]\nmulticall = true\nresolver = \"uv\"\nextract = [\"Foo_Bar\"]\nzip-safe = [\"six\"]\nextract-all = true\nroot = \"/opt/c\"\ninherit-path = true\nenv = [\"A=1\"]\nchecksum = true\n",
        );
        let mut args = BuildArgs::default();
        let loaded = load(&file).unwrap();
        merge(&mut args, loaded.table, dir.path());
        assert!(args.multicall);
        assert_eq!(args.resolver, Some(crate::cli::Resolver::Uv));
        assert_eq!(args.extract, vec!["Foo_Bar"]);
        assert_eq!(args.zip_safe, vec!["six"]);
        assert!(args.extract_all && args.inherit_path);
        assert_eq!(args.root.as_deref(), Some("/opt/c"));
        assert_eq!(args.env, vec!["A=1"]);
        assert!(args.checksum);
    }
}
