//! The single options of the build command, checked and converted for
//! [`BuildPlan::from_args`](super::BuildPlan::from_args).

use std::path::{Path, PathBuf};

use super::{
    ConfigError, CrossTarget, DEFAULT_SHEBANG, EntryRequest, PipOptions, RuntimeOptions, Verbosity,
    parse_env, parse_python_version,
};
use crate::name::{EntryTarget, parse_entry_target};
use crate::output::{Facts, OutputName, OutputTemplate};

/// Returns what the bundle runs, from `-e MODULE:FUNC`, `-c SCRIPT` or `-m MODULE` (the first
/// given, in that order), else the interpreter.
pub(super) fn entry_request(
    entry_point: Option<String>,
    console_script: Option<String>,
    module: Option<String>,
) -> Result<EntryRequest, ConfigError> {
    if let Some(value) = entry_point {
        let target = parse_entry_target(&value).map_err(|err| ConfigError::BadEntryPoint {
            value: value.clone(),
            reason: err.to_string(),
        })?;
        if target.attr.is_none() {
            return Err(ConfigError::BadEntryPoint {
                value,
                reason: "no function after `:` (use -m to run a module)".to_string(),
            });
        }
        Ok(EntryRequest::Function(target))
    } else if let Some(name) = console_script {
        Ok(EntryRequest::ConsoleScript(name))
    } else if let Some(module) = module {
        match parse_entry_target(&module) {
            Ok(EntryTarget { attr: None, .. }) => Ok(EntryRequest::Module(module)),
            _ => Err(ConfigError::BadModule(module)),
        }
    } else {
        Ok(EntryRequest::Interpreter)
    }
}

/// Fails when the output name needs the project's name and nothing gives one: without an
/// entry point only a local project can name the bundle, so say so before the slow stages
/// rather than after them.
pub(super) fn nameable(
    template: OutputTemplate,
    entry: &EntryRequest,
    local_project: bool,
) -> Result<(), ConfigError> {
    if *entry != EntryRequest::Interpreter || local_project {
        return Ok(());
    }
    let why = "the bundle has no entry point and no local project directory is bundled";
    OutputName::new(
        template,
        Facts {
            project: Err(why.to_string()),
            python: String::new(),
            platform: String::new(),
            date: String::new(),
        },
    )?;
    Ok(())
}

/// Returns the shebang's interpreter command (`-p`, without `#!`), which must be one line.
pub(super) fn shebang(arg: Option<String>) -> Result<String, ConfigError> {
    let shebang = arg.unwrap_or_else(|| DEFAULT_SHEBANG.to_string());
    let shebang = shebang.trim_start_matches("#!").trim().to_string();
    if shebang.is_empty() || shebang.contains(['\n', '\r']) {
        return Err(ConfigError::BadShebang(shebang));
    }
    Ok(shebang)
}

/// Checks `--build-id`: letters, digits, `.`, `_` and `-` only.
pub(super) fn build_id(id: Option<&str>) -> Result<(), ConfigError> {
    if let Some(id) = id {
        let ok = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !ok {
            return Err(ConfigError::BadBuildId(id.to_string()));
        }
    }
    Ok(())
}

/// Returns `path` resolved against `cwd`, which must exist (`what` names it in the error).
pub(super) fn existing_path(
    cwd: &Path,
    path: PathBuf,
    what: &'static str,
) -> Result<PathBuf, ConfigError> {
    let path = cwd.join(path);
    if path.exists() {
        Ok(path)
    } else {
        Err(ConfigError::MissingPath { path, what })
    }
}

/// Returns `paths` resolved against `cwd`; each must exist.
pub(super) fn existing(
    cwd: &Path,
    paths: Vec<PathBuf>,
    what: &'static str,
) -> Result<Vec<PathBuf>, ConfigError> {
    paths
        .into_iter()
        .map(|p| existing_path(cwd, p, what))
        .collect()
}

/// Returns the `--lock` file resolved against `cwd`, after checking that nothing else says
/// what to install: no requirements file, no constraints, and only local projects in `pip`.
pub(super) fn lock_path(
    cwd: &Path,
    pip: &PipOptions,
    path: PathBuf,
) -> Result<PathBuf, ConfigError> {
    if !pip.requirement_files.is_empty() {
        return Err(ConfigError::LockConflict("-r/--requirement"));
    }
    if !pip.constraint_files.is_empty() {
        return Err(ConfigError::LockConflict("--constraint"));
    }
    if let Some(req) = pip.requirements.iter().find(|r| !cwd.join(r).exists()) {
        return Err(ConfigError::LockRequirement(req.clone()));
    }
    existing_path(cwd, path, "--lock file")
}

/// Returns the verbosity `-q` and `-v` ask for.
pub(super) fn verbosity(quiet: bool, verbose: u8) -> Verbosity {
    if quiet {
        Verbosity::Quiet
    } else if verbose > 0 {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    }
}

/// Returns the run-time defaults from `-E`, `--root` (not blank, without a newline or NUL),
/// `--inherit-path` and `--venv`/`--no-venv` (neither: the analysis chooses).
pub(super) fn runtime_options(
    env: &[String],
    root: Option<String>,
    inherit_path: bool,
    venv: bool,
    no_venv: bool,
) -> Result<RuntimeOptions, ConfigError> {
    let env = env.iter().map(|e| parse_env(e)).collect::<Result<_, _>>()?;
    if let Some(root) = &root {
        if root.trim().is_empty() || root.contains(['\n', '\0']) {
            return Err(ConfigError::BadRoot(root.clone()));
        }
    }
    let venv = if venv {
        Some(true)
    } else if no_venv {
        Some(false)
    } else {
        None
    };
    Ok(RuntimeOptions {
        root,
        inherit_path,
        venv,
        env,
    })
}

/// Returns the cross target that `--platform`, `--python-version`, `--implementation` and
/// `--abi` describe, or `None` when none of them is given.
pub(super) fn cross_target(
    platforms: Vec<String>,
    python_version: Option<&str>,
    implementation: Option<String>,
    abis: Vec<String>,
) -> Result<Option<CrossTarget>, ConfigError> {
    let python_version = python_version
        .map(|v| parse_python_version(v).ok_or_else(|| ConfigError::BadPythonVersion(v.into())))
        .transpose()?;
    let cross = !platforms.is_empty()
        || python_version.is_some()
        || implementation.is_some()
        || !abis.is_empty();
    Ok(cross.then_some(CrossTarget {
        platforms,
        python_version,
        implementation,
        abis,
    }))
}
