//! Scripts as entries and multi-call bundles, with real packages: awscli's `aws` (a Python script
//! the wheel installs, not an entry point), ruff (a native program in the wheel's scripts), and
//! one `--multicall` bundle of flake8, black and isort run through three symlinks.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::describe;
use crate::harness::{Case, Slim};

#[test]
fn awscli_script_entry() {
    let Some(mut case) = Case::new(
        11,
        "awscli",
        "`-c aws` (a Python script of the wheel, not an entry point): `--version`",
    ) else {
        return;
    };
    let bundle = case.bundle("aws.pyz", &["-c", "aws", "awscli"]);
    let slim = case.slim(&bundle);
    let out = slim.run_ok(&["--version"]);
    assert!(
        out.starts_with("aws-cli/"),
        "`aws --version` printed {out:?}"
    );
}

#[test]
fn ruff_native_entry() {
    let Some(mut case) = Case::new(
        12,
        "ruff",
        "`-c ruff` (a native program of the wheel, exec'd from the cache): `check` on an unused import (exit 1)",
    ) else {
        return;
    };
    let bundle = case.bundle("ruff.pyz", &["-c", "ruff", "ruff"]);
    let slim = case.slim(&bundle);
    std::fs::write(slim.run.join("unused.py"), "import os\n").unwrap();
    let out = slim.run(&["check", "--no-cache", "unused.py"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("F401") && text.contains("`os` imported but unused"),
        "{}",
        describe(&out)
    );
    std::fs::write(slim.run.join("clean.py"), "print('ok')\n").unwrap();
    let out = slim.run(&["check", "--no-cache", "clean.py"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

/// Runs `name`, a symlink to the slim bundle, with `args` in the slim setting.
fn run_link(slim: &Slim, name: &str, args: &[&str]) -> Output {
    let link = slim.run.join(name);
    if !link.exists() {
        let target = slim.bundle.file_name().expect("bundle name");
        std::os::unix::fs::symlink(Path::new(target), &link).expect("symlink");
    }
    Command::new(&link)
        .args(args)
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", slim.bin.display()))
        .env("HOME", &slim.home)
        .env("LANG", "C.UTF-8")
        .current_dir(&slim.run)
        .output()
        .expect("run the link")
}

#[test]
fn multicall_flake8_black_isort() {
    let Some(mut case) = Case::new(
        13,
        "flake8 + black + isort",
        "`--multicall`, run through the symlinks `flake8`, `black`, `isort` on one file (exit 1 each); the bundle's own name lists them",
    ) else {
        return;
    };
    let bundle = case.bundle("lint.pyz", &["--multicall", "flake8", "black", "isort"]);
    let info = crate::common::run_ok(case.pybundle().arg("info").arg(&bundle));
    let info = String::from_utf8_lossy(&info.stdout);
    for name in ["black", "flake8", "isort"] {
        assert!(info.contains(&format!("\n  {name} ")), "{info}");
    }
    let slim = case.slim(&bundle);
    std::fs::write(
        slim.run.join("messy.py"),
        "import sys\nimport os\nx = {  'a':37}\n",
    )
    .unwrap();

    let out = run_link(&slim, "flake8", &["messy.py"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("F401 'sys' imported but unused"),
        "{}",
        describe(&out)
    );
    let out = run_link(&slim, "black", &["--check", "messy.py"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("would reformat"),
        "{}",
        describe(&out)
    );
    let out = run_link(&slim, "isort", &["--check-only", "messy.py"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Imports are incorrectly sorted"),
        "{}",
        describe(&out)
    );
    let listing = slim.run_ok(&[]);
    for name in ["black", "flake8", "isort"] {
        assert!(listing.contains(&format!("\n  {name}\n")), "{listing}");
    }
}
