//! PEP 751 lock files (`pylock.toml`), shared by the build (`--lock`) and `verify --lock`:
//! reading a lock, checking its version and the extras and dependency groups asked for, and
//! evaluating its markers for a target (`markers.py`, run by an interpreter: the build's, with
//! the target's facts, or any, with the marker environment a bundle recorded). Imports only
//! leaves (`fsutil`, `name`).
//! See: #23

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::fsutil::sha256_file;
use crate::name::normalize_name;

/// The embedded marker evaluator, run with `python -I -c`.
const MARKERS_SCRIPT: &str = include_str!("markers.py");

/// The lock-version major this reader understands.
pub const LOCK_MAJOR: u32 = 1;

/// A lock file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read the lock `{path}`: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the lock `{path}` is not a valid pylock.toml: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(
        "the lock `{path}` has lock-version `{version}`, which this pybundle does not read (it reads {LOCK_MAJOR}.x)\nhint: write the lock with a tool that emits PEP 751 lock-version 1.0, or upgrade pybundle"
    )]
    Version { path: PathBuf, version: String },
    #[error(
        "the lock `{path}` has no {what} `{name}` (it has: {known})\nhint: pick one the lock lists under `{key}`"
    )]
    Unknown {
        path: PathBuf,
        what: &'static str,
        key: &'static str,
        name: String,
        known: String,
    },
    #[error("cannot evaluate the lock's markers with `{python}`: {message}")]
    Markers { python: String, message: String },
}

/// The parts of a `pylock.toml` pybundle reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Lock {
    /// `lock-version`, e.g. `1.0`.
    pub lock_version: String,
    /// `environments`: markers of the environments the lock is for.
    pub environments: Option<Vec<String>>,
    /// `requires-python`.
    pub requires_python: Option<String>,
    /// `extras` the lock can install.
    #[serde(default)]
    pub extras: Vec<String>,
    /// `dependency-groups` the lock can install.
    #[serde(default)]
    pub dependency_groups: Vec<String>,
    /// `default-groups`: what is installed when no group is asked for.
    #[serde(default)]
    pub default_groups: Vec<String>,
    /// `created-by`.
    pub created_by: Option<String>,
    /// `[[packages]]`.
    #[serde(default)]
    pub packages: Vec<Package>,
}

/// One `[[packages]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Package {
    pub name: String,
    pub version: Option<String>,
    pub marker: Option<String>,
    pub requires_python: Option<String>,
    #[serde(default)]
    pub wheels: Vec<File>,
    pub sdist: Option<File>,
    pub archive: Option<File>,
    pub directory: Option<toml::Value>,
    pub vcs: Option<toml::Value>,
}

/// A file of a package: a wheel, an sdist or an archive.
#[derive(Debug, Clone, Deserialize)]
pub struct File {
    pub name: Option<String>,
    pub url: Option<String>,
    pub path: Option<String>,
    #[serde(default)]
    pub hashes: BTreeMap<String, String>,
}

impl File {
    /// Returns the file's name: `name`, else the last segment of its URL or path.
    pub fn file_name(&self) -> Option<String> {
        if let Some(name) = &self.name {
            return Some(name.clone());
        }
        let whole = self.url.as_deref().or(self.path.as_deref())?;
        let whole = whole.split(['#', '?']).next().unwrap_or(whole);
        let last = whole.rsplit('/').next().unwrap_or(whole);
        Some(percent_decode(last)).filter(|n| !n.is_empty())
    }

    /// Returns the lower-case hex sha256 the lock gives, if any.
    pub fn sha256(&self) -> Option<String> {
        self.hashes.get("sha256").map(|h| h.to_ascii_lowercase())
    }
}

/// A lock as read from disk, with the sha256 of its bytes.
#[derive(Debug, Clone)]
pub struct LoadedLock {
    pub path: PathBuf,
    pub sha256: String,
    pub lock: Lock,
}

impl LoadedLock {
    /// Reads and checks the lock at `path` (its lock-version must be 1.x).
    pub fn read(path: &Path) -> Result<LoadedLock, LockError> {
        let read = |source| LockError::Read {
            path: path.to_path_buf(),
            source,
        };
        let text = fs_err::read_to_string(path).map_err(read)?;
        let (sha256, _) = sha256_file(path).map_err(read)?;
        let lock = parse(&text).map_err(|err| match err {
            ParseError::Version(version) => LockError::Version {
                path: path.to_path_buf(),
                version,
            },
            ParseError::Invalid(message) => LockError::Invalid {
                path: path.to_path_buf(),
                message,
            },
        })?;
        Ok(LoadedLock {
            path: path.to_path_buf(),
            sha256,
            lock,
        })
    }

    /// Returns the dependency groups to install: `groups`, else the lock's `default-groups`.
    /// Every name of `extras` and `groups` must be one the lock lists.
    pub fn selection(
        &self,
        extras: &[String],
        groups: &[String],
    ) -> Result<Vec<String>, LockError> {
        let check = |names: &[String], known: &[String], what, key| {
            let known_norm: Vec<String> = known.iter().map(|k| normalize_name(k)).collect();
            match names
                .iter()
                .find(|n| !known_norm.contains(&normalize_name(n)))
            {
                Some(name) => Err(LockError::Unknown {
                    path: self.path.clone(),
                    what,
                    key,
                    name: name.clone(),
                    known: if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    },
                }),
                None => Ok(()),
            }
        };
        check(extras, &self.lock.extras, "extra", "extras")?;
        check(
            groups,
            &self.lock.dependency_groups,
            "dependency group",
            "dependency-groups",
        )?;
        Ok(if groups.is_empty() {
            self.lock.default_groups.clone()
        } else {
            groups.to_vec()
        })
    }
}

enum ParseError {
    Version(String),
    Invalid(String),
}

fn parse(text: &str) -> Result<Lock, ParseError> {
    // The version is checked first: a lock of another major version may not parse as 1.x.
    let table: toml::Table =
        toml::from_str(text).map_err(|err| ParseError::Invalid(err.message().to_string()))?;
    let version = match table.get("lock-version") {
        Some(toml::Value::String(v)) => v.clone(),
        Some(other) => return Err(ParseError::Version(other.to_string())),
        None => return Err(ParseError::Invalid("no `lock-version`".to_string())),
    };
    let major = version
        .split('.')
        .next()
        .and_then(|m| m.trim().parse::<u32>().ok());
    if major != Some(LOCK_MAJOR) {
        return Err(ParseError::Version(version));
    }
    toml::from_str(text).map_err(|err| ParseError::Invalid(err.message().to_string()))
}

/// What to evaluate the lock's markers for.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Request {
    /// The full marker environment (a recorded one); `None`: the interpreter's, with `override`.
    pub environment: Option<BTreeMap<String, String>>,
    /// Marker variables replaced in the interpreter's environment (a cross target's facts).
    #[serde(rename = "override")]
    pub overrides: BTreeMap<String, String>,
    /// The values of the `extras` marker variable.
    pub extras: Vec<String>,
    /// The values of the `dependency_groups` marker variable.
    pub groups: Vec<String>,
    /// Local projects (wheel files) whose `Requires-Dist` the selection must satisfy.
    pub projects: Vec<PathBuf>,
}

/// What the markers select.
#[derive(Debug, Clone, Deserialize)]
pub struct Evaluated {
    /// Per package of the lock: whether the target installs it.
    pub selected: Vec<bool>,
    /// The marker variables the evaluation read, with their values.
    pub environment: BTreeMap<String, String>,
    /// Why the lock cannot be used for the target (requires-python, environments, a project's
    /// requirement the selection does not satisfy).
    pub problems: Vec<String>,
    /// The names of the projects of the request.
    pub projects: Vec<String>,
}

/// Evaluates `lock`'s markers for `request` with the interpreter `python`.
pub fn evaluate(python: &Path, lock: &Lock, request: &Request) -> Result<Evaluated, LockError> {
    let failed = |message: String| LockError::Markers {
        python: python.display().to_string(),
        message,
    };
    let packages: Vec<serde_json::Value> = lock
        .packages
        .iter()
        .map(|p| {
            serde_json::json!({
                "name": p.name,
                "version": p.version,
                "marker": p.marker,
                "requires_python": p.requires_python,
            })
        })
        .collect();
    let mut job = serde_json::to_value(request).map_err(|e| failed(e.to_string()))?;
    job["requires_python"] = serde_json::json!(lock.requires_python);
    job["environments"] = serde_json::json!(lock.environments);
    job["packages"] = serde_json::Value::Array(packages);
    let mut child = Command::new(python)
        .args(["-I", "-c", MARKERS_SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        stdin
            .write_all(job.to_string().as_bytes())
            .map_err(|e| failed(e.to_string()))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| failed(format!("unreadable answer: {e}")))
}

/// Decodes `%XX` escapes (URL paths of files, e.g. `%2B` in local versions).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(parse("lock-version = \"1.0\"\n").is_ok());
        assert!(parse("lock-version = \"1.3\"\n").is_ok());
        assert!(matches!(
            parse("lock-version = \"2.0\"\n[[packages]]\nx = 1\n"),
            Err(ParseError::Version(v)) if v == "2.0"
        ));
        assert!(matches!(
            parse("[[packages]]\n"),
            Err(ParseError::Invalid(_))
        ));
    }

    #[test]
    fn file_names() {
        let file = |url: &str| File {
            name: None,
            url: Some(url.into()),
            path: None,
            hashes: BTreeMap::new(),
        };
        assert_eq!(
            file("https://x/a/local-1.0%2Bx-py3-none-any.whl#sha256=00").file_name(),
            Some("local-1.0+x-py3-none-any.whl".into())
        );
    }

    #[test]
    fn unknown_extra() {
        let lock = LoadedLock {
            path: PathBuf::from("/p/pylock.toml"),
            sha256: String::new(),
            lock: parse("lock-version = \"1.0\"\nextras = [\"socks\"]\ndefault-groups = [\"main\"]\ndependency-groups = [\"main\", \"dev\"]\n").ok().unwrap(),
        };
        assert_eq!(lock.selection(&[], &[]).unwrap(), vec!["main"]);
        assert_eq!(
            lock.selection(&["Socks".into()], &["dev".into()]).unwrap(),
            vec!["dev"]
        );
        let err = lock
            .selection(&["tls".into()], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no extra `tls` (it has: socks)"), "{err}");
    }
}
