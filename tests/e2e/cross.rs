//! Tests for cross-target builds (needs the package index): a bundle built on CPython 3.11 with
//! `--python-version 3.12 --platform manylinux2014_x86_64` holds 3.12 binary wheels, runs under
//! CPython 3.12, and is refused by 3.11 with the run-time check's message.

use crate::common::{TestContext, describe, python, python311, run, run_ok};

#[test]
fn markupsafe_for_312_built_on_311() {
    let ctx = TestContext::new();
    let py312 = crate::require!(python(12), "CPython 3.12");
    let bundle = ctx.work().join("ms.pyz");
    let out = run_ok(
        ctx.pybundle()
            .arg("-o")
            .arg(&bundle)
            .arg("--python")
            .arg(python311())
            .args([
                "--python-version",
                "3.12",
                "--platform",
                "manylinux2014_x86_64",
                "MarkupSafe",
            ])
            .env_remove("PIP_NO_INDEX"),
    );
    // A 3.12 interpreter is installed here, so bytecode is compiled (no warning).
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("warning:"),
        "{}",
        describe(&out)
    );

    let info = run_ok(ctx.pybundle().args(["info", "--json"]).arg(&bundle));
    let manifest: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let python_info = &manifest["python"];
    assert_eq!(python_info["version"], "3.12", "{}", describe(&info));
    assert_eq!(python_info["platform"], "linux-x86_64");
    assert_eq!(python_info["sys_platform"], "linux");
    assert_eq!(python_info["machine"], "x86_64");
    assert_eq!(python_info["cache_tag"], "cpython-312");
    assert_eq!(python_info["native"], true);

    let out = run_ok(ctx.bundle_with(&py312, &bundle).args([
        "-c",
        "import sys, markupsafe; print(sys.version_info[:2], markupsafe.escape('<b>'))",
    ]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "(3, 12) &lt;b&gt;",
        "{}",
        describe(&out)
    );

    let out = run(ctx
        .bundle_with(&python311(), &bundle)
        .args(["-c", "import markupsafe"]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("error: this bundle was built for CPython 3.12"),
        "{}",
        describe(&out)
    );
}

/// Copies the directory `from` into `to` (files only; small fixture trees).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Issue #11's case: a local application (`fixtures/projects/crossapp`, setuptools) with a
/// native dependency from the index, built on 3.11 for 3.12: the project is built into a
/// `py3-none-any` wheel, pyrsistent's 3.12 wheel is resolved for the target, and the bundle
/// runs under 3.12 with pyrsistent's C extension loaded (not its pure-Python fallback).
#[test]
fn local_app_with_native_dependency_for_312_built_on_311() {
    let ctx = TestContext::new();
    let py312 = crate::require!(python(12), "CPython 3.12");
    copy_tree(
        &crate::common::repo_root().join("fixtures/projects/crossapp"),
        &ctx.work().join("app"),
    );
    let bundle = ctx.work().join("crossapp.pyz");
    let out = run_ok(
        ctx.pybundle()
            .arg("-o")
            .arg(&bundle)
            .arg("--python")
            .arg(python311())
            .args([
                "--python-version",
                "3.12",
                "--platform",
                "manylinux2014_x86_64",
                "-e",
                "crossapp.main:main",
                "./app",
                "pyrsistent>=0.19",
            ])
            .env_remove("PIP_NO_INDEX"),
    );
    let info = run_ok(ctx.pybundle().args(["info", "--json"]).arg(&bundle));
    let manifest: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let names: Vec<&str> = manifest["distributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"crossapp") && names.contains(&"pyrsistent"),
        "{names:?}\n{}",
        describe(&out)
    );
    assert_eq!(manifest["python"]["version"], "3.12");
    let out = run_ok(&mut ctx.bundle_with(&py312, &bundle));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("crossapp on 3.12: [1, 2, 3, 4]")
            && text.contains("pvectorc: ")
            && text.contains(".cpython-312-x86_64-linux-gnu.so"),
        "{}",
        describe(&out)
    );
}
