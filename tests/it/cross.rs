//! Cross-target builds of local projects, offline: projects are built by the test build backend
//! (`fixtures/backend`, no index needed) with `pip wheel --no-deps`, a pure one is bundled for
//! CPython 3.12 from a 3.11 build with its dependency resolved for the target, one with a C
//! extension (`fixtures/native/spam`, compiled by gcc) stops the build naming it, and every
//! requirement given ends up in the bundle or in an error.
//! See: #11

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{TestContext, describe, python, python311, repo_root, run, run_ok, which};

const PYPROJECT: &str =
    "[build-system]\nrequires = []\nbuild-backend = \"fixture_backend\"\nbackend-path = [\".\"]\n";

const CROSSLOCAL_MAIN: &str = r#"import sys


def main():
    import puredep
    print("crosslocal on %d.%d: %s" % (sys.version_info[:2] + (puredep.shout("hi"),)))
"#;

/// Writes a project `<work>/<dir>` built by the test backend, with `fixture.json` and files.
fn project(ctx: &TestContext, dir: &str, config: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = ctx.work().join(dir);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy(
        repo_root().join("fixtures/backend/fixture_backend.py"),
        root.join("fixture_backend.py"),
    )
    .unwrap();
    std::fs::write(root.join("pyproject.toml"), PYPROJECT).unwrap();
    std::fs::write(root.join("fixture.json"), config).unwrap();
    for (rel, text) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    root
}

fn crosslocal(ctx: &TestContext) -> PathBuf {
    project(
        ctx,
        "crosslocal",
        r#"{"name": "crosslocal", "version": "1.0.0", "packages": ["crosslocal"], "dependencies": ["puredep>=1"]}"#,
        &[
            ("crosslocal/__init__.py", ""),
            ("crosslocal/main.py", CROSSLOCAL_MAIN),
        ],
    )
}

fn native_project(ctx: &TestContext) -> PathBuf {
    let read = |rel: &str| std::fs::read_to_string(repo_root().join(rel)).unwrap();
    project(
        ctx,
        "nativeproj",
        r#"{"name": "spam", "version": "0.1.0", "packages": ["spam"], "extensions": {"spam._speedups": "spam/spam.c"}}"#,
        &[
            (
                "spam/__init__.py",
                &read("fixtures/native/spam/__init__.py"),
            ),
            ("spam/spam.c", &read("fixtures/native/spam/spam.c")),
        ],
    )
}

/// Runs a cross build for CPython 3.12 on manylinux2014_x86_64 from 3.11, offline from
/// `wheels`, of `reqs` into `<work>/<name>`.
fn cross_build(
    ctx: &TestContext,
    wheels: &Path,
    name: &str,
    extra: &[&str],
    reqs: &[&str],
) -> Output {
    let py311 = python311();
    run(ctx
        .pybundle()
        .arg("-o")
        .arg(ctx.work().join(name))
        .arg("--python")
        .arg(&py311)
        .args([
            "--python-version",
            "3.12",
            "--platform",
            "manylinux2014_x86_64",
        ])
        .arg("--no-index")
        .arg("--find-links")
        .arg(wheels)
        .args(extra)
        .args(reqs))
}

fn leftovers(ctx: &TestContext) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(ctx.work())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".pyz"))
        .collect();
    names.sort();
    names
}

/// The issue's case, offline: a local project (pure) and a dependency from the wheelhouse,
/// built on 3.11 for 3.12; the project is in the bundle, its dependency resolved for the target.
#[test]
fn local_project_is_built_and_bundled_for_the_target() {
    let ctx = TestContext::new();
    crate::require!(which("gcc"), "gcc");
    let wheels = ctx.fixture_wheels(&python311());
    crosslocal(&ctx);
    let reqs = ["./crosslocal"];
    let out = cross_build(
        &ctx,
        &wheels,
        "app.pyz",
        &["-e", "crosslocal.main:main"],
        &reqs,
    );
    assert!(out.status.success(), "{}", describe(&out));
    let bundle = ctx.work().join("app.pyz");
    let info = run_ok(ctx.pybundle().args(["info", "--json"]).arg(&bundle));
    let manifest: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(manifest["python"]["version"], "3.12", "{}", describe(&info));
    let mut names: Vec<String> = manifest["distributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["crosslocal", "puredep"], "{}", describe(&info));
    let py312 = crate::require!(python(12), "CPython 3.12");
    let out = run_ok(&mut ctx.bundle_with(&py312, &bundle));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "crosslocal on 3.12: HI!",
        "{}",
        describe(&out)
    );
}

/// A local project with a C extension is built for the build interpreter (3.11): the build
/// stops naming the project, its wheel tag and the target, and leaves nothing behind. Every
/// requirement given is in the bundle or in an error: never left out silently.
#[test]
fn native_local_project_stops_the_cross_build() {
    let ctx = TestContext::new();
    crate::require!(which("gcc"), "gcc");
    let wheels = ctx.fixture_wheels(&python311());
    crosslocal(&ctx);
    native_project(&ctx);
    let out = cross_build(
        &ctx,
        &wheels,
        "app.pyz",
        &["-e", "crosslocal.main:main"],
        &["./crosslocal", "./nativeproj", "puredep"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "the project `spam` (from `./nativeproj`) was built into `spam-0.1.0-cp311-cp311-linux_x86_64.whl`, tagged `cp311-cp311-linux_x86_64`, which does not run on the target (CPython 3.12 on manylinux2014_x86_64)"
        ) && err.contains("hint: "),
        "{}",
        describe(&out)
    );
    assert_eq!(leftovers(&ctx), Vec::<String>::new());

    // A source requirement in a requirements file is refused, not dropped.
    let reqs = ctx.work().join("requirements.txt");
    std::fs::write(&reqs, "puredep\n./crosslocal\n").unwrap();
    let out = cross_build(&ctx, &wheels, "app.pyz", &["-r", "requirements.txt"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "`{}` line 2 names `./crosslocal`, which pip builds from source",
            reqs.display()
        )),
        "{}",
        describe(&out)
    );

    // Everything else, in every form, is in the bundle.
    let given = ["./crosslocal", "puredep>=1", "spam"];
    // spam from the wheelhouse is a 3.11 wheel: pip download refuses it for 3.12 (loudly).
    let out = cross_build(&ctx, &wheels, "app.pyz", &[], &given);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("spam"),
        "{}",
        describe(&out)
    );
    let given = ["./crosslocal", "puredep>=1"];
    let out = cross_build(&ctx, &wheels, "all.pyz", &[], &given);
    assert!(out.status.success(), "{}", describe(&out));
    let info = run_ok(ctx.pybundle().arg("info").arg(ctx.work().join("all.pyz")));
    let text = String::from_utf8_lossy(&info.stdout);
    for name in ["crosslocal", "puredep"] {
        assert!(text.contains(name), "{name} missing\n{}", describe(&info));
    }
}
