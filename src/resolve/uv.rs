//! The uv resolver backend (`--resolver uv`). uv resolves (`uv pip compile --format pylock.toml`,
//! PEP 751) for the target interpreter; the lock names the exact wheel files with their sha256.
//! `fetch.py`, run by the target interpreter, picks for every package the wheel pip would pick
//! (the best tag of the interpreter), and puts it into the same staging wheelhouse the pip
//! backend fills: local files are linked, remote ones come from a download cache keyed by
//! sha256. Packages without a wheel (sdists, local projects, VCS checkouts) are built with
//! `pip wheel --no-deps`. Every staged wheel is checked against the lock's hash. The install and
//! pack stages then see the same wheel files as with pip, so the bundle has the same bytes.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use rayon::prelude::*;
use serde::Deserialize;

use super::{ResolveError, quote_command, run_captured};
use crate::config::PipOptions;
use crate::fsutil::sha256_file;
use crate::pylock::percent_decode;
use crate::python::Interpreter;

/// The embedded fetcher, run with `python -I -c`.
const FETCH_SCRIPT: &str = include_str!("fetch.py");

/// The environment variable naming the uv binary to use.
pub const UV_ENV: &str = "PYBUNDLE_UV";
/// The environment variable naming the wheel download cache directory.
pub const WHEEL_CACHE_ENV: &str = "PYBUNDLE_WHEEL_CACHE";

/// Returns the uv binary: `$PYBUNDLE_UV`, else `uv` on PATH, else the one installed in
/// `python`'s environment (the `uv` package from the registry, `python -m uv`).
pub fn find_uv(python: &Path) -> Result<PathBuf, ResolveError> {
    if let Some(path) = std::env::var_os(UV_ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(ResolveError::UvMissing {
                python: python.display().to_string(),
                detail: format!("${UV_ENV} is `{}`, which is not a file", path.display()),
            })
        };
    }
    if let Some(path) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("uv"))
            .find(|p| p.is_file())
    }) {
        return Ok(path);
    }
    let output = Command::new(python)
        .args(["-I", "-c", "import uv; print(uv.find_uv_bin())"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    if let Ok(output) = output
        && output.status.success()
    {
        let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(ResolveError::UvMissing {
        python: python.display().to_string(),
        detail: format!(
            "no ${UV_ENV}, no `uv` on PATH, and `{}` has no `uv` package",
            python.display()
        ),
    })
}

/// Returns the wheel download cache: `$PYBUNDLE_WHEEL_CACHE`, else
/// `${XDG_CACHE_HOME:-~/.cache}/pybundle/wheels`; `None` when neither can be found.
pub fn wheel_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(WHEEL_CACHE_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("pybundle").join("wheels"))
}

/// Returns the `uv pip compile` command that writes `lock` (a `pylock.toml`) for `options`,
/// resolving for `interp`; `inline` is the file holding the command-line requirements. With
/// `quiet` uv prints errors only (otherwise it also echoes the lock on stdout).
pub fn compile_command(
    uv: &Path,
    interp: &Interpreter,
    options: &PipOptions,
    inline: Option<&Path>,
    lock: &Path,
    quiet: bool,
) -> Command {
    let mut cmd = Command::new(uv);
    cmd.args([
        "pip",
        "compile",
        "--format",
        "pylock.toml",
        "--no-header",
        "--color",
        "never",
        "--no-progress",
    ]);
    if quiet {
        cmd.arg("--quiet");
    }
    cmd.arg("--python").arg(&interp.executable);
    cmd.arg("--output-file").arg(lock);
    super::index_args(&mut cmd, options);
    if !options.extra_index_urls.is_empty() {
        // pip picks the best version across all indexes; uv's default stops at the first.
        cmd.args(["--index-strategy", "unsafe-best-match"]);
    }
    if options.pre {
        cmd.args(["--prerelease", "allow"]);
    }
    for file in &options.constraint_files {
        cmd.arg("--constraints").arg(file);
    }
    cmd.args(&options.requirement_files);
    if let Some(inline) = inline {
        cmd.arg(inline);
    }
    cmd.args(&options.extra_args);
    cmd
}

/// Returns the command-line requirements as the lines of a requirements file: requirements that
/// name an existing local path (`.`, `./proj`, `dist/x.whl`) are made absolute against `cwd`,
/// since uv reads them relative to the file.
pub fn inline_requirements(requirements: &[String], cwd: &Path) -> String {
    let mut text = String::new();
    for req in requirements {
        let path = cwd.join(req);
        if !req.contains("://") && path.exists() {
            let clean: PathBuf = path.components().collect();
            text.push_str(&clean.display().to_string());
        } else {
            text.push_str(req);
        }
        text.push('\n');
    }
    text
}

/// The parts of a PEP 751 `pylock.toml` this backend reads.
#[derive(Debug, Deserialize)]
struct Lock {
    #[serde(default)]
    packages: Vec<LockPackage>,
}

#[derive(Debug, Deserialize)]
struct LockPackage {
    name: String,
    version: Option<String>,
    wheels: Option<Vec<LockFile>>,
    sdist: Option<LockFile>,
    archive: Option<LockFile>,
    directory: Option<LockDirectory>,
    vcs: Option<LockVcs>,
}

#[derive(Debug, Deserialize)]
struct LockFile {
    name: Option<String>,
    url: Option<String>,
    path: Option<String>,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct LockDirectory {
    path: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct LockVcs {
    #[serde(rename = "type")]
    kind: String,
    url: Option<String>,
    path: Option<String>,
    commit_id: Option<String>,
    subdirectory: Option<String>,
}

/// One wheel a locked package can be installed from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Candidate {
    /// The wheel's file name.
    pub filename: String,
    /// Where to download it from (remote files).
    pub url: Option<String>,
    /// Where it is (local files).
    pub path: Option<PathBuf>,
    /// Its sha256, when the lock has one.
    pub sha256: Option<String>,
}

/// What the lock says to put into the wheelhouse.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Per package, the wheels uv found compatible with the target (one is chosen).
    pub wheels: Vec<Vec<Candidate>>,
    /// Packages without a wheel: what `pip wheel --no-deps` builds (a path or a URL).
    pub builds: Vec<String>,
}

/// Reads the lock text (`lock_dir` is the directory relative paths start from).
pub fn plan_from_lock(text: &str, lock_dir: &Path) -> Result<Plan, String> {
    let lock: Lock = toml::from_str(text).map_err(|err| err.message().to_string())?;
    let mut plan = Plan::default();
    for package in &lock.packages {
        match package.install_from(lock_dir)? {
            InstallFrom::Wheels(candidates) => plan.wheels.push(candidates),
            InstallFrom::Build(target) => plan.builds.push(target),
        }
    }
    Ok(plan)
}

/// How a locked package gets into the wheelhouse.
enum InstallFrom {
    /// One of these wheels.
    Wheels(Vec<Candidate>),
    /// What `pip wheel --no-deps` builds (a path or a URL).
    Build(String),
}

impl LockPackage {
    /// Returns how to install the package, preferring its wheels, then its archive, sdist,
    /// directory and VCS source, in that order.
    fn install_from(&self, lock_dir: &Path) -> Result<InstallFrom, String> {
        if let Some(wheels) = &self.wheels {
            let candidates: Vec<Candidate> = wheels
                .iter()
                .filter_map(|file| file.candidate(lock_dir))
                .filter(|c| c.filename.ends_with(".whl"))
                .collect();
            if !candidates.is_empty() {
                return Ok(InstallFrom::Wheels(candidates));
            }
        }
        if let Some(archive) = &self.archive
            && let Some(candidate) = archive.candidate(lock_dir)
        {
            return Ok(if candidate.filename.ends_with(".whl") {
                InstallFrom::Wheels(vec![candidate])
            } else {
                InstallFrom::Build(build_target(&candidate))
            });
        }
        if let Some(sdist) = &self.sdist
            && let Some(candidate) = sdist.candidate(lock_dir)
        {
            return Ok(InstallFrom::Build(build_target(&candidate)));
        }
        if let Some(dir) = &self.directory {
            let path = normalize(&lock_dir.join(&dir.path));
            return Ok(InstallFrom::Build(path.display().to_string()));
        }
        if let Some(vcs) = &self.vcs {
            return match vcs.build_target(lock_dir) {
                Some(target) => Ok(InstallFrom::Build(target)),
                None => Err(format!(
                    "`{}` has a VCS source without a URL",
                    self.describe()
                )),
            };
        }
        Err(format!(
            "`{}` has no wheel, sdist, archive, directory or VCS source",
            self.describe()
        ))
    }

    /// Returns `name version`, for messages.
    fn describe(&self) -> String {
        match &self.version {
            Some(v) => format!("{} {v}", self.name),
            None => self.name.clone(),
        }
    }
}

impl LockFile {
    /// Returns where to get the file (a path relative to `lock_dir`, a `file://` URL read as a
    /// path, or a URL) and its name (given, else the URL's or path's last component); `None`
    /// when the lock gives neither a path nor a URL.
    fn candidate(&self, lock_dir: &Path) -> Option<Candidate> {
        let (url, path) = match (&self.url, &self.path) {
            (_, Some(path)) => (None, Some(normalize(&lock_dir.join(path)))),
            (Some(url), None) => match url.strip_prefix("file://") {
                Some(rest) => (None, Some(PathBuf::from(percent_decode(rest)))),
                None => (Some(url.clone()), None),
            },
            (None, None) => return None,
        };
        let filename = match &self.name {
            Some(name) => name.clone(),
            None => match (&url, &path) {
                (Some(url), _) => {
                    let last = url.split(['#', '?']).next().unwrap_or(url);
                    percent_decode(last.rsplit('/').next().unwrap_or(last))
                }
                (None, Some(path)) => path.file_name()?.to_string_lossy().into_owned(),
                (None, None) => return None,
            },
        };
        Some(Candidate {
            filename,
            url,
            path,
            sha256: self.hashes.get("sha256").map(|h| h.to_ascii_lowercase()),
        })
    }
}

impl LockVcs {
    /// Returns the pip requirement that builds this source (`git+URL@commit#subdirectory=…`);
    /// `None` when the lock gives neither a URL nor a path.
    fn build_target(&self, lock_dir: &Path) -> Option<String> {
        let repo = match (&self.url, &self.path) {
            (Some(url), _) => url.clone(),
            (None, Some(path)) => format!("file://{}", normalize(&lock_dir.join(path)).display()),
            (None, None) => return None,
        };
        let mut target = format!("{}+{repo}", self.kind);
        if let Some(commit) = &self.commit_id {
            target.push('@');
            target.push_str(commit);
        }
        if let Some(sub) = &self.subdirectory {
            target.push_str("#subdirectory=");
            target.push_str(sub);
        }
        Some(target)
    }
}

/// Returns `path` with `.` and `..` components resolved lexically (`/stage/uv/../p` → `/stage/p`).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(component);
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Returns what pip is given to build `candidate` (an sdist or an archive).
fn build_target(candidate: &Candidate) -> String {
    match (&candidate.path, &candidate.url) {
        (Some(path), _) => path.display().to_string(),
        (None, Some(url)) => url.clone(),
        (None, None) => candidate.filename.clone(),
    }
}

/// What `fetch.py` reports.
#[derive(Debug, Deserialize)]
struct Fetched {
    chosen: Vec<String>,
    /// With `strict`: the packages (indexes into the plan's wheels) without a wheel for the
    /// target; nothing was fetched then.
    #[serde(default)]
    unusable: Vec<usize>,
}

/// Resolves `options` with uv for `interp` and fills `wheel_dir`; `work_dir` holds the lock.
/// Returns the staged wheels, sorted by file name.
pub fn resolve(
    interp: &Interpreter,
    options: &PipOptions,
    wheel_dir: &Path,
    work_dir: &Path,
    stream: bool,
) -> Result<Vec<PathBuf>, ResolveError> {
    let uv = find_uv(&interp.executable)?;
    let fetcher = Fetcher::spawn(interp)?;
    fs_err::create_dir_all(work_dir).map_err(super::wheelhouse_error(work_dir))?;
    let inline = if options.requirements.is_empty() {
        None
    } else {
        let cwd = std::env::current_dir().map_err(super::wheelhouse_error(Path::new(".")))?;
        let file = work_dir.join("requirements.in");
        fs_err::write(&file, inline_requirements(&options.requirements, &cwd))
            .map_err(super::wheelhouse_error(&file))?;
        Some(file)
    };
    let lock = work_dir.join("pylock.toml");
    let mut cmd = compile_command(&uv, interp, options, inline.as_deref(), &lock, !stream);
    run_uv(&mut cmd, stream)?;
    let text = fs_err::read_to_string(&lock).map_err(super::wheelhouse_error(&lock))?;
    let plan = plan_from_lock(&text, work_dir).map_err(|message| ResolveError::BadLock {
        path: lock.clone(),
        message,
    })?;

    fetcher.run(&plan, wheel_dir)?;
    if !plan.builds.is_empty() {
        build_wheels(interp, options, &plan.builds, wheel_dir, stream)?;
    }
    super::list_wheels(wheel_dir)
}

/// Runs a uv command, its failure as [`ResolveError::UvFailed`] with the output's tail.
pub(crate) fn run_uv(cmd: &mut Command, stream: bool) -> Result<(), ResolveError> {
    let command = quote_command(cmd);
    run_captured("uv", cmd, stream).map_err(|failure| match failure {
        Err(source) => ResolveError::ToolSpawn { tool: "uv", source },
        Ok((status, tail)) => ResolveError::UvFailed {
            command,
            status,
            tail,
        },
    })
}

/// `fetch.py`, started before uv runs so that the interpreter's start-up and its tag list
/// overlap with the resolution; it waits for its job on stdin. Dropped unused, it is stopped.
pub(super) struct Fetcher {
    child: Option<Child>,
    _on_signal: crate::interrupt::Guard,
}

impl Fetcher {
    pub(super) fn spawn(interp: &Interpreter) -> Result<Fetcher, ResolveError> {
        let child = crate::interrupt::own_group(&mut Command::new(&interp.executable))
            .args(["-I", "-c", FETCH_SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| ResolveError::ToolSpawn {
                tool: "python",
                source,
            })?;
        Ok(Fetcher {
            _on_signal: crate::interrupt::child(child.id()),
            child: Some(child),
        })
    }

    /// Puts the chosen wheels of `plan` into `wheel_dir`, then checks each against the lock's
    /// sha256.
    fn run(self, plan: &Plan, wheel_dir: &Path) -> Result<(), ResolveError> {
        self.run_with(plan, wheel_dir, None, false).map(|_| ())
    }

    /// Like `run`, choosing by `tags` (the target's, best first) instead of the interpreter's;
    /// with `strict`, returns the packages (indexes into `plan.wheels`) that have no wheel with
    /// one of those tags, and then fetches nothing.
    pub(super) fn run_with(
        mut self,
        plan: &Plan,
        wheel_dir: &Path,
        tags: Option<&[String]>,
        strict: bool,
    ) -> Result<Vec<usize>, ResolveError> {
        let spawn = |source| ResolveError::ToolSpawn {
            tool: "python",
            source,
        };
        {
            use std::io::Write;
            // On a failed write `self` is dropped, which stops the fetcher.
            let child = self.child.as_mut().expect("a fetcher runs once");
            let mut stdin = child.stdin.take().expect("stdin is piped");
            if !plan.wheels.is_empty() {
                let job = serde_json::json!({
                    "cache": wheel_cache_dir(),
                    "dest": wheel_dir,
                    "packages": plan.wheels,
                    "tags": tags,
                    "strict": strict,
                });
                stdin.write_all(job.to_string().as_bytes()).map_err(spawn)?;
            }
        }
        let child = self.child.take().expect("a fetcher runs once");
        let output = child.wait_with_output().map_err(spawn)?;
        if !output.status.success() {
            return Err(ResolveError::FetchFailed {
                message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        if plan.wheels.is_empty() {
            return Ok(Vec::new());
        }
        check_fetched(&output.stdout, plan, wheel_dir)
    }
}

impl Drop for Fetcher {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Checks every wheel `fetch.py` reports (its JSON `answer`) against the lock's sha256; returns
/// the packages it found no wheel for (strict mode).
fn check_fetched(answer: &[u8], plan: &Plan, wheel_dir: &Path) -> Result<Vec<usize>, ResolveError> {
    let fetched: Fetched =
        serde_json::from_slice(answer).map_err(|err| ResolveError::FetchFailed {
            message: format!("unreadable answer from the fetcher: {err}"),
        })?;
    if !fetched.unusable.is_empty() {
        return Ok(fetched.unusable);
    }
    let expected: BTreeMap<&str, Option<&str>> = plan
        .wheels
        .iter()
        .flatten()
        .map(|c| (c.filename.as_str(), c.sha256.as_deref()))
        .collect();
    fetched.chosen.par_iter().try_for_each(|name| {
        let Some(Some(sha)) = expected.get(name.as_str()) else {
            return Ok(());
        };
        let file = wheel_dir.join(name);
        let (actual, _) = sha256_file(&file).map_err(|source| ResolveError::Wheelhouse {
            path: file.clone(),
            source,
        })?;
        if actual == *sha {
            Ok(())
        } else {
            // A damaged cache entry would fail every build: drop it so the next one downloads.
            if let Some(cache) = wheel_cache_dir() {
                let _ = fs_err::remove_file(cache.join(sha));
            }
            Err(ResolveError::HashMismatch {
                file: name.clone(),
                expected: sha.to_string(),
                actual,
            })
        }
    })?;
    Ok(Vec::new())
}

/// Builds the packages uv found no wheel for with `pip wheel --no-deps`.
fn build_wheels(
    interp: &Interpreter,
    options: &PipOptions,
    builds: &[String],
    wheel_dir: &Path,
    stream: bool,
) -> Result<(), ResolveError> {
    if !interp.pip {
        return Err(super::no_pip(interp));
    }
    let build_options = PipOptions {
        requirements: builds.to_vec(),
        requirement_files: Vec::new(),
        extra_args: vec![OsString::from("--no-deps")],
        ..options.clone()
    };
    super::run_pip(
        &mut super::pip_command(interp, &build_options, None, wheel_dir),
        stream,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_to_plan() {
        let text = r#"
lock-version = "1.0"
created-by = "uv"

[[packages]]
name = "black"
version = "26.10.1"
sdist = { url = "https://x/black-26.10.1.tar.gz", hashes = { sha256 = "aa" } }
wheels = [
    { url = "https://x/black-26.10.1-cp311-cp311-manylinux_2_17_x86_64.whl", upload-time = 2026-10-10T04:18:40Z, size = 1, hashes = { sha256 = "BB" } },
    { url = "https://x/black-26.10.1-py3-none-any.whl", hashes = { sha256 = "cc" } },
]

[[packages]]
name = "six"
version = "1.17.0"
wheels = [{ url = "file:///w/wh/six-1.17.0-py2.py3-none-any.whl", hashes = { sha256 = "dd" } }]

[[packages]]
name = "local"
version = "1.0+x"
wheels = [{ url = "https://x/local-1.0%2Bx-py3-none-any.whl" }]

[[packages]]
name = "pyyaml"
version = "6.0.2"
sdist = { url = "https://x/pyyaml-6.0.2.tar.gz", hashes = { sha256 = "ee" } }

[[packages]]
name = "pj"
directory = { path = "../proj" }

[[packages]]
name = "g"
vcs = { type = "git", url = "https://g/x.git", commit-id = "abc", subdirectory = "sub" }
"#;
        let plan = plan_from_lock(text, Path::new("/stage/uv")).unwrap();
        assert_eq!(plan.wheels.len(), 3);
        assert_eq!(plan.wheels[0].len(), 2);
        assert_eq!(
            plan.wheels[0][0].filename,
            "black-26.10.1-cp311-cp311-manylinux_2_17_x86_64.whl"
        );
        assert_eq!(plan.wheels[0][0].sha256.as_deref(), Some("bb"));
        assert_eq!(
            plan.wheels[1][0],
            Candidate {
                filename: "six-1.17.0-py2.py3-none-any.whl".into(),
                url: None,
                path: Some(PathBuf::from("/w/wh/six-1.17.0-py2.py3-none-any.whl")),
                sha256: Some("dd".into()),
            }
        );
        assert_eq!(plan.wheels[2][0].filename, "local-1.0+x-py3-none-any.whl");
        assert_eq!(plan.wheels[2][0].sha256, None);
        assert_eq!(
            plan.builds,
            vec![
                "https://x/pyyaml-6.0.2.tar.gz".to_string(),
                "/stage/proj".to_string(),
                "git+https://g/x.git@abc#subdirectory=sub".to_string(),
            ]
        );
    }

    #[test]
    fn uv_argv() {
        let interp: Interpreter = serde_json::from_str(
            r#"{"executable":"/usr/bin/python3","implementation":"cpython","version":[3,11,7],
            "cache_tag":"cpython-311","ext_suffix":".so","platform":"linux-x86_64","sys_platform":"linux",
            "machine":"x86_64","multiarch":null,"magic":"a70d0d0a","pip":true}"#,
        )
        .unwrap();
        let options = PipOptions {
            requirements: vec!["requests>=2".into()],
            requirement_files: vec![PathBuf::from("/w/req.txt")],
            constraint_files: vec![PathBuf::from("/w/c.txt")],
            find_links: vec!["/w/wheels".into()],
            no_index: true,
            extra_index_urls: vec!["https://x/simple".into()],
            pre: true,
            ..PipOptions::default()
        };
        let cmd = compile_command(
            Path::new("/bin/uv"),
            &interp,
            &options,
            Some(Path::new("/s/requirements.in")),
            Path::new("/s/pylock.toml"),
            true,
        );
        assert_eq!(
            quote_command(&cmd),
            "/bin/uv pip compile --format pylock.toml --no-header --color never --no-progress \
             --quiet --python /usr/bin/python3 --output-file /s/pylock.toml --no-index \
             --find-links /w/wheels --extra-index-url https://x/simple \
             --index-strategy unsafe-best-match --prerelease allow --constraints /w/c.txt \
             /w/req.txt /s/requirements.in"
        );
    }

    #[test]
    fn bad_lock() {
        let err = plan_from_lock("[[packages]]\nname = \"x\"\n", Path::new("/")).unwrap_err();
        assert!(err.contains("`x` has no wheel"), "{err}");
    }

    #[test]
    fn inline_paths_become_absolute() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir(dir.path().join("proj")).unwrap();
        let text = inline_requirements(&["./proj".into(), "requests>=2".into()], dir.path());
        assert_eq!(
            text,
            format!("{}\nrequests>=2\n", dir.path().join("proj").display())
        );
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%2Bb%20c%zz%2"), "a+b c%zz%2");
    }
}
