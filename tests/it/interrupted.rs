//! Tests for builds that are stopped or pointed at the wrong kind of file: SIGINT and SIGTERM
//! during a build remove what it wrote and stop pip, `-o` never replaces a directory, a symbolic
//! link, a FIFO or a device, and a full disk gives one error. See: #21

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TestContext, describe, python311, run};

/// A project whose in-tree build backend writes its pid to `started` and then sleeps: pip is busy
/// building it when the test sends its signal.
fn slow_project(dir: &Path, started: &Path) -> PathBuf {
    let project = dir.join("slowpkg");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("pyproject.toml"),
        "[build-system]\nrequires = []\nbuild-backend = \"slow_backend\"\nbackend-path = [\".\"]\n\n[project]\nname = \"slowpkg\"\nversion = \"1.0\"\n",
    )
    .unwrap();
    std::fs::write(
        project.join("slow_backend.py"),
        format!(
            "import os, time\n\
             def get_requires_for_build_wheel(config_settings=None):\n    return []\n\
             def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n\
             \x20   with open({started:?}, 'w') as f:\n        f.write(str(os.getpid()))\n\
             \x20   time.sleep(60)\n    raise SystemExit('not reached')\n",
            started = started.display().to_string()
        ),
    )
    .unwrap();
    project
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn alive(pid: &str) -> bool {
    // A zombie has exited: only a running process counts.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z')
        })
        .unwrap_or(false)
}

/// Starts a build of the slow project, sends `signal` once its backend runs, and checks what is
/// left: exit code `code`, one line on stderr, no staging directory, no output, pip's backend
/// stopped.
fn interrupt_build(signal: &str, code: i32) {
    let ctx = TestContext::new();
    let tmp = ctx.root().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let started = ctx.root().join("backend.pid");
    let project = slow_project(&ctx.root().join("src"), &started);
    let mut child = ctx
        .pybundle()
        .env("TMPDIR", &tmp)
        .arg("-o")
        .arg(ctx.work().join("app.pyz"))
        .arg("--python")
        .arg(python311())
        .arg("--no-index")
        .arg(&project)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !started.is_file() || std::fs::read_to_string(&started).unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the build backend never started");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the build ended before the signal: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        entries(&tmp)
            .iter()
            .any(|n| n.starts_with("pybundle-stage-")),
        "no staging directory while pip runs: {:?}",
        entries(&tmp)
    );
    let sent = Instant::now();
    let killed = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    assert_eq!(out.status.code(), Some(code), "{}", describe(&out));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected:\n{err}"
    );
    assert!(
        err.starts_with(&format!("error: the build was interrupted by {signal}")),
        "{err}"
    );
    assert!(
        !entries(&tmp)
            .iter()
            .any(|n| n.starts_with("pybundle-stage-")),
        "the staging directory was left: {:?}",
        entries(&tmp)
    );
    assert!(
        entries(&ctx.work()).is_empty(),
        "{:?}",
        entries(&ctx.work())
    );
    let backend = std::fs::read_to_string(&started).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(&backend) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(&backend), "pip's build backend still runs");
}

#[test]
fn sigterm_during_a_build_removes_the_staging_directory_and_exits_143() {
    interrupt_build("SIGTERM", 143);
}

#[test]
fn sigint_during_a_build_removes_the_staging_directory_and_exits_130() {
    interrupt_build("SIGINT", 130);
}

/// Runs a build whose `-o` is `output` and asserts that it fails before pip runs, naming `what`.
fn refused(ctx: &TestContext, output: &Path, what: &str) {
    let out = run(ctx
        .pybundle()
        .arg("-o")
        .arg(output)
        .args(["--no-index", "no-such-package-pybundle-test"]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("is {what}, not a regular file")),
        "{err}"
    );
    assert!(err.contains("hint: "), "{err}");
    assert!(!err.contains("pip"), "pip ran before the check\n{err}");
}

#[test]
fn output_that_is_not_a_regular_file_is_refused_before_resolving() {
    let ctx = TestContext::new();
    let dir = ctx.work().join("dir.pyz");
    std::fs::create_dir(&dir).unwrap();
    refused(&ctx, &dir, "a directory");
    assert!(dir.is_dir());

    let target = ctx.root().join("elsewhere.pyz");
    std::fs::write(&target, b"keep").unwrap();
    let link = ctx.work().join("link.pyz");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    refused(&ctx, &link, "a symbolic link");
    assert!(link.is_symlink());
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");

    let fifo = ctx.work().join("fifo.pyz");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    refused(&ctx, &fifo, "a FIFO");
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );

    // A device node of our own (the same device as /dev/null), where mknod is allowed.
    let device = ctx.work().join("null.pyz");
    let made = Command::new("mknod")
        .arg(&device)
        .args(["c", "1", "3"])
        .output()
        .unwrap();
    if made.status.success() {
        refused(&ctx, &device, "a device");
        assert!(
            std::fs::symlink_metadata(&device)
                .unwrap()
                .file_type()
                .is_char_device()
        );
    } else {
        eprintln!(
            "skipped the device case: mknod is not allowed here ({})",
            String::from_utf8_lossy(&made.stderr).trim()
        );
    }
}

/// The output's directory is a 64 KiB tmpfs of a mount namespace of our own: the bundle does not
/// fit, the build fails with one error (no `ZipWriter::drop` line from the zip crate, also under
/// `-q`) naming the cause.
#[test]
fn a_full_disk_gives_one_error() {
    let ctx = TestContext::new();
    let wheels = ctx.fixture_wheels(&python311());
    let small = ctx.root().join("small");
    std::fs::create_dir(&small).unwrap();
    let probe = Command::new("unshare")
        .args(["-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs \"$0\""])
        .arg(&small)
        .output()
        .unwrap();
    if !probe.status.success() {
        eprintln!(
            "skipped: this machine cannot mount a tmpfs in a namespace of its own ({})",
            String::from_utf8_lossy(&probe.stderr).trim()
        );
        return;
    }
    // Three quarters of the bundle fit: the writer fails in the middle of the payload (a tmpfs too small
    // for the first member fails before the zip writer holds anything to finalize).
    let size = ctx
        .build_offline(&python311(), &wheels, &["-q"], &["myapp"], "whole.pyz")
        .metadata()
        .unwrap()
        .len();
    std::fs::remove_file(ctx.work().join("whole.pyz")).unwrap();
    let mount = format!(
        "mount -t tmpfs -o size={}k tmpfs \"$0\" && exec \"$@\"",
        size * 3 / 4096
    );
    let build = ctx.build_offline_command(&python311(), &wheels, &["-q"], &["myapp"], "x.pyz");
    let mut wrapped = Command::new("unshare");
    wrapped
        .args(["-rm", "sh", "-c", &mount])
        .arg(&small)
        .arg(build.get_program());
    let mut args: Vec<_> = build.get_args().map(|a| a.to_os_string()).collect();
    let at = args.iter().position(|a| a == "-o").unwrap();
    args[at + 1] = small.join("app.pyz").into_os_string();
    wrapped.args(args).current_dir(ctx.work());
    for (key, value) in build.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    let out = run(&mut wrapped);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);

    assert!(!err.contains("ZipWriter"), "{err}");
    assert!(err.starts_with("error: cannot build"), "{err}");
    assert!(
        err.contains("No space left on device"),
        "the cause is named\n{err}"
    );
}
