//! Validated build configuration. Input: the parsed command line (`cli::BuildArgs`); output: a
//! [`BuildPlan`], the only thing later stages receive. Nothing past this module sees clap types.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::analyze::Overrides;
use crate::cli::BuildArgs;
use crate::install::entry_points::{EntryTarget, parse_entry_target};
use crate::install::normalize_name;

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
    /// `-c NAME`, looked up in the bundled distributions' `entry_points.txt`.
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

/// How much the build prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verbosity {
    /// Errors only.
    Quiet,
    /// Stage lines and a summary.
    #[default]
    Normal,
    /// Normal plus pip's streamed output.
    Verbose,
}

/// A validated build request.
#[derive(Debug, Clone)]
pub struct BuildPlan {
    /// The bundle to write.
    pub output: PathBuf,
    /// The shebang line, without `#!`.
    pub shebang: String,
    /// The `--python` value.
    pub python: String,
    /// The entry point.
    pub entry: EntryRequest,
    /// What pip resolves.
    pub pip: PipOptions,
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
}

/// A build request that cannot be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no output file given\nhint: pass `-o app.pyz`")]
    NoOutput,
    #[error("nothing to bundle: give requirements, `-r FILE` or `--site-packages DIR`")]
    NothingToBundle,
    #[error(
        "invalid entry point `{value}`: {reason}\nhint: use MODULE:FUNC, e.g. `-e myapp.main:main`"
    )]
    BadEntryPoint { value: String, reason: String },
    #[error("invalid module name `{0}` for -m\nhint: give a dotted module name, e.g. `-m twisted`")]
    BadModule(String),
    #[error("`{path}` ({what}) does not exist")]
    MissingPath { path: PathBuf, what: &'static str },
    #[error("the output directory `{0}` does not exist")]
    OutputDirMissing(PathBuf),
    #[error("invalid shebang `{0}`: it must be one line")]
    BadShebang(String),
    #[error("invalid build id `{0}`: use letters, digits, `.`, `_` and `-` only")]
    BadBuildId(String),
}

impl BuildPlan {
    /// Returns the plan for `args`, with relative paths resolved against `cwd`.
    pub fn from_args(args: BuildArgs, cwd: &Path) -> Result<BuildPlan, ConfigError> {
        let output = args.output.ok_or(ConfigError::NoOutput)?;
        let output = cwd.join(output);
        let parent = output
            .parent()
            .map_or_else(|| cwd.to_path_buf(), Path::to_path_buf);
        if !parent.is_dir() {
            return Err(ConfigError::OutputDirMissing(parent));
        }
        let entry = if let Some(value) = args.entry_point {
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
            EntryRequest::Function(target)
        } else if let Some(name) = args.console_script {
            EntryRequest::ConsoleScript(name)
        } else if let Some(module) = args.module {
            match parse_entry_target(&module) {
                Ok(EntryTarget { attr: None, .. }) => EntryRequest::Module(module),
                _ => return Err(ConfigError::BadModule(module)),
            }
        } else {
            EntryRequest::Interpreter
        };
        let shebang = args
            .python_shebang
            .unwrap_or_else(|| DEFAULT_SHEBANG.to_string());
        let shebang = shebang.trim_start_matches("#!").trim().to_string();
        if shebang.is_empty() || shebang.contains(['\n', '\r']) {
            return Err(ConfigError::BadShebang(shebang));
        }
        if let Some(id) = &args.build_id {
            let ok = !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !ok {
                return Err(ConfigError::BadBuildId(id.clone()));
            }
        }
        let absolute = |path: PathBuf, what: &'static str| -> Result<PathBuf, ConfigError> {
            let path = cwd.join(path);
            if path.exists() {
                Ok(path)
            } else {
                Err(ConfigError::MissingPath { path, what })
            }
        };
        let requirement_files = args
            .requirement_files
            .into_iter()
            .map(|p| absolute(p, "requirements file"))
            .collect::<Result<Vec<_>, _>>()?;
        let constraint_files = args
            .constraint_files
            .into_iter()
            .map(|p| absolute(p, "constraints file"))
            .collect::<Result<Vec<_>, _>>()?;
        let site_packages = args
            .site_packages
            .into_iter()
            .map(|p| absolute(p, "--site-packages directory"))
            .collect::<Result<Vec<_>, _>>()?;
        let preamble = args
            .preamble
            .map(|p| absolute(p, "--preamble file"))
            .transpose()?;
        let pip = PipOptions {
            requirements: args.requirements,
            requirement_files,
            constraint_files,
            find_links: args.find_links,
            no_index: args.no_index,
            index_url: args.index_url,
            extra_index_urls: args.extra_index_url,
            pre: args.pre,
            extra_args: args.pip_args,
        };
        if !pip.has_requirements() && site_packages.is_empty() {
            return Err(ConfigError::NothingToBundle);
        }
        let verbosity = if args.quiet {
            Verbosity::Quiet
        } else if args.verbose > 0 {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        };
        Ok(BuildPlan {
            output,
            shebang,
            python: args.python.unwrap_or_else(|| DEFAULT_PYTHON.to_string()),
            entry,
            pip,
            site_packages,
            compress_level: args.compress_level.unwrap_or(DEFAULT_COMPRESS_LEVEL),
            preamble,
            build_id: args.build_id,
            verbosity,
            overrides: Overrides {
                extract: args.extract.iter().map(|n| normalize_name(n)).collect(),
                zip_safe: args.zip_safe.iter().map(|n| normalize_name(n)).collect(),
                extract_all: args.extract_all,
            },
        })
    }
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
    fn missing_output_dir() {
        let err =
            BuildPlan::from_args(args("/nonexistent-dir/app.pyz"), Path::new("/tmp")).unwrap_err();
        assert!(matches!(err, ConfigError::OutputDirMissing(_)));
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
