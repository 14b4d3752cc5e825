//! Compatibility of zip-imported and extracted distributions: the automatic zip-safety decision
//! and its reasons in `pybundle info`, the `--extract`/`--zip-safe`/`--extract-all` overrides,
//! namespace packages (PEP 420, pkgutil-style, legacy `-nspkg.pth`) spanning the zip and the
//! cache, and warm starts importing zip-safe code from the bundle itself.

use std::path::{Path, PathBuf};

use crate::common::wheel_builder::WheelBuilder;
use crate::common::{TestContext, describe, python, python311, run, run_ok, shebang, stdout};

/// Writes the wheels of the zip-safety fixtures into `<root>/wheels` and returns that directory.
fn safety_wheels(ctx: &TestContext) -> PathBuf {
    let dir = ctx.root().join("wheels");
    std::fs::create_dir_all(&dir).unwrap();
    WheelBuilder::new("pureone", "1.0")
        .file("pureone/__init__.py", "def hello():\n    return 'pure'\n")
        .file("pureone/py.typed", "")
        .build(&dir);
    WheelBuilder::new("pathy", "1.0")
        .file(
            "pathy/__init__.py",
            "import os\nHERE = os.path.dirname(__file__)\n\ndef conf():\n    with open(os.path.join(HERE, 'conf.cfg')) as f:\n        return f.read().strip()\n",
        )
        .file("pathy/conf.cfg", "pathy-conf")
        .build(&dir);
    WheelBuilder::new("datay", "1.0")
        // Finds its data through `__spec__.origin`, which no path-use pattern covers: the data
        // file rule keeps it extracted (data that no code of its own can locate stays zipped).
        .file(
            "datay/__init__.py",
            "import os\nORIGIN = __spec__.origin\n\ndef cert():\n    return os.path.join(os.path.dirname(ORIGIN), 'cert.pem')\n",
        )
        .file("datay/cert.pem", "-----BEGIN CERTIFICATE-----\n")
        .build(&dir);
    WheelBuilder::new("readery", "1.0")
        .file(
            "readery/__init__.py",
            "import pkgutil\n\ndef data():\n    return pkgutil.get_data(__name__, 'table.json').decode().strip()\n",
        )
        .file("readery/table.json", "{\"ok\": 1}")
        .build(&dir);
    WheelBuilder::new("nativey", "1.0")
        .file("nativey/__init__.py", "")
        .binary("nativey/_speed.cpython-311-x86_64-linux-gnu.so", b"\x7fELF")
        .build(&dir);
    let flagged = WheelBuilder::new("flagged", "1.0");
    let flag = format!("{}/not-zip-safe", flagged.dist_info());
    flagged
        .file("flagged/__init__.py", "")
        .file(&flag, "\n")
        .build(&dir);
    dir
}

/// Builds an interpreter-mode bundle of `reqs` from `wheels` for `py` with `extra` flags.
fn build(ctx: &TestContext, py: &Path, wheels: &Path, reqs: &[&str], extra: &[&str]) -> PathBuf {
    ctx.build_offline(py, wheels, extra, reqs, "app.pyz")
}

/// Returns the `info` line of distribution `name`.
fn info_line(ctx: &TestContext, bundle: &Path, name: &str) -> String {
    let out = run_ok(ctx.pybundle().arg("info").arg(bundle));
    stdout(&out)
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no line for {name}\n{}", describe(&out)))
        .to_string()
}

const SAFETY_DISTS: &[&str] = &["pureone", "pathy", "datay", "readery", "flagged"];

#[test]
fn info_shows_zip_or_extract_and_why() {
    let ctx = TestContext::new();
    let py = python311();
    let wheels = safety_wheels(&ctx);
    let bundle = build(&ctx, &py, &wheels, SAFETY_DISTS, &[]);
    let expect = [
        (
            "pureone",
            "zip",
            "pure Python, no file-system use of its own files",
        ),
        (
            "pathy",
            "extract",
            "uses `dirname(__file__)` for paths (pathy/__init__.py:2)",
        ),
        (
            "datay",
            "extract",
            "data files next to modules and no loader-based reader (`datay/cert.pem`)",
        ),
        ("readery", "zip", "pure Python"),
        (
            "flagged",
            "extract",
            "declares not zip-safe (`flagged-1.0.dist-info/not-zip-safe`)",
        ),
    ];
    for (name, mode, reason) in expect {
        let line = info_line(&ctx, &bundle, name);
        assert!(
            line.contains(&format!(" {mode} ")) && line.contains(reason),
            "{name}: expected {mode} ({reason}), got: {line}"
        );
    }
    // Each kind works from where it was put.
    let out = run_ok(ctx.bundle(&bundle).args([
        "-c",
        "import pathy, readery, pureone; print(pathy.conf(), readery.data(), pureone.hello())",
    ]));
    assert_eq!(
        stdout(&out).trim(),
        "pathy-conf {\"ok\": 1} pure",
        "{}",
        describe(&out)
    );
}

#[test]
fn overrides_flip_the_decision() {
    let ctx = TestContext::new();
    let py = python311();
    let wheels = safety_wheels(&ctx);
    let output = ctx.work().join("app.pyz");
    let out = run_ok(
        ctx.pybundle()
            .arg("-o")
            .arg(&output)
            .arg("--python")
            .arg(&py)
            .arg("-p")
            .arg(shebang(&py))
            .args(["--no-index", "--find-links"])
            .arg(&wheels)
            .args([
                "--extract",
                "PureOne",
                "--zip-safe",
                "datay",
                "--zip-safe",
                "nativey",
            ])
            .args(SAFETY_DISTS)
            .arg("nativey"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: `--zip-safe nativey` is ignored: `nativey` holds native code"),
        "{}",
        describe(&out)
    );
    let bundle = output;
    let line = info_line(&ctx, &bundle, "nativey");
    assert!(
        line.contains(" extract ") && line.contains("native code"),
        "{line}"
    );
    let line = info_line(&ctx, &bundle, "pureone");
    assert!(
        line.contains(" extract ") && line.contains("--extract"),
        "{line}"
    );
    let line = info_line(&ctx, &bundle, "datay");
    assert!(
        line.contains(" zip ") && line.contains("--zip-safe"),
        "{line}"
    );
    let out = run_ok(
        ctx.bundle(&bundle)
            .args(["-c", "import pureone; print(pureone.__file__)"]),
    );
    assert!(
        stdout(&out).starts_with(&*ctx.bundle_root().to_string_lossy()),
        "{}",
        describe(&out)
    );

    let bundle = build(
        &ctx,
        &py,
        &wheels,
        &["pureone", "readery"],
        &["--extract-all"],
    );
    for name in ["pureone", "readery"] {
        let line = info_line(&ctx, &bundle, name);
        assert!(
            line.contains(" extract ") && line.contains("--extract-all"),
            "{line}"
        );
    }
}

#[test]
fn unknown_override_names_are_an_error() {
    let ctx = TestContext::new();
    let py = python311();
    let wheels = safety_wheels(&ctx);
    let output = ctx.work().join("bad.pyz");
    let out = run(ctx
        .pybundle()
        .arg("-o")
        .arg(&output)
        .arg("--python")
        .arg(&py)
        .args(["--no-index", "--find-links"])
        .arg(&wheels)
        .args([
            "--extract",
            "pureone",
            "--extract",
            "no_such.dist",
            "pureone",
        ]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--extract names distributions that are not in the bundle: `no-such-dist`"),
        "{}",
        describe(&out)
    );
    assert!(!output.exists());
}

#[test]
fn warm_start_imports_a_pure_package_from_the_zip() {
    let ctx = TestContext::new();
    let py = python311();
    let wheels = safety_wheels(&ctx);
    let bundle = build(&ctx, &py, &wheels, &["pureone"], &[]);
    for _ in 0..2 {
        let out = run_ok(
            ctx.bundle(&bundle)
                .env("PYBUNDLE_VERBOSE", "1")
                .args(["-c", "import pureone; print(pureone.__file__)"]),
        );
        // zipimport before 3.13 reports the legacy `.pyc` it loaded as `__file__`.
        let expected = format!("{}/site-packages/pureone/__init__.py", bundle.display());
        let file = stdout(&out);
        assert!(
            file.trim() == expected || file.trim() == format!("{expected}c"),
            "{}",
            describe(&out)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("zip-safe distributions from the bundle; 0 extracted dir(s)"),
            "{}",
            describe(&out)
        );
        assert!(!err.contains("cold path"), "{}", describe(&out));
    }
    assert!(!ctx.bundle_root().join("v1").join("dists").exists());
}

/// The setuptools `-nspkg.pth` line for the namespace `ns`.
fn nspkg_line(ns: &str) -> String {
    format!(
        "import sys, types, os;has_mfs = sys.version_info > (3, 5);p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('{ns}',));importlib = has_mfs and __import__('importlib.util');has_mfs and __import__('importlib.machinery');m = has_mfs and sys.modules.setdefault('{ns}', importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec('{ns}', [os.path.dirname(p)])));m = m or sys.modules.setdefault('{ns}', types.ModuleType('{ns}'));mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)\n"
    )
}

/// Writes namespace fixtures: `nsp` (PEP 420, one portion zip-safe, one not), `pku`
/// (pkgutil-style) and `lgy` (legacy `-nspkg.pth`), two distributions each.
fn namespace_wheels(ctx: &TestContext) -> PathBuf {
    let dir = ctx.root().join("ns-wheels");
    std::fs::create_dir_all(&dir).unwrap();
    let path_use = "import os\nHERE = os.path.dirname(__file__)\n";
    WheelBuilder::new("nsp-zipped", "1.0")
        .file("nsp/zipped/__init__.py", "NAME = 'zipped'\n")
        .build(&dir);
    WheelBuilder::new("nsp-extracted", "1.0")
        .file("nsp/extracted/__init__.py", path_use)
        .build(&dir);
    let pkgutil_init = "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n";
    WheelBuilder::new("pku-one", "1.0")
        .file("pku/__init__.py", pkgutil_init)
        .file("pku/one.py", "NAME = 'one'\n")
        .build(&dir);
    WheelBuilder::new("pku-two", "1.0")
        .file("pku/__init__.py", pkgutil_init)
        .file("pku/two.py", path_use)
        .build(&dir);
    for part in ["left", "right"] {
        WheelBuilder::new(&format!("lgy-{part}"), "1.0")
            .file(
                &format!("lgy-{part}-1.0-py3.11-nspkg.pth"),
                &nspkg_line("lgy"),
            )
            .file(&format!("lgy/{part}/__init__.py"), "")
            .build(&dir);
    }
    dir
}

const IMPORT_ALL: &str = "import nsp.zipped, nsp.extracted, pku.one, pku.two, lgy.left, lgy.right\n\
for m in (nsp.zipped, nsp.extracted, pku.one, pku.two, lgy.left, lgy.right):\n    \
print(m.__name__, m.__file__)\n";

fn check_namespaces(py: &Path) {
    let ctx = TestContext::new();
    let wheels = namespace_wheels(&ctx);
    let dists = [
        "nsp-zipped",
        "nsp-extracted",
        "pku-one",
        "pku-two",
        "lgy-left",
        "lgy-right",
    ];
    let bundle = build(&ctx, py, &wheels, &dists, &[]);
    let line = info_line(&ctx, &bundle, "nsp-zipped");
    assert!(line.contains(" zip "), "{line}");
    let line = info_line(&ctx, &bundle, "nsp-extracted");
    assert!(line.contains(" extract "), "{line}");
    let line = info_line(&ctx, &bundle, "pku-one");
    assert!(
        line.contains(" extract ")
            && line.contains("shares the package `pku` with extracted `pku-two`"),
        "{line}"
    );
    for name in ["lgy-left", "lgy-right"] {
        let line = info_line(&ctx, &bundle, name);
        assert!(
            line.contains(" extract ") && line.contains("-nspkg.pth"),
            "{line}"
        );
    }
    for _ in 0..2 {
        let out = run_ok(ctx.bundle_with(py, &bundle).args(["-c", IMPORT_ALL]));
        let text = stdout(&out);
        let root = ctx.bundle_root().display().to_string();
        let zip = format!("{}/", bundle.display());
        let expect = [
            ("nsp.zipped ", zip.as_str()),
            ("nsp.extracted ", root.as_str()),
            ("pku.one ", root.as_str()),
            ("pku.two ", root.as_str()),
            ("lgy.left ", root.as_str()),
            ("lgy.right ", root.as_str()),
        ];
        for (module, prefix) in expect {
            assert!(
                text.lines()
                    .any(|l| l.starts_with(module) && l[module.len()..].starts_with(prefix)),
                "{module} not from {prefix}\n{}",
                describe(&out)
            );
        }
    }
}

#[test]
fn namespace_packages_span_zip_and_cache() {
    check_namespaces(&python311());
}

#[test]
fn namespace_packages_span_zip_and_cache_on_3_8() {
    match python(8) {
        Some(py) => check_namespaces(&py),
        None => assert!(
            !crate::common::require_tools(),
            "CPython 3.8 is required (PYBUNDLE_TEST_REQUIRE_TOOLS=1)"
        ),
    }
}
