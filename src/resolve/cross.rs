//! Source requirements in a cross-target build. A cross build runs `pip download
//! --only-binary=:all:` with the target's tags, which cannot take a source tree: a local project
//! directory, an sdist or a VCS requirement would be left out. Each one named on the command line
//! is built into a wheel first, with `pip wheel --no-deps` by the interpreter that runs pip
//! (`--python`). A wheel that runs on the target (`py3-none-any`, or any tag pip accepts for the
//! target) then takes the requirement's place on `pip download`'s command line, so that its
//! dependencies are resolved for the target together with the other requirements, in one pip
//! resolve. Any other wheel stops the build, naming the project, its tag and the target.
//!
//! After the resolve, [`check_named`] makes sure that nothing named on the command line is missing
//! from the wheelhouse (with any backend). Source requirements inside `-r` files of a cross build
//! are refused ([`source_in_files`]) rather than built: their lines may hold options this
//! module does not read.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{ResolveError, list_wheels, pip_command, quote_command, run_pip};
use crate::config::{CrossTarget, PipOptions};
use crate::install::filename::WheelFilename;
use crate::name::normalize_name;
use crate::python::Interpreter;

/// The script that prints the tags pip accepts for a target, run with `python -I -c`.
const TARGET_TAGS_SCRIPT: &str = include_str!("target_tags.py");

/// File name endings of the source archives pip builds.
const SDIST_SUFFIXES: &[&str] = &[
    ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip",
];

/// URL schemes of VCS requirements (`git+https://…`).
const VCS_PREFIXES: &[&str] = &["git+", "hg+", "svn+", "bzr+"];

/// A source requirement built into a wheel for a cross build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The requirement as given on the command line (`./app`, `x-1.0.tar.gz`, `git+…`).
    pub requirement: String,
    /// The wheel `pip wheel --no-deps` made of it.
    pub wheel: PathBuf,
    /// The wheel's normalised project name.
    pub name: String,
}

/// Returns the URL of `req` when it is one (`https://…`, `git+…`) or a direct reference
/// (`name @ url`), without its environment marker.
fn url_of(req: &str) -> Option<&str> {
    let req = req.split(" ;").next().unwrap_or(req).trim();
    if !req.contains("://") && !VCS_PREFIXES.iter().any(|p| req.starts_with(p)) {
        return None;
    }
    // In `name @ url` a name precedes the first `@`; in a bare URL a scheme (`git+https:`) or
    // a path does (`https://user@host/…`, `git+https://host/x@v1`).
    match req.split_once('@') {
        Some((name, rest)) if !name.contains([':', '/']) => Some(rest.trim()),
        _ => Some(req),
    }
}

/// Returns true if and only if pip would build `req` from source: a local project directory,
/// an sdist (a path or a URL), a VCS requirement, or a direct reference to one of those. A
/// requirement specifier (`requests>=2`) or a wheel (path or URL) is not. Relative paths start
/// at `cwd`.
pub fn is_source(req: &str, cwd: &Path) -> bool {
    if let Some(url) = url_of(req) {
        if VCS_PREFIXES.iter().any(|p| url.starts_with(p)) {
            return true;
        }
        let path = url.split(['#', '?']).next().unwrap_or(url);
        return !path.ends_with(".whl");
    }
    // A local path, possibly with extras (`./app[web]`) or a marker.
    let req = req.split(';').next().unwrap_or(req).trim();
    let path_text = match req.rfind('[') {
        Some(i) if req.ends_with(']') => &req[..i],
        _ => req,
    };
    let path = cwd.join(path_text);
    let looks_like_path = path_text.contains('/') || path_text.starts_with('.');
    if path.is_dir() {
        // pip takes a bare name as a directory only when it holds a project.
        looks_like_path || path.join("pyproject.toml").is_file() || path.join("setup.py").is_file()
    } else if path.is_file() {
        let name = path_text.to_ascii_lowercase();
        SDIST_SUFFIXES.iter().any(|s| name.ends_with(s))
    } else {
        false
    }
}

/// Returns a description of the cross target for messages, e.g.
/// `CPython 3.12 on manylinux2014_x86_64`.
pub fn describe_target(interp: &Interpreter, target: &CrossTarget) -> String {
    let implementation = match target.implementation.as_deref() {
        Some("cp") => "CPython".to_string(),
        Some(other) => other.to_string(),
        None if interp.implementation == "cpython" => "CPython".to_string(),
        None => interp.implementation.clone(),
    };
    let (major, minor) = target
        .python_version
        .unwrap_or((interp.version.0, interp.version.1));
    let platforms = if target.platforms.is_empty() {
        interp.platform.clone()
    } else {
        target.platforms.join(" / ")
    };
    let mut text = format!("{implementation} {major}.{minor} on {platforms}");
    if !target.abis.is_empty() {
        text.push_str(&format!(", ABI {}", target.abis.join(" / ")));
    }
    text
}

/// Builds each of `sources` (requirements for which [`is_source`] holds) into a wheel under
/// `dir` with `pip wheel --no-deps`, run by `interp` with `options`' package sources, and
/// checks that the wheel runs on `target`. Returns the wheels in the order of `sources`.
pub fn build_sources(
    interp: &Interpreter,
    options: &PipOptions,
    target: &CrossTarget,
    sources: &[String],
    dir: &Path,
    stream: bool,
) -> Result<Vec<Built>, ResolveError> {
    let mut accepted: Option<BTreeSet<String>> = None;
    let mut built = Vec::new();
    for (i, requirement) in sources.iter().enumerate() {
        // One pip run per requirement, into its own directory: the wheel names its source.
        let out = super::create_dir(dir.join(i.to_string()))?;
        let build_options = PipOptions {
            requirements: vec![requirement.clone()],
            requirement_files: Vec::new(),
            constraint_files: Vec::new(),
            extra_args: vec![OsString::from("--no-deps")],
            ..options.clone()
        };
        run_pip(&mut pip_command(interp, &build_options, None, &out), stream)?;
        for wheel in list_wheels(&out)? {
            let file = wheel
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let parsed: WheelFilename =
                file.parse()
                    .map_err(|err: crate::install::filename::FilenameError| {
                        ResolveError::Wheelhouse {
                            path: wheel.clone(),
                            source: std::io::Error::other(err.to_string()),
                        }
                    })?;
            let runs = is_pure(&parsed) || {
                if accepted.is_none() {
                    accepted = Some(target_tags(interp, target)?);
                }
                let accepted = accepted.as_ref().expect("computed above");
                parsed.tags().iter().any(|tag| accepted.contains(tag))
            };
            if !runs {
                return Err(ResolveError::CrossIncompatible {
                    project: parsed.name.clone(),
                    requirement: requirement.clone(),
                    wheel: file,
                    tag: format!(
                        "{}-{}-{}",
                        parsed.python_tags.join("."),
                        parsed.abi_tags.join("."),
                        parsed.platform_tags.join(".")
                    ),
                    target: describe_target(interp, target),
                });
            }
            built.push(Built {
                requirement: requirement.clone(),
                wheel,
                name: normalize_name(&parsed.name),
            });
        }
    }
    Ok(built)
}

/// Returns true if and only if the wheel runs on any Python 3 (`py3-none-any`, `py2.py3-none-any`).
fn is_pure(wheel: &WheelFilename) -> bool {
    wheel.tags().iter().any(|t| t == "py3-none-any")
}

/// Returns the `python-abi-platform` tags pip accepts for `target` (see `target_tags.py`).
fn target_tags(
    interp: &Interpreter,
    target: &CrossTarget,
) -> Result<BTreeSet<String>, ResolveError> {
    Ok(ranked_target_tags(interp, target)?.into_iter().collect())
}

/// Returns the `python-abi-platform` tags pip accepts for `target`, best first.
pub fn ranked_target_tags(
    interp: &Interpreter,
    target: &CrossTarget,
) -> Result<Vec<String>, ResolveError> {
    let args = serde_json::json!({
        "platforms": target.platforms,
        "version": target.python_version.map(|(major, minor)| [major, minor]),
        "implementation": target.implementation,
        "abis": target.abis,
    });
    let mut cmd = Command::new(&interp.executable);
    cmd.args(["-I", "-c", TARGET_TAGS_SCRIPT])
        .arg(args.to_string());
    let command = quote_command(&cmd);
    let output = cmd.output().map_err(ResolveError::Spawn)?;
    if !output.status.success() {
        return Err(ResolveError::PipFailed {
            command,
            status: output.status.to_string(),
            tail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

/// Returns the project name a requirement names without building anything: the name of a
/// specifier (`Requests[socks]>=2` → `requests`) or of a direct reference (`x @ url`), or the
/// project of a wheel file or URL; `None` for a local path or any other source requirement
/// (relative paths start at `cwd`), and for one with an environment marker (it may rightly be
/// left out).
pub fn named_project(req: &str, cwd: &Path) -> Option<String> {
    let req = req.trim();
    if req.contains(';') {
        return None;
    }
    let wheel_name = |path: &str| {
        let path = path.split(['#', '?']).next().unwrap_or(path);
        let file = path.rsplit('/').next().unwrap_or(path);
        file.parse::<WheelFilename>()
            .ok()
            .map(|w| normalize_name(&w.name))
    };
    if let Some(url) = url_of(req) {
        return match req.split_once('@') {
            // `name @ url`, maybe with extras: `name[extra] @ url`
            Some((name, _)) if url != req => specifier_name(name.trim()),
            _ => wheel_name(url),
        };
    }
    if req.ends_with(".whl") {
        return wheel_name(req);
    }
    let lower = req.to_ascii_lowercase();
    if cwd.join(req).exists() || SDIST_SUFFIXES.iter().any(|s| lower.ends_with(s)) {
        return None;
    }
    specifier_name(req)
}

/// Returns the normalised name at the start of the specifier `req` (`name`, `name[x]>=1`,
/// `name (>=1)`), or `None` when `req` does not start with one.
fn specifier_name(req: &str) -> Option<String> {
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .unwrap_or(req.len());
    let name = &req[..end];
    let rest = req[end..].trim_start();
    let specifier_follows =
        rest.is_empty() || rest.starts_with(['[', '<', '>', '=', '!', '~', '(']);
    let valid = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    (valid && specifier_follows).then(|| normalize_name(name))
}

/// Fails when a requirement named on the command line has no wheel in `wheels`: pip (or uv)
/// resolved without it. `built` are the source requirements built for a cross build; other
/// source requirements (built by pip itself) cannot be named before they are built and are
/// not checked.
pub fn check_named(
    requirements: &[String],
    built: &[Built],
    wheels: &[PathBuf],
    cwd: &Path,
) -> Result<(), ResolveError> {
    let present: BTreeSet<String> = wheels
        .iter()
        .filter_map(|w| w.file_name()?.to_str()?.parse::<WheelFilename>().ok())
        .map(|w| normalize_name(&w.name))
        .collect();
    for requirement in requirements {
        let name = match built.iter().find(|b| &b.requirement == requirement) {
            Some(b) => Some(b.name.clone()),
            None => named_project(requirement, cwd),
        };
        if let Some(name) = name
            && !present.contains(&name)
        {
            return Err(ResolveError::LeftOut {
                requirement: requirement.clone(),
                project: name,
            });
        }
    }
    Ok(())
}

/// Returns the first line of the requirements files `files` that pip would build from source
/// (see [`is_source`]; `-e`/`--editable` lines too), as (file, line number, line).
pub fn source_in_files(files: &[PathBuf], cwd: &Path) -> Option<(PathBuf, usize, String)> {
    for file in files {
        let Ok(text) = fs_err::read_to_string(file) else {
            continue; // pip reports an unreadable file itself
        };
        let base = file.parent().unwrap_or(cwd);
        for (n, raw) in text.lines().enumerate() {
            let line = match raw.find(" #") {
                Some(i) => &raw[..i],
                None => raw,
            }
            .trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let source = if let Some(rest) = line
                .strip_prefix("-e ")
                .or_else(|| line.strip_prefix("--editable"))
            {
                !rest.trim().is_empty()
            } else if line.starts_with('-') {
                false
            } else {
                is_source(line, cwd) || is_source(line, base)
            };
            if source {
                return Some((file.clone(), n + 1, line.to_string()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_requirements() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path();
        fs_err::create_dir_all(cwd.join("app")).unwrap();
        fs_err::create_dir_all(cwd.join("proj")).unwrap();
        fs_err::write(cwd.join("proj/pyproject.toml"), "").unwrap();
        fs_err::create_dir_all(cwd.join("six")).unwrap();
        fs_err::write(cwd.join("x-1.0.tar.gz"), "").unwrap();
        fs_err::write(cwd.join("x-1.0-py3-none-any.whl"), "").unwrap();
        for source in [
            "./app",
            "app/",
            "./app[web]",
            "proj",
            "x-1.0.tar.gz",
            "git+https://host/x.git@v1#egg=x",
            "x @ git+https://host/x.git",
            "x @ https://host/x-1.0.tar.gz",
            "https://host/archive/main.zip",
            "file:///src/proj",
        ] {
            assert!(is_source(source, cwd), "{source}");
        }
        for not_source in [
            "requests>=2",
            "six",
            "x-1.0-py3-none-any.whl",
            "x @ https://host/x-1.0-py3-none-any.whl",
            "https://user@host/x-1.0-py3-none-any.whl",
            "missing-dir/",
        ] {
            assert!(!is_source(not_source, cwd), "{not_source}");
        }
    }

    #[test]
    fn names_of_requirements() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path();
        fs_err::create_dir_all(cwd.join("proj")).unwrap();
        let name = |req: &str| named_project(req, cwd);
        assert_eq!(name("Requests[socks]>=2").as_deref(), Some("requests"));
        assert_eq!(name("zope.interface").as_deref(), Some("zope-interface"));
        assert_eq!(name("pyrsistent >= 0.19").as_deref(), Some("pyrsistent"));
        assert_eq!(name("six (>=1)").as_deref(), Some("six"));
        assert_eq!(name("x[a] @ https://h/x.tar.gz").as_deref(), Some("x"));
        assert_eq!(name("x @ git+https://h/x.git@v1").as_deref(), Some("x"));
        assert_eq!(
            name("dist/My_Pkg-1.0-py3-none-any.whl").as_deref(),
            Some("my-pkg")
        );
        assert_eq!(
            name("https://h/a/six-1.17.0-py2.py3-none-any.whl#sha256=0").as_deref(),
            Some("six")
        );
        for unnamed in [
            "./app",
            "proj",
            "x-1.0.tar.gz",
            "x; python_version < '3'",
            "git+https://host/x.git",
            "https://h/x.tar.gz",
        ] {
            assert_eq!(name(unnamed), None, "{unnamed}");
        }
    }

    #[test]
    fn every_named_requirement_is_checked() {
        let wheels = [
            PathBuf::from("/w/pyrsistent-0.20.0-cp312-cp312-manylinux2014_x86_64.whl"),
            PathBuf::from("/w/crossapp-1.0.0-py3-none-any.whl"),
        ];
        let built = [Built {
            requirement: "./app".into(),
            wheel: PathBuf::from("/b/crossapp-1.0.0-py3-none-any.whl"),
            name: "crossapp".into(),
        }];
        let given = |reqs: &[&str]| reqs.iter().map(|r| (*r).to_string()).collect::<Vec<_>>();
        let cwd = Path::new("/nonexistent");
        assert!(check_named(&given(&["./app", "pyrsistent>=0.19"]), &built, &wheels, cwd).is_ok());
        let err = check_named(
            &given(&["./app", "pyrsistent", "six"]),
            &built,
            &wheels,
            cwd,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the requirement `six` is not in the resolved set"),
            "{err}"
        );
        let other = [Built {
            requirement: "./other".into(),
            wheel: PathBuf::new(),
            name: "other".into(),
        }];
        let err = check_named(&given(&["./other"]), &other, &wheels, cwd).unwrap_err();
        assert!(err.to_string().contains("`./other`"), "{err}");
    }

    #[test]
    fn requirement_files() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path();
        fs_err::create_dir_all(cwd.join("app")).unwrap();
        let file = cwd.join("req.txt");
        fs_err::write(&file, "# c\n--index-url https://x\nsix>=1 # pinned\n").unwrap();
        assert_eq!(source_in_files(std::slice::from_ref(&file), cwd), None);
        fs_err::write(&file, "six\n./app\n").unwrap();
        assert_eq!(
            source_in_files(std::slice::from_ref(&file), cwd),
            Some((file.clone(), 2, "./app".to_string()))
        );
        fs_err::write(&file, "-e git+https://h/x.git#egg=x\n").unwrap();
        assert_eq!(
            source_in_files(std::slice::from_ref(&file), cwd).map(|s| s.1),
            Some(1)
        );
    }

    #[test]
    fn target_description() {
        let interp: Interpreter = serde_json::from_str(
            r#"{"executable":"/usr/bin/python3","implementation":"cpython","version":[3,11,7],
            "cache_tag":"cpython-311","ext_suffix":".so","platform":"linux-x86_64","sys_platform":"linux",
            "machine":"x86_64","multiarch":null,"magic":"a70d0d0a","pip":true}"#,
        )
        .unwrap();
        let target = CrossTarget {
            platforms: vec!["manylinux2014_x86_64".into()],
            python_version: Some((3, 12)),
            ..CrossTarget::default()
        };
        assert_eq!(
            describe_target(&interp, &target),
            "CPython 3.12 on manylinux2014_x86_64"
        );
    }
}
