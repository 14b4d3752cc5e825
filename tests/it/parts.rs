//! Subpackages written on their first import: a distribution extracted whole for its native
//! code writes, on a first start, everything but the subpackages that nothing outside them
//! reaches by path; each is written into the same entry when it is first imported, listed by
//! `pkgutil` before that, checked like the rest of the entry, and laid out by `pybundle extract`
//! exactly as the start writes it.

use std::path::{Path, PathBuf};

use crate::common::wheel_builder::WheelBuilder;
use crate::common::{TestContext, python311, run_ok, stdout};

const APP: &str = r#"import importlib, os, sys

def main():
    import parted
    print("value=%d" % parted.core.VALUE)
    for name in sys.argv[1:]:
        if name == "list":
            import pkgutil
            print("listed=%s" % sorted(m.name for m in pkgutil.iter_modules(parted.__path__)))
        else:
            module = importlib.import_module("parted." + name)
            print("%s=%s %s" % (name, module.NAME, module.__file__))
"#;

/// Builds `parted` (native: a shared library in its top-level package; subpackages `fast`,
/// with a path use of its own, `slow`, with a native file, and `reached`, whose file `core`
/// turns into a path) and the app.
fn build(ctx: &TestContext) -> PathBuf {
    let wheels = ctx.root().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    WheelBuilder::new("parted", "1.0")
        .file("parted/__init__.py", "from . import core\n")
        .file(
            "parted/core.py",
            "import os\nimport parted.reached as r\nVALUE = 7\n\ndef where():\n    return os.path.dirname(r.__file__)\n",
        )
        .file("parted/libparted.so", "not loaded\n")
        .file("parted/fast/__init__.py", "import os\nNAME = 'fast'\nHERE = os.path.dirname(__file__)\n")
        .file("parted/fast/data.txt", "fast data\n")
        .file("parted/slow/__init__.py", "NAME = 'slow'\n")
        .file("parted/slow/_native.so", "not loaded either\n")
        .file("parted/reached/__init__.py", "NAME = 'reached'\n")
        .build(&wheels);
    WheelBuilder::new("partapp", "0.1")
        .file("partapp/__init__.py", APP)
        .metadata("Requires-Dist", "parted")
        .build(&wheels);
    ctx.build_offline(
        &python311(),
        &wheels,
        &["-e", "partapp:main"],
        &["partapp"],
        "parts.pyz",
    )
}

fn run(ctx: &TestContext, bundle: &Path, args: &[&str]) -> (String, String) {
    let out = run_ok(ctx.bundle(bundle).args(args));
    (
        stdout(&out),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The files written under the entry of `parted` in `root`, relative to it.
fn written(root: &Path) -> Vec<String> {
    crate::units::entry_tree(root)
        .into_keys()
        .filter(|k| k.starts_with("parted-1.0-"))
        .map(|k| {
            k.split_once('/')
                .map_or(String::new(), |(_, rest)| rest.to_string())
        })
        .collect()
}

#[test]
fn subpackages_nothing_reaches_are_written_on_their_first_import() {
    let ctx = TestContext::new();
    let bundle = build(&ctx);
    let info = stdout(&run_ok(ctx.pybundle().arg("info").arg(&bundle)));
    assert!(
        info.contains("subpackages written to the cache on their first import (")
            && info.contains("): parted/fast, parted/slow\n"),
        "{info}"
    );
    let root = ctx.bundle_root();
    let (out, _) = run(&ctx, &bundle, &["list"]);
    assert!(out.contains("value=7"), "{out}");
    assert!(
        out.contains("listed=['core', 'fast', 'libparted', 'reached', 'slow']"),
        "pkgutil lists the subpackages not written yet: {out}"
    );
    let first = written(&root);
    assert!(
        first.contains(&"site-packages/parted/core.py".to_string())
            && first.contains(&"site-packages/parted/reached/__init__.py".to_string())
            && first.contains(&"site-packages/parted/libparted.so".to_string()),
        "{first:?}"
    );
    assert!(
        !first
            .iter()
            .any(|f| f.contains("parted/fast") || f.contains("parted/slow")),
        "{first:?}"
    );

    let (out, _) = run(&ctx, &bundle, &["fast"]);
    let entry = format!("{}/v1/dists/parted-1.0-", root.display());
    assert!(
        out.contains("fast=fast ")
            && out.contains(&entry)
            && out.contains("/site-packages/parted/fast/__init__.py"),
        "{out}"
    );
    let now = written(&root);
    assert!(
        now.contains(&"site-packages/parted/fast/data.txt".to_string())
            && now.contains(&".pybundle-parts/parted.fast.list".to_string())
            && !now.iter().any(|f| f.contains("parted/slow")),
        "{now:?}"
    );

    let (out, _) = run(&ctx, &bundle, &["slow"]);
    assert!(out.contains("slow=slow "), "{out}");
    let seeded = crate::units::seed(&ctx, &bundle);
    let (ours, boot) = (
        crate::units::entry_tree(&seeded),
        crate::units::entry_tree(&root),
    );
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        boot.keys().collect::<Vec<_>>(),
        "`pybundle extract` writes what a start writes once every subpackage is imported"
    );
    for (path, (bytes, mode)) in &ours {
        assert!(bytes == &boot[path].0, "`{path}`: different bytes");
        assert_eq!(mode, &boot[path].1, "`{path}`: different permissions");
    }

    // A native file of a written subpackage gone (a tmp cleaner): written anew, with a warning.
    let native = walkdir::WalkDir::new(root.join("v1/dists"))
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .find(|p| p.ends_with("parted/slow/_native.so"))
        .expect("written");
    std::fs::remove_file(&native).unwrap();
    let (out, err) = run(&ctx, &bundle, &["slow"]);
    assert!(out.contains("slow=slow "), "{out}");
    assert!(
        err.contains("parted/slow is damaged (missing file: parted/slow/_native.so); repairing it"),
        "{err}"
    );
    assert!(native.is_file());
    // Another file of it damaged: the full check finds it through the subpackage's listing.
    std::fs::write(native.with_file_name("__init__.py"), "NAME = 'changed'\n").unwrap();
    let out = run_ok(ctx.bundle(&bundle).arg("slow").env("PYBUNDLE_VERIFY", "1"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "is damaged (wrong size: site-packages/parted/slow/__init__.py); repairing it"
        ),
        "{err}"
    );
    assert!(stdout(&out).contains("slow=slow "), "{}", stdout(&out));
}

/// A read-only root that lacks a subpackage (a copy of a cache a start filled) is passed over:
/// the writable root serves the entry. One `pybundle extract` filled is used as it is.
#[test]
fn a_read_only_root_is_used_only_with_every_subpackage() {
    let ctx = TestContext::new();
    let bundle = build(&ctx);
    let partial = ctx.root().join("partial");
    run_ok(ctx.bundle(&bundle).env("PYBUNDLE_ROOT", &partial));
    let out = run_ok(
        ctx.bundle(&bundle)
            .arg("slow")
            .env("PYBUNDLE_ROOTS", &partial)
            .env("PYBUNDLE_VERBOSE", "1"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("cache hit parted"), "{err}");
    assert!(
        written(&ctx.bundle_root()).contains(&"site-packages/parted/slow/__init__.py".to_string())
    );
    let seeded = crate::units::seed(&ctx, &bundle);
    let fresh = ctx.root().join("fresh");
    let out = run_ok(
        ctx.bundle(&bundle)
            .arg("slow")
            .env("PYBUNDLE_ROOTS", &seeded)
            .env("PYBUNDLE_ROOT", &fresh)
            .env("PYBUNDLE_VERBOSE", "1"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cache hit parted-1.0-"), "{err}");
    assert!(!fresh.join("v1/dists").exists(), "nothing written");
}
