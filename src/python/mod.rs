//! Probe the `--python` interpreter: the one that runs pip and compiles bytecode, and whose version
//! and platform the bundle targets. Input: the `--python` value; output: an [`Interpreter`].
//! It does not decide anything about the bundle; `config` and `pack` read these facts.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

/// The probe script, run as `python -I -c PROBE_SCRIPT`.
const PROBE_SCRIPT: &str = include_str!("probe.py");

/// What a probed interpreter reported about itself.
#[derive(Debug, Clone, Deserialize)]
pub struct Interpreter {
    /// Absolute path of the interpreter's binary (`sys.executable`).
    pub executable: PathBuf,
    /// `sys.implementation.name`, e.g. `cpython`.
    pub implementation: String,
    /// `sys.version_info[:3]`.
    pub version: (u32, u32, u32),
    /// `sys.implementation.cache_tag`, e.g. `cpython-311`.
    pub cache_tag: String,
    /// `sysconfig.get_config_var("EXT_SUFFIX")`, e.g. `.cpython-311-x86_64-linux-gnu.so`.
    pub ext_suffix: String,
    /// `sysconfig.get_platform()`, e.g. `linux-x86_64`.
    pub platform: String,
    /// `sys.platform`, e.g. `linux`.
    pub sys_platform: String,
    /// `platform.machine()`, e.g. `x86_64`.
    pub machine: String,
    /// `sys.implementation._multiarch` where the interpreter has it.
    pub multiarch: Option<String>,
    /// `importlib.util.MAGIC_NUMBER` in hex.
    pub magic: String,
    /// Whether `pip` can be imported by this interpreter.
    pub pip: bool,
}

/// Why an interpreter could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    #[error(
        "`{0}` looks like a shebang line, but --python takes the interpreter that runs pip\nhint: to set the bundle's shebang line use `-p '{0}'` (shiv spells it --python)"
    )]
    LooksLikeShebang(String),
    #[error(
        "`{0}` was not found on PATH (from --python)\nhint: pass the path of an installed interpreter, e.g. --python /usr/bin/python3.11"
    )]
    NotFound(String),
    #[error("cannot run `{path}` (from --python): {source}")]
    Spawn {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` (from --python) did not answer the interpreter probe ({status})\n{stderr}")]
    ProbeFailed {
        path: String,
        status: String,
        stderr: String,
    },
    #[error("`{path}` is {found}; pybundle supports CPython 3.8 to 3.13")]
    Unsupported { path: String, found: String },
}

impl Interpreter {
    /// Returns the facts of the interpreter named by `python` (a path or a name looked up on PATH).
    pub fn probe(python: &str) -> Result<Interpreter, PythonError> {
        if python.trim().contains(char::is_whitespace) || python.starts_with("#!") {
            return Err(PythonError::LooksLikeShebang(
                python.trim_start_matches("#!").to_string(),
            ));
        }
        let path =
            find_executable(python).ok_or_else(|| PythonError::NotFound(python.to_string()))?;
        let output = Command::new(&path)
            .args(["-I", "-c", PROBE_SCRIPT])
            .output()
            .map_err(|source| PythonError::Spawn {
                path: python.to_string(),
                source,
            })?;
        if !output.status.success() {
            return Err(PythonError::ProbeFailed {
                path: python.to_string(),
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        let interp: Interpreter =
            serde_json::from_slice(&output.stdout).map_err(|err| PythonError::ProbeFailed {
                path: python.to_string(),
                status: format!("unreadable answer: {err}"),
                stderr: String::from_utf8_lossy(&output.stdout).trim().to_string(),
            })?;
        let (major, minor, _) = interp.version;
        if interp.implementation != "cpython" || major != 3 || !(8..=13).contains(&minor) {
            return Err(PythonError::Unsupported {
                path: python.to_string(),
                found: interp.display_name(),
            });
        }
        Ok(interp)
    }

    /// Returns e.g. `CPython 3.11.7`.
    pub fn display_name(&self) -> String {
        let name = if self.implementation == "cpython" {
            "CPython"
        } else {
            &self.implementation
        };
        format!(
            "{name} {}.{}.{}",
            self.version.0, self.version.1, self.version.2
        )
    }

    /// Returns the `X.Y` version string.
    pub fn short_version(&self) -> String {
        format!("{}.{}", self.version.0, self.version.1)
    }
}

/// Returns the path of `name`: as given when it contains a `/`, else the first match on PATH.
pub fn find_executable(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = Path::new(name);
        return path.is_file().then(|| path.to_path_buf());
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs_err::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}
