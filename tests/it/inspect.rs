//! Tests for inspecting built bundles: `info` (text and `--json`), `verify` on a damaged copy,
//! the CycloneDX SBOM and `diff`.

use std::path::PathBuf;

use crate::common::wheel_builder::WheelBuilder;
use crate::common::{TestContext, describe, python311, run, run_ok, stderr, stdout};

#[test]
fn info_json_lists_distributions_and_entry() {
    let ctx = TestContext::new();
    let wheels = ctx.fixture_wheels(&python311());
    let bundle = ctx.build_app(&wheels, &["-c", "myapp"], "app.pyz");
    let out = run_ok(ctx.pybundle().arg("info").arg(&bundle).arg("--json"));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("info --json prints JSON");
    assert_eq!(json["entry"]["kind"], "function");
    assert_eq!(json["entry"]["module"], "myapp.main");
    assert_eq!(json["entry"]["attr"], "main");
    assert_eq!(json["entry"]["console_script"], "myapp");
    assert_eq!(json["python"]["version"], "3.11");
    assert_eq!(json["python"]["native"], true);
    let dists: Vec<(String, String, String)> = json["distributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_string(),
                d["version"].as_str().unwrap().to_string(),
                d["mode"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        dists.contains(&("spam".into(), "0.1.0".into(), "extract".into())),
        "{dists:?}"
    );
    assert!(
        dists.contains(&("puredep".into(), "1.2.0".into(), "zip".into())),
        "{dists:?}"
    );
    assert!(
        dists.iter().any(|d| d.0 == "myapp" && d.1 == "1.2.0"),
        "{dists:?}"
    );
    // The builder's version, so that an artifact can be traced to it.
    assert_eq!(json["pybundle_version"], env!("CARGO_PKG_VERSION"));
    let text = stdout(&run_ok(ctx.pybundle().arg("info").arg(&bundle)));
    assert!(
        text.contains(&format!(
            "built with:   pybundle {}\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    assert!(
        text.contains("entry point:  myapp.main:main (console script `myapp`)"),
        "{text}"
    );
    run_ok(ctx.pybundle().arg("verify").arg(&bundle));
}

#[test]
fn verify_names_a_modified_member() {
    let ctx = TestContext::new();
    let wheels = ctx.fixture_wheels(&python311());
    // Stored (level 0): the member's bytes appear as they are in the file.
    let good = ctx.build_app(
        &wheels,
        &["-e", "myapp.main:main", "--compress-level", "0"],
        "good.pyz",
    );
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

/// A flipped byte inside the site store's data (a deflated module) is caught by `verify`, which
/// names the file by its path in the distribution.
#[test]
fn verify_names_a_damaged_file_in_the_site_store() {
    let ctx = TestContext::new();
    let wheels = ctx.fixture_wheels(&python311());
    let good = ctx.build_app(&wheels, &["-e", "myapp.main:main"], "good.pyz");
    let (at, len) = {
        let mut bundle = pybundle::bundle::Bundle::open(&good).unwrap();
        let store = bundle
            .store()
            .unwrap()
            .expect("the bundle has a site store");
        let entry = store
            .lookup("myapp/main.py")
            .unwrap()
            .expect("myapp/main.py");
        assert!(entry.flags & pybundle::layout::store::FLAG_DEFLATED != 0);
        store.stored_range(&entry)
    };
    let mut bytes = std::fs::read(&good).unwrap();
    bytes[usize::try_from(at + len / 2).unwrap()] ^= 0x20;
    let bad = ctx.work().join("bad.pyz");
    std::fs::write(&bad, &bytes).unwrap();
    let out = run(ctx.pybundle().arg("verify").arg(&bad));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stdout(&out).starts_with("damaged: `myapp/main.py`: "),
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
    let bundle = ctx.build_app(&wheels, &["-e", "myapp.main:main"], "app.pyz");
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

/// `info` of a small pure bundle, as text: a snapshot (temp paths and hashes filtered).
#[test]
fn info_text() {
    let ctx = TestContext::new();
    let wheels = ctx.root().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    WheelBuilder::new("hello", "1.0")
        .file("hello/__init__.py", "def main():\n    print('hello')\n")
        .metadata("Requires-Python", ">=3.8")
        .build(&wheels);
    WheelBuilder::new("data-reader", "2.1")
        .file(
            "data_reader/__init__.py",
            "import os\nHERE = os.path.dirname(__file__)\n",
        )
        .build(&wheels);
    let python = python311();
    let out = ctx.work().join("hello.pyz");
    run_ok(
        ctx.pybundle()
            .arg("-o")
            .arg(&out)
            .args(["-e", "hello:main", "-p", "/usr/bin/env python3", "--python"])
            .arg(&python)
            .args(["--no-index", "--find-links"])
            .arg(&wheels)
            .args(["hello", "data-reader"]),
    );
    let text = stdout(&run_ok(ctx.pybundle().arg("info").arg(&out)));
    ctx.snapshot_settings()
        .bind(|| insta::assert_snapshot!("info", text));
}
