//! Tests for builds from a PEP 751 lock (`--lock pylock.toml`), offline: wheels are built by
//! `WheelBuilder`, locks are written here as TOML with file paths and real sha256s. A lock build
//! runs no resolver, gives the same bytes whatever `--resolver` says and across runs, selects by
//! markers (for a cross target too), refuses what it cannot check, bundles a local project whose
//! requirements the lock satisfies, and `verify --lock` names every difference.
//! See: #23

use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::{Digest, Sha256};

use crate::common::wheel_builder::WheelBuilder;
use crate::common::{TestContext, describe, python, python311, repo_root, run, run_ok, shebang};

/// One `[[packages]]` entry: name, version, marker, wheel files (paths under the lock's dir).
struct Entry<'a> {
    name: &'a str,
    version: &'a str,
    marker: Option<&'a str>,
    wheels: Vec<PathBuf>,
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Returns the text of a lock with `header` lines (after `lock-version`) and `entries`.
fn lock_text(header: &str, entries: &[Entry<'_>]) -> String {
    let mut text = format!("lock-version = \"1.0\"\ncreated-by = \"test\"\n{header}\n");
    for e in entries {
        text.push_str(&format!(
            "[[packages]]\nname = \"{}\"\nversion = \"{}\"\n",
            e.name, e.version
        ));
        if let Some(marker) = e.marker {
            text.push_str(&format!("marker = '{marker}'\n"));
        }
        text.push_str("wheels = [\n");
        for w in &e.wheels {
            text.push_str(&format!(
                "  {{ name = \"{}\", path = \"{}\", hashes = {{ sha256 = \"{}\" }} }},\n",
                w.file_name().unwrap().to_string_lossy(),
                w.display(),
                sha256(w)
            ));
        }
        text.push_str("]\n\n");
    }
    text
}

/// The application `lockapp` (entry `lockapp:main`) that prints its dependency's version.
fn app_wheels(dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let app = WheelBuilder::new("lockapp", "1.0.0")
        .file(
            "lockapp/__init__.py",
            "import lockdep\n\n\ndef main():\n    print('lockapp with lockdep', lockdep.VERSION)\n",
        )
        .requires(["lockdep>=1"])
        .build(dir);
    let dep = WheelBuilder::new("lockdep", "1.1.0")
        .file("lockdep/__init__.py", "VERSION = '1.1.0'\n")
        .build(dir);
    (app, dep)
}

fn app_lock(ctx: &TestContext, name: &str) -> PathBuf {
    let (app, dep) = app_wheels(&ctx.root().join("wheels"));
    let lock = ctx.work().join(name);
    let text = lock_text(
        "",
        &[
            Entry {
                name: "lockapp",
                version: "1.0.0",
                marker: None,
                wheels: vec![app],
            },
            Entry {
                name: "lockdep",
                version: "1.1.0",
                marker: None,
                wheels: vec![dep],
            },
            Entry {
                name: "py2only",
                version: "1.0",
                marker: Some("python_version < \"3.0\""),
                wheels: vec![],
            },
        ],
    );
    std::fs::write(&lock, text).unwrap();
    lock
}

/// Runs a lock build of `lock` with CPython 3.11 into `<work>/<out>` with `flags`.
fn build(ctx: &TestContext, lock: &Path, flags: &[&str], out: &str) -> Output {
    let python = python311();
    run(ctx
        .pybundle()
        .arg("-o")
        .arg(ctx.work().join(out))
        .arg("--python")
        .arg(&python)
        .arg("-p")
        .arg(shebang(&python))
        .arg("--lock")
        .arg(lock)
        .args(flags))
}

fn build_ok(ctx: &TestContext, lock: &Path, flags: &[&str], out: &str) -> PathBuf {
    let output = build(ctx, lock, flags, out);
    assert!(output.status.success(), "{}", describe(&output));
    ctx.work().join(out)
}

/// Asserts the build fails (exit 1, no output left) and returns its stderr.
fn build_fails(ctx: &TestContext, lock: &Path, flags: &[&str]) -> String {
    let output = build(ctx, lock, flags, "bad.pyz");
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(!ctx.work().join("bad.pyz").exists());
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn manifest(ctx: &TestContext, bundle: &Path) -> serde_json::Value {
    let info = run_ok(ctx.pybundle().args(["info", "--json"]).arg(bundle));
    serde_json::from_slice(&info.stdout).unwrap()
}

#[test]
fn builds_runs_and_records_the_lock() {
    let ctx = TestContext::new();
    let lock = app_lock(&ctx, "pylock.toml");
    let bundle = build_ok(&ctx, &lock, &["-e", "lockapp:main"], "app.pyz");
    let out = run_ok(&mut ctx.bundle(&bundle));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "lockapp with lockdep 1.1.0"
    );
    // The marker `python_version < "3.0"` left `py2only` out; the manifest records the lock.
    let m = manifest(&ctx, &bundle);
    let names: Vec<&str> = m["distributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lockapp", "lockdep"]);
    assert_eq!(m["lock"]["sha256"], sha256(&lock));
    assert_eq!(m["lock"]["environment"]["python_version"], "3.11");
    let dep_wheel = ctx.root().join("wheels/lockdep-1.1.0-py3-none-any.whl");
    assert_eq!(m["distributions"][1]["wheel"]["sha256"], sha256(&dep_wheel));
    let text = run_ok(ctx.pybundle().arg("info").arg(&bundle));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!("lock:         sha256 {}", sha256(&lock))),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "wheel lockdep-1.1.0-py3-none-any.whl sha256 {}",
            sha256(&dep_wheel)
        )),
        "{text}"
    );
    // verify --lock passes on it.
    let out = run_ok(
        ctx.pybundle()
            .args(["verify", "--python"])
            .arg(python311())
            .arg("--lock")
            .arg(&lock)
            .arg(&bundle),
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("exactly the lock's selection"),
        "{}",
        describe(&out)
    );
}

#[test]
fn same_bytes_across_runs_and_resolver_settings() {
    let ctx = TestContext::new();
    let lock = app_lock(&ctx, "pylock.toml");
    let copy = ctx.work().join("copy.pylock.toml");
    std::fs::copy(&lock, &copy).unwrap();
    let mut bundles = Vec::new();
    for (i, (lock, resolver)) in [(&lock, "pip"), (&lock, "uv"), (&copy, "pip")]
        .into_iter()
        .enumerate()
    {
        // Same file name in different directories: the name is part of the bytecode.
        std::fs::create_dir_all(ctx.work().join(i.to_string())).unwrap();
        let out = format!("{i}/app.pyz");
        // `PYBUNDLE_UV` points nowhere: a lock build must not look for uv.
        let output = run(ctx
            .pybundle()
            .env("PYBUNDLE_UV", "/nonexistent/uv")
            .arg("-o")
            .arg(ctx.work().join(&out))
            .arg("--python")
            .arg(python311())
            .args(["-e", "lockapp:main", "--resolver", resolver, "--lock"])
            .arg(lock));
        assert!(output.status.success(), "{}", describe(&output));
        bundles.push(std::fs::read(ctx.work().join(&out)).unwrap());
    }
    assert!(bundles[0] == bundles[1], "--resolver pip and uv differ");
    assert!(
        bundles[0] == bundles[2],
        "equal locks gave different bundles"
    );
}

#[test]
fn refusals_name_the_package_and_file() {
    let ctx = TestContext::new();
    let lock = app_lock(&ctx, "pylock.toml");
    let text = std::fs::read_to_string(&lock).unwrap();

    // A wheel changed after the lock was written.
    let dep = ctx.root().join("wheels/lockdep-1.1.0-py3-none-any.whl");
    let original = std::fs::read(&dep).unwrap();
    let mut tampered = original.clone();
    let n = tampered.len();
    tampered[n - 30] ^= 0xff;
    std::fs::write(&dep, &tampered).unwrap();
    let err = build_fails(&ctx, &lock, &["-e", "lockapp:main"]);
    assert!(
        err.contains("the file `lockdep-1.1.0-py3-none-any.whl` of `lockdep 1.1.0`")
            && err.contains("does not match the lock: sha256"),
        "{err}"
    );
    std::fs::write(&dep, &original).unwrap();

    // A package the target needs with only a wheel for another Python.
    let other = WheelBuilder::new("natdep", "2.0")
        .tag("cp27-cp27mu-manylinux1_x86_64")
        .file("natdep/__init__.py", "")
        .build(&ctx.root().join("wheels"));
    let missing = ctx.work().join("missing.toml");
    std::fs::write(
        &missing,
        lock_text(
            "",
            &[Entry {
                name: "natdep",
                version: "2.0",
                marker: None,
                wheels: vec![other],
            }],
        ),
    )
    .unwrap();
    let err = build_fails(&ctx, &missing, &[]);
    assert!(
        err.contains("`natdep 2.0` has no wheel for the target (CPython 3.11")
            && err.contains("the lock has: natdep-2.0-cp27-cp27mu-manylinux1_x86_64.whl"),
        "{err}"
    );

    // An sdist-only entry.
    let sdist = ctx.work().join("sdist.toml");
    std::fs::write(
        &sdist,
        "lock-version = \"1.0\"\n[[packages]]\nname = \"srconly\"\nversion = \"0.1\"\nsdist = { name = \"srconly-0.1.tar.gz\", path = \"srconly-0.1.tar.gz\", hashes = { sha256 = \"00\" } }\n",
    )
    .unwrap();
    let err = build_fails(&ctx, &sdist, &[]);
    assert!(
        err.contains("`srconly 0.1` has no wheel in the lock, only srconly-0.1.tar.gz")
            && err.contains("--lock-build-sdists"),
        "{err}"
    );

    // A wheel without a sha256.
    let nohash = ctx.work().join("nohash.toml");
    std::fs::write(
        &nohash,
        text.replacen(
            &format!("hashes = {{ sha256 = \"{}\" }}", sha256(&dep)),
            "hashes = {}",
            1,
        ),
    )
    .unwrap();
    let err = build_fails(&ctx, &nohash, &[]);
    assert!(
        err.contains("no sha256 for `lockdep-1.1.0-py3-none-any.whl` of `lockdep 1.1.0`"),
        "{err}"
    );

    // A lock-version this pybundle does not read.
    let v2 = ctx.work().join("v2.toml");
    std::fs::write(
        &v2,
        text.replacen("lock-version = \"1.0\"", "lock-version = \"2.0\"", 1),
    )
    .unwrap();
    let err = build_fails(&ctx, &v2, &[]);
    assert!(
        err.contains("has lock-version `2.0`, which this pybundle does not read"),
        "{err}"
    );

    // An extra the lock does not have.
    let err = build_fails(&ctx, &lock, &["--lock-extra", "socks"]);
    assert!(err.contains("has no extra `socks` (it has: none)"), "{err}");
}

#[test]
fn extras_and_groups_select_by_marker() {
    let ctx = TestContext::new();
    let dir = ctx.root().join("wheels");
    let (app, dep) = app_wheels(&dir);
    let socks = WheelBuilder::new("socksdep", "1.0")
        .file("socksdep.py", "")
        .build(&dir);
    let devtool = WheelBuilder::new("devtool", "1.0")
        .file("devtool.py", "")
        .build(&dir);
    let lock = ctx.work().join("pylock.toml");
    std::fs::write(
        &lock,
        lock_text(
            "extras = [\"socks\"]\ndependency-groups = [\"default\", \"dev\"]\ndefault-groups = [\"default\"]",
            &[
                Entry {
                    name: "lockapp",
                    version: "1.0.0",
                    marker: None,
                    wheels: vec![app],
                },
                Entry {
                    name: "lockdep",
                    version: "1.1.0",
                    marker: Some("\"default\" in dependency_groups or \"dev\" in dependency_groups"),
                    wheels: vec![dep],
                },
                Entry {
                    name: "socksdep",
                    version: "1.0",
                    marker: Some("\"socks\" in extras"),
                    wheels: vec![socks],
                },
                Entry {
                    name: "devtool",
                    version: "1.0",
                    marker: Some("\"dev\" in dependency_groups"),
                    wheels: vec![devtool],
                },
            ],
        ),
    )
    .unwrap();
    let names = |bundle: &Path| -> Vec<String> {
        manifest(&ctx, bundle)["distributions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect()
    };
    let plain = build_ok(&ctx, &lock, &[], "plain.pyz");
    assert_eq!(names(&plain), ["lockapp", "lockdep"]);
    let all = build_ok(
        &ctx,
        &lock,
        &["--lock-extra", "socks", "--lock-group", "dev"],
        "all.pyz",
    );
    assert_eq!(names(&all), ["devtool", "lockapp", "lockdep", "socksdep"]);
    let err = build_fails(&ctx, &lock, &["--lock-group", "docs"]);
    assert!(
        err.contains("has no dependency group `docs` (it has: default, dev)"),
        "{err}"
    );
}

/// The issue's cross case: one lock with markers for 3.11 and 3.12 builds a 3.12 bundle on 3.11
/// with the 3.12 wheels.
#[test]
fn cross_target_from_a_lock() {
    let ctx = TestContext::new();
    let dir = ctx.root().join("wheels");
    let (app, _) = app_wheels(&dir);
    let mut entries = vec![Entry {
        name: "lockapp",
        version: "1.0.0",
        marker: None,
        wheels: vec![app],
    }];
    let mut wheels = Vec::new();
    for minor in ["11", "12"] {
        let version = format!("1.{minor}.0");
        wheels.push((
            version.clone(),
            WheelBuilder::new("lockdep", &version)
                .tag(&format!(
                    "cp3{minor}-cp3{minor}-manylinux_2_17_x86_64.manylinux2014_x86_64"
                ))
                .root_is_purelib(false)
                .file(
                    "lockdep/__init__.py",
                    &format!("VERSION = '{version} for 3.{minor}'\n"),
                )
                .build(&dir),
        ));
    }
    let markers = ["python_version == \"3.11\"", "python_version == \"3.12\""];
    for ((version, wheel), marker) in wheels.iter().zip(markers) {
        entries.push(Entry {
            name: "lockdep",
            version,
            marker: Some(marker),
            wheels: vec![wheel.clone()],
        });
    }
    let lock = ctx.work().join("pylock.toml");
    std::fs::write(&lock, lock_text("requires-python = \">=3.11\"", &entries)).unwrap();
    let bundle = build_ok(
        &ctx,
        &lock,
        &[
            "-e",
            "lockapp:main",
            "--python-version",
            "3.12",
            "--platform",
            "manylinux2014_x86_64",
        ],
        "cross.pyz",
    );
    let m = manifest(&ctx, &bundle);
    assert_eq!(m["python"]["version"], "3.12");
    // Only what the markers read is recorded (requires-python is checked, not recorded).
    assert_eq!(
        m["lock"]["environment"],
        serde_json::json!({"python_version": "3.12"})
    );
    assert_eq!(m["distributions"][1]["version"], "1.12.0");
    assert_eq!(
        m["distributions"][1]["wheel"]["file"],
        "lockdep-1.12.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    );
    let out = run_ok(
        ctx.pybundle()
            .args(["verify", "--python"])
            .arg(python311())
            .arg("--lock")
            .arg(&lock)
            .arg(&bundle),
    );
    assert!(out.status.success(), "{}", describe(&out));
    if let Some(py312) = python(12) {
        let out = run_ok(&mut ctx.bundle_with(&py312, &bundle));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "lockapp with lockdep 1.12.0 for 3.12"
        );
    }
    // The same lock for 3.11 takes the other wheel.
    let native = build_ok(&ctx, &lock, &["-e", "lockapp:main"], "native.pyz");
    assert_eq!(
        manifest(&ctx, &native)["distributions"][1]["version"],
        "1.11.0"
    );
}

#[test]
fn verify_lock_names_every_difference() {
    let ctx = TestContext::new();
    let lock = app_lock(&ctx, "pylock.toml");
    let bundle = build_ok(&ctx, &lock, &["-e", "lockapp:main"], "app.pyz");
    let dir = ctx.root().join("wheels");
    let newer = WheelBuilder::new("lockdep", "1.2.0")
        .file("lockdep/__init__.py", "VERSION = '1.2.0'\n")
        .build(&dir);
    let extra = WheelBuilder::new("another", "3.0")
        .file("another.py", "")
        .build(&dir);
    let text = std::fs::read_to_string(&lock).unwrap();
    let old = dir.join("lockdep-1.1.0-py3-none-any.whl");
    let changed = text
        .replacen("version = \"1.1.0\"", "version = \"1.2.0\"", 1)
        .replace(&old.display().to_string(), &newer.display().to_string())
        .replace(
            "lockdep-1.1.0-py3-none-any.whl",
            "lockdep-1.2.0-py3-none-any.whl",
        )
        .replace(&sha256(&old), &sha256(&newer))
        + &lock_text(
            "",
            &[Entry {
                name: "another",
                version: "3.0",
                marker: None,
                wheels: vec![extra],
            }],
        )
        .replacen("lock-version = \"1.0\"\ncreated-by = \"test\"\n", "", 1);
    let other = ctx.work().join("changed.toml");
    std::fs::write(&other, changed).unwrap();
    let out = run(ctx
        .pybundle()
        .args(["verify", "--python"])
        .arg(python311())
        .arg("--lock")
        .arg(&other)
        .arg(&bundle));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("version differs: lockdep: the bundle has 1.1.0, the lock 1.2.0"),
        "{text}"
    );
    assert!(
        text.contains("missing: another 3.0 (the lock selects it)"),
        "{text}"
    );

    // Same version, another file: the hash differs.
    let rebuilt = ctx.root().join("rebuilt");
    std::fs::create_dir_all(&rebuilt).unwrap();
    let same = WheelBuilder::new("lockdep", "1.1.0")
        .file("lockdep/__init__.py", "VERSION = 'rebuilt'\n")
        .build(&rebuilt);
    let hashed = ctx.work().join("hash.toml");
    std::fs::write(
        &hashed,
        text_with_hash(&lock, &sha256(&old), &sha256(&same)),
    )
    .unwrap();
    let out = run(ctx
        .pybundle()
        .args(["verify", "--python"])
        .arg(python311())
        .arg("--lock")
        .arg(&hashed)
        .arg(&bundle));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("hash differs: lockdep 1.1.0: the wheel `lockdep-1.1.0-py3-none-any.whl`"),
        "{text}"
    );

    // A bundle built without a lock cannot be checked against one.
    let plain = ctx.build_offline(
        &python311(),
        &dir,
        &["-e", "lockapp:main"],
        &["lockapp"],
        "plain.pyz",
    );
    let out = run(ctx
        .pybundle()
        .arg("verify")
        .arg("--lock")
        .arg(&lock)
        .arg(&plain));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the bundle records no lock"),
        "{}",
        describe(&out)
    );
}

fn text_with_hash(lock: &Path, old: &str, new: &str) -> String {
    std::fs::read_to_string(lock).unwrap().replace(old, new)
}

const PYPROJECT: &str =
    "[build-system]\nrequires = []\nbuild-backend = \"fixture_backend\"\nbackend-path = [\".\"]\n";

/// Writes a local project `<work>/proj` (built by the test backend) requiring `requires`.
fn local_project(ctx: &TestContext, requires: &str) -> PathBuf {
    let root = ctx.work().join("proj");
    std::fs::create_dir_all(root.join("projapp")).unwrap();
    std::fs::copy(
        repo_root().join("fixtures/backend/fixture_backend.py"),
        root.join("fixture_backend.py"),
    )
    .unwrap();
    std::fs::write(root.join("pyproject.toml"), PYPROJECT).unwrap();
    std::fs::write(
        root.join("fixture.json"),
        format!(
            r#"{{"name": "projapp", "version": "0.3.0", "packages": ["projapp"], "dependencies": [{requires}]}}"#
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("projapp/__init__.py"),
        "import lockdep\n\n\ndef main():\n    print('projapp with lockdep', lockdep.VERSION)\n",
    )
    .unwrap();
    root
}

#[test]
fn local_project_with_the_locked_set() {
    let ctx = TestContext::new();
    let lock = app_lock(&ctx, "pylock.toml");
    local_project(&ctx, r#""lockdep>=1.1", "py2only; python_version < '3'""#);
    let bundle = build_ok(&ctx, &lock, &["-e", "projapp:main", "./proj"], "proj.pyz");
    let out = run_ok(&mut ctx.bundle(&bundle));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "projapp with lockdep 1.1.0"
    );
    let m = manifest(&ctx, &bundle);
    assert_eq!(m["lock"]["projects"], serde_json::json!(["projapp"]));
    // A wheel built here is not recorded: its bytes vary from build to build (file times).
    let dists = m["distributions"].as_array().unwrap();
    let proj = dists.iter().find(|d| d["name"] == "projapp").unwrap();
    assert!(proj.get("wheel").is_none(), "{proj}");
    let out = run_ok(
        ctx.pybundle()
            .args(["verify", "--python"])
            .arg(python311())
            .arg("--lock")
            .arg(&lock)
            .arg(&bundle),
    );
    assert!(out.status.success(), "{}", describe(&out));

    // A requirement the lock does not satisfy, and one it does not have.
    std::fs::remove_dir_all(ctx.work().join("proj")).unwrap();
    local_project(&ctx, r#""lockdep>=2", "colorama""#);
    let err = build_fails(&ctx, &lock, &["-e", "projapp:main", "./proj"]);
    assert!(
        err.contains("the project `projapp` requires `lockdep>=2`, but the lock has lockdep 1.1.0"),
        "{err}"
    );
    assert!(
        err.contains("the project `projapp` requires `colorama`, which the lock does not select"),
        "{err}"
    );
    // A name instead of a local project is refused before anything runs.
    let err = build_fails(&ctx, &lock, &["requests"]);
    assert!(
        err.contains("with --lock, `requests` cannot be a requirement"),
        "{err}"
    );
}

/// `pybundle lock` with uv, offline from a wheelhouse; the lock it writes builds.
#[test]
fn lock_command_writes_a_lock_that_builds() {
    let uv = crate::require!(crate::common::uv(), "uv");
    let ctx = TestContext::new();
    let wheels = ctx.root().join("wheels");
    app_wheels(&wheels);
    let out = run(ctx
        .pybundle()
        .env("PYBUNDLE_UV", &uv)
        .args(["lock", "-o", "pylock.toml", "--python"])
        .arg(python311())
        .arg("--no-index")
        .arg("-f")
        .arg(&wheels)
        .arg("lockapp"));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("(2 packages, by uv)"),
        "{}",
        describe(&out)
    );
    let bundle = build_ok(
        &ctx,
        &ctx.work().join("pylock.toml"),
        &["-e", "lockapp:main"],
        "app.pyz",
    );
    let out = run_ok(&mut ctx.bundle(&bundle));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "lockapp with lockdep 1.1.0"
    );
}

#[test]
fn lock_command_refusals() {
    let ctx = TestContext::new();
    let out = run(ctx.pybundle().args(["lock", "-o", "app.lock", "six"]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("invalid lock file name `app.lock`: PEP 751 names a lock"),
        "{}",
        describe(&out)
    );
    let out = run(ctx
        .pybundle()
        .args([
            "lock",
            "--tool",
            "pip",
            "--python-version",
            "3.12",
            "--python",
        ])
        .arg(python311())
        .arg("six"));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`pip lock` locks for the interpreter"),
        "{}",
        describe(&out)
    );
}

/// The marker evaluator (`src/pylock/markers.py`) under every CPython 3.8–3.13 found: the same
/// selection and the same recorded environment.
#[test]
fn markers_evaluate_alike_on_every_python() {
    use pybundle::pylock::{self, LoadedLock, Request};
    let ctx = TestContext::new();
    let markers = [
        ("plain", None),
        ("old", Some("python_version < \"3.0\"")),
        (
            "new",
            Some("python_version >= \"3.12\" and python_full_version >= \"3.12.0\""),
        ),
        ("rhs", Some("\"3.8\" <= python_version")),
        (
            "linux",
            Some("sys_platform == \"linux\" and (os_name == \"posix\" or os_name == \"nt\")"),
        ),
        ("machine", Some("platform_machine in \"x86_64 aarch64\"")),
        ("notwin", Some("sys_platform not in \"win32 cygwin\"")),
        ("socks", Some("'socks' in extras")),
        ("notdev", Some("'dev' not in dependency_groups")),
        ("extra", Some("extra == \"tests\"")),
        (
            "impl",
            Some(
                "implementation_name == \"cpython\" and platform_python_implementation == 'CPython'",
            ),
        ),
    ];
    let mut text = String::from("lock-version = \"1.0\"\nextras = [\"socks\"]\n");
    for (name, marker) in markers {
        text.push_str(&format!(
            "[[packages]]\nname = \"{name}\"\nversion = \"1\"\n"
        ));
        if let Some(m) = marker {
            text.push_str(&format!("marker = \"{}\"\n", m.replace('"', "\\\"")));
        }
    }
    let path = ctx.work().join("pylock.toml");
    std::fs::write(&path, text).unwrap();
    let lock = LoadedLock::read(&path).unwrap();
    let request = Request {
        overrides: [
            ("python_version", "3.12"),
            ("python_full_version", "3.12.0"),
            ("sys_platform", "linux"),
            ("os_name", "posix"),
            ("platform_machine", "x86_64"),
            ("implementation_name", "cpython"),
            ("platform_python_implementation", "CPython"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        extras: vec!["Socks".into()],
        ..Request::default()
    };
    let expected = [
        true, false, true, true, true, true, true, true, true, false, true,
    ];
    let mut found = 0;
    let mut environments = Vec::new();
    for minor in 8..=13 {
        let Some(py) = python(minor) else { continue };
        found += 1;
        let evaluated = pylock::evaluate(&py, &lock.lock, &request)
            .unwrap_or_else(|err| panic!("3.{minor}: {err}"));
        assert_eq!(evaluated.selected, expected, "3.{minor}");
        assert!(
            evaluated.problems.is_empty(),
            "3.{minor}: {:?}",
            evaluated.problems
        );
        environments.push(evaluated.environment);
    }
    assert!(found > 0, "no CPython 3.8-3.13 found");
    assert!(
        environments.windows(2).all(|w| w[0] == w[1]),
        "{environments:?}"
    );
    // A recorded environment without a variable a marker reads is an error naming it.
    let err = pylock::evaluate(
        &python311(),
        &lock.lock,
        &Request {
            environment: Some(Default::default()),
            ..Request::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("reads `python_version`, which is not known"),
        "{err}"
    );
}

/// `lock = "..."` in `[tool.pybundle]`, relative to the pyproject.toml.
#[test]
fn lock_key_in_pyproject() {
    let ctx = TestContext::new();
    let lock = app_lock(&ctx, "pylock.toml");
    let conf = ctx.work().join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::rename(&lock, conf.join("pylock.toml")).unwrap();
    std::fs::write(
        conf.join("pyproject.toml"),
        format!(
            "[tool.pybundle]\nlock = \"pylock.toml\"\nentry-point = \"lockapp:main\"\noutput = \"app.pyz\"\npython = \"{}\"\npython-shebang = \"{}\"\n",
            python311().display(),
            shebang(&python311())
        ),
    )
    .unwrap();
    let out = run(ctx.pybundle().arg("./conf"));
    assert!(out.status.success(), "{}", describe(&out));
    let out = run_ok(&mut ctx.bundle(&conf.join("app.pyz")));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "lockapp with lockdep 1.1.0"
    );
}

/// An sdist-only entry builds with `--lock-build-sdists`, after its sha256 is checked.
#[test]
fn sdist_only_entry_builds_when_allowed() {
    let ctx = TestContext::new();
    let lock = app_lock(&ctx, "pylock.toml");
    let src = ctx.root().join("sdist/srconly-0.1");
    std::fs::create_dir_all(src.join("srconly")).unwrap();
    std::fs::copy(
        repo_root().join("fixtures/backend/fixture_backend.py"),
        src.join("fixture_backend.py"),
    )
    .unwrap();
    std::fs::write(src.join("pyproject.toml"), PYPROJECT).unwrap();
    std::fs::write(
        src.join("fixture.json"),
        r#"{"name": "srconly", "version": "0.1", "packages": ["srconly"]}"#,
    )
    .unwrap();
    std::fs::write(src.join("srconly/__init__.py"), "WHERE = 'from an sdist'\n").unwrap();
    let tarball = ctx.root().join("sdist/srconly-0.1.tar.gz");
    run_ok(
        std::process::Command::new("tar")
            .arg("-czf")
            .arg(&tarball)
            .arg("-C")
            .arg(ctx.root().join("sdist"))
            .arg("srconly-0.1"),
    );
    let entry = format!(
        "[[packages]]\nname = \"srconly\"\nversion = \"0.1\"\nsdist = {{ name = \"srconly-0.1.tar.gz\", path = \"{}\", hashes = {{ sha256 = \"{}\" }} }}\n",
        tarball.display(),
        sha256(&tarball)
    );
    let text = std::fs::read_to_string(&lock).unwrap() + &entry;
    let with_sdist = ctx.work().join("sdist.toml");
    std::fs::write(&with_sdist, &text).unwrap();
    let bundle = build_ok(&ctx, &with_sdist, &["--lock-build-sdists"], "sdist.pyz");
    let out = run_ok(
        ctx.bundle(&bundle)
            .args(["-c", "import srconly; print(srconly.WHERE)"]),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "from an sdist");
    let out = run_ok(
        ctx.pybundle()
            .args(["verify", "--python"])
            .arg(python311())
            .arg("--lock")
            .arg(&with_sdist)
            .arg(&bundle),
    );
    assert!(out.status.success(), "{}", describe(&out));
    // A changed sdist is refused before it is built.
    let bad = ctx.work().join("bad-sdist.toml");
    std::fs::write(&bad, text.replace(&sha256(&tarball), &"0".repeat(64))).unwrap();
    let err = build_fails(&ctx, &bad, &["--lock-build-sdists"]);
    assert!(
        err.contains("the file `srconly-0.1.tar.gz` of `srconly 0.1`")
            && err.contains("does not match the lock"),
        "{err}"
    );
}

/// A lock that lists the local project itself as a directory (what `uv export` writes): the
/// project is built with `pip wheel --no-deps`, or taken from the command line when given there.
#[test]
fn directory_entry_is_built_like_a_project() {
    let ctx = TestContext::new();
    let lock = app_lock(&ctx, "pylock.toml");
    local_project(&ctx, r#""lockdep>=1""#);
    let text = std::fs::read_to_string(&lock).unwrap()
        + "[[packages]]\nname = \"projapp\"\ndirectory = { path = \"proj\", editable = true }\n";
    std::fs::write(&lock, text).unwrap();
    let bundle = build_ok(&ctx, &lock, &["-e", "projapp:main"], "dir.pyz");
    let out = run_ok(&mut ctx.bundle(&bundle));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "projapp with lockdep 1.1.0"
    );
    let out = run_ok(
        ctx.pybundle()
            .args(["verify", "--python"])
            .arg(python311())
            .arg("--lock")
            .arg(&lock)
            .arg(&bundle),
    );
    assert!(out.status.success(), "{}", describe(&out));
    let given = build_ok(&ctx, &lock, &["-e", "projapp:main", "./proj"], "given.pyz");
    let names: Vec<String> = manifest(&ctx, &given)["distributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["lockapp", "lockdep", "projapp"]);
}
