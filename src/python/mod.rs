//! Probe the `--python` interpreter: the one that runs pip and compiles bytecode, and whose version
//! and platform the bundle targets. Input: the `--python` value; output: an [`Interpreter`].
//! It does not decide anything about the bundle; `config` and `pack` read these facts.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use crate::config::CrossTarget;

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
    /// `sys.version`: release, build date and compiler, e.g. `3.11.7 (main, …) [GCC 12.2.0]`
    /// (empty for an older answer without it).
    #[serde(default)]
    pub sys_version: String,
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
    /// Whether this is a Debian/Ubuntu system Python (`sys.prefix` `/usr`, outside a venv, with
    /// Debian's `dist-packages` layout), where pip comes from the distribution's `python3-pip`
    /// and `ensurepip` is disabled.
    #[serde(default)]
    pub debian_system: bool,
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
    #[error(
        "cannot run `{path}` (from --python): {source}\nhint: check that the file is an executable Python interpreter"
    )]
    Spawn {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "`{path}` (from --python) did not answer the interpreter probe ({status})\n{stderr}\nhint: --python must name a CPython 3.8-3.13 interpreter; try running it with `-c pass` to see what fails"
    )]
    ProbeFailed {
        path: String,
        status: String,
        stderr: String,
    },
    #[error(
        "`{path}` is {found}; pybundle supports CPython 3.8 to 3.13\nhint: pass --python with a CPython 3.8-3.13 interpreter"
    )]
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

impl Interpreter {
    /// Returns the facts of the cross target `target` as if an interpreter of that version and
    /// platform had been probed: version and cache tag from `--python-version`, `sys.platform`,
    /// machine and platform from the first `--platform` tag; the rest is kept from `self` (the
    /// interpreter running pip).
    pub fn retarget(&self, target: &CrossTarget) -> Interpreter {
        let mut t = self.clone();
        if let Some((major, minor)) = target.python_version
            && (major, minor) != (self.version.0, self.version.1)
        {
            t.version = (major, minor, 0);
            t.cache_tag = format!("{}-{major}{minor}", self.implementation);
            t.magic = String::new();
        }
        if let Some(facts) = target.platforms.first().and_then(|tag| platform_facts(tag)) {
            t.sys_platform = facts.sys_platform;
            t.machine = facts.machine;
            t.platform = facts.platform;
            t.multiarch = None;
        }
        let (major, minor) = (t.version.0, t.version.1);
        if (major, minor, &t.platform) != (self.version.0, self.version.1, &self.platform) {
            t.ext_suffix = match t.sys_platform.as_str() {
                "linux" => format!(".cpython-{major}{minor}-{}-linux-gnu.so", t.machine),
                "darwin" => format!(".cpython-{major}{minor}-darwin.so"),
                "win32" => format!(".cp{major}{minor}-{}.pyd", t.platform.replace('-', "_")),
                _ => ".so".to_string(),
            };
        }
        t
    }
}

/// `sys.platform`, `platform.machine()` and `sysconfig.get_platform()` of a wheel platform tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformFacts {
    /// `sys.platform`, e.g. `linux`.
    pub sys_platform: String,
    /// `platform.machine()`, e.g. `x86_64`.
    pub machine: String,
    /// `sysconfig.get_platform()`, e.g. `linux-x86_64`.
    pub platform: String,
}

/// Returns the facts of the platform tag `tag` (`manylinux2014_x86_64`, `manylinux_2_28_aarch64`,
/// `musllinux_1_2_x86_64`, `linux_x86_64`, `macosx_11_0_arm64`, `win_amd64`), or `None` for a tag
/// it does not know (`any`).
pub fn platform_facts(tag: &str) -> Option<PlatformFacts> {
    let facts = |sys: &str, machine: &str, platform: String| PlatformFacts {
        sys_platform: sys.to_string(),
        machine: machine.to_string(),
        platform,
    };
    let linux = regex::Regex::new(
        r"^(?:manylinux(?:1|2010|2014)|(?:many|musl)linux_\d+_\d+|linux)_([a-z0-9_]+)$",
    )
    .ok()?;
    if let Some(c) = linux.captures(tag) {
        let machine = &c[1];
        return Some(facts("linux", machine, format!("linux-{machine}")));
    }
    let mac = regex::Regex::new(r"^macosx_(\d+)_(\d+)_([a-z0-9_]+)$").ok()?;
    if let Some(c) = mac.captures(tag) {
        return Some(facts(
            "darwin",
            &c[3],
            format!("macosx-{}.{}-{}", &c[1], &c[2], &c[3]),
        ));
    }
    match tag {
        "win_amd64" => Some(facts("win32", "AMD64", "win-amd64".into())),
        "win_arm64" => Some(facts("win32", "ARM64", "win-arm64".into())),
        "win32" => Some(facts("win32", "x86", "win32".into())),
        _ => None,
    }
}

/// Returns an interpreter of version `major.minor` to compile bytecode with: `python` itself when
/// it has that version, else `python3.Y` on PATH, else pyenv's `versions/3.Y.*/bin/python`
/// (the newest; pyenv's root is `$PYENV_ROOT`, else `~/.pyenv`); `None` when none answers the
/// probe.
pub fn find_compiler(python: &Interpreter, major: u32, minor: u32) -> Option<Interpreter> {
    if (python.version.0, python.version.1) == (major, minor) {
        return Some(python.clone());
    }
    let mut candidates: Vec<String> = vec![format!("python{major}.{minor}")];
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pyenv")));
    if let Some(Ok(entries)) = pyenv.map(|root| fs_err::read_dir(root.join("versions"))) {
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{major}.{minor}."))
            })
            .map(|e| e.path().join("bin/python"))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        candidates.extend(found.iter().rev().map(|p| p.display().to_string()));
    }
    candidates
        .iter()
        .filter_map(|c| Interpreter::probe(c).ok())
        .find(|i| (i.version.0, i.version.1) == (major, minor))
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
        .find(|candidate| crate::fsutil::is_executable(candidate))
}

#[cfg(test)]
mod target_tests {
    use super::*;

    #[test]
    fn platform_tags() {
        let f = platform_facts("manylinux2014_x86_64").unwrap();
        assert_eq!(
            (
                f.sys_platform.as_str(),
                f.machine.as_str(),
                f.platform.as_str()
            ),
            ("linux", "x86_64", "linux-x86_64")
        );
        assert_eq!(
            platform_facts("manylinux_2_28_aarch64").unwrap().platform,
            "linux-aarch64"
        );
        assert_eq!(
            platform_facts("musllinux_1_2_x86_64").unwrap().machine,
            "x86_64"
        );
        assert_eq!(
            platform_facts("macosx_11_0_arm64").unwrap().platform,
            "macosx-11.0-arm64"
        );
        assert_eq!(platform_facts("win_amd64").unwrap().sys_platform, "win32");
        assert_eq!(platform_facts("any"), None);
    }
}
