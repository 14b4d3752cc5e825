//! Scripts as entries (`-c NAME` for a wheel's `.data/scripts/NAME`) and multi-call bundles
//! (`--multicall`): a Python script runs in the bundle's process with `runpy.run_path`
//! semantics, a native program and a `#!/bin/sh` script replace the bundle's process (same PID,
//! argv, stdin, environment, exit status), a shell wrapper's `python -m` runs the bundle's code
//! with the bundle's interpreter, an unknown NAME lists entry points and scripts separately, and
//! a multi-call bundle runs the command its link is named after.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::wheel_builder::WheelBuilder;
use crate::common::{TestContext, describe, python, python311, run, run_ok, which};

/// A Python script: prints what it sees, `boom` raises, a number is the exit status.
const PYSCRIPT: &str = r#"#!python
import sys

import scripted

print("argv0", sys.argv[0])
print("file", __file__)
print("name", __name__, __package__ == "", __spec__ is None)
print("main", sys.modules["__main__"].__dict__ is globals())
print("args", sys.argv[1:])
print(scripted.hello())
if sys.argv[1:] == ["boom"]:
    raise ValueError("boom from pyscript")
sys.exit(int(sys.argv[1]) if sys.argv[1:] and sys.argv[1].isdigit() else 0)
"#;

/// A shell script: its PID, arguments, one line of stdin, an environment variable, the ignored
/// signal mask; exit status 5.
const SHSCRIPT: &str = r#"#!/bin/sh
echo "pid $$"
echo "args $# $1|$2"
read line
echo "stdin $line"
echo "env $SCRIPTED_VAR"
grep SigIgn /proc/$$/status
exit 5
"#;

/// A wrapper that starts Python itself, with an interpreter option, like azure-cli's `az`.
const WRAPPED: &str = "#!/bin/sh\nexec python -u -m scripted.cli \"$@\"\n";

/// A Python script that starts Python again, like azure-cli's `az`.
const PYEXEC: &str = "#!python\nimport os, sys\nos.execl(sys.executable, sys.executable, '-m', 'scripted.cli', *sys.argv[1:])\n";

const CLI: &str = r#"import os, sys

import scripted

print("executable", sys.executable)
print("scripted", scripted.__file__)
print("args", sys.argv[1:])
print("unbuffered", sys.stdout.write_through)
print("shim var", os.environ.get("PYBUNDLE_PYTHON_SHIM"))
sys.exit(4)
"#;

/// Writes the fixture wheels plus `scripted` (a package with the scripts above) into the
/// context's wheelhouse and returns it.
fn wheels(ctx: &TestContext) -> PathBuf {
    let dir = ctx.fixture_wheels(&python311());
    WheelBuilder::new("scripted", "1.0.0")
        .file(
            "scripted/__init__.py",
            "def hello():\n    return 'hello from scripted'\n",
        )
        .file("scripted/cli.py", CLI)
        .data("scripts", "pyscript", PYSCRIPT)
        .data(
            "scripts",
            "plainsource",
            "import sys\nprint('plain', sys.argv[1:])\n",
        )
        .data("scripts", "shscript", SHSCRIPT)
        .data("scripts", "wrapped", WRAPPED)
        .data("scripts", "pyexec", PYEXEC)
        .data("scripts", "tool.bat", "@echo off\n")
        .build(&dir);
    dir
}

fn build(ctx: &TestContext, wheels: &Path, name: &str, flags: &[&str], reqs: &[&str]) -> PathBuf {
    let flags: Vec<&str> = std::iter::once("-q").chain(flags.iter().copied()).collect();
    ctx.build_offline(&python311(), wheels, &flags, reqs, name)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn info(ctx: &TestContext, bundle: &Path) -> String {
    stdout(&run_ok(ctx.pybundle().arg("info").arg(bundle)))
}

/// Runs `cmd` with `input` on stdin; returns its PID and output.
fn run_with_stdin(cmd: &mut Command, input: &str) -> (u32, Output) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the bundle");
    let pid = child.id();
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    (pid, child.wait_with_output().expect("wait for the bundle"))
}

#[test]
fn python_script_runs_as_main_with_run_path_semantics() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "py.pyz", &["-c", "pyscript"], &["scripted"]);
    let path = bundle.display().to_string();
    assert!(
        info(&ctx, &bundle).contains(
            "entry point:  script `pyscript` (`bin/pyscript`: Python, runs in the bundle's process)"
        ),
        "{}",
        info(&ctx, &bundle)
    );
    // The script is read from the zip: the interpreter running the bundle, whatever its version.
    for minor in [8, 11, 13] {
        let Some(py) = python(minor) else { continue };
        let out = run(ctx.bundle_with(&py, &bundle).args(["7", "x y"]));
        assert_eq!(out.status.code(), Some(7), "3.{minor}: {}", describe(&out));
        let text = stdout(&out);
        for line in [
            format!("argv0 {path}/bin/pyscript"),
            format!("file {path}/bin/pyscript"),
            "name __main__ True True".to_string(),
            "main True".to_string(),
            "args ['7', 'x y']".to_string(),
            "hello from scripted".to_string(),
        ] {
            assert!(
                text.contains(&line),
                "3.{minor}: `{line}`\n{}",
                describe(&out)
            );
        }
        let out = run(ctx.bundle_with(&py, &bundle).arg("boom"));
        assert_eq!(out.status.code(), Some(1), "3.{minor}: {}", describe(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "File \"{path}/bin/pyscript\", line 13, in <module>"
            )),
            "3.{minor}: {err}"
        );
        assert!(
            err.contains("    raise ValueError(\"boom from pyscript\")"),
            "3.{minor}: the source line is missing\n{err}"
        );
        assert!(
            err.trim_end().ends_with("ValueError: boom from pyscript"),
            "3.{minor}: {err}"
        );
    }
    // A script without `#!` is Python source too.
    let plain = build(&ctx, &w, "plain.pyz", &["-c", "plainsource"], &["scripted"]);
    let out = run_ok(ctx.bundle(&plain).arg("a"));
    assert_eq!(stdout(&out), "plain ['a']\n");
}

#[test]
fn python_script_of_an_extracted_distribution_runs_from_the_cache() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(
        &ctx,
        &w,
        "py.pyz",
        &["-c", "pyscript", "--extract", "scripted"],
        &["scripted"],
    );
    let out = run(ctx.bundle(&bundle).arg("boom"));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = stdout(&out);
    let root = ctx.bundle_root().display().to_string();
    let file = text
        .lines()
        .find_map(|l| l.strip_prefix("file "))
        .unwrap_or_else(|| panic!("{}", describe(&out)));
    assert!(
        file.starts_with(&format!("{root}/v1/dists/scripted-1.0.0-"))
            && file.ends_with("/bin/pyscript"),
        "{}",
        describe(&out)
    );
    assert!(
        text.contains(&format!("argv0 {file}\n")),
        "{}",
        describe(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!("File \"{file}\", line 13, in <module>"))
            && err.contains("    raise ValueError(\"boom from pyscript\")"),
        "{err}"
    );
}

#[test]
fn shell_script_replaces_the_process() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "sh.pyz", &["-c", "shscript"], &["scripted"]);
    let shown = info(&ctx, &bundle);
    assert!(
        shown.contains("entry point:  wrapper `shscript` (`extract/scripted-1.0.0-"),
        "{shown}"
    );
    assert!(
        shown.contains("extract  its script `shscript` is executed from the cache"),
        "{shown}"
    );
    let (pid, out) = run_with_stdin(
        ctx.bundle(&bundle)
            .args(["one", "two words"])
            .env("SCRIPTED_VAR", "from the caller"),
        "a line\n",
    );
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("pid {pid}\n")),
        "not exec'd in place: {}",
        describe(&out)
    );
    assert!(
        text.contains("args 2 one|two words\n"),
        "{}",
        describe(&out)
    );
    assert!(text.contains("stdin a line\n"), "{}", describe(&out));
    assert!(text.contains("env from the caller\n"), "{}", describe(&out));
    let mask = text
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .map(|m| u64::from_str_radix(m.trim(), 16).expect("hex mask"))
        .unwrap_or_else(|| panic!("{}", describe(&out)));
    for (name, signal) in [("SIGPIPE", 13), ("SIGXFSZ", 25)] {
        assert_eq!(
            mask & (1 << (signal - 1)),
            0,
            "{name} is still ignored: {mask:x}"
        );
    }
}

#[test]
fn native_executable_replaces_the_process() {
    let Some(gcc) = which("gcc") else {
        assert!(
            !crate::common::require_tools(),
            "required tool missing: gcc"
        );
        eprintln!("skipping: gcc not found");
        return;
    };
    let ctx = TestContext::new();
    let w = ctx.fixture_wheels(&python311());
    let source = ctx.root().join("hello.c");
    std::fs::write(
        &source,
        "#include <stdio.h>\n#include <unistd.h>\nint main(int argc, char **argv) {\n  printf(\"pid %d\\n\", (int)getpid());\n  for (int i = 0; i < argc; i++) printf(\"argv[%d]=%s\\n\", i, argv[i]);\n  return 3;\n}\n",
    )
    .unwrap();
    let exe = ctx.root().join("hello");
    run_ok(
        Command::new(gcc)
            .arg("-O1")
            .arg("-o")
            .arg(&exe)
            .arg(&source),
    );
    let builder = WheelBuilder::new("nativetool", "2.0").tag("py3-none-linux_x86_64");
    let path = format!("{}/scripts/hello", builder.data_dir());
    builder
        .binary(&path, &std::fs::read(&exe).unwrap())
        .build(&w);
    let bundle = build(&ctx, &w, "hello.pyz", &["-c", "hello"], &["nativetool"]);
    let shown = info(&ctx, &bundle);
    assert!(
        shown.contains("entry point:  executable `hello` (`extract/nativetool-2.0-"),
        "{shown}"
    );
    let (pid, out) = run_with_stdin(ctx.bundle(&bundle).args(["a", "b c"]), "");
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "pid {pid}\nargv[0]={}\nargv[1]=a\nargv[2]=b c\n",
            bundle.display()
        ),
        "{}",
        describe(&out)
    );
    // The program in the cache keeps its execute bit.
    let dists = ctx.bundle_root().join("v1/dists");
    let entry = std::fs::read_dir(&dists)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("nativetool-")
        })
        .expect("the distribution is extracted");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(entry.join("site-packages/bin/hello"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[test]
fn wrapper_runs_python_with_the_bundles_interpreter_and_code() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "wrap.pyz", &["-c", "wrapped"], &["scripted"]);
    // No Python on PATH besides the bundle's own `python`.
    let out = run(ctx
        .bundle(&bundle)
        .args(["x", "y z"])
        .env("PATH", "/usr/bin:/bin"));
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let text = stdout(&out);
    let py = python311();
    assert!(
        text.contains(&format!("executable {}\n", py.display())),
        "{}",
        describe(&out)
    );
    let root = ctx.bundle_root().display().to_string();
    assert!(
        text.contains(&format!("scripted {root}/v1/dists/scripted-1.0.0-")),
        "{}",
        describe(&out)
    );
    assert!(text.contains("args ['x', 'y z']\n"), "{}", describe(&out));
    assert!(
        text.contains("unbuffered True\n"),
        "-u was lost: {}",
        describe(&out)
    );
    assert!(text.contains("shim var None\n"), "{}", describe(&out));
    // The shims are written once, then reused.
    let shims: Vec<_> = std::fs::read_dir(ctx.bundle_root().join("v1/shims"))
        .unwrap()
        .collect();
    assert_eq!(shims.len(), 1);
    let again = run(ctx.bundle(&bundle).env("PATH", "/usr/bin:/bin"));
    assert_eq!(again.status.code(), Some(4), "{}", describe(&again));
}

#[test]
fn python_script_that_execs_sys_executable_runs_the_bundle() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "az.pyz", &["-c", "pyexec"], &["scripted"]);
    let out = run(ctx
        .bundle(&bundle)
        .args(["--version", "x"])
        .env("PATH", "/usr/bin:/bin"));
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("executable {}\n", python311().display())),
        "{}",
        describe(&out)
    );
    assert!(
        text.contains(&format!(
            "scripted {}/site-packages/scripted/__init__.py",
            bundle.display()
        )),
        "{}",
        describe(&out)
    );
    assert!(
        text.contains("args ['--version', 'x']\n"),
        "{}",
        describe(&out)
    );
}

#[test]
fn unknown_name_lists_entry_points_and_scripts() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let out = run(&mut ctx.build_offline_command(
        &python311(),
        &w,
        &["-c", "nosuch"],
        &["scripted", "myapp"],
        "x.pyz",
    ));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("caused by: `nosuch` is neither an entry point nor a script of the bundle (looked in the `console_scripts` and `gui_scripts` entry points and in the scripts installed into `bin/` by `myapp`, `puredep`, `scripted`, `spam`)"),
        "{err}"
    );
    assert!(
        err.contains("\n  entry points: myapp, myapp-tool\n"),
        "{err}"
    );
    assert!(
        err.contains("\n  scripts: plainsource, pyexec, pyscript, shscript, tool.bat, wrapped\n"),
        "{err}"
    );
    assert!(err.contains("hint: give -c one of these names"), "{err}");
    assert!(!ctx.work().join("x.pyz").exists());
    let leftovers: Vec<_> = std::fs::read_dir(ctx.work()).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn multicall_runs_the_command_its_link_is_named_after() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(
        &ctx,
        &w,
        "tools.pyz",
        &["--multicall"],
        &["scripted", "myapp"],
    );
    let shown = info(&ctx, &bundle);
    for line in [
        "commands:     7",
        "  myapp        myapp.main:main",
        "  myapp-tool   myapp.main:Tool.run",
        "  pyscript     script `extract/scripted-1.0.0-",
        "  shscript     wrapper `extract/scripted-1.0.0-",
    ] {
        assert!(shown.contains(line), "`{line}`\n{shown}");
    }
    assert!(!shown.contains("tool.bat"), "{shown}");
    let link = |name: &str| {
        let path = ctx.work().join(name);
        std::os::unix::fs::symlink("tools.pyz", &path).unwrap();
        path
    };
    let out = run(ctx.bundle(&link("myapp")).arg("exit3"));
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(
        stdout(&out).contains("argv: ['exit3']"),
        "{}",
        describe(&out)
    );
    let out = run(ctx.bundle(&link("pyscript")).arg("9"));
    assert_eq!(out.status.code(), Some(9), "{}", describe(&out));
    assert!(
        stdout(&out).contains("hello from scripted"),
        "{}",
        describe(&out)
    );
    let (pid, out) = run_with_stdin(&mut ctx.bundle(&link("shscript")), "in\n");
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    assert!(
        stdout(&out).contains(&format!("pid {pid}\n")),
        "{}",
        describe(&out)
    );
    // A copy works like a link.
    std::fs::copy(&bundle, ctx.work().join("myapp-tool")).unwrap();
    let out = run_ok(&mut ctx.bundle(&ctx.work().join("myapp-tool")));
    assert_eq!(stdout(&out), "Tool.run called\n");

    // Under its own name: the commands, exit 0; the first argument picks one; unknown is 127.
    let out = run_ok(&mut ctx.bundle(&bundle));
    assert_eq!(
        stdout(&out),
        "usage: tools.pyz COMMAND [ARG]...\n   or: COMMAND [ARG]...  (through a link or copy of tools.pyz named COMMAND)\ncommands:\n  myapp\n  myapp-tool\n  plainsource\n  pyexec\n  pyscript\n  shscript\n  wrapped\n"
    );
    let out = run_ok(ctx.bundle(&bundle).arg("--list"));
    assert_eq!(
        stdout(&out),
        "myapp\nmyapp-tool\nplainsource\npyexec\npyscript\nshscript\nwrapped\n"
    );
    let out = run(ctx.bundle(&bundle).args(["pyscript", "6"]));
    assert_eq!(out.status.code(), Some(6), "{}", describe(&out));
    assert!(stdout(&out).contains("argv0 "), "{}", describe(&out));
    let out = run(ctx.bundle(&bundle).arg("nosuch"));
    assert_eq!(out.status.code(), Some(127), "{}", describe(&out));
    assert!(
        stderr(&out).starts_with("tools.pyz: `nosuch` is not one of its commands\nusage: "),
        "{}",
        describe(&out)
    );
}

#[test]
fn multicall_with_a_default_entry_runs_it_under_its_own_name() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(
        &ctx,
        &w,
        "app.pyz",
        &["--multicall", "-c", "myapp"],
        &["scripted", "myapp"],
    );
    let out = run_ok(ctx.bundle(&bundle).arg("pyscript"));
    assert!(
        stdout(&out).contains("argv: ['pyscript']"),
        "{}",
        describe(&out)
    );
    let link = ctx.work().join("pyscript");
    std::os::unix::fs::symlink(&bundle, &link).unwrap();
    let out = run_ok(&mut ctx.bundle(&link));
    assert!(
        stdout(&out).contains("hello from scripted"),
        "{}",
        describe(&out)
    );
}

/// The scripts that commands execute are native files of their cache entry: a start through a
/// link checks them (the entry is mounted lazily here) and repairs an entry that lost one.
#[test]
fn multicall_command_lost_from_the_cache_is_repaired() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "tools.pyz", &["--multicall"], &["scripted"]);
    let link = ctx.work().join("shscript");
    std::os::unix::fs::symlink(&bundle, &link).unwrap();
    let (_, out) = run_with_stdin(&mut ctx.bundle(&link), "a\n");
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    let dists = ctx.bundle_root().join("v1/dists");
    let entry = std::fs::read_dir(&dists)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("scripted-")
        })
        .expect("the distribution is extracted");
    let script = entry.join("site-packages/bin/shscript");
    std::fs::remove_file(&script).unwrap();
    let (_, out) = run_with_stdin(&mut ctx.bundle(&link), "b\n");
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    assert!(stdout(&out).contains("stdin b\n"), "{}", describe(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "pybundle: warning: cache entry {} is damaged (missing file: bin/shscript); repairing it\n",
            entry.display()
        )
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&script).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755, "not repaired with its execute bit");
}

#[test]
fn scripts_of_a_site_packages_tree() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let tree = ctx.root().join("tree");
    let pip = run(Command::new(python311())
        .args([
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            "--target",
        ])
        .arg(&tree)
        .arg(w.join("scripted-1.0.0-py3-none-any.whl"))
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"));
    if !pip.status.success() {
        assert!(
            !crate::common::require_tools(),
            "pip install --target failed: {}",
            describe(&pip)
        );
        eprintln!("skipping: pip install --target failed");
        return;
    }
    assert!(tree.join("bin/pyscript").is_file());
    // A tree copied without modes: the executed script still gets its execute bit.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        tree.join("bin/shscript"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let tree_arg = tree.to_str().unwrap();
    let mut cmd = ctx.pybundle();
    cmd.args([
        "-q",
        "-o",
        "sp.pyz",
        "-c",
        "shscript",
        "--site-packages",
        tree_arg,
    ])
    .arg("--python")
    .arg(python311())
    .arg("-p")
    .arg(python311());
    run_ok(&mut cmd);
    let bundle = ctx.work().join("sp.pyz");
    let shown = info(&ctx, &bundle);
    assert!(
        shown.contains("entry point:  wrapper `shscript` (`extract/scripted-1.0.0-"),
        "{shown}"
    );
    let (_, out) = run_with_stdin(&mut ctx.bundle(&bundle), "x\n");
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    assert!(stdout(&out).contains("stdin x\n"), "{}", describe(&out));
    let mut cmd = ctx.pybundle();
    cmd.args([
        "-q",
        "-o",
        "sp2.pyz",
        "-c",
        "pyscript",
        "--site-packages",
        tree_arg,
    ])
    .arg("--python")
    .arg(python311())
    .arg("-p")
    .arg(python311());
    run_ok(&mut cmd);
    let out = run(ctx.bundle(&ctx.work().join("sp2.pyz")).arg("2"));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stdout(&out).contains("hello from scripted"),
        "{}",
        describe(&out)
    );
}
