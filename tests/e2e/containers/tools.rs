//! The container rows of the tools: black on files, through `docker run -i` and under every
//! `--read-only` variant (checking that its compiled modules load), numpy's first and second
//! start, markupsafe's native speedups (never a silent pure-Python fallback), the final image's
//! size and the no-pip hint of each image's Python.

use std::path::Path;
use std::time::Duration;

use super::bundles::Bundles;
use super::scenarios::{Outcome, Table, one_paragraph, run, secs};
use super::{Base, Container, Engine};

/// A file for black, before and after.
const UGLY: &str = "x  =  {'a':1,\n  'b':2}\n";
const PRETTY: &str = "x = {\"a\": 1, \"b\": 2}\n";
/// The numpy check: a result only the native core computes.
const NUMPY: &str = "import numpy; print(int(numpy.arange(10).sum()), numpy.__file__)";

pub(super) fn black_rows(t: &mut Table, engine: &Engine, bundles: &Bundles, black: &str) {
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

pub(super) fn numpy_rows(t: &mut Table, engine: &Engine, numpy: &str) {
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

/// Which implementation markupsafe's `escape` uses (`markupsafe._speedups`, native, or the
/// pure-Python `markupsafe._native`), and the file it came from.
const MARKUPSAFE: &str = "import sys, markupsafe; m = markupsafe._escape_inner.__module__; \
    print(m, sys.modules[m].__file__)";

/// markupsafe, whose native speedups have a pure-Python fallback: on a noexec /tmp it must not
/// run the fallback silently.
pub(super) fn markupsafe_rows(t: &mut Table, engine: &Engine, bundles: &Bundles) {
    let mount = format!("{}:/app/markupsafe.pyz:ro", bundles.markupsafe.display());
    let base = t.base.tag;
    for (label, tmp, works) in [
        ("--tmpfs /tmp:exec", "/tmp:exec", true),
        ("--tmpfs /tmp (noexec)", "/tmp", false),
    ] {
        let args = [
            "--read-only",
            "--tmpfs",
            tmp,
            "-v",
            &mount,
            "--entrypoint",
            "/app/markupsafe.pyz",
            base,
            "-c",
            MARKUPSAFE,
        ];
        let name = if works {
            format!("markupsafe --read-only, {label}, not seeded: native speedups")
        } else {
            format!("markupsafe --read-only, {label}, not seeded: no silent fallback")
        };
        t.row(&name, || {
            let ran = run(engine, &args, None);
            if works {
                check!(
                    ran.code == Some(0)
                        && ran
                            .stdout
                            .starts_with("markupsafe._speedups /tmp/pybundle-0/"),
                    "{}",
                    ran.show()
                );
                return Ok(("speedups from /tmp/pybundle-0".into(), secs(ran.elapsed)));
            }
            check!(
                ran.code.is_some_and(|c| c != 0)
                    && !ran.stdout.contains("markupsafe._native")
                    && ran.stderr.contains("pybundle extract")
                    && ran.stderr.contains("/tmp:exec")
                    && !ran.stderr.contains("failed to map segment"),
                "{}",
                ran.show()
            );
            Ok((
                format!("exit {} with the paragraph", ran.code.unwrap_or_default()),
                secs(ran.elapsed),
            ))
        });
    }
}

/// Checks that `image` is `base` plus the bundle plus the pre-seeded root; returns the figures.
pub(super) fn size_check(
    engine: &Engine,
    base: Base,
    image: &str,
    bundle: &Path,
) -> Result<String, String> {
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
pub(super) fn no_pip_hint(engine: &Engine, bundles: &Bundles, base: Base) -> Outcome {
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
