//! Run-time behaviour of real bundles of the fixture application: concurrent first starts, a
//! start killed mid-extraction, repair of a damaged entry, unsafe and unwritable roots,
//! interpreter mismatches, damaged bundles, `PYBUNDLE_EXTEND_PYTHONPATH` with subprocesses and
//! multiprocessing, isolation from the host's site-packages, signals, the `cache` commands (and
//! `cache clean` racing starting bundles) and a root pre-seeded with `pybundle extract` used
//! read-only by another user.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Barrier};

use crate::common::wheel_builder::WheelBuilder;
use crate::common::{TestContext, describe, python, python311, run, run_ok, stderr, stdout};

/// The runtime fixture module: every behaviour the tests below drive, one function each.
const RTAPP: &str = r#"import os, signal, subprocess, sys, time

import puredep


def hold():
    import spam
    print("ready", spam.add(1, 2), flush=True)
    sys.stdin.read()
    print("still", spam.add(2, 2), flush=True)


def square(x):
    import spam
    return spam.add(x * x, 0)


def spawn():
    r = subprocess.run([sys.executable, "-c", "import puredep, spam; print(puredep.shout('child'), spam.add(2, 3))"])
    if r.returncode != 0:
        return 10
    import multiprocessing
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        print("pool", pool.map(square, [1, 2, 3]), flush=True)
    return 0


def host():
    print("puredep", puredep.__version__, puredep.shout("x"))
    import hostonly
    print("hostonly", hostonly.WHERE)


def term():
    def handler(signum, frame):
        print("got SIGTERM", flush=True)
        sys.exit(7)
    signal.signal(signal.SIGTERM, handler)
    print("ready", flush=True)
    time.sleep(60)
    return 1


def wait():
    print("ready", flush=True)
    time.sleep(60)
"#;

/// Writes the fixture wheels plus `rtapp` (console-free; depends on puredep and spam) and
/// `heavy` (a native-looking distribution with many files, slow to extract).
fn wheels(ctx: &TestContext) -> PathBuf {
    let dir = ctx.fixture_wheels(&python311());
    WheelBuilder::new("rtapp", "1.0.0")
        .requires(["puredep>=1", "spam"])
        .file("rtapp/__init__.py", RTAPP)
        .build(&dir);
    let mut heavy = WheelBuilder::new("heavy", "1.0.0")
        .file(
            "heavy/__init__.py",
            "def main():\n    print('heavy ok')\n    return 0\n",
        )
        .binary("heavy/_fake.so", &[0u8; 64]);
    for i in 0..6000 {
        heavy = heavy.file(&format!("heavy/data/f{i:05}.txt"), &format!("{i}\n"));
    }
    heavy.build(&dir);
    dir
}

/// Builds a bundle of `reqs` with `flags` for `python` into `<work>/<name>`, quietly.
fn build_with(
    ctx: &TestContext,
    wheels: &Path,
    python: &Path,
    name: &str,
    flags: &[&str],
    reqs: &[&str],
) -> PathBuf {
    let flags: Vec<&str> = std::iter::once("-q").chain(flags.iter().copied()).collect();
    ctx.build_offline(python, wheels, &flags, reqs, name)
}

fn build(ctx: &TestContext, wheels: &Path, name: &str, flags: &[&str]) -> PathBuf {
    build_with(ctx, wheels, &python311(), name, flags, &["rtapp", "myapp"])
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn assert_myapp_output(out: &Output) {
    assert!(out.status.success(), "{}", describe(out));
    let text = stdout(out);
    assert!(
        text.contains("HELLO FROM PACKAGE DATA!"),
        "{}",
        describe(out)
    );
    assert!(text.contains("spam.add(2, 3) = 5"), "{}", describe(out));
}

/// Sets the mtime of `path` to `secs` seconds ago.
fn age(path: &Path, secs: u64) {
    let when = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
    std::fs::File::options()
        .write(true)
        .open(path)
        .or_else(|_| std::fs::File::open(path))
        .unwrap()
        .set_modified(when)
        .unwrap();
}

fn kill(pid: u32, sig: &str) {
    run_ok(
        Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string()),
    );
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// (1) 16 simultaneous first starts on an empty cache.
#[test]
fn concurrent_first_starts_share_one_entry() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["-e", "myapp.main:main"]);
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let mut cmd = ctx.bundle(&bundle);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                cmd.output().expect("bundle runs")
            })
        })
        .collect();
    for h in handles {
        assert_myapp_output(&h.join().unwrap());
    }
    let v1 = ctx.bundle_root().join("v1");
    let dists = names(&v1.join("dists"));
    assert_eq!(dists.len(), 1, "{dists:?}");
    assert!(dists[0].starts_with("spam-0.1.0-"), "{dists:?}");
    assert!(
        v1.join("dists")
            .join(&dists[0])
            .join(".pybundle-complete")
            .is_file()
    );
    assert_eq!(
        names(&v1.join("tmp")),
        Vec::<String>::new(),
        "leftover tmp dirs"
    );
}

/// (2) A start SIGKILLed in the middle of extraction leaves no entry behind; the next start
/// extracts its own and never uses the half-written directory.
#[test]
fn killed_extraction_is_never_used() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build_with(
        &ctx,
        &w,
        &python311(),
        "heavy.pyz",
        &["-e", "heavy:main"],
        &["heavy"],
    );
    let tmp = ctx.bundle_root().join("v1/tmp");
    let dists = ctx.bundle_root().join("v1/dists");
    let mut child = ctx
        .bundle(&bundle)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let partial = loop {
        // Wait until the private extraction dir holds some files, then kill.
        if let Some(name) = names(&tmp).into_iter().next() {
            let dir = tmp.join(&name);
            if walkdir::WalkDir::new(&dir).into_iter().count() > 50 {
                break name;
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "extraction finished before it could be interrupted"
        );
        assert!(started.elapsed().as_secs() < 60, "extraction never started");
        std::thread::sleep(std::time::Duration::from_micros(200));
    };
    kill(child.id(), "KILL");
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9));
    assert!(!tmp.join(&partial).join(".pybundle-complete").exists());
    assert_eq!(
        names(&dists),
        Vec::<String>::new(),
        "a partial entry was installed"
    );
    let out = run_ok(&mut ctx.bundle(&bundle));
    assert_eq!(stdout(&out), "heavy ok\n");
    let entries = names(&dists);
    assert_eq!(entries.len(), 1, "{entries:?}");
    let marker =
        std::fs::read_to_string(dists.join(&entries[0]).join(".pybundle-complete")).unwrap();
    let count: usize = marker.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(count > 6000, "{}", &marker[..60]);
    let out = run_ok(
        ctx.bundle(&bundle)
            .env("PYBUNDLE_VERIFY", "1")
            .env("PYBUNDLE_VERBOSE", "1"),
    );
    assert!(
        stderr(&out).contains(": ok") && !stderr(&out).contains("pybundle: extracted"),
        "{}",
        describe(&out)
    );
    // The half-written dir is still where the killed process left it (younger than an hour),
    // not renamed into place.
    assert!(tmp.join(&partial).is_dir());
}

/// (3) A file deleted from an extracted entry is repaired: with PYBUNDLE_VERIFY=1, and on the
/// hourly check (marker older than an hour).
#[test]
fn damaged_entry_is_repaired() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["-e", "myapp.main:main"]);
    run_ok(&mut ctx.bundle(&bundle));
    let dists = ctx.bundle_root().join("v1/dists");
    let entry = dists.join(&names(&dists)[0]);
    let init = entry.join("site-packages/spam/__init__.py");
    for how in ["verify", "aged"] {
        std::fs::remove_file(&init).unwrap();
        let mut cmd = ctx.bundle(&bundle);
        if how == "verify" {
            cmd.env("PYBUNDLE_VERIFY", "1");
        } else {
            age(&entry.join(".pybundle-complete"), 7200);
        }
        let out = run(&mut cmd);
        assert_myapp_output(&out);
        assert!(
            stderr(&out).contains(
                "is damaged (missing file: site-packages/spam/__init__.py); repairing it"
            ),
            "{how}: {}",
            describe(&out)
        );
        assert!(init.is_file(), "{how}: not repaired");
    }
}

/// An application that, like pyrsistent, falls back to pure Python when its extension module
/// cannot be imported, and says which one ran.
const FALLBACK_APP: &str = r#"def main():
    try:
        from spam import _speedups
        add, how = _speedups.add, "C extension " + _speedups.__file__
    except ImportError:
        add, how = (lambda a, b: a + b), "pure-Python fallback"
    print("add=%d via %s" % (add(2, 3), how))
"#;

/// Runs `cmd` with `dir` mounted read-only (a mount namespace of its own: even root cannot
/// write there), or returns `None` when this machine cannot make one.
fn with_read_only(dir: &Path, cmd: &Command) -> Option<Command> {
    let probe = Command::new("unshare")
        .args([
            "-rm",
            "sh",
            "-c",
            "mount --bind \"$0\" \"$0\" && mount -o remount,bind,ro \"$0\"",
        ])
        .arg(dir)
        .output()
        .ok()?;
    if !probe.status.success() {
        return None;
    }
    let mut wrapped = Command::new("unshare");
    wrapped
        .args([
            "-rm",
            "sh",
            "-c",
            "mount --bind \"$0\" \"$0\" && mount -o remount,bind,ro \"$0\" && exec \"$@\"",
        ])
        .arg(dir)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(cwd) = cmd.get_current_dir() {
        wrapped.current_dir(cwd);
    }
    Some(wrapped)
}

/// A tmp cleaner deleted the extension module of an extracted entry (directories and marker
/// stay): the next start notices (the bundle lists the entry's native files with their sizes),
/// repairs the entry and runs the C code, not the application's fallback. In a root that cannot
/// be written it stops with one paragraph naming the file.
/// See: #11
#[test]
fn deleted_extension_module_is_repaired() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    WheelBuilder::new("fallbackapp", "1.0.0")
        .requires(["spam"])
        .file("fallbackapp/__init__.py", FALLBACK_APP)
        .build(&w);
    let bundle = build_with(
        &ctx,
        &w,
        &python311(),
        "fb.pyz",
        &["-e", "fallbackapp:main"],
        &["fallbackapp"],
    );
    let out = run_ok(&mut ctx.bundle(&bundle));
    let dists = ctx.bundle_root().join("v1/dists");
    let entry = dists.join(&names(&dists)[0]);
    let so_name = names(&entry.join("site-packages/spam"))
        .into_iter()
        .find(|n| n.starts_with("_speedups") && n.ends_with(".so"))
        .expect("the extension module is extracted");
    let so = entry.join("site-packages/spam").join(&so_name);
    let native = format!("add=5 via C extension {}", so.display());
    assert_eq!(stdout(&out).trim(), native, "{}", describe(&out));

    std::fs::remove_file(&so).unwrap();
    let out = run(&mut ctx.bundle(&bundle));
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stdout(&out).trim(), native, "{}", describe(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "pybundle: warning: cache entry {} is damaged (missing file: spam/{so_name}); repairing it\n",
            entry.display()
        )
    );
    assert!(so.is_file(), "not repaired");
    let out = run_ok(&mut ctx.bundle(&bundle));
    assert!(stderr(&out).is_empty(), "{}", describe(&out));

    // The same damage in a root mounted read-only: no repair, one paragraph. The entry is
    // mounted on the first import, inside the application: the failure is an ImportError
    // (see #20), which this application turns into its fallback, but not silently.
    std::fs::remove_file(&so).unwrap();
    let cmd = ctx.bundle(&bundle);
    let mut cmd = crate::require!(
        with_read_only(&ctx.bundle_root(), &cmd),
        "a mount namespace (`unshare -rm`)"
    );
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(stdout(&out).trim(), "add=5 via pure-Python fallback");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{}", describe(&out));
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "error: the pybundle cache entry {} is damaged (missing file: spam/{so_name}) and cannot be repaired: its root {} cannot be written (",
            entry.display(),
            ctx.bundle_root().display()
        )) && !err.contains("Traceback")
            && !err.contains("fallback"),
        "{}",
        describe(&out)
    );
    assert!(!so.exists());
}

/// (4) Unsafe roots are refused; an unwritable HOME falls back; PYBUNDLE_ROOT is honoured.
#[test]
fn unsafe_and_unwritable_roots() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["-e", "myapp.main:main"]);
    // PYBUNDLE_ROOT honoured (TestContext sets it), the XDG default untouched.
    assert_myapp_output(&run(&mut ctx.bundle(&bundle)));
    assert_eq!(names(&ctx.bundle_root().join("v1/dists")).len(), 1);
    // (the build's bytecode cache may live there; the run-time layout `v1` must not)
    assert!(!ctx.root().join("cache/pybundle/v1").exists());

    let foreign = ctx.root().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    chmod(&foreign, 0o700);
    run_ok(Command::new("chown").arg("65534:65534").arg(&foreign));
    let out = run(ctx.bundle(&bundle).env("PYBUNDLE_ROOT", &foreign));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: refusing to use the pybundle cache directory")
            && err.contains("owned by nobody (uid 65534)")
            && !err.contains("Traceback")
            && stdout(&out).is_empty(),
        "{}",
        describe(&out)
    );

    let open = ctx.root().join("open");
    std::fs::create_dir(&open).unwrap();
    chmod(&open, 0o777);
    let out = run(ctx.bundle(&bundle).env("PYBUNDLE_ROOT", &open));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr(&out).contains("has mode 0777"), "{}", describe(&out));

    // Read-only HOME (root bypasses permissions, so run as nobody): falls back to $TMPDIR.
    let (home, tmpdir) = nobody_dirs(&ctx);
    let out = run(as_nobody(&ctx, &bundle)
        .env_remove("PYBUNDLE_ROOT")
        .env_remove("XDG_CACHE_HOME")
        .env("HOME", &home)
        .env("TMPDIR", &tmpdir));
    assert_myapp_output(&out);
    assert!(
        stderr(&out).contains("pybundle: warning: cannot use the cache directory"),
        "{}",
        describe(&out)
    );
    assert_eq!(names(&tmpdir.join("pybundle-65534/v1/dists")).len(), 1);
}

/// Makes the context readable by nobody and returns (read-only HOME, writable TMPDIR).
fn nobody_dirs(ctx: &TestContext) -> (PathBuf, PathBuf) {
    chmod(ctx.root(), 0o755);
    chmod(&ctx.work(), 0o755);
    let home = ctx.root().join("ro-home");
    std::fs::create_dir_all(&home).unwrap();
    chmod(&home, 0o555);
    let tmpdir = ctx.root().join("nobody-tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    run_ok(Command::new("chown").arg("65534:65534").arg(&tmpdir));
    (home, tmpdir)
}

/// Returns a command running `bundle` as uid/gid 65534.
fn as_nobody(ctx: &TestContext, bundle: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bundle);
    cmd.env("HOME", ctx.root().join("ro-home"))
        .env_remove("PYTHONPATH")
        .env_remove("PYBUNDLE_VERBOSE")
        .env_remove("PYBUNDLE_ROOT")
        .env_remove("XDG_CACHE_HOME")
        .current_dir(ctx.work());
    cmd
}

/// (5) A native bundle for 3.11 refuses 3.12 in one paragraph; a pure bundle runs on both.
#[test]
fn interpreter_mismatch_and_pure_bundle() {
    let py312 = crate::require!(python(12), "CPython 3.12");
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["-e", "myapp.main:main"]);
    let out = run(&mut ctx.bundle_with(&py312, &bundle));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("3.11") && err.contains("3.12") && !err.contains("Traceback"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        err.trim_end().lines().filter(|l| l.is_empty()).count(),
        0,
        "{err}"
    );
    assert!(stdout(&out).is_empty());

    WheelBuilder::new("pureapp", "1.0.0")
        .requires(["puredep>=1"])
        .metadata("Requires-Python", ">=3.8")
        .file(
            "pureapp/__init__.py",
            "import sys, puredep\ndef main():\n    print(puredep.shout('pure'), sys.version_info[:2])\n",
        )
        .build(&w);
    let pure = build_with(
        &ctx,
        &w,
        &python311(),
        "pure.pyz",
        &["-e", "pureapp:main"],
        &["pureapp"],
    );
    for (py, v) in [(python311(), "(3, 11)"), (py312, "(3, 12)")] {
        let out = run_ok(&mut ctx.bundle_with(&py, &pure));
        assert_eq!(stdout(&out), format!("PURE! {v}\n"));
    }
}

/// Returns the offset and size of the stored data of the site store's file `member` in
/// `bundle` (`X.pyc`: the bytecode attached to `X.py`).
fn data_offset(bundle: &Path, member: &str) -> (u64, u64) {
    let mut opened = pybundle::bundle::Bundle::open(bundle).unwrap();
    let store = opened.store().unwrap().expect("a site store");
    if let Some(stem) = member.strip_suffix(".pyc")
        && let Some(entry) = store.lookup(&format!("{stem}.py")).unwrap()
        && let Some(range) = store.pyc_range(&entry)
    {
        return range;
    }
    let entry = store.lookup(member).unwrap().expect(member);
    store.stored_range(&entry)
}

/// (6) A truncated bundle and one with a flipped byte: a clear error, never damaged code.
#[test]
fn damaged_bundles_fail_clearly() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["-e", "myapp.main:main"]);
    let bytes = std::fs::read(&bundle).unwrap();

    let truncated = ctx.work().join("truncated.pyz");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    chmod(&truncated, 0o755);
    let out = run(&mut ctx.bundle(&truncated));
    assert!(
        !out.status.success() && stdout(&out).is_empty(),
        "{}",
        describe(&out)
    );
    // The interpreter finds no zip directory and reads the file as a script: it fails
    // before the bootstrap (the README shows this message).
    let err = stderr(&out);
    assert!(
        err.contains("source code cannot contain null bytes")
            || err.contains("can't find '__main__'"),
        "{}",
        describe(&out)
    );
    let out = run(ctx.pybundle().arg("verify").arg(&truncated));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not a readable bundle"),
        "{}",
        describe(&out)
    );

    // One flipped byte in the compressed data of a module that is imported from the zip.
    for member in ["myapp/main.pyc", "puredep/__init__.pyc"] {
        let (start, size) = data_offset(&bundle, member);
        let flipped = ctx.work().join("flipped.pyz");
        let mut damaged = bytes.clone();
        damaged[(start + size / 2) as usize] ^= 0x10;
        std::fs::write(&flipped, &damaged).unwrap();
        chmod(&flipped, 0o755);
        let out = run(&mut ctx.bundle(&flipped));
        eprintln!("flipped byte in {member}:\n{}", describe(&out));
        assert!(
            !out.status.success(),
            "damaged code ran\n{}",
            describe(&out)
        );
        assert!(
            stderr(&out).contains(&format!(
                "error: the bundle `{}` is damaged",
                flipped.display()
            )),
            "{}",
            describe(&out)
        );
        let out = run(ctx.pybundle().arg("verify").arg(&flipped));
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stdout(&out).contains(&format!("damaged: `{member}`")),
            "{}",
            describe(&out)
        );
    }
}

/// (7) PYBUNDLE_EXTEND_PYTHONPATH=1: a subprocess and a multiprocessing spawn pool import the
/// bundle's packages (zipped and extracted).
#[test]
fn extend_pythonpath_for_children() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["-e", "rtapp:spawn"]);
    let out = run(ctx.bundle(&bundle).env("PYBUNDLE_EXTEND_PYTHONPATH", "1"));
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        stdout(&out),
        "CHILD! 5\npool [1, 4, 9]\n",
        "{}",
        describe(&out)
    );
    // Without it the child cannot import the bundle's packages.
    let out = run(&mut ctx.bundle(&bundle));
    assert_eq!(out.status.code(), Some(10), "{}", describe(&out));
    assert!(
        stderr(&out).contains("ModuleNotFoundError"),
        "{}",
        describe(&out)
    );
}

/// (8) An older puredep and a host-only package in the user site: the bundle imports its own;
/// the host-only package is found only with PYBUNDLE_INHERIT_PATH=1 or `--inherit-path`.
#[test]
fn host_site_packages_are_isolated() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["-e", "rtapp:host"]);
    let userbase = ctx.root().join("userbase");
    let out = run_ok(
        Command::new(python311())
            .args(["-c", "import site; print(site.getusersitepackages())"])
            .env("PYTHONUSERBASE", &userbase),
    );
    let site = PathBuf::from(stdout(&out).trim());
    std::fs::create_dir_all(site.join("puredep")).unwrap();
    std::fs::write(
        site.join("puredep/__init__.py"),
        "__version__ = '0.9'\ndef shout(t):\n    return 'HOST ' + t\n",
    )
    .unwrap();
    std::fs::create_dir_all(site.join("puredep-0.9.dist-info")).unwrap();
    std::fs::write(
        site.join("puredep-0.9.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: puredep\nVersion: 0.9\n",
    )
    .unwrap();
    std::fs::write(site.join("hostonly.py"), "WHERE = 'host'\n").unwrap();
    // The host python itself sees the old version.
    let out = run_ok(
        Command::new(python311())
            .args(["-c", "import puredep; print(puredep.__version__)"])
            .env("PYTHONUSERBASE", &userbase),
    );
    assert_eq!(stdout(&out), "0.9\n");

    let out = run(ctx.bundle(&bundle).env("PYTHONUSERBASE", &userbase));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(stdout(&out), "puredep 1.2.0 X!\n");
    assert!(
        stderr(&out).contains("No module named 'hostonly'"),
        "{}",
        describe(&out)
    );
    let out = run_ok(
        ctx.bundle(&bundle)
            .env("PYTHONUSERBASE", &userbase)
            .env("PYBUNDLE_INHERIT_PATH", "1"),
    );
    assert_eq!(stdout(&out), "puredep 1.2.0 X!\nhostonly host\n");
    let inherit = build(
        &ctx,
        &w,
        "inherit.pyz",
        &["-e", "rtapp:host", "--inherit-path"],
    );
    let out = run_ok(ctx.bundle(&inherit).env("PYTHONUSERBASE", &userbase));
    assert_eq!(stdout(&out), "puredep 1.2.0 X!\nhostonly host\n");
}

/// Starts `cmd` with piped stdout, waits for its `ready` line, returns the child.
fn start_ready(cmd: &mut Command) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("ready"), "no ready line: {line:?}");
    (child, reader)
}

/// (9) SIGTERM reaches the app's handler; SIGINT ends like plain Python (KeyboardInterrupt).
#[test]
fn signals_reach_the_app() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let term = build(&ctx, &w, "term.pyz", &["-e", "rtapp:term"]);
    let (mut child, mut reader) = start_ready(&mut ctx.bundle(&term));
    kill(child.id(), "TERM");
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    assert_eq!(rest, "got SIGTERM\n");
    assert_eq!(status.code(), Some(7));

    let wait = build(&ctx, &w, "wait.pyz", &["-e", "rtapp:wait"]);
    let interrupt = |cmd: &mut Command| {
        let (child, _reader) = start_ready(cmd);
        kill(child.id(), "INT");
        let out = child.wait_with_output().unwrap();
        (out.status.code(), out.status.signal(), stderr(&out))
    };
    let bundled = interrupt(&mut ctx.bundle(&wait));
    let script = ctx.work().join("plain.py");
    std::fs::write(&script, format!("{RTAPP}\nwait()\n")).unwrap();
    let site = ctx.root().join("plain-site");
    std::fs::create_dir_all(site.join("puredep")).unwrap();
    std::fs::write(site.join("puredep/__init__.py"), "").unwrap();
    let plain = interrupt(
        Command::new(python311())
            .arg(&script)
            .env("PYTHONPATH", &site),
    );
    assert_eq!(
        (bundled.0, bundled.1),
        (plain.0, plain.1),
        "bundle {bundled:?} vs plain {plain:?}"
    );
    assert!(bundled.2.contains("KeyboardInterrupt"), "{}", bundled.2);
}

/// (10) `cache list`, `prune`, `clean`; an entry in use is kept; a prune racing with starts
/// never breaks them.
#[test]
fn cache_commands_round_trip() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["-e", "myapp.main:main"]);
    let cache =
        |args: &[&str]| -> String { stdout(&run_ok(ctx.pybundle().arg("cache").args(args))) };
    let list = cache(&["list"]);
    assert!(list.contains("no entries"), "{list}");
    run_ok(&mut ctx.bundle(&bundle));
    let dists = ctx.bundle_root().join("v1/dists");
    let key = names(&dists).pop().unwrap();
    let marker = dists.join(&key).join(".pybundle-complete");
    let list = cache(&["list"]);
    assert!(
        list.contains(&key) && list.contains("last use just now"),
        "{list}"
    );
    assert!(list.contains("1 entries"), "{list}");

    // Young entries survive prune, even --older-than 0.
    let out = cache(&["prune", "--older-than", "0"]);
    assert!(out.contains("removed 0 entries"), "{out}");
    age(&marker, 40 * 86400);
    assert!(cache(&["list"]).contains("last use 40 days ago"));
    let out = cache(&["prune", "--keep-bundle", bundle.to_str().unwrap()]);
    assert!(out.contains("removed 0 entries"), "{out}");
    let out = cache(&["prune", "--older-than", "41"]);
    assert!(out.contains("removed 0 entries"), "{out}");
    let out = cache(&["prune"]);
    assert!(out.contains(&format!("removed {key}")), "{out}");
    assert!(names(&dists).is_empty());
    assert!(names(&ctx.bundle_root().join("v1/tmp")).is_empty());

    // clean keeps an entry whose extension module a running process has mapped.
    let (mut child, mut reader) = start_ready(
        ctx.bundle(&bundle)
            .env("PYBUNDLE_ENTRY_POINT", "rtapp:hold"),
    );
    let out = cache(&["clean"]);
    assert!(out.contains(&format!("kept    {key} (in use")), "{out}");
    assert!(cache(&["list"]).contains("in use by pid"));
    drop(child.stdin.take());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "still 4\n");
    assert!(child.wait().unwrap().success());
    let out = cache(&["clean"]);
    assert!(out.contains(&format!("removed {key}")), "{out}");
    assert!(names(&dists).is_empty());

    // Starts racing with prunes of their (old) entry always succeed.
    run_ok(&mut ctx.bundle(&bundle));
    for _ in 0..8 {
        if marker.exists() {
            age(&marker, 40 * 86400);
        }
        let barrier = Arc::new(Barrier::new(2));
        let mut start = ctx.bundle(&bundle);
        let b = Arc::clone(&barrier);
        let t = std::thread::spawn(move || {
            b.wait();
            start.output().unwrap()
        });
        let mut prune = ctx.pybundle();
        prune.args(["cache", "prune"]);
        barrier.wait();
        run_ok(&mut prune);
        assert_myapp_output(&t.join().unwrap());
    }
}

/// (11) A root pre-seeded with `pybundle extract`, made read-only, used by another user:
/// no write, no re-extraction.
#[test]
fn preseeded_readonly_root_for_another_user() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let bundle = build(&ctx, &w, "app.pyz", &["-e", "myapp.main:main"]);
    let seeded = ctx.root().join("image-cache");
    let out = run_ok(
        ctx.pybundle()
            .arg("extract")
            .arg(&bundle)
            .arg("--root")
            .arg(&seeded),
    );
    assert!(
        stdout(&out).contains("extracted spam-0.1.0-"),
        "{}",
        describe(&out)
    );
    // The same layout and marker as the bootstrap writes.
    run_ok(&mut ctx.bundle(&bundle));
    let key = names(&seeded.join("v1/dists")).pop().unwrap();
    let ours = std::fs::read(
        seeded
            .join("v1/dists")
            .join(&key)
            .join(".pybundle-complete"),
    )
    .unwrap();
    let boot = std::fs::read(
        ctx.bundle_root()
            .join("v1/dists")
            .join(&key)
            .join(".pybundle-complete"),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&boot)
    );
    let out = run_ok(
        ctx.pybundle()
            .arg("extract")
            .arg(&bundle)
            .arg("--root")
            .arg(&seeded),
    );
    assert!(
        stdout(&out).contains("present   spam-0.1.0-"),
        "{}",
        describe(&out)
    );

    run_ok(Command::new("chmod").arg("-R").arg("a-w").arg(&seeded));
    let (_home, tmpdir) = nobody_dirs(&ctx);
    chmod(ctx.root(), 0o755);
    let snapshot = || -> Vec<(PathBuf, std::time::SystemTime)> {
        walkdir::WalkDir::new(&seeded)
            .into_iter()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().to_path_buf(),
                    e.metadata().unwrap().modified().unwrap(),
                )
            })
            .collect()
    };
    let before = snapshot();
    // Old marker: the run also goes through the hourly size check, read-only.
    let out = run(as_nobody(&ctx, &bundle)
        .env("PYBUNDLE_ROOTS", &seeded)
        .env("TMPDIR", &tmpdir)
        .env("PYBUNDLE_VERBOSE", "1"));
    assert_myapp_output(&out);
    let err = stderr(&out);
    assert!(
        err.contains("in read-only root") && !err.contains("pybundle: extracted"),
        "{}",
        describe(&out)
    );
    assert_eq!(snapshot(), before, "the read-only root changed");
    assert!(
        !tmpdir.join("pybundle-65534").exists(),
        "a fallback root was written"
    );
}

/// The racing app: it mounts its extracted package, then imports a module of it a moment later,
/// the window in which an unguarded `cache clean` removed the entry under it.
const RACER: &str = r"import time


def main():
    import racer
    time.sleep(0.03)
    import racer.late
    print(racer.late.WORD)
";

/// `pybundle cache clean` in a loop while bundles start, 4 at a time: every start succeeds
/// (it holds its entry's marker open; clean removes an entry only under a write lease on it).
/// The app imports from its entry 30 ms after looking it up: without the hold and the lease,
/// most starts failed here with `ModuleNotFoundError`.
/// See: #21
#[test]
fn clean_racing_starts_never_breaks_them() {
    let ctx = TestContext::new();
    let w = ctx.fixture_wheels(&python311());
    WheelBuilder::new("racer", "1.0.0")
        .file("racer/__init__.py", RACER)
        .file("racer/late.py", "WORD = 'complete'\n")
        .binary("racer/_fake.so", &[0u8; 64])
        .build(&w);
    let bundle = build_with(
        &ctx,
        &w,
        &python311(),
        "racer.pyz",
        &["-e", "racer:main"],
        &["racer"],
    );
    run_ok(&mut ctx.bundle(&bundle));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cleaner = {
        let stop = Arc::clone(&stop);
        let mut clean = ctx.pybundle();
        clean.args(["cache", "clean"]);
        std::thread::spawn(move || {
            let mut removed = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let out = run_ok(&mut clean);
                removed += stdout(&out).matches("\nremoved racer").count()
                    + usize::from(stdout(&out).starts_with("removed racer"));
            }
            removed
        })
    };
    let mut failures = Vec::new();
    for _round in 0..10 {
        let children: Vec<_> = (0..4)
            .map(|_| {
                ctx.bundle(&bundle)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            if !out.status.success() || stdout(&out).trim() != "complete" {
                failures.push(describe(&out));
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let removed = cleaner.join().unwrap();
    assert!(
        failures.is_empty(),
        "{} of 40 starts failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        removed > 0,
        "clean never removed the entry: the race was not exercised"
    );
}

/// `cache list` shows what crashed starts left in `v1/tmp/` (count and bytes), and `clean`
/// removes the leftovers of dead processes once they are an hour old.
/// See: #21
#[test]
fn cache_list_shows_tmp_leftovers() {
    let ctx = TestContext::new();
    let tmp = ctx.bundle_root().join("v1/tmp");
    std::fs::create_dir_all(tmp.join("spam-1.0-0123456789abcdef.999999.abcd1234/spam")).unwrap();
    for d in [ctx.bundle_root(), ctx.bundle_root().join("v1"), tmp.clone()] {
        chmod(&d, 0o700);
    }
    let left = tmp.join("spam-1.0-0123456789abcdef.999999.abcd1234");
    std::fs::write(left.join("spam/_speedups.so"), vec![0u8; 300_000]).unwrap();
    let list = stdout(&run_ok(ctx.pybundle().args(["cache", "list"])));
    assert!(
        list.contains(
            "1 dirs in v1/tmp/ (0.3 MB): extractions in progress or left by killed starts"
        ),
        "{list}"
    );
    age(&left, 7200);
    let out = stdout(&run_ok(ctx.pybundle().args(["cache", "clean"])));
    assert!(out.contains("and 1 leftover tmp dirs"), "{out}");
    let list = stdout(&run_ok(ctx.pybundle().args(["cache", "list"])));
    assert!(!list.contains("v1/tmp/"), "{list}");
}

/// The cache root's file system is full (a tmpfs of a mount namespace of our own, filled up:
/// directories can still be made, file data cannot): the first start stops with one paragraph
/// naming the entry, the root and the cause, and leaves no temporary directory behind.
#[test]
fn full_cache_disk_gives_one_paragraph_and_leaves_nothing() {
    let ctx = TestContext::new();
    let wheels = wheels(&ctx);
    let bundle = build(&ctx, &wheels, "full.pyz", &["-e", "myapp.main:main"]);
    let small = ctx.root().join("small");
    std::fs::create_dir(&small).unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args([
        "-rm",
        "sh",
        "-c",
        "mount -t tmpfs -o size=1m tmpfs \"$0\" || exit 99; \
         dd if=/dev/zero of=\"$0/fill\" bs=64k 2>/dev/null; \
         PYBUNDLE_ROOT=\"$0/root\" \"$1\"; rc=$?; \
         echo \"left: $(find \"$0/root/v1/tmp\" \"$0/root/v1/dists\" -mindepth 1 | wc -l)\" >&2; \
         exit $rc",
    ])
    .arg(&small)
    .arg(&bundle);
    cmd.env("HOME", ctx.root().join("home"))
        .env("XDG_CACHE_HOME", ctx.root().join("cache"))
        .current_dir(ctx.work());
    let out = run(&mut cmd);
    if out.status.code() == Some(99) {
        eprintln!("skipped: this machine cannot mount a tmpfs in a namespace of its own");
        return;
    }
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr(&out);
    let (paragraph, left) = err.split_once("left:").expect("the listing ran");
    assert_eq!(paragraph.trim_end().lines().count(), 1, "{err}");
    assert!(paragraph.starts_with("error: "), "{err}");
    assert!(paragraph.contains("No space left on device"), "{err}");
    assert!(!paragraph.contains("Traceback"), "{err}");
    assert_eq!(left.trim(), "0", "leftovers: {err}");
}
