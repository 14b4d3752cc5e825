//! Tests for bad input: each error has a clear message, a non-zero exit code, and leaves no
//! output or temporary file behind.

use std::path::Path;

use crate::common::wheel_builder::WheelBuilder;
use crate::common::{TestContext, describe, python311, run};

/// Runs pybundle with `args` (plus `-o out.pyz --python <3.11>`), asserts failure with exit code
/// 1 (2 for usage errors), and returns stderr. Asserts the work directory holds no output.
fn fails(ctx: &TestContext, args: &[&str], code: i32) -> String {
    let before: Vec<_> = list(&ctx.work());
    let mut cmd = ctx.pybundle();
    cmd.arg("-o")
        .arg(ctx.work().join("out.pyz"))
        .arg("--python")
        .arg(python311())
        .args(args);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(code), "{}", describe(&out));
    assert_eq!(
        list(&ctx.work()),
        before,
        "the failed build left files behind"
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn list(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn unknown_requirement_offline() {
    let ctx = TestContext::new();
    let err = fails(&ctx, &["--no-index", "no-such-package-pybundle-test"], 1);
    assert!(err.contains("error: cannot build"), "{err}");
    assert!(err.contains("pip failed"), "{err}");
    assert!(err.contains("no-such-package-pybundle-test"), "{err}");
}

#[test]
fn entry_point_module_missing() {
    let ctx = TestContext::new();
    let wheels = ctx.fixture_wheels(&python311());
    let w = wheels.to_str().unwrap();
    let err = fails(
        &ctx,
        &["--no-index", "-f", w, "-e", "nosuch.mod:main", "myapp"],
        1,
    );
    assert!(
        err.contains("the module `nosuch.mod` is not in the bundle"),
        "{err}"
    );
    assert!(err.contains("nosuch/mod.py"), "{err}");
    let err = fails(
        &ctx,
        &["--no-index", "-f", w, "-e", "myapp.main:nosuch", "myapp"],
        1,
    );
    assert!(err.contains("has no top-level `nosuch`"), "{err}");
}

#[test]
fn console_script_missing() {
    let ctx = TestContext::new();
    let wheels = ctx.fixture_wheels(&python311());
    let err = fails(
        &ctx,
        &[
            "--no-index",
            "-f",
            wheels.to_str().unwrap(),
            "-c",
            "nosuch",
            "myapp",
        ],
        1,
    );
    assert!(
        err.contains("`nosuch` is neither an entry point nor a script of the bundle"),
        "{err}"
    );
    assert!(
        err.contains("\n  entry points: myapp, myapp-tool\n"),
        "{err}"
    );
    assert!(err.contains("\n  scripts: none\n"), "{err}");
}

#[test]
fn conflicting_entry_flags() {
    let ctx = TestContext::new();
    let err = fails(&ctx, &["-e", "a:b", "-m", "a", "six"], 2);
    assert!(err.contains("cannot be used with"), "{err}");
}

#[test]
fn python_not_found() {
    let ctx = TestContext::new();
    let mut cmd = ctx.pybundle();
    cmd.args(["-o", "out.pyz", "--python", "python3.99-nonexistent", "six"]);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`python3.99-nonexistent` was not found on PATH (from --python)"),
        "{err}"
    );
    // shiv's spelling of the shebang gets a hint towards -p.
    let out =
        run(ctx
            .pybundle()
            .args(["-o", "out.pyz", "--python", "/usr/bin/env python3", "six"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("looks like a shebang line") && err.contains("-p '/usr/bin/env python3'"),
        "{err}"
    );
    assert!(list(&ctx.work()).is_empty());
}

#[test]
fn wheel_with_record_mismatch() {
    let ctx = TestContext::new();
    let wheels = ctx.root().join("bad");
    std::fs::create_dir_all(&wheels).unwrap();
    WheelBuilder::new("badhash", "1.0")
        .file("badhash/__init__.py", "x = 1\n")
        .corrupt_record_hash("badhash/__init__.py")
        .build(&wheels);
    let err = fails(
        &ctx,
        &["--no-index", "-f", wheels.to_str().unwrap(), "badhash"],
        1,
    );
    assert!(err.contains("badhash-1.0-py3-none-any.whl"), "{err}");
    assert!(err.contains("badhash/__init__.py"), "{err}");
    assert!(err.contains("RECORD"), "{err}");
}

#[test]
fn wheel_with_parent_path() {
    let ctx = TestContext::new();
    let wheels = ctx.root().join("bad");
    std::fs::create_dir_all(&wheels).unwrap();
    WheelBuilder::new("evil", "1.0")
        .file("evil/__init__.py", "")
        .extra_member_raw("../escape.py", "print('owned')\n")
        .build(&wheels);
    let err = fails(
        &ctx,
        &["--no-index", "-f", wheels.to_str().unwrap(), "evil"],
        1,
    );
    assert!(err.contains("../escape.py"), "{err}");
    assert!(!ctx.root().join("escape.py").exists());
}

#[test]
fn unwritable_output_directory_fails_before_resolving() {
    let ctx = TestContext::new();
    // /proc takes no new files, even for root; the check runs before pip is started.
    let out = run(ctx.pybundle().args([
        "-o",
        "/proc/pybundle-test.pyz",
        "--no-index",
        "no-such-package-pybundle-test",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot write into `/proc`"), "{err}");
    assert!(
        err.contains("hint: choose a writable directory for -o"),
        "{err}"
    );
    assert!(
        !err.contains("pip"),
        "pip ran before the output check\n{err}"
    );
}

/// The texts of errors a user meets first: snapshots of stderr (temp paths filtered), each with
/// exit code 1 (2 for clap's usage errors) and nothing left in the work directory.
#[test]
fn error_texts() {
    let ctx = TestContext::new();
    let cases: &[(&str, &[&str], i32)] = &[
        ("nothing_to_bundle", &[], 1),
        (
            "entry_point_without_function",
            &["-e", "myapp.main", "six"],
            1,
        ),
        ("bad_module", &["-m", "a:b", "six"], 1),
        ("bad_env", &["-E", "1A=x", "six"], 1),
        ("missing_requirements_file", &["-r", "nope.txt"], 1),
        ("bad_compress_level", &["--compress-level", "12", "six"], 2),
    ];
    for (name, args, code) in cases {
        let err = fails(&ctx, args, *code);
        ctx.snapshot_settings().bind(|| {
            insta::assert_snapshot!(format!("error_{name}"), err);
        });
    }
    let bundle = ctx.work().join("not-a-bundle.pyz");
    std::fs::write(&bundle, "#!/usr/bin/env python3\nprint('hi')\n").unwrap();
    let out = run(ctx.pybundle().arg("info").arg(&bundle));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    ctx.snapshot_settings().bind(|| {
        insta::assert_snapshot!("error_info_not_a_bundle", err);
    });
}
