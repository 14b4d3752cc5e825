//! Tests for the command line itself: the help texts (snapshots), shell completions, and what a
//! build prints (stage lines and the summary, nothing under `-q`).

use crate::common::wheel_builder::WheelBuilder;
use crate::common::{TestContext, describe, python311, run_ok, stderr, stdout};

#[test]
fn help_texts() {
    let ctx = TestContext::new();
    let out = run_ok(ctx.pybundle().arg("--help"));
    insta::assert_snapshot!("help", stdout(&out));
    for sub in ["info", "verify", "extract", "cache", "diff", "lock"] {
        let out = run_ok(ctx.pybundle().args([sub, "--help"]));
        insta::assert_snapshot!(format!("help_{sub}"), stdout(&out));
    }
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
