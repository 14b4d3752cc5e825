//! Tests for building and running bundles of the fixture application: every entry-point style,
//! `--site-packages`, the native-extraction cache, a bare interpreter, every supported Python,
//! `--preamble`, `--build-id` and `--compress-level`.

use std::path::{Path, PathBuf};

use crate::common::{TestContext, describe, python311, run, run_ok, shebang, stdout};

/// Builds the fixture app for `python` (also its shebang) with `flags` into `<work>/<out>` and
/// returns its path.
fn build_for(
    ctx: &TestContext,
    python: &Path,
    wheels: &Path,
    flags: &[&str],
    out: &str,
) -> PathBuf {
    ctx.build_offline(python, wheels, flags, &["myapp"], out)
}

fn assert_app_runs(ctx: &TestContext, bundle: &Path) {
    let out = run_ok(ctx.bundle(bundle).args(["hello", "--flag", "x y"]));
    let text = stdout(&out);
    assert!(
        text.contains("HELLO FROM PACKAGE DATA!"),
        "{}",
        describe(&out)
    );
    assert!(text.contains("spam.add(2, 3) = 5"), "{}", describe(&out));
    assert!(
        text.contains("puredep version: 1.2.0"),
        "{}",
        describe(&out)
    );
    assert!(
        text.contains("argv: ['hello', '--flag', 'x y']"),
        "{}",
        describe(&out)
    );

    let out = run(ctx.bundle(bundle).arg("exit3"));
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));

    let out = run(ctx.bundle(bundle).arg("fail"));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Traceback (most recent call last)"),
        "{}",
        describe(&out)
    );
    assert!(
        err.contains("RuntimeError: the app failed on purpose"),
        "{}",
        describe(&out)
    );
    assert!(
        err.contains("raise RuntimeError(\"the app failed on purpose\")"),
        "no source line in traceback\n{}",
        describe(&out)
    );
}

#[test]
fn entry_point_function() {
    let ctx = TestContext::new();
    let wheels = ctx.fixture_wheels(&python311());
    let bundle = ctx.build_app(&wheels, &["-e", "myapp.main:main"], "app.pyz");
    assert_app_runs(&ctx, &bundle);
    // The store's loader runs the bytecode attached to the source; `__file__` names the source.
    let out = run_ok(
        ctx.bundle(&bundle)
            .env("PYBUNDLE_INTERPRETER", "1")
            .args(["-c", "import puredep; print(puredep.__file__)"]),
    );
    assert!(
        stdout(&out)
            .trim_end()
            .ends_with("app.pyz/site-packages/puredep/__init__.py"),
        "{}",
        describe(&out)
    );
}

#[test]
fn console_script_and_dotted_attr() {
    let ctx = TestContext::new();
    let wheels = ctx.fixture_wheels(&python311());
    let bundle = ctx.build_app(&wheels, &["-c", "myapp"], "app.pyz");
    assert_app_runs(&ctx, &bundle);
    let tool = ctx.build_app(&wheels, &["-c", "myapp-tool"], "tool.pyz");
    let out = run_ok(&mut ctx.bundle(&tool));
    assert_eq!(stdout(&out), "Tool.run called\n");
}

#[test]
fn module_entry() {
    let ctx = TestContext::new();
    let wheels = ctx.fixture_wheels(&python311());
    let bundle = ctx.build_app(&wheels, &["-m", "myapp"], "app.pyz");
    assert_app_runs(&ctx, &bundle);
}

#[test]
fn site_packages_tree() {
    let ctx = TestContext::new();
    let python = python311();
    let wheels = ctx.fixture_wheels(&python);
    let target = ctx.root().join("dist");
    let mut pip = std::process::Command::new(&python);
    pip.args(["-m", "pip", "install", "--no-index", "--find-links"])
        .arg(&wheels)
        .arg("--target")
        .arg(&target)
        .arg("myapp")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("HOME", ctx.root().join("home"));
    run_ok(&mut pip);
    // The application's own code, claimed by no RECORD, must come along as well.
    std::fs::create_dir_all(target.join("extra")).unwrap();
    std::fs::write(
        target.join("extra/__init__.py"),
        "def main():\n    import myapp.main\n    print('extra ok')\n    return myapp.main.main()\n",
    )
    .unwrap();
    let output = ctx.work().join("sp.pyz");
    run_ok(
        ctx.pybundle()
            .arg("--site-packages")
            .arg(&target)
            .args(["--compressed", "-e", "extra:main", "-o"])
            .arg(&output)
            .arg("--python")
            .arg(&python)
            .arg("-p")
            .arg(shebang(&python)),
    );
    let out = run_ok(ctx.bundle(&output).arg("hi"));
    assert!(
        stdout(&out).starts_with("extra ok\nHELLO FROM PACKAGE DATA!\n"),
        "{}",
        describe(&out)
    );
    assert_app_runs(&ctx, &output);
}

#[test]
fn native_cache_is_reused_and_shared() {
    let ctx = TestContext::new();
    let wheels = ctx.fixture_wheels(&python311());
    let one = ctx.build_app(&wheels, &["-e", "myapp.main:main"], "one.pyz");
    let two = ctx.build_app(&wheels, &["-m", "myapp"], "two.pyz");
    assert_ne!(std::fs::read(&one).unwrap(), std::fs::read(&two).unwrap());
    run_ok(&mut ctx.bundle(&one));
    let dists = ctx.bundle_root().join("v1/dists");
    let entries = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&dists)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let first = entries();
    assert_eq!(
        first.len(),
        1,
        "one extracted distribution expected: {first:?}"
    );
    assert!(first[0].starts_with("spam-0.1.0-"), "{first:?}");
    let marker_mtime = |name: &str| {
        std::fs::metadata(dists.join(name))
            .unwrap()
            .modified()
            .unwrap()
    };
    let inode = |name: &str| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(dists.join(name).join("site-packages/spam/__init__.py"))
            .unwrap()
            .ino()
    };
    let (ino, mtime) = (inode(&first[0]), marker_mtime(&first[0]));
    // Second run of the same bundle, then a different bundle with the same distribution.
    let out = run_ok(ctx.bundle(&one).env("PYBUNDLE_VERBOSE", "1"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pybundle: cache hit") && !err.contains("pybundle: extracted"),
        "re-extracted on a warm start\n{}",
        describe(&out)
    );
    let out = run_ok(ctx.bundle(&two).env("PYBUNDLE_VERBOSE", "1"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pybundle: cache hit") && !err.contains("pybundle: extracted"),
        "second bundle did not share the entry\n{}",
        describe(&out)
    );
    assert_eq!(entries(), first);
    assert_eq!(inode(&first[0]), ino);
    assert_eq!(marker_mtime(&first[0]), mtime);
}

#[test]
fn runs_on_a_bare_interpreter() {
    let ctx = TestContext::new();
    let python = python311();
    let wheels = ctx.fixture_wheels(&python);
    // Built with the default `/usr/bin/env python3` shebang; run by the bare venv's python.
    let output = ctx.work().join("app.pyz");
    run_ok(
        ctx.pybundle()
            .args(["-c", "myapp", "--no-index", "--find-links"])
            .arg(&wheels)
            .arg("--python")
            .arg(&python)
            .arg("-o")
            .arg(&output)
            .arg("myapp"),
    );
    let venv = ctx.root().join("venv");
    run_ok(
        std::process::Command::new(&python)
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv),
    );
    let empty = ctx.root().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let alone = empty.join("app.pyz");
    std::fs::copy(&output, &alone).unwrap();
    let home = ctx.root().join("fresh-home");
    std::fs::create_dir_all(&home).unwrap();
    let path = format!("{}:/usr/bin:/bin", venv.join("bin").display());
    let out = run_ok(
        std::process::Command::new(&alone)
            .arg("slim")
            .env_clear()
            .env("PATH", path)
            .env("HOME", &home)
            .current_dir(&empty),
    );
    assert!(
        stdout(&out).contains("argv: ['slim']"),
        "{}",
        describe(&out)
    );
    assert!(
        home.join(".cache/pybundle/v1/dists").is_dir(),
        "the default cache root was not used"
    );
}

#[test]
fn every_supported_python() {
    // The same fixture app (C extension included) built for and run on CPython 3.8–3.13.
    let mut ran = Vec::new();
    for minor in 8..=13 {
        let Some(python) = crate::common::python(minor) else {
            continue;
        };
        let ctx = TestContext::new();
        let wheels = ctx.fixture_wheels(&python);
        let output = build_for(&ctx, &python, &wheels, &["-c", "myapp"], "app.pyz");
        let out = run(ctx.bundle(&output).arg("exit3"));
        assert_eq!(out.status.code(), Some(3), "3.{minor}: {}", describe(&out));
        assert!(
            stdout(&out).contains("spam.add(2, 3) = 5"),
            "3.{minor}: {}",
            describe(&out)
        );
        ran.push(minor);
    }
    assert!(ran.contains(&11), "CPython 3.11 is required");
    eprintln!("ran on 3.{ran:?}");
}

#[test]
fn preamble_build_id_and_compress_level() {
    let ctx = TestContext::new();
    let python = python311();
    let wheels = ctx.fixture_wheels(&python);
    let preamble = ctx.work().join("pre.py");
    std::fs::write(
        &preamble,
        "import os, sys\nprint('preamble ran', __name__)\nos.environ['FROM_PREAMBLE'] = '1'\n",
    )
    .unwrap();
    let preamble_flag = preamble.to_str().expect("temp paths are UTF-8");
    let flags = [
        "-c",
        "myapp",
        "--compress-level",
        "0",
        "--build-id",
        "release-42",
        "--preamble",
        preamble_flag,
    ];
    let output = build_for(&ctx, &python, &wheels, &flags, "app.pyz");
    let out = run_ok(ctx.bundle(&output).arg("x"));
    assert!(
        stdout(&out).starts_with("preamble ran __pybundle_preamble__\n"),
        "{}",
        describe(&out)
    );
    let info = stdout(&run_ok(ctx.pybundle().arg("info").arg(&output)));
    assert!(info.contains("build id:     release-42"), "{info}");
    // Level 0 stores every member.
    let file = std::fs::File::open(&output).unwrap();
    let mut archive = zip::ZipArchive::new(file).unwrap();
    for i in 0..archive.len() {
        let member = archive.by_index(i).unwrap();
        assert_eq!(
            member.compression(),
            zip::CompressionMethod::Stored,
            "{:?}",
            member.name()
        );
    }
}
