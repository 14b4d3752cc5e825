//! Tests for fitting the Python ecosystem: `[tool.pybundle]` in `pyproject.toml`, `verify` on a
//! damaged copy, the CycloneDX SBOM, `diff`, shell completions and the summary line.

use std::path::PathBuf;

use crate::common::wheel_builder::WheelBuilder;
use crate::common::{TestContext, describe, python311, run, run_ok, shebang};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

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

/// Builds the fixture app from `wheels` into `<work>/<out>` with extra `flags`.
fn build_app(ctx: &TestContext, wheels: &std::path::Path, out: &str, flags: &[&str]) -> PathBuf {
    let python = python311();
    let output = ctx.work().join(out);
    run_ok(
        ctx.pybundle()
            .arg("-o")
            .arg(&output)
            .args(["-e", "myapp.main:main", "--python"])
            .arg(&python)
            .arg("-p")
            .arg(shebang(&python))
            .args(["--no-index", "--find-links"])
            .arg(wheels)
            .args(flags)
            .arg("myapp"),
    );
    output
}

#[test]
fn verify_names_a_modified_member() {
    let ctx = TestContext::new();
    let wheels = ctx.fixture_wheels(&python311());
    // Stored (level 0): the member's bytes appear as they are in the file.
    let good = build_app(&ctx, &wheels, "good.pyz", &["--compress-level", "0"]);
    let out = run_ok(ctx.pybundle().arg("verify").arg(&good));
    assert!(stdout(&out).starts_with("ok: "), "{}", describe(&out));

    let needle = b"the app failed on purpose";
    let mut bytes = std::fs::read(&good).unwrap();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the source of myapp/main.py is stored in the bundle");
    bytes[at..at + needle.len()].copy_from_slice(b"THE APP FAILED ON PURPOSE");
    let bad = ctx.work().join("bad.pyz");
    std::fs::write(&bad, &bytes).unwrap();
    assert_eq!(bytes.len() as u64, std::fs::metadata(&good).unwrap().len());

    let out = run(ctx.pybundle().arg("verify").arg(&bad));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stdout(&out).starts_with("damaged: `myapp/main.py`"),
        "{}",
        describe(&out)
    );
}

/// Returns the CycloneDX 1.5 schema, compiled with its two referenced schemas from
/// `fixtures/cyclonedx/` (no network).
fn cyclonedx_schema() -> (boon::Schemas, boon::SchemaIndex) {
    let dir = crate::common::repo_root().join("fixtures/cyclonedx");
    let mut compiler = boon::Compiler::new();
    for name in [
        "bom-1.5.schema.json",
        "spdx.schema.json",
        "jsf-0.82.schema.json",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        compiler
            .add_resource(&format!("http://cyclonedx.org/schema/{name}"), value)
            .unwrap();
    }
    let mut schemas = boon::Schemas::new();
    let index = compiler
        .compile(
            "http://cyclonedx.org/schema/bom-1.5.schema.json",
            &mut schemas,
        )
        .unwrap();
    (schemas, index)
}

#[test]
fn sbom_validates_against_cyclonedx_schema() {
    let ctx = TestContext::new();
    let wheels = ctx.fixture_wheels(&python311());
    let bundle = build_app(&ctx, &wheels, "app.pyz", &[]);
    let out = run_ok(ctx.pybundle().args(["info", "--sbom"]).arg(&bundle));
    let sbom: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let (schemas, index) = cyclonedx_schema();
    if let Err(err) = schemas.validate(&sbom, index) {
        panic!("the SBOM does not validate: {err:#}\n{}", stdout(&out));
    }
    // The schema is strict enough to catch a wrong document (so this test can fail).
    let mut broken = sbom.clone();
    broken["components"][0]["hashes"][0]["content"] = "xyz".into();
    assert!(schemas.validate(&broken, index).is_err());

    let info = run_ok(ctx.pybundle().args(["info", "--json"]).arg(&bundle));
    let manifest: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let components = sbom["components"].as_array().unwrap();
    let names: Vec<&str> = components
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["myapp", "puredep", "spam"], "{}", stdout(&out));
    let puredep = &components[1];
    assert_eq!(puredep["version"], "1.2.0");
    assert_eq!(puredep["purl"], "pkg:pypi/puredep@1.2.0");
    assert_eq!(
        puredep["hashes"][0]["content"],
        manifest["distributions"][1]["sha256"]
    );
    assert_eq!(sbom["specVersion"], "1.5");
}

/// Builds a bundle of `puredep` at `version` (a hand-made wheel) into `<work>/<out>`.
fn build_puredep(ctx: &TestContext, version: &str, out: &str) -> PathBuf {
    let wheels = ctx.root().join(format!("wheels-{version}"));
    std::fs::create_dir_all(&wheels).unwrap();
    WheelBuilder::new("puredep", version)
        .file(
            "puredep/__init__.py",
            &format!("__version__ = {version:?}\n"),
        )
        .build(&wheels);
    let python = python311();
    let output = ctx.work().join(out);
    run_ok(
        ctx.pybundle()
            .arg("-o")
            .arg(&output)
            .arg("--python")
            .arg(&python)
            .args(["--no-index", "--find-links"])
            .arg(&wheels)
            .arg("puredep"),
    );
    output
}

#[test]
fn diff_names_changed_distribution() {
    let ctx = TestContext::new();
    let a = build_puredep(&ctx, "1.2.0", "a.pyz");
    let b = build_puredep(&ctx, "1.3.0", "b.pyz");
    let out = run(ctx.pybundle().arg("diff").arg(&a).arg(&b));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains("~ distribution puredep 1.2.0 -> 1.3.0"),
        "{}",
        describe(&out)
    );
    assert!(text.contains("~ build id: "), "{}", describe(&out));
    assert!(
        text.contains("~ puredep/__init__.py\n"),
        "{}",
        describe(&out)
    );
    assert!(
        text.contains("- puredep-1.2.0.dist-info/METADATA\n")
            && text.contains("+ puredep-1.3.0.dist-info/METADATA\n"),
        "{}",
        describe(&out)
    );

    // Same inputs and the same file name (it is recorded in tracebacks' paths): identical.
    std::fs::create_dir(ctx.work().join("again")).unwrap();
    let again = build_puredep(&ctx, "1.2.0", "again/a.pyz");
    let out = run_ok(ctx.pybundle().arg("diff").arg(&a).arg(&again));
    assert!(stdout(&out).starts_with("identical"), "{}", describe(&out));

    let out = run(ctx
        .pybundle()
        .arg("diff")
        .arg(&a)
        .arg(ctx.work().join("nope.pyz")));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr(&out).starts_with("error: "), "{}", describe(&out));
}

#[test]
fn completions_are_valid_bash() {
    let ctx = TestContext::new();
    let out = run_ok(ctx.pybundle().args(["completions", "bash"]));
    let script = stdout(&out);
    assert!(script.contains("--entry-point"), "{}", describe(&out));
    let file = ctx.work().join("pybundle.bash");
    std::fs::write(&file, &script).unwrap();
    run_ok(std::process::Command::new("bash").arg("-n").arg(&file));
    for shell in ["zsh", "fish"] {
        let out = run_ok(ctx.pybundle().args(["completions", shell]));
        assert!(stdout(&out).contains("entry-point"), "{}", describe(&out));
    }
}

#[test]
fn plain_stage_lines_then_summary_and_quiet() {
    let ctx = TestContext::new();
    let wheels = ctx.root().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    WheelBuilder::new("puredep", "1.0")
        .file("puredep/__init__.py", "")
        .build(&wheels);
    let build = |flags: &[&str]| {
        run_ok(
            ctx.pybundle()
                .args(["-o", "app.pyz", "--python"])
                .arg(python311())
                .args(["--no-index", "--find-links"])
                .arg(&wheels)
                .args(flags)
                .arg("puredep"),
        )
    };
    // Not a terminal: one plain line per stage, then the summary; no control characters.
    let out = build(&[]);
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 5, "{}", describe(&out));
    for (line, stage) in lines
        .iter()
        .zip(["resolve:", "install:", "compile:", "pack:"])
    {
        assert!(line.trim_start().starts_with(stage), "{}", describe(&out));
    }
    assert!(lines[0].contains("1 wheel,"), "{}", describe(&out));
    assert!(lines[4].starts_with("built "), "{}", describe(&out));
    assert!(lines[4].contains("build id "), "{}", describe(&out));
    assert!(
        !err.contains('\x1b') && !err.contains('\r'),
        "{}",
        describe(&out)
    );

    let out = build(&["-q"]);
    assert_eq!(stderr(&out), "", "{}", describe(&out));
}
