//! The scenario table of one base image: every row runs containers from the recipes' images and
//! checks real output; the table (row, image, result, timing) is printed and written to
//! `target/e2e-containers.md`, and the test fails when a row failed.

use std::path::Path;
use std::time::{Duration, Instant};

use super::bundles::{Bundles, bundles};
use super::{Base, Container, Engine, engine, say};
use crate::harness::target_dir;

/// The gunicorn command line of the seed app inside a container.
const SERVE: &[&str] = &["-b", "127.0.0.1:8000", "-w", "2", "myapp.wsgi"];
/// What gunicorn needs on a read-only root filesystem: a writable dir for its worker heartbeats.
const WORKER_TMP: &[&str] = &["--worker-tmp-dir", "/dev/shm"];
/// What a served page must contain.
const PAGE: &str = "<h1>Hello, e2e!</h1>";
/// Fetches the page from inside the container (the containers have no network).
const FETCH: &str = "import urllib.request as u; \
    print(u.urlopen('http://127.0.0.1:8000/?who=e2e', timeout=5).read().decode())";
/// A file for black, before and after.
const UGLY: &str = "x  =  {'a':1,\n  'b':2}\n";
const PRETTY: &str = "x = {\"a\": 1, \"b\": 2}\n";
/// The numpy check: a result only the native core computes.
const NUMPY: &str = "import numpy; print(int(numpy.arange(10).sum()), numpy.__file__)";

type Outcome = Result<(String, String), String>;

/// Collects the rows of one image.
struct Table {
    base: Base,
    rows: Vec<[String; 4]>,
    failures: Vec<String>,
}

impl Table {
    /// Runs row `name`: `f` returns (result, timing), or why the row failed; an empty timing is
    /// replaced by the row's wall time.
    fn row(&mut self, name: &str, f: impl FnOnce() -> Outcome) {
        let started = Instant::now();
        let (result, timing) = match f() {
            Ok((result, timing)) => (format!("pass: {result}"), timing),
            Err(why) => {
                self.failures
                    .push(format!("{name} ({}): {why}", self.base.name));
                let first = why.lines().next().unwrap_or_default().to_string();
                (format!("FAIL: {first}"), String::new())
            }
        };
        let timing = if timing.is_empty() {
            format!("{:.1} s", started.elapsed().as_secs_f64())
        } else {
            timing
        };
        say(&format!(
            "containers [{}] {name}: {result} ({timing})\n",
            self.base.name
        ));
        self.rows
            .push([name.to_string(), self.base.name.to_string(), result, timing]);
    }

    /// Prints the table and stores it next to the other image's in `target/e2e-containers.md`.
    fn finish(self) {
        let mut text = String::new();
        for [row, image, result, timing] in &self.rows {
            text.push_str(&format!("| {row} | {image} | {result} | {timing} |\n"));
        }
        say(&format!(
            "\ncontainer scenarios on {}:\n| row | image | result | timing |\n|---|---|---|---|\n{text}\n",
            self.base.name
        ));
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e/containers-rows");
        if std::fs::create_dir_all(&dir).is_ok() {
            let _ = std::fs::write(dir.join(self.base.name), &text);
            let mut all = String::from("| row | image | result | timing |\n|---|---|---|---|\n");
            for base in super::BASES {
                all.push_str(&std::fs::read_to_string(dir.join(base.name)).unwrap_or_default());
            }
            let _ = std::fs::write(target_dir().join("e2e-containers.md"), all);
        }
        assert!(
            self.failures.is_empty(),
            "{} container rows failed:\n\n{}",
            self.failures.len(),
            self.failures.join("\n\n")
        );
    }
}

macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// Runs every row on `base`; prints why and passes when no engine can start.
pub fn run_table(base: Base) {
    crate::require!(crate::common::python(11), "CPython 3.11");
    let engine = match engine() {
        Ok(engine) => engine,
        Err(why) => {
            say(&format!(
                "\nSKIPPED: the container suite on {}: no container engine could start: {why}\n",
                base.name
            ));
            let _ = std::fs::write(
                target_dir().join("e2e-containers.md"),
                format!("skipped: no container engine could start: {why}\n"),
            );
            return;
        }
    };
    if let Err(why) = super::images(engine) {
        panic!("{why}");
    }
    let bundles = bundles().unwrap_or_else(|why| panic!("building the bundles failed: {why}"));
    let mut t = Table {
        base,
        rows: Vec::new(),
        failures: Vec::new(),
    };
    let mut images = None;
    t.row("examples/Dockerfile builds: seed app, black, numpy", || {
        let app = bundles.prebuilt_image(engine, base, &bundles.app, "app")?;
        let black = bundles.prebuilt_image(engine, base, &bundles.black, "black")?;
        let numpy = bundles.prebuilt_image(engine, base, &bundles.numpy, "numpy")?;
        images = Some((app, black, numpy));
        Ok(("3 images".into(), String::new()))
    });
    let mut built = None;
    t.row(
        "examples/Dockerfile.build builds the fixture app (C extension), offline",
        || {
            built = Some(bundles.built_image(engine, base)?);
            Ok(("1 image".into(), String::new()))
        },
    );
    if let Some((app, black, numpy)) = &images {
        server_rows(&mut t, engine, app);
        black_rows(&mut t, engine, bundles, black);
        numpy_rows(&mut t, engine, numpy);
        t.row("final image = base + bundle + pre-seeded root", || {
            let mut parts = Vec::new();
            for (image, bundle) in [
                (app, &bundles.app),
                (black, &bundles.black),
                (numpy, &bundles.numpy),
            ] {
                parts.push(size_check(engine, base, image, bundle)?);
            }
            Ok((parts.join("; "), "-".into()))
        });
    }
    if let Some(image) = &built {
        t.row(
            "built-in-image app: native extension, exit codes 0 / 1 / 3",
            || {
                let ok = run(engine, &["--read-only", image], None);
                check!(
                    ok.code == Some(0) && ok.stdout.contains("spam.add(2, 3) = 5"),
                    "{}",
                    ok.show()
                );
                let fail = run(engine, &[image, "fail"], None);
                check!(
                    fail.code == Some(1) && fail.stderr.contains("the app failed on purpose"),
                    "{}",
                    fail.show()
                );
                let three = run(engine, &[image, "exit3"], None);
                check!(three.code == Some(3), "{}", three.show());
                Ok((
                    "0, 1 (traceback), 3".into(),
                    format!("{:.1} s per run", ok.elapsed.as_secs_f64()),
                ))
            },
        );
    }
    t.row(
        "pybundle without pip: the hint fits the image's Python",
        || no_pip_hint(engine, bundles, base),
    );
    t.finish();
}

/// `docker run --rm --network none ARGS`, bounded to 120 s.
fn run(engine: &Engine, args: &[&str], stdin: Option<&str>) -> super::Ran {
    let mut all = vec!["run", "--rm", "--network", "none"];
    if stdin.is_some() {
        all.push("-i");
    }
    all.extend_from_slice(args);
    engine.docker(&all, stdin, Duration::from_secs(120))
}

/// Starts the seed app detached with `opts` (with gunicorn's `--worker-tmp-dir /dev/shm` for a
/// read-only root) and waits for its page; returns the container and the time to the first
/// answer.
fn serve<'a>(
    engine: &'a Engine,
    image: &str,
    opts: &[&str],
    read_only: bool,
) -> Result<(Container<'a>, Duration), String> {
    let name = engine.name();
    let mut args = vec!["run", "-d", "--network", "none", "--name", &name];
    args.extend_from_slice(opts);
    args.push(image);
    args.extend_from_slice(SERVE);
    if read_only {
        args.extend_from_slice(WORKER_TMP);
    }
    let started = Instant::now();
    engine.ok(&args, Duration::from_secs(60))?;
    let container = Container {
        engine,
        name: name.clone(),
    };
    let deadline = started + Duration::from_secs(60);
    loop {
        let got = engine.docker(
            &["exec", &name, "python3", "-c", FETCH],
            None,
            Duration::from_secs(20),
        );
        if got.code == Some(0) && got.stdout.contains(PAGE) {
            return Ok((container, started.elapsed()));
        }
        let state = engine
            .ok(
                &["inspect", "-f", "{{.State.Running}}", &name],
                Duration::from_secs(20),
            )
            .unwrap_or_default();
        if state.trim() != "true" || Instant::now() > deadline {
            let logs = engine.docker(&["logs", &name], None, Duration::from_secs(20));
            return Err(format!(
                "no page (running: {}): {}\n--- logs\n{}{}",
                state.trim(),
                got.show(),
                logs.stdout,
                logs.stderr
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `docker stop` of a served container: (time, exit code).
fn stop(engine: &Engine, container: &Container) -> Result<(Duration, String), String> {
    let started = Instant::now();
    engine.ok(
        &["stop", "-t", "10", &container.name],
        Duration::from_secs(30),
    )?;
    let took = started.elapsed();
    let code = engine.ok(
        &["inspect", "-f", "{{.State.ExitCode}}", &container.name],
        Duration::from_secs(20),
    )?;
    Ok((took, code.trim().to_string()))
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn server_rows(t: &mut Table, engine: &Engine, app: &str) {
    for (label, opts) in [("no --init", &[][..]), ("--init", &["--init"][..])] {
        t.row(
            &format!("gunicorn app as PID 1 ({label}): served, then docker stop"),
            || {
                let (container, first) = serve(engine, app, opts, false)?;
                let (took, code) = stop(engine, &container)?;
                check!(
                    code == "0" && took < Duration::from_secs(5),
                    "docker stop took {took:?}, exit code {code}"
                );
                Ok((
                    format!("served; stop: exit {code}"),
                    format!("first answer {}, stop {}", secs(first), secs(took)),
                ))
            },
        );
    }
    for (label, opts) in [
        (
            "--user 1000:1000, no writable HOME, pre-seeded",
            &["--user", "1000:1000"][..],
        ),
        (
            "--user 1000:1000, no writable HOME, not seeded",
            &["--user", "1000:1000", "-e", "PYBUNDLE_ROOTS="][..],
        ),
        // gunicorn's worker heartbeat files need a writable temp dir.
        (
            "--read-only --worker-tmp-dir /dev/shm, pre-seeded",
            &["--read-only"][..],
        ),
    ] {
        t.row(&format!("gunicorn {label}: served"), || {
            let read_only = opts.contains(&"--read-only");
            let (container, first) = serve(engine, app, opts, read_only)?;
            let logs = engine.docker(&["logs", &container.name], None, Duration::from_secs(20));
            let warnings = logs.stderr.matches("pybundle: warning").count();
            check!(
                warnings <= 1,
                "{warnings} pybundle warnings (at most one per start):\n{}",
                logs.stderr
            );
            Ok((
                format!("served, {warnings} warning line(s)"),
                format!("first answer {}", secs(first)),
            ))
        });
    }
    t.row(
        "gunicorn --read-only, no usable root: exits non-zero within 5 s, one paragraph",
        || {
            let name = engine.name();
            let started = Instant::now();
            let mut args = vec!["run", "-d", "--network", "none", "--name", &name];
            args.extend_from_slice(&["--read-only", "-e", "PYBUNDLE_ROOTS=", app]);
            args.extend_from_slice(SERVE);
            args.extend_from_slice(WORKER_TMP);
            engine.ok(&args, Duration::from_secs(60))?;
            let container = Container {
                engine,
                name: name.clone(),
            };
            let mut state = String::new();
            while started.elapsed() < Duration::from_secs(15) {
                state = engine.ok(
                    &[
                        "inspect",
                        "-f",
                        "{{.State.Running}} {{.State.ExitCode}}",
                        &name,
                    ],
                    Duration::from_secs(20),
                )?;
                if state.starts_with("false") {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let took = started.elapsed();
            let logs = engine.docker(&["logs", &name], None, Duration::from_secs(20));
            drop(container);
            let code = state.split_whitespace().nth(1).unwrap_or("?").to_string();
            check!(
                state.starts_with("false") && code != "0" && took < Duration::from_secs(5),
                "still {state:?} after {took:?}:\n{}",
                logs.stderr
            );
            one_paragraph(&logs.stderr)?;
            Ok((format!("exit {code}"), secs(took)))
        },
    );
}

/// Checks that `stderr` says why no root could be used, in one paragraph with the fixes.
fn one_paragraph(stderr: &str) -> Result<(), String> {
    check!(
        stderr.contains("pybundle extract")
            && stderr.contains("/tmp:exec")
            && !stderr.contains("Traceback")
            && !stderr.contains("failed to map segment"),
        "expected one paragraph naming `pybundle extract` and `--tmpfs /tmp:exec`:\n{stderr}"
    );
    Ok(())
}

fn black_rows(t: &mut Table, engine: &Engine, bundles: &Bundles, black: &str) {
    t.row("black on a file (mounted), pre-seeded", || {
        black_file(engine, bundles, black, &[], "plain")
    });
    t.row(
        "black through docker run -i: stdin, exit codes 0 / 1 / 123",
        || {
            let ok = run(engine, &[black, "-q", "-"], Some(UGLY));
            check!(
                ok.code == Some(0) && ok.stdout == PRETTY,
                "format: {}",
                ok.show()
            );
            let check = run(engine, &[black, "--check", "-q", "-"], Some(UGLY));
            check!(check.code == Some(1), "--check: {}", check.show());
            let bad = run(engine, &[black, "-q", "-"], Some("x = (\n"));
            check!(bad.code == Some(123), "syntax error: {}", bad.show());
            Ok((
                "formatted stdin; 0, 1, 123".into(),
                format!("{:.1} s per run", ok.elapsed.as_secs_f64()),
            ))
        },
    );
    let seeded: &[&str] = &[];
    let unseeded: &[&str] = &["-e", "PYBUNDLE_ROOTS="];
    for (tmp_label, tmp) in [
        ("no tmpfs", &[][..]),
        ("--tmpfs /tmp (noexec)", &["--tmpfs", "/tmp"][..]),
        ("--tmpfs /tmp:exec", &["--tmpfs", "/tmp:exec"][..]),
    ] {
        for (seed_label, seed) in [("pre-seeded", seeded), ("not seeded", unseeded)] {
            let works = seed.is_empty() || tmp_label.ends_with(":exec");
            let mut opts = vec!["--read-only"];
            opts.extend_from_slice(tmp);
            opts.extend_from_slice(seed);
            let label = format!("black --read-only, {tmp_label}, {seed_label}");
            t.row(&label, || {
                if works {
                    black_file(engine, bundles, black, &opts, "ro")
                } else {
                    let mut args = opts.clone();
                    args.extend_from_slice(&[black, "--version"]);
                    let ran = run(engine, &args, None);
                    check!(ran.code.is_some_and(|c| c != 0), "{}", ran.show());
                    one_paragraph(&ran.stderr)?;
                    Ok((
                        format!("exit {} with the paragraph", ran.code.unwrap_or_default()),
                        secs(ran.elapsed),
                    ))
                }
            });
        }
    }
}

/// Formats a mounted file with black under `opts` and checks that black's compiled (native)
/// modules were loaded.
fn black_file(
    engine: &Engine,
    bundles: &Bundles,
    black: &str,
    opts: &[&str],
    name: &str,
) -> Outcome {
    let dir = bundles.scratch(name);
    std::fs::write(dir.join("f.py"), UGLY).map_err(|e| e.to_string())?;
    let mount = format!("{}:/work", dir.display());
    let mut args = vec!["-v", &mount];
    args.extend_from_slice(opts);
    let mut version = args.clone();
    args.extend_from_slice(&[black, "-q", "/work/f.py"]);
    let ran = run(engine, &args, None);
    let after = std::fs::read_to_string(dir.join("f.py")).unwrap_or_default();
    check!(
        ran.code == Some(0) && after == PRETTY,
        "file now {after:?}: {}",
        ran.show()
    );
    version.extend_from_slice(&[black, "--version"]);
    let v = run(engine, &version, None);
    check!(
        v.code == Some(0) && v.stdout.contains("compiled: yes"),
        "black's native modules were not loaded: {}",
        v.show()
    );
    let warnings = ran.stderr.matches("pybundle: warning").count();
    check!(warnings <= 1, "{warnings} warnings:\n{}", ran.stderr);
    Ok((
        format!("formatted, compiled: yes, {warnings} warning line(s)"),
        secs(ran.elapsed),
    ))
}

fn numpy_rows(t: &mut Table, engine: &Engine, numpy: &str) {
    t.row("numpy, not seeded: first start, second start", || {
        let name = engine.name();
        engine.ok(
            &[
                "create",
                "--network",
                "none",
                "--name",
                &name,
                "-e",
                "PYBUNDLE_ROOTS=",
                numpy,
                "-c",
                NUMPY,
            ],
            Duration::from_secs(60),
        )?;
        let _container = Container {
            engine,
            name: name.clone(),
        };
        let mut times = Vec::new();
        for _ in 0..2 {
            let ran = engine.docker(&["start", "-a", &name], None, Duration::from_secs(120));
            check!(
                ran.code == Some(0) && ran.stdout.starts_with("45 /root/.cache/pybundle/"),
                "{}",
                ran.show()
            );
            times.push(ran.elapsed);
        }
        Ok((
            "45, from ~/.cache/pybundle".into(),
            format!("first {}, second {}", secs(times[0]), secs(times[1])),
        ))
    });
    t.row("numpy, pre-seeded, --read-only --user 1000:1000", || {
        let ran = run(
            engine,
            &["--read-only", "--user", "1000:1000", numpy, "-c", NUMPY],
            None,
        );
        check!(
            ran.code == Some(0) && ran.stdout.starts_with("45 /opt/pybundle/"),
            "{}",
            ran.show()
        );
        Ok(("45, from /opt/pybundle".into(), secs(ran.elapsed)))
    });
}

/// Checks that `image` is `base` plus the bundle plus the pre-seeded root; returns the figures.
fn size_check(engine: &Engine, base: Base, image: &str, bundle: &Path) -> Result<String, String> {
    let total = engine.image_size(image)?;
    let base_size = engine.image_size(base.tag)?;
    let bundle_size = std::fs::metadata(bundle).map_err(|e| e.to_string())?.len();
    let seed = run(
        engine,
        &[
            "--entrypoint",
            "python3",
            image,
            "-c",
            "import os; print(sum(os.lstat(os.path.join(d, f)).st_size \
             for d, _, fs in os.walk('/opt/pybundle') for f in fs))",
        ],
        None,
    );
    let seed_size: u64 = seed
        .stdout
        .trim()
        .parse()
        .map_err(|_| format!("seed size: {}", seed.show()))?;
    let expected = base_size + bundle_size + seed_size;
    let diff = total.abs_diff(expected);
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
    check!(
        diff <= 64 * 1024 + expected / 200,
        "{image}: {} != base {} + bundle {} + seed {}",
        total,
        base_size,
        bundle_size,
        seed_size
    );
    let name = image.split(['/', ':']).nth(1).unwrap_or(image);
    Ok(format!(
        "{name}: {} = {} + {} + {} (±{} kB)",
        mb(total),
        mb(base_size),
        mb(bundle_size),
        mb(seed_size),
        diff / 1000
    ))
}

/// pybundle run with an interpreter that has no pip: Debian's python3 (the hint names
/// python3-pip), or a `--without-pip` venv of the python.org-style CPython (ensurepip).
fn no_pip_hint(engine: &Engine, bundles: &Bundles, base: Base) -> Outcome {
    let mount = format!("{}:/usr/local/bin/pybundle:ro", bundles.pybundle.display());
    let (script, want) = if base.tag == super::DEBIAN {
        ("pybundle -o /tmp/x.pyz six", "`apt install python3-pip`")
    } else {
        (
            "python3 -m venv --without-pip /tmp/v && pybundle --python /tmp/v/bin/python -o /tmp/x.pyz six",
            "-m ensurepip`",
        )
    };
    let ran = run(
        engine,
        &["-v", &mount, "--entrypoint", "sh", base.tag, "-c", script],
        None,
    );
    check!(
        ran.code.is_some_and(|c| c != 0) && ran.stderr.contains(want),
        "expected the hint {want}: {}",
        ran.show()
    );
    let hint = ran
        .stderr
        .lines()
        .find(|l| l.contains("hint:"))
        .unwrap_or_default()
        .trim()
        .to_string();
    Ok((hint, secs(ran.elapsed)))
}
