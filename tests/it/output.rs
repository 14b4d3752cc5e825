//! Tests for the output file: `-o` placeholders, created directories, `--checksum`, and
//! `--version`. See: #12

use std::path::Path;
use std::process::Command;

use crate::common::{TestContext, describe, python311, run, run_ok, shebang};

/// Returns the work directory's entries, recursively, as sorted relative paths.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(dir).unwrap().display().to_string());
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A build of the fixture app (offline, CPython 3.11) run from the work directory, with `-o`
/// given by the caller in `args`.
fn build_cmd(ctx: &TestContext, wheels: &Path, args: &[&str]) -> Command {
    let python = python311();
    let mut cmd = ctx.pybundle();
    cmd.args(args)
        .arg("--python")
        .arg(&python)
        .arg("-p")
        .arg(shebang(&python))
        .arg("--no-index")
        .arg("--find-links")
        .arg(wheels)
        .arg("myapp");
    cmd
}

#[test]
fn placeholders_name_the_bundle_and_checksum_verifies() {
    let ctx = TestContext::new();
    let wheels = ctx.fixture_wheels(&python311());
    let out = run_ok(&mut build_cmd(
        &ctx,
        &wheels,
        &[
            "-c",
            "myapp",
            "-o",
            "dist/{name}-{version}-{python}.pyz",
            "--checksum",
        ],
    ));
    let dist = ctx.work().join("dist");
    let bundle = dist.join("myapp-1.2.0-cp311.pyz");
    assert_eq!(
        tree(&ctx.work()),
        [
            "dist",
            "dist/myapp-1.2.0-cp311.pyz",
            "dist/myapp-1.2.0-cp311.pyz.sha256"
        ],
        "{}",
        describe(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("built {} (", bundle.display())),
        "{err}"
    );
    let check = run(Command::new("sha256sum")
        .args(["-c", "myapp-1.2.0-cp311.pyz.sha256"])
        .current_dir(&dist));
    assert!(check.status.success(), "{}", describe(&check));
    assert_eq!(
        String::from_utf8_lossy(&check.stdout),
        "myapp-1.2.0-cp311.pyz: OK\n"
    );
    let text = std::fs::read_to_string(dist.join("myapp-1.2.0-cp311.pyz.sha256")).unwrap();
    assert!(
        text.ends_with("  myapp-1.2.0-cp311.pyz\n") && text.len() == 64 + 2 + 21 + 1,
        "{text:?}"
    );
    let run_out = run_ok(ctx.bundle(&bundle).arg("hi"));
    assert!(String::from_utf8_lossy(&run_out.stdout).contains("argv: ['hi']"));

    // The rest, in directories: {platform} (native code: the interpreter's), {date} from
    // SOURCE_DATE_EPOCH, {build_id} as `info` reports it.
    let out = run_ok(
        build_cmd(
            &ctx,
            &wheels,
            &[
                "-e",
                "myapp.main:main",
                "-o",
                "out/{platform}/{date}-{build_id}.pyz",
            ],
        )
        .env("SOURCE_DATE_EPOCH", "1796083200"),
    );
    let platform = tree(&ctx.work().join("out"));
    assert_eq!(platform.len(), 2, "{platform:?}\n{}", describe(&out));
    assert!(platform[0].starts_with("linux_"), "{platform:?}");
    let bundle = ctx.work().join("out").join(&platform[1]);
    let info = run_ok(ctx.pybundle().arg("info").arg("--json").arg(&bundle));
    let json: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let id = json["build_id"].as_str().unwrap();
    assert_eq!(
        bundle.file_name().unwrap().to_string_lossy(),
        format!("20261201-{}.pyz", &id[..12])
    );
    run_ok(&mut ctx.bundle(&bundle));
}

#[test]
fn unknown_placeholder_fails_before_resolving() {
    let ctx = TestContext::new();
    let out = run(ctx.pybundle().args([
        "-o",
        "dist/{name}-{vesion}.pyz",
        "-c",
        "myapp",
        "--no-index",
        "no-such-package-pybundle-test",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: unknown placeholder `{vesion}` in the output `"),
        "{err}"
    );
    assert!(
        err.contains("hint: the placeholders are {name}, {version}"),
        "{err}"
    );
    assert!(!err.contains("pip"), "pip ran before the check\n{err}");
    assert!(tree(&ctx.work()).is_empty(), "{:?}", tree(&ctx.work()));
}

#[test]
fn name_without_entry_point_or_project_fails_before_resolving() {
    let ctx = TestContext::new();
    let out = run(ctx.pybundle().args([
        "-o",
        "dist/{name}.pyz",
        "--no-index",
        "no-such-package-pybundle-test",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("uses `{name}`, but the bundle has no entry point and no local project directory is bundled"),
        "{err}"
    );
    assert!(err.contains("hint: pass the entry point"), "{err}");
    assert!(tree(&ctx.work()).is_empty());
}

#[test]
fn unwritable_output_directory_with_placeholders() {
    let ctx = TestContext::new();
    // /proc takes no new directories or files, even for root.
    let out = run(ctx.pybundle().args([
        "-o",
        "/proc/pybundle-test/{name}-{version}.pyz",
        "-c",
        "myapp",
        "--no-index",
        "no-such-package-pybundle-test",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot write into `/proc`"), "{err}");
    assert!(!err.contains("pip"), "pip ran before the check\n{err}");
}

#[test]
fn failed_build_leaves_no_directory_behind() {
    let ctx = TestContext::new();
    let wheels = ctx.fixture_wheels(&python311());
    let out = run(&mut build_cmd(
        &ctx,
        &wheels,
        &[
            "-e",
            "myapp.main:nosuch",
            "-o",
            "dist/{version}/{name}.pyz",
            "--checksum",
        ],
    ));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(tree(&ctx.work()).is_empty(), "{:?}", tree(&ctx.work()));
}

#[test]
fn version_flag_prints_the_version() {
    let ctx = TestContext::new();
    let out = run_ok(ctx.pybundle().arg("--version"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("pybundle {}\n", env!("CARGO_PKG_VERSION"))
    );
}
