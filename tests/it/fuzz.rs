//! Random damage (issue 21): 1,000 single-bit flips and 200 truncations of a small bundle with
//! a native dependency (the fixture app: `myapp`, `puredep` and the C extension `spam`),
//! chosen over the whole file with a fixed seed, each run as `python BUNDLE` (not through its
//! shebang: a flipped shebang would be the kernel's error) with a fresh cache root (so that the
//! extraction of `spam` runs every time), a 10 s timeout and a 1 GiB address-space limit.
//! Then `pybundle verify`, `info` and `extract` on the same 1,000 flips.
//!
//! A run must end in one of these ways, and never hang, die of a signal, print a traceback or a
//! `MemoryError`:
//! - `same`: the intact bundle's exit status, stdout and stderr;
//! - `damaged`: exit 1 and the one-paragraph `error: the bundle `…` is damaged (…)` on stderr;
//! - `refused`: only for damage the interpreter meets before any code of the bundle runs: a
//!   flip in the outer zip's central directory or end record (the interpreter parses them to
//!   find `__main__.py`), in `__main__.py` itself (it is compiled before its guard runs; a flip
//!   in its data literals or comments is caught by the guard, one in its code may be a
//!   `SyntaxError` or a `NameError`) or in `__main__.py`'s local header, and every truncation
//!   (no zip end record: the interpreter reads the file as a script). Exit non-zero, stdout
//!   empty, no signal. `pybundle verify` must flag each of these.
//!
//! `verify` must exit 1 for every flip inside a member's data and for every run that did not
//! end as `same`; it may pass a flip elsewhere that changes nothing it reads (the shebang, an
//! unused field of a zip header such as a time stamp, the version made by or external
//! attributes of a member of the outer zip). `info` and `extract` exit 0 or 1, 1 with an
//! `error:` line; no panic, no abort. `FUZZ_FLIPS` and `FUZZ_TRUNCATIONS`
//! change the counts, `FUZZ_AT=OFFSET:BIT` runs one flip.
//!
//! Time: 143 s on 2 threads of a quiet 2-core machine, 320 s when the load average was 11.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::common::{TestContext, python311, run_ok, stdout};

/// xorshift64*: the same damage on every machine.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

#[derive(Clone, Copy, Debug)]
enum Harm {
    /// Flip bit `.1` of byte `.0`.
    Flip(usize, u8),
    /// Keep the first `.0` bytes.
    Truncate(usize),
}

/// Where the bytes of the intact bundle are: `[start, end)` of the outer central directory
/// and end record, of `__main__.py` (local header and data), and of every member's data.
struct Map {
    directory: usize,
    main: (usize, usize),
    data: Vec<(usize, usize, String)>,
}

/// The content of member `name` of the zip `bytes`, or None if it cannot be read (the zip crate
/// checks its CRC-32).
fn content(bytes: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    let mut member = zip.by_name(name).ok()?;
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut member, &mut out).ok()?;
    Some(out)
}

fn map(bundle: &Path) -> Map {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(bundle).unwrap()).unwrap();
    let mut directory = usize::MAX;
    let mut main = (0, 0);
    let mut data = Vec::new();
    for i in 0..zip.len() {
        let member = zip.by_index_raw(i).unwrap();
        let start = usize::try_from(member.data_start().unwrap()).unwrap();
        let end = start + usize::try_from(member.compressed_size()).unwrap();
        directory = directory.min(usize::try_from(member.central_header_start()).unwrap());
        if member.name().is_ok_and(|n| n == "__main__.py") {
            main = (usize::try_from(member.header_start()).unwrap(), end);
        }
        data.push((start, end, member.name().unwrap().to_string()));
    }
    Map {
        directory,
        main,
        data,
    }
}

struct Ended {
    code: Option<i32>,
    timed_out: bool,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` with stdout and stderr in files under `dir`, killed after `limit`.
fn run_limited(mut cmd: Command, dir: &Path, limit: Duration) -> Ended {
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ended {
        code: status.code(),
        timed_out,
        stdout: String::from_utf8_lossy(&std::fs::read(&out).unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err).unwrap()).into_owned(),
    }
}

fn damaged_paragraph(e: &Ended, bundle: &Path) -> bool {
    let prefix = format!("error: the bundle `{}` is damaged (", bundle.display());
    e.code == Some(1)
        && e.stderr.starts_with(&prefix)
        && e.stderr
            .trim_end()
            .ends_with("; rebuild it or copy it again")
        && e.stderr.trim_end().lines().count() == 1
}

fn count(env: &str, default: usize) -> usize {
    std::env::var(env)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn random_damage_is_reported_never_run() {
    let started = Instant::now();
    let ctx = TestContext::new();
    let python = python311();
    let wheels = ctx.fixture_wheels(&python);
    let bundle = ctx.build_app(&wheels, &["-q", "-e", "myapp.main:main"], "app.pyz");
    let intact = std::fs::read(&bundle).unwrap();
    let map = map(&bundle);
    // `ulimit -v` in KiB: 1 GiB of address space
    let limited = |dir: &Path, file: &Path| {
        let mut cmd = ctx.bundle_with(Path::new("/bin/sh"), Path::new("-c"));
        cmd.arg("ulimit -v 1048576 && exec \"$@\"")
            .arg("sh")
            .arg(&python)
            .arg(file)
            .env("PYBUNDLE_ROOT", dir.join("root"));
        cmd
    };
    let work = ctx.work().join("fuzz");
    std::fs::create_dir_all(&work).unwrap();
    let expected = run_limited(limited(&work, &bundle), &work, Duration::from_secs(30));
    assert_eq!(
        expected.code,
        Some(0),
        "timed out: {}\n{}{}",
        expected.timed_out,
        expected.stdout,
        expected.stderr
    );
    assert!(
        expected.stdout.contains("spam.add(2, 3) = 5"),
        "{}",
        expected.stdout
    );

    let mut rng = Rng(0x5eed_2121_d00d_f00d);
    let mut harms = Vec::new();
    for _ in 0..count("FUZZ_FLIPS", 1000) {
        let at = rng.below(intact.len() as u64) as usize;
        harms.push(Harm::Flip(at, rng.below(8) as u8));
    }
    for _ in 0..count("FUZZ_TRUNCATIONS", 200) {
        harms.push(Harm::Truncate(rng.below(intact.len() as u64) as usize));
    }
    // `FUZZ_AT=OFFSET:BIT` runs that one flip (to look into a failure)
    if let Some((at, bit)) = std::env::var("FUZZ_AT").ok().and_then(|v| {
        let (at, bit) = v.split_once(':')?;
        Some((at.parse().ok()?, bit.parse().ok()?))
    }) {
        harms = vec![Harm::Flip(at, bit)];
    }

    let jobs = Mutex::new(harms.iter().copied().enumerate().collect::<Vec<_>>());
    let tally = Mutex::new(std::collections::BTreeMap::<String, usize>::new());
    let failures = Mutex::new(Vec::<String>::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
    std::thread::scope(|s| {
        for t in 0..threads {
            let (jobs, tally, failures) = (&jobs, &tally, &failures);
            let (intact, map, expected, limited) = (&intact, &map, &expected, &limited);
            let ctx = &ctx;
            let work = work.join(format!("t{t}"));
            s.spawn(move || {
                loop {
                    let Some((i, harm)) = jobs.lock().unwrap().pop() else {
                        break;
                    };
                    let dir = work.join(format!("{i}"));
                    std::fs::create_dir_all(&dir).unwrap();
                    let file = dir.join("app.pyz");
                    let mut bytes = intact.clone();
                    let mut inside_data = None;
                    let mut before_bootstrap = true;
                    if let Harm::Flip(at, bit) = harm {
                        bytes[at] ^= 1 << bit;
                        inside_data = map
                            .data
                            .iter()
                            .find(|(a, e, _)| *a <= at && at < *e)
                            .map(|(.., name)| name.clone());
                        before_bootstrap =
                            at >= map.directory || (map.main.0 <= at && at < map.main.1);
                    } else if let Harm::Truncate(len) = harm {
                        bytes.truncate(len);
                    }
                    std::fs::write(&file, &bytes).unwrap();
                    let mut verdicts = Vec::new();
                    let fail = |what: String| {
                        failures.lock().unwrap().push(format!("{harm:?}: {what}"));
                    };
                    let ran = run_limited(limited(&dir, &file), &dir, Duration::from_secs(10));
                    let same = ran.code == expected.code
                        && ran.stdout == expected.stdout
                        && ran.stderr == expected.stderr;
                    let outcome = if ran.timed_out {
                        fail("hang (killed after 10 s)".into());
                        "hang"
                    } else if ran.code.is_none() {
                        fail(format!("died of a signal\n{}", ran.stderr));
                        "signal"
                    } else if same {
                        "same"
                    } else if damaged_paragraph(&ran, &file) {
                        "damaged"
                    } else if before_bootstrap
                        && ran.code != Some(0)
                        && ran.stdout.is_empty()
                        && !ran.stderr.contains("MemoryError")
                    {
                        match harm {
                            Harm::Truncate(_) => "refused (no zip end record)",
                            Harm::Flip(at, _) if at >= map.directory => "refused (zip directory)",
                            Harm::Flip(..) => "refused (__main__.py)",
                        }
                    } else {
                        fail(format!(
                            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
                            ran.code, ran.stdout, ran.stderr
                        ));
                        "bad"
                    };
                    verdicts.push(format!("run: {outcome}"));
                    if let Harm::Flip(..) = harm {
                        let tool = |args: &[&str]| {
                            let mut cmd = ctx.pybundle();
                            cmd.args(args).arg(&file);
                            run_limited(cmd, &dir, Duration::from_secs(10))
                        };
                        let verify = tool(&["verify"]);
                        let root = dir.join("extract-root");
                        let extract = tool(&["extract", "--root", root.to_str().unwrap()]);
                        let info = tool(&["info"]);
                        for (name, e) in
                            [("verify", &verify), ("extract", &extract), ("info", &info)]
                        {
                            let ok = !e.timed_out
                                && !e.stderr.contains("panicked")
                                && match e.code {
                                    Some(0) => true,
                                    Some(1) => {
                                        e.stderr.starts_with("error:")
                                            || (name == "verify"
                                                && e.stdout.starts_with("damaged: "))
                                    }
                                    _ => false,
                                };
                            if !ok {
                                fail(format!(
                                    "pybundle {name}: exit {:?}\n--- stdout\n{}--- stderr\n{}",
                                    e.code, e.stdout, e.stderr
                                ));
                            }
                        }
                        // A flip in a deflate stream's padding, or in the code length of a
                        // Huffman code it never uses, leaves the content as it was.
                        let changed = inside_data.as_ref().filter(|name| {
                            content(&bytes, name).is_none_or(|c| Some(c) != content(intact, name))
                        });
                        if verify.code != Some(1) && (changed.is_some() || outcome != "same") {
                            fail(format!(
                                "verify passed a flip {}that the run reports `{outcome}`\n{}{}",
                                if changed.is_some() {
                                    "in a member's data "
                                } else {
                                    ""
                                },
                                ran.stderr,
                                verify.stdout
                            ));
                        }
                        verdicts.push(format!("verify: exit {:?}", verify.code));
                    }
                    let mut tally = tally.lock().unwrap();
                    let kind = if matches!(harm, Harm::Flip(..)) {
                        "flip"
                    } else {
                        "truncation"
                    };
                    for v in verdicts {
                        *tally.entry(format!("{kind} {v}")).or_default() += 1;
                    }
                    drop(tally);
                    let _ = std::fs::remove_dir_all(&dir);
                }
            });
        }
    });
    let tally = tally.into_inner().unwrap();
    eprintln!(
        "{} damaged copies of a {}-byte bundle in {:.0} s on {threads} threads:",
        harms.len(),
        intact.len(),
        started.elapsed().as_secs_f64()
    );
    for (what, n) in &tally {
        eprintln!("  {what}: {n}");
    }
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // the intact bundle still verifies (the damage was in copies)
    assert!(stdout(&run_ok(ctx.pybundle().arg("verify").arg(&bundle))).starts_with("ok: "));
    let _: PathBuf = bundle;
}
