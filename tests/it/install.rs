//! Tests for the install stage against pip: the wheels `WheelBuilder` writes are ones pip
//! accepts, pybundle places their files where `pip install --target` does, and a tree pip
//! installed is described by `--site-packages` scanning as the same distributions.

use std::path::Path;
use std::process::Command;

use pybundle::install::{install_wheel, scan_site_packages};

use crate::common::python311;
use crate::common::wheel_builder::WheelBuilder;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn pip_target(wheel: &Path, target: &Path) {
    let out = Command::new(python311())
        .args([
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--no-compile",
            "-q",
        ])
        .arg("--target")
        .arg(target)
        .arg(wheel)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .output()
        .expect("run pip");
    assert!(
        out.status.success(),
        "pip failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn pip_accepts_builder_wheels_and_scan_matches() {
    let t = tmp();
    let whl = WheelBuilder::sample().build(t.path());
    let tool = WheelBuilder::new("tool", "2.0")
        .file("tool/__init__.py", "")
        .data("scripts", "tool-run", "#!python\nimport tool\n")
        .build(t.path());
    let site = t.path().join("site");
    pip_target(&whl, &site);
    pip_target(&tool, &site);
    // Things no RECORD claims, plus byte-code that must be ignored.
    std::fs::write(site.join("loose.py"), "L = 1\n").expect("write");
    std::fs::create_dir_all(site.join("loosepkg/__pycache__")).expect("mkdir");
    std::fs::write(site.join("loosepkg/__init__.py"), "").expect("write");
    std::fs::write(site.join("loosepkg/__pycache__/x.cpython-311.pyc"), "").expect("write");
    std::fs::write(site.join("foo_bar/stale.pyc"), "").expect("write");
    std::fs::write(site.join("bin/extra"), "").expect("write");

    let dists = scan_site_packages(&site).expect("scan");
    let names: Vec<&str> = dists.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["Foo.Bar", "tool", "site-packages"]);

    let foo = &dists[0];
    assert_eq!(foo.root, site);
    assert_eq!(foo.dist_info, "Foo_Bar-1.0.dist-info");
    assert!(foo.purelib);
    assert_eq!(foo.license.as_deref(), Some("MIT"));
    assert_eq!(foo.top_level, ["_speed", "foo_bar", "helper"]);
    assert!(foo.entry_points.console_script("foo").is_some());
    for f in [
        "foo_bar/__init__.py",
        "foo_bar/cli.py",
        "helper.py",
        "Foo_Bar-1.0.dist-info/RECORD",
        "Foo_Bar-1.0.dist-info/INSTALLER",
        "Foo_Bar-1.0.dist-info/METADATA",
    ] {
        assert!(
            foo.files.iter().any(|x| x == f),
            "{f} missing from {:?}",
            foo.files
        );
    }
    assert!(
        foo.files
            .iter()
            .all(|f| !f.ends_with(".pyc") && !f.starts_with("bin/")),
        "{:?}",
        foo.files
    );
    let mut sorted = foo.files.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, foo.files);

    let tool = &dists[1];
    assert_eq!(tool.top_level, ["tool"]);
    assert!(
        tool.files.iter().all(|f| !f.starts_with("bin/")),
        "{:?}",
        tool.files
    );

    let loose = &dists[2];
    assert_eq!(loose.version, "0");
    assert_eq!(loose.dist_info, "");
    assert_eq!(loose.files, ["loose.py", "loosepkg/__init__.py"]);
    assert_eq!(loose.top_level, ["loose", "loosepkg"]);

    // Our own install of the same wheel yields the same library files as pip's.
    let ours = install_wheel(&whl, &t.path().join("ours")).expect("install");
    let pip_lib: Vec<&String> = foo
        .files
        .iter()
        .filter(|f| !f.contains(".dist-info/"))
        .collect();
    let our_lib: Vec<&String> = ours
        .files
        .iter()
        .filter(|f| !f.contains(".dist-info/"))
        .collect();
    assert_eq!(pip_lib, our_lib);
}

#[test]
fn pip_places_data_like_we_do() {
    let t = tmp();
    let whl = WheelBuilder::new("tool", "2.0")
        .file("tool/__init__.py", "")
        .data("purelib", "tool_extra/__init__.py", "E = 1\n")
        .data("scripts", "tool-run", "#!/bin/sh\necho\n")
        .data("data", "share/tool/readme.txt", "doc\n")
        .build(t.path());
    let site = t.path().join("site");
    pip_target(&whl, &site);
    let ours = install_wheel(&whl, &t.path().join("ours")).expect("install");
    for f in ours.files.iter().filter(|f| !f.contains(".dist-info/")) {
        assert!(site.join(f).is_file(), "pip did not install {f}");
    }
}
