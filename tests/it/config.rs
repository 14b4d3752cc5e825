//! Tests for configuring a build from a project: `[tool.pybundle]` in `pyproject.toml`, flags
//! that override its keys, unknown keys, and `--config FILE`.

use std::path::PathBuf;

use crate::common::{TestContext, describe, python311, run, run_ok, shebang, stderr, stdout};

/// Writes a project directory `<work>/proj` whose pyproject.toml holds only `[tool.pybundle]`
/// (plus `extra`), with requirements in `reqs.txt` and the fixture wheels in `wheels/`.
fn config_only_project(ctx: &TestContext, extra: &str) -> PathBuf {
    let proj = ctx.work().join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    let wheels = ctx.fixture_wheels(&python311());
    std::fs::rename(&wheels, proj.join("wheels")).unwrap();
    std::fs::write(proj.join("reqs.txt"), "myapp\n").unwrap();
    let python = python311();
    std::fs::write(
        proj.join("pyproject.toml"),
        format!(
            "[tool.pybundle]\n\
             output = \"app.pyz\"\n\
             entry-point = \"myapp.main:main\"\n\
             python = \"{python}\"\n\
             python-shebang = \"{shebang}\"\n\
             requirements = [\"reqs.txt\"]\n\
             find-links = [\"wheels\"]\n\
             no-index = true\n\
             {extra}",
            python = python.display(),
            shebang = shebang(&python),
        ),
    )
    .unwrap();
    proj
}

#[test]
fn pyproject_bare_dot_builds() {
    let ctx = TestContext::new();
    let proj = config_only_project(&ctx, "");
    let out = run_ok(ctx.pybundle().current_dir(&proj).arg("."));
    let bundle = proj.join("app.pyz");
    assert!(bundle.is_file(), "{}", describe(&out));
    let out = run_ok(ctx.bundle(&bundle).arg("hello"));
    assert!(
        stdout(&out).contains("puredep version: 1.2.0"),
        "{}",
        describe(&out)
    );
}

#[test]
fn pyproject_flag_overrides_key() {
    let ctx = TestContext::new();
    let proj = config_only_project(&ctx, "");
    // From the parent directory: the key's path is relative to the pyproject.toml, the flag's to
    // the working directory, and the flag wins (output and entry point).
    let out = run_ok(ctx.pybundle().current_dir(ctx.work()).args([
        "./proj",
        "-o",
        "other.pyz",
        "-m",
        "myapp",
    ]));
    assert!(ctx.work().join("other.pyz").is_file(), "{}", describe(&out));
    assert!(!proj.join("app.pyz").exists(), "{}", describe(&out));
    let info = run_ok(
        ctx.pybundle()
            .args(["info", "--json"])
            .arg(ctx.work().join("other.pyz")),
    );
    let manifest: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(manifest["entry"]["kind"], "module", "{}", stdout(&info));
    assert_eq!(manifest["entry"]["module"], "myapp", "{}", stdout(&info));
}

#[test]
fn pyproject_unknown_key_fails() {
    let ctx = TestContext::new();
    let proj = config_only_project(&ctx, "entrypoint = \"myapp.main:main\"\n");
    let out = run(ctx.pybundle().current_dir(&proj).arg("."));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{}", describe(&out));
    assert!(
        err.contains("unknown field `entrypoint`"),
        "{}",
        describe(&out)
    );
    assert!(
        err.contains(&proj.join("pyproject.toml").display().to_string()),
        "{}",
        describe(&out)
    );
    assert!(err.contains("\nhint: "), "{}", describe(&out));
    assert!(!proj.join("app.pyz").exists());
}

#[test]
fn config_flag_reads_any_file() {
    let ctx = TestContext::new();
    let proj = config_only_project(&ctx, "");
    std::fs::rename(proj.join("pyproject.toml"), proj.join("bundle.toml")).unwrap();
    let out = run_ok(
        ctx.pybundle()
            .current_dir(ctx.work())
            .args(["--config", "proj/bundle.toml"]),
    );
    assert!(proj.join("app.pyz").is_file(), "{}", describe(&out));
}
