//! Tests for the flat layout at any size: a bundle of more than 65,535 files is a plain zip of a
//! handful of members (the site store holds the files) that `zipfile` and the `zip` crate read
//! alike, an extracted distribution of that size gets a readable Zip64 inner archive, and the
//! bundle starts on every installed CPython.

use std::path::{Path, PathBuf};

use crate::common::{TestContext, describe, python, python311, run_ok, stdout};

/// More than a classic zip end record counts.
const FILES: usize = 70_000;

/// Writes a `--site-packages` tree of [`FILES`] one-line data files plus a small package with an
/// entry point, and returns it.
fn many_files_tree(ctx: &TestContext) -> PathBuf {
    let site = ctx.root().join("site");
    let data = site.join("bulk/data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(site.join("bulk/__init__.py"), "").unwrap();
    for i in 0..FILES {
        std::fs::write(data.join(format!("f{i:05}.txt")), format!("{i}\n")).unwrap();
    }
    std::fs::write(
        site.join("bulk/main.py"),
        "import pkgutil, sys\n\ndef main():\n    last = pkgutil.get_data('bulk', 'data/f69999.txt')\n    print('ok', last.decode().strip(), sys.version_info[:2])\n",
    )
    .unwrap();
    site
}

/// Builds `site` for CPython 3.11 with `flags` into `<work>/<name>`. Stored (level 0): the
/// test is about counts, and a debug build deflates 70,000 files slowly.
fn build(ctx: &TestContext, site: &Path, flags: &[&str], name: &str) -> PathBuf {
    let out = ctx.work().join(name);
    run_ok(
        ctx.pybundle()
            .arg("--site-packages")
            .arg(site)
            .args(["-e", "bulk.main:main", "--compress-level", "0", "-o"])
            .arg(&out)
            .arg("--python")
            .arg(python311())
            .args(flags),
    );
    out
}

/// Returns the member names the `zip` crate lists, in central-directory order.
fn zip_crate_names(bundle: &Path) -> Vec<String> {
    let file = std::fs::File::open(bundle).unwrap();
    let archive = zip::ZipArchive::new(file).unwrap();
    archive
        .file_names()
        .map(|n| n.unwrap().to_string())
        .collect()
}

/// Returns the member names Python's `zipfile` lists, after checking every member's CRC
/// (`testzip()`, what `unzip -t` does).
fn zipfile_names(bundle: &Path) -> Vec<String> {
    let out = run_ok(std::process::Command::new(python311()).arg("-c").arg(
        "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None, z.testzip()\nprint('\\n'.join(z.namelist()))\n",
    ).arg(bundle));
    stdout(&out).lines().map(str::to_string).collect()
}

#[test]
fn more_than_65535_files_are_a_plain_zip_of_a_few_members() {
    let ctx = TestContext::new();
    let site = many_files_tree(&ctx);
    let bundle = build(&ctx, &site, &[], "many.pyz");
    let names = zip_crate_names(&bundle);
    assert_eq!(names, zipfile_names(&bundle));
    assert!(names.len() < 100, "{} outer members", names.len());
    for member in ["__main__.py", "_pybundle/site.data", "_pybundle/site.index"] {
        assert!(names.iter().any(|n| n == member), "{member}: {names:?}");
    }
    // The files are in the store, under their paths, and all check out.
    let mut opened = pybundle::bundle::Bundle::open(&bundle).unwrap();
    assert!(opened.manifest.members.len() > FILES);
    let store = opened.store().unwrap().expect("a site store");
    assert!(store.lookup("bulk/data/f69999.txt").unwrap().is_some());
    assert!(store.lookup("bulk/data").unwrap().unwrap().is_dir);
    assert!(opened.verify().is_empty());
}

#[test]
fn an_extracted_distribution_of_more_than_65535_files_gets_a_zip64_inner_archive() {
    let ctx = TestContext::new();
    let site = many_files_tree(&ctx);
    let bundle = build(&ctx, &site, &["--extract-all"], "many-x.pyz");
    assert_eq!(zip_crate_names(&bundle), zipfile_names(&bundle));
    let mut opened = pybundle::bundle::Bundle::open(&bundle).unwrap();
    let key = opened.manifest.distributions[0]
        .key
        .clone()
        .expect("an extracted distribution");
    let inner = opened.inner(&key).unwrap().expect("its inner archive");
    assert!(inner.len() > FILES, "{} members", inner.len());
    assert!(opened.verify().is_empty());
    // The store is still there, empty: the run time has one code path.
    let store = opened.store().unwrap().expect("a site store");
    assert_eq!(store.len(), 1);
    assert!(store.is_empty());
}

/// Needs the run-time importer of the site store (`_pybundle/_importer.py`): the bundle's code
/// is only in the store.
#[test]
fn more_than_65535_files_start_on_every_python() {
    let ctx = TestContext::new();
    let site = many_files_tree(&ctx);
    let bundle = build(&ctx, &site, &[], "many.pyz");
    let mut ran = 0;
    for minor in 8..=13 {
        let Some(py) = python(minor) else { continue };
        let out = run_ok(&mut ctx.bundle_with(&py, &bundle));
        assert_eq!(
            stdout(&out).trim(),
            format!("ok 69999 (3, {minor})"),
            "3.{minor}\n{}",
            describe(&out)
        );
        ran += 1;
    }
    assert!(
        ran >= 2 || !crate::common::require_tools(),
        "needs CPython 3.8–3.13"
    );
}
