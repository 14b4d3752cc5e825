//! Shared test support: an isolated [`TestContext`] (its own HOME, caches and extraction root,
//! pip kept offline; the build's bytecode cache lives in its `XDG_CACHE_HOME`), interpreter
//! discovery, the fixture application's wheels (including a C extension compiled with gcc), and
//! [`wheel_builder::WheelBuilder`] for hand-made wheels.

#![allow(dead_code, reason = "each test binary uses a different subset")]

pub mod wheel_builder;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use wheel_builder::WheelBuilder;

/// Returns the repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Returns true when a missing outside tool must fail the test instead of skipping it (CI).
pub fn require_tools() -> bool {
    std::env::var_os("PYBUNDLE_TEST_REQUIRE_TOOLS").is_some_and(|v| v == "1")
}

/// Skips the current test (returns early) when `$tool` is missing, except under
/// `PYBUNDLE_TEST_REQUIRE_TOOLS=1`, where it fails.
#[macro_export]
macro_rules! require {
    ($opt:expr, $what:expr) => {
        match $opt {
            Some(v) => v,
            None => {
                if $crate::common::require_tools() {
                    panic!("required tool missing: {}", $what);
                }
                eprintln!("skipping: {} not found", $what);
                return;
            }
        }
    };
}

/// Returns a real CPython `3.minor` binary, if one is installed, found by environment:
/// `PYBUNDLE_TEST_PYTHON_3_<minor>` (a path), else the newest `$PYENV_ROOT/versions/3.<minor>.*`,
/// else `python3.<minor>` in a `PATH` directory that is not a shim directory (a pyenv shim works
/// but costs a process per call, and runs whatever version pyenv selects).
pub fn python(minor: u32) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(format!("PYBUNDLE_TEST_PYTHON_3_{minor}")) {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    if let Some(root) = std::env::var_os("PYENV_ROOT")
        && let Ok(entries) = std::fs::read_dir(Path::new(&root).join("versions"))
    {
        let mut found: Vec<(Vec<u32>, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let rest = name.strip_prefix(&format!("3.{minor}."))?;
                let patch: u32 = rest.parse().ok()?;
                Some((vec![patch], e.path().join("bin/python")))
            })
            .filter(|(_, p)| p.is_file())
            .collect();
        found.sort();
        if let Some((_, path)) = found.pop() {
            return Some(path);
        }
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .filter(|d| !d.components().any(|c| c.as_os_str() == "shims"))
        .map(|d| d.join(format!("python3.{minor}")))
        .find(|p| p.is_file())
}

/// The CPython 3.11 the core suite builds for.
pub fn python311() -> PathBuf {
    python(11)
        .or_else(|| which("python3"))
        .expect("a Python 3 interpreter is required")
}

/// Returns the first `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Returns a uv binary: `$PYBUNDLE_UV`, else `uv` on PATH, else the one the `uv` package of
/// CPython 3.11 ships (what `pybundle --resolver uv` finds too).
pub fn uv() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PYBUNDLE_UV").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    if let Some(path) = which("uv") {
        return Some(path);
    }
    let out = Command::new(python(11)?)
        .args(["-I", "-c", "import uv; print(uv.find_uv_bin())"])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (out.status.success() && path.is_file()).then_some(path)
}

/// An isolated environment for one test.
pub struct TestContext {
    /// Temporary root; removed on drop.
    pub temp: tempfile::TempDir,
}

impl TestContext {
    /// Creates a fresh context.
    pub fn new() -> TestContext {
        let temp = tempfile::Builder::new()
            .prefix("pybundle-test-")
            .tempdir()
            .expect("tempdir");
        for dir in ["home", "cache", "root", "work"] {
            std::fs::create_dir_all(temp.path().join(dir)).unwrap();
        }
        TestContext { temp }
    }

    /// Returns the temporary root.
    pub fn root(&self) -> &Path {
        self.temp.path()
    }

    /// Returns the working directory of the context (`<root>/work`).
    pub fn work(&self) -> PathBuf {
        self.root().join("work")
    }

    /// Returns the extraction root (`PYBUNDLE_ROOT`).
    pub fn bundle_root(&self) -> PathBuf {
        self.root().join("root")
    }

    fn isolate(&self, cmd: &mut Command) {
        cmd.env("HOME", self.root().join("home"))
            .env("XDG_CACHE_HOME", self.root().join("cache"))
            .env("PYBUNDLE_ROOT", self.bundle_root())
            .env("PIP_NO_INDEX", "1")
            .env("PIP_CONFIG_FILE", "/dev/null")
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env_remove("PYTHONPATH")
            .env_remove("PIP_FIND_LINKS")
            .env_remove("PYBUNDLE_VERBOSE")
            .env_remove("PYBUNDLE_CACHE_DIR")
            .env_remove("PYBUNDLE_NO_BUILD_CACHE")
            .env_remove("SOURCE_DATE_EPOCH")
            .current_dir(self.work());
    }

    /// Returns a `pybundle` command in this context.
    pub fn pybundle(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pybundle"));
        self.isolate(&mut cmd);
        cmd
    }

    /// Returns a command that runs `bundle` through its shebang, in this context.
    pub fn bundle(&self, bundle: &Path) -> Command {
        let mut cmd = Command::new(bundle);
        self.isolate(&mut cmd);
        cmd
    }

    /// Returns a command that runs `bundle` with `python`.
    pub fn bundle_with(&self, python: &Path, bundle: &Path) -> Command {
        let mut cmd = Command::new(python);
        cmd.arg(bundle);
        self.isolate(&mut cmd);
        cmd
    }

    /// Builds a bundle of `reqs` from the wheelhouse `wheels` only (`--no-index`) for `python`
    /// (also its shebang), with `flags`, into `<work>/<name>`; asserts success and returns its
    /// path.
    pub fn build_offline(
        &self,
        python: &Path,
        wheels: &Path,
        flags: &[&str],
        reqs: &[&str],
        name: &str,
    ) -> PathBuf {
        run_ok(&mut self.build_offline_command(python, wheels, flags, reqs, name));
        self.work().join(name)
    }

    /// Returns the command [`TestContext::build_offline`] runs, to add to it or to look at its
    /// output.
    pub fn build_offline_command(
        &self,
        python: &Path,
        wheels: &Path,
        flags: &[&str],
        reqs: &[&str],
        name: &str,
    ) -> Command {
        let mut cmd = self.pybundle();
        cmd.arg("-o")
            .arg(self.work().join(name))
            .args(flags)
            .arg("--python")
            .arg(python)
            .arg("-p")
            .arg(shebang(python))
            .arg("--no-index")
            .arg("--find-links")
            .arg(wheels)
            .args(reqs);
        cmd
    }

    /// Builds the fixture application (`myapp` from the wheelhouse `wheels`) for CPython 3.11
    /// with `flags` into `<work>/<out>` and returns its path.
    pub fn build_app(&self, wheels: &Path, flags: &[&str], out: &str) -> PathBuf {
        self.build_offline(&python311(), wheels, flags, &["myapp"], out)
    }

    /// Returns insta settings whose filters make this context's output stable: the temp root
    /// becomes `[ROOT]`, sha256 digests `[SHA256]`, `X.Y.Z` Python versions `X.Y.[PATCH]`.
    pub fn snapshot_settings(&self) -> insta::Settings {
        let mut settings = insta::Settings::clone_current();
        let root = self.root().display().to_string();
        settings.add_filter(&regex::escape(&root), "[ROOT]");
        settings.add_filter(r"\b[0-9a-f]{64}\b", "[SHA256]");
        settings.add_filter(r"\b3\.(\d+)\.\d+\b", "3.$1.[PATCH]");
        settings
    }

    /// Builds the fixture application's wheels (app, pure dependency, C-extension dependency)
    /// for `python` into `<root>/wheels` and returns that directory.
    pub fn fixture_wheels(&self, python: &Path) -> PathBuf {
        let dir = self.root().join("wheels");
        std::fs::create_dir_all(&dir).unwrap();
        build_fixture_wheels(python, &dir);
        dir
    }
}

/// Returns a shebang line that runs `python` directly.
pub fn shebang(python: &Path) -> String {
    python.display().to_string()
}

/// Returns the standard output of `out` as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Returns the standard error of `out` as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Returns stdout, stderr and the exit code of `output` as one block, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `cmd` and returns its output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("command runs")
}

/// Runs `cmd` and asserts it succeeded.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "command failed: {cmd:?}\n{}",
        describe(&out)
    );
    out
}

/// Copies the directory tree `from` to `to` (created), files and directories only.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy's directory");
    for entry in std::fs::read_dir(from).expect("read a fixture directory") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a fixture file");
        }
    }
}

/// Returns the interpreter's `EXT_SUFFIX` and include directory.
fn ext_facts(python: &Path) -> (String, String) {
    let out = Command::new(python)
        .args(["-c", "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX')); print(sysconfig.get_paths()['include'])"])
        .output()
        .expect("python runs");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    (
        lines.next().unwrap().to_string(),
        lines.next().unwrap().to_string(),
    )
}

/// Returns the wheel tag for native wheels of `python` (e.g. `cp311-cp311-linux_x86_64`).
fn native_tag(python: &Path) -> String {
    let out = Command::new(python)
        .args(["-c", "import sys, sysconfig; v='%d%d' % sys.version_info[:2]; print('cp%s-cp%s-%s' % (v, v, sysconfig.get_platform().replace('-', '_').replace('.', '_')))"])
        .output()
        .expect("python runs");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Compiles the fixture C extension for `python` and returns the shared object's bytes and its
/// file name (`_speedups<EXT_SUFFIX>`).
pub fn compile_spam(python: &Path, work: &Path) -> Option<(Vec<u8>, String)> {
    static GCC: OnceLock<Option<PathBuf>> = OnceLock::new();
    let gcc = GCC.get_or_init(|| which("gcc")).clone()?;
    let (suffix, include) = ext_facts(python);
    let name = format!("_speedups{suffix}");
    let out = work.join(&name);
    let status = Command::new(gcc)
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(repo_root().join("fixtures/native/spam/spam.c"))
        .arg(format!("-I{include}"))
        .status()
        .expect("gcc runs");
    assert!(status.success(), "gcc failed");
    Some((std::fs::read(&out).unwrap(), name))
}

fn read_fixture(rel: &str) -> String {
    std::fs::read_to_string(repo_root().join("fixtures").join(rel)).unwrap()
}

/// Writes the three fixture wheels for `python` into `dir`:
/// - `puredep-1.2.0-py3-none-any.whl` (pure),
/// - `spam-0.1.0-<native tag>.whl` (C extension, Root-Is-Purelib false),
/// - `myapp-1.2.0-py3-none-any.whl` (console script `myapp`, package data, depends on both).
pub fn build_fixture_wheels(python: &Path, dir: &Path) {
    let (so, so_name) = compile_spam(python, dir)
        .unwrap_or_else(|| panic!("gcc is required to build the fixture C extension"));
    std::fs::remove_file(dir.join(&so_name)).ok();
    WheelBuilder::new("puredep", "1.2.0")
        .file(
            "puredep/__init__.py",
            &read_fixture("projects/puredep/puredep/__init__.py"),
        )
        .build(dir);
    WheelBuilder::new("spam", "0.1.0")
        .tag(&native_tag(python))
        .root_is_purelib(false)
        .file("spam/__init__.py", &read_fixture("native/spam/__init__.py"))
        .binary(&format!("spam/{so_name}"), &so)
        .build(dir);
    // The version of fixtures/projects/myapp/pyproject.toml.
    WheelBuilder::new("myapp", "1.2.0")
        .requires(["puredep>=1", "spam"])
        .entry_point("console_scripts", "myapp", "myapp.main:main")
        .entry_point("console_scripts", "myapp-tool", "myapp.main:Tool.run")
        .file(
            "myapp/__init__.py",
            &read_fixture("projects/myapp/myapp/__init__.py"),
        )
        .file(
            "myapp/__main__.py",
            &read_fixture("projects/myapp/myapp/__main__.py"),
        )
        .file(
            "myapp/main.py",
            &read_fixture("projects/myapp/myapp/main.py"),
        )
        .file("myapp/data/__init__.py", "")
        .file(
            "myapp/data/greeting.txt",
            &read_fixture("projects/myapp/myapp/data/greeting.txt"),
        )
        .build(dir);
}
