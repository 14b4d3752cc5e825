//! Builds from PEP 751 locks written by the real tools, installed from the package index into a
//! tools venv shared by the run: uv (`uv pip compile --format pylock.toml`), pip (`pip lock`,
//! pip 25.1 or newer) and pex (`pex3 lock create` + `pex3 lock export --format pep-751`), for
//! the Django + gunicorn seed application and a numpy application. Each lock builds a bundle that
//! runs and passes `verify --lock`; equal locks give byte-identical bundles whatever
//! `--resolver` says; the build times of a lock build and a pip-resolved build of the same
//! application are printed (`--nocapture` shows them).
//! See: #23

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::{copy_tree, describe, repo_root, run, run_ok};
use crate::harness::Case;

/// Returns the tools venv (uv, pip 25.1+, pex), created once per run (and kept between runs) next
/// to the suite's other shared state.
fn tools(python: &Path) -> &'static Path {
    static TOOLS: OnceLock<PathBuf> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e/lock-tools");
        let bin = venv.join("bin");
        if !bin.join("pex3").is_file() || !bin.join("uv").is_file() {
            run_ok(Command::new(python).args(["-m", "venv"]).arg(&venv));
            run_ok(
                Command::new(bin.join("python"))
                    .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
                    .args(["pip>=25.1", "uv", "pex"]),
            );
        }
        venv
    })
}

/// Writes the three locks of `requirements` (a file in `dir`) for `python` into `dir`; returns
/// (writer, lock file).
fn write_locks(case: &Case, dir: &Path, requirements: &str) -> Vec<(&'static str, PathBuf)> {
    let bin = tools(&case.python).join("bin");
    let py = case.python.to_str().expect("utf-8 path");
    let tool = |program: PathBuf| {
        let mut cmd = Command::new(program);
        cmd.current_dir(dir)
            .env("HOME", case.root().join("home"))
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
        cmd
    };
    run_ok(tool(bin.join("uv")).args([
        "pip",
        "compile",
        "--quiet",
        "--format",
        "pylock.toml",
        "--python",
        py,
        requirements,
        "-o",
        "pylock.toml",
    ]));
    run_ok(tool(bin.join("python")).args([
        "-m",
        "pip",
        "lock",
        "-q",
        "-r",
        requirements,
        "-o",
        "pylock.pip.toml",
    ]));
    run_ok(tool(bin.join("pex3")).args([
        "lock",
        "create",
        "--python",
        py,
        "-r",
        requirements,
        "-o",
        "lock.json",
    ]));
    run_ok(tool(bin.join("pex3")).args([
        "lock",
        "export",
        "--format",
        "pep-751",
        "--python",
        py,
        "-o",
        "pylock.pex.toml",
        "lock.json",
    ]));
    vec![
        ("uv", dir.join("pylock.toml")),
        ("pip lock", dir.join("pylock.pip.toml")),
        ("pex", dir.join("pylock.pex.toml")),
    ]
}

/// Runs a pybundle build (`--python <3.11> ARGS`) in `dir`; returns its wall time and the
/// resolve stage's time (from the summary line: resolving, or fetching the locked wheels).
fn timed_build(case: &Case, dir: &Path, args: &[&str]) -> (Duration, f64) {
    let started = Instant::now();
    let out = run(case
        .pybundle()
        .current_dir(dir)
        .arg("--python")
        .arg(&case.python)
        .args(args));
    assert!(out.status.success(), "{}", describe(&out));
    let wall = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    let resolve = err
        .split("[resolve ")
        .nth(1)
        .and_then(|rest| rest.split('s').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(f64::NAN);
    (wall, resolve)
}

/// Formats a cold and a warm [`timed_build`].
fn times(cold: (Duration, f64), warm: (Duration, f64)) -> String {
    format!(
        "{:.2}s cold (resolve stage {:.2}s), {:.2}s warm (resolve stage {:.2}s)",
        cold.0.as_secs_f64(),
        cold.1,
        warm.0.as_secs_f64(),
        warm.1
    )
}

/// Checks `verify --lock` of `bundle` against `lock`.
fn verify(case: &Case, lock: &Path, bundle: &Path) {
    let out = run_ok(
        case.pybundle()
            .args(["verify", "--python"])
            .arg(&case.python)
            .arg("--lock")
            .arg(lock)
            .arg(bundle),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("exactly the lock's selection"), "{text}");
}

/// Builds `bundle_args` from each lock into `<dir>/<writer>/app.pyz`, runs `check` on each,
/// checks that a second build of the uv lock with `--resolver uv` gives the same bytes, and
/// prints the lock builds' times against `pip_args`' pip-resolved build (each run twice: cold,
/// then warm caches).
fn locks_against_pip(
    case: &mut Case,
    dir: &Path,
    locks: &[(&'static str, PathBuf)],
    bundle_args: &[&str],
    pip_args: &[&str],
    check: impl Fn(&Case, &Path),
) {
    let mut report = Vec::new();
    for (writer, lock) in locks {
        let out = dir.join(writer.replace(' ', "-"));
        std::fs::create_dir_all(&out).unwrap();
        let bundle = out.join("app.pyz");
        let mut args = vec![
            "-o",
            bundle.to_str().unwrap(),
            "--lock",
            lock.to_str().unwrap(),
        ];
        args.extend_from_slice(bundle_args);
        let cold = timed_build(case, dir, &args);
        let first = std::fs::read(&bundle).unwrap();
        args.extend_from_slice(&["--resolver", "uv"]);
        let warm = timed_build(case, dir, &args);
        assert!(
            std::fs::read(&bundle).unwrap() == first,
            "the lock written by {writer} gave two different bundles"
        );
        case.record_version(&bundle);
        check(case, &bundle);
        verify(case, lock, &bundle);
        report.push(format!("--lock ({writer}): {}", times(cold, warm)));
    }
    let out = dir.join("pip");
    std::fs::create_dir_all(&out).unwrap();
    let bundle = out.join("app.pyz");
    let mut args = vec!["-o", bundle.to_str().unwrap()];
    args.extend_from_slice(pip_args);
    let cold = timed_build(case, dir, &args);
    let warm = timed_build(case, dir, &args);
    check(case, &bundle);
    report.push(format!("pip-resolved: {}", times(cold, warm)));
    println!(
        "build times of {}:\n  {}",
        dir.display(),
        report.join("\n  ")
    );
}

#[test]
fn django_gunicorn_from_uv_pip_and_pex_locks() {
    let Some(mut case) = Case::new(
        31,
        "Django + gunicorn",
        "from PEP 751 locks by `uv pip compile`, `pip lock`, `pex3 lock export --format pep-751`; `--lock L -e myapp.main:main .`; gunicorn --version, verify --lock",
    ) else {
        return;
    };
    let project = case.work().join("djangoapp");
    copy_tree(&repo_root().join("fixtures/projects/djangoseed"), &project);
    let locks = write_locks(&case, &project, "requirements.txt");
    locks_against_pip(
        &mut case,
        &project,
        &locks,
        &["-e", "myapp.main:main", "."],
        &["-e", "myapp.main:main", ".", "-r", "requirements.txt"],
        |case, bundle| {
            let out = case.slim(bundle).run_ok(&["--version"]);
            assert!(out.contains("(version "), "{out}");
        },
    );
}

#[test]
fn numpy_from_uv_pip_and_pex_locks() {
    let Some(mut case) = Case::new(
        32,
        "numpy",
        "from PEP 751 locks by `uv pip compile`, `pip lock`, `pex3 lock export --format pep-751`; `--lock L`; `-c 'import numpy'`, verify --lock",
    ) else {
        return;
    };
    let dir = case.work().join("numpyapp");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("requirements.txt"), "numpy\n").unwrap();
    let locks = write_locks(&case, &dir, "requirements.txt");
    locks_against_pip(
        &mut case,
        &dir,
        &locks,
        &[],
        &["-r", "requirements.txt"],
        |case, bundle| {
            let out = case
                .slim(bundle)
                .run_ok(&["-c", "import numpy; print(int(numpy.arange(5).sum()))"]);
            assert_eq!(out.trim(), "10");
        },
    );
}

const NUMPY_PROJECT: &str = "[project]\nname = \"numpyapp\"\nversion = \"0.1.0\"\n\
requires-python = \">=3.11\"\ndependencies = [\"numpy\"]\n\n\
[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
[tool.setuptools]\npackages = [\"numpyapp\"]\n";

/// A uv project's universal lock (`uv lock` + `uv export --format pylock.toml`): numpy has one
/// version per Python (markers on `python_full_version`) and the project itself is a directory
/// entry. It builds for 3.11 and, cross, for 3.12 from 3.11, each with its own numpy.
#[test]
fn uv_export_universal_lock_native_and_cross() {
    let Some(mut case) = Case::new(
        33,
        "numpy",
        "`uv lock` + `uv export --format pylock.toml` of a project; `--lock L -e numpyapp:main` for 3.11 and `--python-version 3.12 --platform manylinux_2_28_x86_64`",
    ) else {
        return;
    };
    let dir = case.work().join("uvproject");
    std::fs::create_dir_all(dir.join("numpyapp")).unwrap();
    std::fs::write(dir.join("pyproject.toml"), NUMPY_PROJECT).unwrap();
    std::fs::write(
        dir.join("numpyapp/__init__.py"),
        "import sys\nimport numpy\n\n\ndef main():\n    print(sys.version_info[1], numpy.__version__, int(numpy.arange(5).sum()))\n",
    )
    .unwrap();
    let uv = tools(&case.python).join("bin/uv");
    let py = case.python.to_str().expect("utf-8 path").to_string();
    for args in [
        vec!["lock", "--quiet", "--python", &py],
        vec![
            "export",
            "--quiet",
            "--format",
            "pylock.toml",
            "-o",
            "pylock.toml",
        ],
    ] {
        run_ok(
            Command::new(&uv)
                .args(&args)
                .current_dir(&dir)
                .env("HOME", case.root().join("home")),
        );
    }
    let lock = dir.join("pylock.toml");
    let native = dir.join("native.pyz");
    let mut args = vec!["-o", native.to_str().unwrap(), "--lock", "pylock.toml"];
    args.extend(["-e", "numpyapp:main"]);
    timed_build(&case, &dir, &args);
    case.record_version(&native);
    let out = case.slim(&native).run_ok(&[]);
    assert!(
        out.starts_with("11 ") && out.trim().ends_with(" 10"),
        "{out}"
    );
    verify(&case, &lock, &native);
    let Some(py312) = crate::common::python(12) else {
        return;
    };
    let cross = dir.join("cross.pyz");
    let mut args = vec!["-o", cross.to_str().unwrap(), "--lock", "pylock.toml"];
    args.extend(["-e", "numpyapp:main", "--python-version", "3.12"]);
    args.extend(["--platform", "manylinux_2_28_x86_64"]);
    timed_build(&case, &dir, &args);
    let out = case.slim_with(&cross, &py312, "slim312").run_ok(&[]);
    assert!(
        out.starts_with("12 ") && out.trim().ends_with(" 10"),
        "{out}"
    );
    verify(&case, &lock, &cross);
}
