//! `--venv` bundles: the first start builds a virtual environment in the cache
//! (`<root>/v1/venvs/<key>/`) as `python -m venv` and pip would, every start executes its python
//! (same PID, argv, stdin, exit status, `sys.prefix` the environment's); concurrent first starts
//! share one environment; a killed start's temp dir is removed later; `pybundle venv` writes the
//! environment to a directory that runs with no cache; `pybundle extract` pre-seeds it for
//! read-only roots; a distribution with data under `share/jupyter` makes the build choose
//! `--venv` by itself, `--no-venv` overrides.
//!
//! See: #22

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Barrier};

use crate::common::wheel_builder::WheelBuilder;
use crate::common::{TestContext, describe, python, python311, run, run_ok};

/// The application: prints what it sees; `APP_EXIT` is its exit status.
const APP: &str = r#"import os, sys

def main():
    print("pid", os.getpid())
    print("prefix", sys.prefix)
    print("base", sys.base_prefix != sys.prefix)
    print("argv", sys.argv)
    with open(os.path.join(sys.prefix, "share", "jdata", "hello.txt")) as f:
        print("data", f.read().strip())
    print("stdin", sys.stdin.readline().strip())
    print("bundle on path", any(p.endswith(".pyz") or p.endswith(".pyz/") for p in sys.path))
    return int(os.environ.get("APP_EXIT", "0"))
"#;

/// A `#!python` script of the wheel's `scripts` scheme.
const TOOL: &str = "#!python\nimport sys\nprint('tool', sys.executable, sys.argv[1:])\n";

/// Writes the wheels into `<root>/wheels`: `jdata` (console script, a script, data under
/// `share/`, a header) and `jnb` (data under `share/jupyter`, which makes a build choose
/// `--venv`).
fn wheels(ctx: &TestContext) -> PathBuf {
    let dir = ctx.root().join("wheels");
    std::fs::create_dir_all(&dir).unwrap();
    WheelBuilder::new("jdata", "1.0")
        .file("jdata/__init__.py", APP)
        .data("data", "share/jdata/hello.txt", "hello from share\n")
        .data("scripts", "jtool", TOOL)
        .data("headers", "jdata.h", "#define JDATA 1\n")
        .entry_point("console_scripts", "jdata", "jdata:main")
        .build(&dir);
    WheelBuilder::new("jnb", "2.0")
        .file("jnb/__init__.py", "")
        .data(
            "data",
            "share/jupyter/nbconvert/templates/lab/conf.json",
            "{}\n",
        )
        .entry_point("console_scripts", "jnb", "jdata:main")
        .requires(["jdata"])
        .build(&dir);
    dir
}

fn build(ctx: &TestContext, w: &Path, name: &str, flags: &[&str], reqs: &[&str]) -> PathBuf {
    ctx.build_offline(&python311(), w, flags, reqs, name)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn names(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
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
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(input.as_bytes()).expect("write stdin");
    drop(stdin);
    (pid, child.wait_with_output().expect("wait for the bundle"))
}

/// The one environment under `root`.
fn the_env(root: &Path) -> PathBuf {
    let venvs = root.join("v1/venvs");
    let envs = names(&venvs);
    assert_eq!(envs.len(), 1, "{envs:?}");
    assert!(
        envs[0].starts_with("app-") || envs[0].starts_with("tree-"),
        "{envs:?}"
    );
    venvs.join(&envs[0])
}

fn assert_app_output(out: &Output, prefix: &Path, argv0: &str) {
    let text = stdout(out);
    for line in [
        format!("prefix {}", prefix.display()),
        "base True".to_string(),
        format!("argv ['{argv0}', 'a', 'b c']"),
        "data hello from share".to_string(),
        "stdin line one".to_string(),
        "bundle on path False".to_string(),
    ] {
        assert!(text.contains(&line), "{line}\n{}", describe(out));
    }
}

#[test]
fn a_venv_bundle_runs_in_its_environment() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["--venv", "-c", "jdata"], &["jdata"]);
    let info = stdout(&run_ok(ctx.pybundle().arg("info").arg(&bundle)));
    assert!(
        info.contains("venv:         a virtual environment"),
        "{info}"
    );
    assert!(info.contains("(--venv)"), "{info}");

    // First start: builds the environment, then runs in it (same PID: exec).
    let path = bundle.display().to_string();
    let (pid, out) = run_with_stdin(
        ctx.bundle(&bundle).args(["a", "b c"]).env("APP_EXIT", "7"),
        "line one\n",
    );
    assert_eq!(out.status.code(), Some(7), "{}", describe(&out));
    let env = the_env(&ctx.bundle_root());
    assert_app_output(&out, &env, &path);
    assert!(
        stdout(&out).contains(&format!("pid {pid}\n")),
        "{}",
        describe(&out)
    );

    // The environment is what `python -m venv` + pip leave.
    let cfg = std::fs::read_to_string(env.join("pyvenv.cfg")).unwrap();
    assert!(
        cfg.contains("include-system-site-packages = false"),
        "{cfg}"
    );
    assert!(cfg.contains("version = 3.11."), "{cfg}");
    for name in ["python", "python3", "python3.11"] {
        assert!(env.join("bin").join(name).exists(), "bin/{name}");
    }
    let tool = std::fs::read_to_string(env.join("bin/jtool")).unwrap();
    assert!(
        tool.starts_with(&format!("#!{}/bin/python\n", env.display())),
        "{tool}"
    );
    let site = env.join("lib/python3.11/site-packages");
    assert!(site.join("jdata/__pycache__").is_dir(), "bytecode");
    assert!(env.join("include/site/python3.11/jdata/jdata.h").is_file());
    let record = std::fs::read_to_string(site.join("jdata-1.0.dist-info/RECORD")).unwrap();
    for line in [
        "jdata/__init__.py,sha256=",
        "../../../bin/jtool,sha256=",
        "../../../bin/jdata,sha256=",
        "../../../share/jdata/hello.txt,sha256=",
        "jdata-1.0.dist-info/INSTALLER,sha256=",
        "jdata-1.0.dist-info/RECORD,,",
    ] {
        assert!(record.contains(line), "{line}\n{record}");
    }
    let out = run_ok(Command::new(env.join("bin/jtool")).arg("x"));
    assert!(
        stdout(&out).contains(&format!("tool {}/bin/python ['x']", env.display())),
        "{}",
        describe(&out)
    );

    // Second start: the same environment, nothing written.
    let marker = env.join(".pybundle-complete");
    let before = std::fs::metadata(&marker).unwrap().modified().unwrap();
    let (_, out) = run_with_stdin(ctx.bundle(&bundle).args(["a", "b c"]), "line one\n");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_app_output(&out, &env, &path);
    assert_eq!(the_env(&ctx.bundle_root()), env);
    assert_eq!(
        std::fs::metadata(&marker).unwrap().modified().unwrap(),
        before
    );
    assert_eq!(
        names(&ctx.bundle_root().join("v1/tmp")),
        Vec::<String>::new()
    );
}

#[test]
fn every_interpreter_gets_its_own_environment() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["--venv", "-c", "jdata"], &["jdata"]);
    let mut seen = 0;
    for minor in [8, 11, 13] {
        let Some(py) = python(minor) else { continue };
        let (_, out) = run_with_stdin(
            ctx.bundle_with(&py, &bundle).args(["a", "b c"]),
            "line one\n",
        );
        assert_eq!(out.status.code(), Some(0), "3.{minor}: {}", describe(&out));
        assert!(
            stdout(&out).contains(&format!("argv ['{}', 'a', 'b c']", bundle.display())),
            "3.{minor}: {}",
            describe(&out)
        );
        seen += 1;
        assert_eq!(names(&ctx.bundle_root().join("v1/venvs")).len(), seen);
    }
}

#[test]
fn concurrent_first_starts_share_one_environment() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["--venv", "-c", "jdata"], &["jdata"]);
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let mut cmd = ctx.bundle(&bundle);
            cmd.args(["a", "b c"]).stdin(Stdio::null());
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                cmd.output().expect("bundle runs")
            })
        })
        .collect();
    for h in handles {
        let out = h.join().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        assert!(
            stdout(&out).contains("data hello from share"),
            "{}",
            describe(&out)
        );
    }
    the_env(&ctx.bundle_root());
    assert_eq!(
        names(&ctx.bundle_root().join("v1/tmp")),
        Vec::<String>::new()
    );
}

#[test]
fn a_killed_first_start_leaves_a_temp_dir_that_is_removed_later() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["--venv", "-c", "jdata"], &["jdata"]);
    // What a start killed while building leaves: a private temp dir of a gone process.
    let tmp = ctx.bundle_root().join("v1/tmp");
    let left = tmp.join("jdata-0123456789abcdef-01234567.999999999.0badc0de");
    std::fs::create_dir_all(left.join("lib")).unwrap();
    for dir in [&ctx.bundle_root(), &ctx.bundle_root().join("v1"), &tmp] {
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    }
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::open(&left)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let out = run(ctx.bundle(&bundle).stdin(Stdio::null()));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(!left.exists(), "the leftover is removed on a cold start");
    the_env(&ctx.bundle_root());
}

#[test]
fn an_unsafe_root_is_refused() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["--venv", "-c", "jdata"], &["jdata"]);
    let root = ctx.bundle_root();
    std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let out = run(ctx.bundle(&bundle).stdin(Stdio::null()));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&root.display().to_string()), "{err}");
    assert!(!root.join("v1/venvs").exists());
}

#[test]
fn pybundle_venv_writes_an_environment_that_runs_without_a_cache() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["--venv", "-c", "jdata"], &["jdata"]);
    let dir = ctx.root().join("opt/app");
    let out = run_ok(ctx.pybundle().arg("venv").arg(&bundle).arg(&dir));
    assert!(stdout(&out).contains(&format!("wrote {}", dir.display())));
    assert!(!ctx.bundle_root().join("v1").exists(), "no cache used");
    let mut cmd = Command::new(dir.join("bin/jdata"));
    cmd.args(["a", "b c"])
        .env_remove("PYBUNDLE_ROOT")
        .env("HOME", "/nonexistent");
    let (_, out) = run_with_stdin(&mut cmd, "line one\n");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_app_output(&out, &dir, &dir.join("bin/jdata").display().to_string());
    assert!(
        !dir.join("lib/python3.11/site-packages/jdata/__pycache__")
            .exists()
    );

    // --compile: the bundle's bytecode too; an existing directory is refused.
    let compiled = ctx.root().join("compiled");
    run_ok(
        ctx.pybundle()
            .arg("venv")
            .arg("--compile")
            .arg(&bundle)
            .arg(&compiled),
    );
    assert!(
        compiled
            .join("lib/python3.11/site-packages/jdata/__pycache__/__init__.cpython-311.pyc")
            .is_file()
    );
    let out = run(ctx.pybundle().arg("venv").arg(&bundle).arg(&dir));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
}

#[test]
fn extract_pre_seeds_the_environment_for_a_read_only_root() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["--venv", "-c", "jdata"], &["jdata"]);
    let seed = ctx.root().join("seed");
    let out = run_ok(
        ctx.pybundle()
            .arg("extract")
            .arg(&bundle)
            .arg("--root")
            .arg(&seed),
    );
    assert!(stdout(&out).contains("environment "), "{}", describe(&out));
    let env = the_env(&seed);
    // Started with the pre-seeded root read-only and a writable root that cannot be created:
    // the environment is used as it is and nothing is written.
    let missing = ctx.root().join("no/such/root");
    let mut cmd = ctx.bundle(&bundle);
    cmd.args(["a", "b c"])
        .env("PYBUNDLE_ROOTS", &seed)
        .env("PYBUNDLE_ROOT", &missing);
    let (_, out) = run_with_stdin(&mut cmd, "line one\n");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_app_output(&out, &env, &bundle.display().to_string());
    assert!(!missing.exists());
}

#[test]
fn share_jupyter_data_chooses_venv_and_no_venv_overrides() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let mut cmd = ctx.build_offline_command(&python311(), &w, &["-c", "jnb"], &["jnb"], "nb.pyz");
    let out = run_ok(&mut cmd);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("venv: runs in a virtual environment built in the cache on its first start: `jnb` installs data under `share/jupyter`"),
        "{err}"
    );
    assert!(err.contains("(--no-venv builds a plain bundle)"), "{err}");
    let bundle = ctx.work().join("nb.pyz");
    let info = stdout(&run_ok(ctx.pybundle().arg("info").arg(&bundle)));
    assert!(
        info.contains("`jnb` installs data under `share/jupyter`"),
        "{info}"
    );
    let (_, out) = run_with_stdin(ctx.bundle(&bundle).args(["a", "b c"]), "line one\n");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let envs = names(&ctx.bundle_root().join("v1/venvs"));
    assert!(
        ctx.bundle_root()
            .join("v1/venvs")
            .join(&envs[0])
            .join("share/jupyter/nbconvert/templates/lab/conf.json")
            .is_file()
    );

    let plain = ctx.build_offline(
        &python311(),
        &w,
        &["-c", "jnb", "--no-venv"],
        &["jnb"],
        "plain.pyz",
    );
    let info = stdout(&run_ok(ctx.pybundle().arg("info").arg(&plain)));
    assert!(!info.contains("venv:"), "{info}");
    let json = stdout(&run_ok(ctx.pybundle().args(["info", "--json"]).arg(&plain)));
    assert!(
        !json.contains("_venv.py") && !json.contains("\"venv\""),
        "{json}"
    );
    let out = run(ctx
        .pybundle()
        .arg("venv")
        .arg(&plain)
        .arg(ctx.root().join("env")));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a --venv bundle"),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_preamble_runs_before_the_exec_and_env_defaults_pass_on() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let preamble = ctx.root().join("preamble.py");
    std::fs::write(&preamble, "import os\nos.environ['APP_EXIT'] = '9'\n").unwrap();
    let flags = [
        "--venv",
        "-c",
        "jdata",
        "--preamble",
        preamble.to_str().unwrap(),
        "-E",
        "JDATA_DEFAULT=yes",
    ];
    let bundle = build(&ctx, &w, "app.pyz", &flags, &["jdata"]);
    let mut cmd = ctx.bundle(&bundle);
    cmd.args([
        "-c",
        "import os, sys; print(os.environ['JDATA_DEFAULT']); sys.exit(int(os.environ['APP_EXIT']))",
    ])
    .env("PYBUNDLE_INTERPRETER", "1")
    .stdin(Stdio::null());
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(9), "{}", describe(&out));
    assert_eq!(stdout(&out), "yes\n");
}

#[test]
fn a_site_packages_tree_with_jupyter_data_gets_its_environment() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let target = ctx.root().join("target");
    run_ok(
        Command::new(python311())
            .args(["-m", "pip", "install", "-q", "--no-index", "--target"])
            .arg(&target)
            .arg("--find-links")
            .arg(&w)
            .arg("jnb")
            .env("PIP_CONFIG_FILE", "/dev/null")
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    );
    assert!(target.join("bin/jnb").is_file() && target.join("share/jupyter").is_dir());
    let mut cmd = ctx.pybundle();
    cmd.arg("-o")
        .arg(ctx.work().join("tree.pyz"))
        .arg("--python")
        .arg(python311())
        .args(["-e", "jdata:main", "--site-packages"])
        .arg(&target);
    let out = run_ok(&mut cmd);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("installs data under `share/jupyter`"), "{err}");
    let bundle = ctx.work().join("tree.pyz");
    let (_, out) = run_with_stdin(ctx.bundle(&bundle).args(["a", "b c"]), "line one\n");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let env = the_env(&ctx.bundle_root());
    assert!(
        env.join("share/jupyter/nbconvert/templates/lab/conf.json")
            .is_file()
    );
    // Console scripts come from the entry points (pip's `--target` RECORD names its scripts
    // `../../bin/…`, outside the tree: they are not bundled).
    assert!(env.join("bin/jnb").is_file() && env.join("bin/jdata").is_file());
    assert!(!env.join("lib/python3.11/site-packages/bin").exists());
}

/// `pybundle cache list` shows environments; `cache clean` keeps the one a running bundle uses
/// (its marker stays open across the exec) and removes it once nothing runs in it.
#[test]
fn cache_commands_manage_environments() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["--venv", "-c", "jdata"], &["jdata"]);
    let (_, out) = run_with_stdin(&mut ctx.bundle(&bundle), "first\n");
    assert!(out.status.success(), "{}", describe(&out));
    let env = the_env(&ctx.bundle_root());
    let listed = stdout(&run_ok(ctx.pybundle().args(["cache", "list"])));
    assert!(listed.contains("(environment)"), "{listed}");

    // A start blocked on stdin runs in the environment: clean keeps it.
    let mut running = ctx
        .bundle(&bundle)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the bundle");
    let marker = env.join(".pybundle-complete");
    let holds = |pid: u32| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|fds| {
                fds.filter_map(Result::ok)
                    .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t == marker))
            })
            .unwrap_or(false)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !holds(running.id()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the running bundle does not hold its environment's marker"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let cleaned = run_ok(ctx.pybundle().args(["cache", "clean"]));
    assert!(env.is_dir(), "clean removed an environment in use");
    drop(running.stdin.take());
    let out = running.wait_with_output().expect("wait for the bundle");
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&cleaned.stdout).contains("in use")
            || String::from_utf8_lossy(&cleaned.stderr).contains("in use"),
        "{}",
        describe(&cleaned)
    );

    // Nothing runs in it now: clean removes it, and the next start builds it again.
    run_ok(ctx.pybundle().args(["cache", "clean"]));
    assert!(!env.exists(), "clean kept an unused environment");
    let (_, out) = run_with_stdin(&mut ctx.bundle(&bundle), "again\n");
    assert!(out.status.success(), "{}", describe(&out));
    assert!(env.is_dir());
}

/// A flipped byte in a file of the site store, which a venv bundle's first start writes into its
/// environment: the damage paragraph, exit 1, and no environment left behind.
#[test]
fn a_damaged_file_in_the_store_builds_no_environment() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["--venv", "-c", "jdata"], &["jdata"]);
    let mut bytes = std::fs::read(&bundle).unwrap();
    let needle = b"hello from share";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the data file is stored as it is");
    bytes[at] ^= 0x20;
    std::fs::write(&bundle, &bytes).unwrap();
    let out = run(ctx.bundle(&bundle).stdin(Stdio::null()));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is damaged (share/jdata/hello.txt: CRC-32 mismatch"),
        "{err}"
    );
    let venvs = ctx.bundle_root().join("v1/venvs");
    assert!(names(&venvs).is_empty(), "{:?}", names(&venvs));
}
