//! Tests for `--resolver uv`: the same inputs give a byte-identical bundle to the pip backend,
//! and its failures (unknown requirement, no uv, a cross target) are clear errors that leave no
//! output behind. uv is required under `PYBUNDLE_TEST_REQUIRE_TOOLS=1` (CI), skipped otherwise.

use std::path::Path;

use crate::common::{TestContext, describe, python311, run, run_ok, uv};
use crate::require;

/// Runs pybundle `--resolver uv` with `uv` as `PYBUNDLE_UV` and `args` (plus
/// `-o out.pyz --python <3.11>`); asserts exit code 1 and that nothing was written; returns
/// stderr.
fn fails_with_uv(ctx: &TestContext, uv: &Path, args: &[&str]) -> String {
    let output = ctx.work().join("out.pyz");
    let out = run(ctx
        .pybundle()
        .env("PYBUNDLE_UV", uv)
        .args(["--resolver", "uv", "-o"])
        .arg(&output)
        .arg("--python")
        .arg(python311())
        .args(args));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let left: Vec<_> = std::fs::read_dir(ctx.work()).unwrap().collect();
    assert!(left.is_empty(), "the failed build left files behind");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn uv_and_pip_give_identical_bundles() {
    let uv = require!(uv(), "uv");
    let ctx = TestContext::new();
    let python = python311();
    let wheels = ctx.fixture_wheels(&python);
    // The bundle's file name is part of its bytecode's file names: same name, two directories.
    for dir in ["pip", "uv"] {
        std::fs::create_dir(ctx.work().join(dir)).unwrap();
    }
    let pip = ctx.build_offline(
        &python,
        &wheels,
        &["--resolver", "pip", "-c", "myapp"],
        &["myapp"],
        "pip/app.pyz",
    );
    let build_uv = || {
        run_ok(
            ctx.pybundle()
                .env("PYBUNDLE_UV", &uv)
                .args(["--resolver", "uv", "-c", "myapp", "-o"])
                .arg(ctx.work().join("uv/app.pyz"))
                .arg("--python")
                .arg(&python)
                .arg("-p")
                .arg(crate::common::shebang(&python))
                .arg("--no-index")
                .arg("--find-links")
                .arg(&wheels)
                .arg("myapp"),
        );
        std::fs::read(ctx.work().join("uv/app.pyz")).unwrap()
    };
    let with_uv = build_uv();
    assert!(
        std::fs::read(&pip).unwrap() == with_uv,
        "--resolver uv and --resolver pip gave different bundles"
    );
    // A second build (warm uv cache) gives the same bytes again.
    assert!(build_uv() == with_uv, "two uv builds differ");
    let out = run_ok(ctx.bundle(&ctx.work().join("uv/app.pyz")).arg("hello"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("puredep version: 1.2.0"),
        "{}",
        describe(&out)
    );
}

#[test]
fn uv_unknown_requirement() {
    let uv = require!(uv(), "uv");
    let ctx = TestContext::new();
    let empty = ctx.root().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = fails_with_uv(
        &ctx,
        &uv,
        &[
            "--no-index",
            "-f",
            empty.to_str().unwrap(),
            "no-such-package-pybundle-test",
        ],
    );
    assert!(err.contains("uv failed"), "{err}");
    assert!(err.contains("no-such-package-pybundle-test"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn uv_missing_or_cross_target() {
    let ctx = TestContext::new();
    let missing = ctx.root().join("no-uv-here");
    let err = fails_with_uv(&ctx, &missing, &["--no-index", "six"]);
    assert!(err.contains("--resolver uv needs uv"), "{err}");
    assert!(err.contains("pip install uv"), "{err}");
    let err = fails_with_uv(
        &ctx,
        &missing,
        &["--platform", "manylinux2014_x86_64", "six"],
    );
    assert!(err.contains("does not do cross-target builds"), "{err}");
}
