//! The scenario table of one base image: every row runs containers from the recipes' images and
//! checks real output; the table (row, image, result, timing) is printed and written to
//! `target/e2e-containers.md`, and the test fails when a row failed.

use std::path::Path;
use std::time::{Duration, Instant};

use super::bundles::bundles;
use super::tools::{black_rows, markupsafe_rows, no_pip_hint, numpy_rows, size_check};
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
pub(super) type Outcome = Result<(String, String), String>;

/// Collects the rows of one image.
pub(super) struct Table {
    pub(super) base: Base,
    rows: Vec<[String; 4]>,
    failures: Vec<String>,
}

impl Table {
    /// Runs row `name`: `f` returns (result, timing), or why the row failed; an empty timing is
    /// replaced by the row's wall time.
    pub(super) fn row(&mut self, name: &str, f: impl FnOnce() -> Outcome) {
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
        markupsafe_rows(&mut t, engine, bundles);
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
    t.row(
        "examples/Dockerfile.venv: black's environment, --read-only, no cache root",
        || {
            let image = bundles.prebuilt_image(engine, base, &bundles.black_venv, "black-venv")?;
            let ran = run(
                engine,
                &[
                    "-i",
                    "--read-only",
                    "--user",
                    "1000:1000",
                    "-e",
                    "HOME=/nonexistent",
                    &image,
                    "black",
                    "-q",
                    "-",
                ],
                Some("x = {  'a':1 }\n"),
            );
            check!(
                ran.code == Some(0) && ran.stdout == "x = {\"a\": 1}\n",
                "{}",
                ran.show()
            );
            let which = run(
                engine,
                &[
                    "--read-only",
                    &image,
                    "sh",
                    "-c",
                    "command -v black; ls /opt/app/bin | head -3",
                ],
                None,
            );
            check!(
                which.code == Some(0) && which.stdout.starts_with("/opt/app/bin/black\n"),
                "{}",
                which.show()
            );
            Ok((
                "formatted stdin from /opt/app/bin/black".into(),
                format!("{:.2} s", ran.elapsed.as_secs_f64()),
            ))
        },
    );
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
pub(super) fn run(engine: &Engine, args: &[&str], stdin: Option<&str>) -> super::Ran {
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

pub(super) fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn server_rows(t: &mut Table, engine: &Engine, app: &str) {
    for (label, opts) in [("no --init", &[][..]), ("--init", &["--init"][..])] {
        t.row(
            &format!("gunicorn app as PID 1 ({label}): served, then docker stop"),
            || {
                let (container, first) = serve(engine, app, opts, false)?;
                // Without an init the bundle's interpreter is PID 1 (env execs python3);
                // with one, docker-init is.
                let pid1 = engine.ok(
                    &["exec", &container.name, "cat", "/proc/1/cmdline"],
                    Duration::from_secs(20),
                )?;
                let pid1 = pid1.replace('\0', " ");
                let want = if opts.is_empty() {
                    "python3 /app/app.pyz "
                } else {
                    "/sbin/docker-init -- /app/app.pyz "
                };
                check!(pid1.starts_with(want), "PID 1 is `{pid1}`, not `{want}…`");
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
pub(super) fn one_paragraph(stderr: &str) -> Result<(), String> {
    check!(
        stderr.contains("pybundle extract")
            && stderr.contains("/tmp:exec")
            && !stderr.contains("Traceback")
            && !stderr.contains("failed to map segment"),
        "expected one paragraph naming `pybundle extract` and `--tmpfs /tmp:exec`:\n{stderr}"
    );
    Ok(())
}
