//! Tests for the build's bytecode cache: a rebuild compiles nothing, the bundle is byte-identical
//! with a warm cache, an empty one and none, damaged entries are compiled again, and a cache
//! directory that cannot be used or trusted never fails the build.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::wheel_builder::WheelBuilder;
use crate::common::{TestContext, describe, python311, run_ok, stderr};

/// The fixture app's wheels plus `oldcode`, which holds a module that does not compile and one
/// whose bytecode is larger than the 64 KiB pieces the compressor is fed.
fn wheels(ctx: &TestContext) -> PathBuf {
    let dir = ctx.fixture_wheels(&python311());
    let big: String = (0..3000)
        .map(|i| {
            format!(
                "def f{i}(x, y={}):\n    return (x * {i} + y, 'k{i}')\n",
                i * 7919
            )
        })
        .collect();
    WheelBuilder::new("oldcode", "1.0")
        .file("oldcode/__init__.py", "VALUE = 1\n")
        .file("oldcode/py2.py", "print 'python 2'\n")
        .file("oldcode/big.py", &big)
        .build(&dir);
    dir
}

/// Builds the app (always as `app.pyz`: the name is part of the bytecode) with `envs`; returns
/// the bundle's bytes and the build's output.
fn build(ctx: &TestContext, wheels: &Path, envs: &[(&str, &Path)]) -> (Vec<u8>, Output) {
    let mut cmd = ctx.build_offline_command(
        &python311(),
        wheels,
        &["-c", "myapp"],
        &["myapp", "oldcode"],
        "app.pyz",
    );
    for (key, value) in envs {
        cmd.env(key, value);
    }
    let out = run_ok(&mut cmd);
    let bytes = std::fs::read(ctx.work().join("app.pyz")).unwrap();
    (bytes, out)
}

/// Returns (cached, compiled) from the compile stage line.
fn counts(out: &Output) -> (usize, usize) {
    let text = stderr(out);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("compile:"))
        .unwrap_or_else(|| panic!("no compile line\n{}", describe(out)));
    // ` compile: 9 modules: 0 cached, 9 compiled, 1 left as source only (0.21s)`
    let number = |word: &str| -> usize {
        let before = line
            .split_once(&format!(" {word}"))
            .unwrap_or_else(|| panic!("no `{word}` count in `{line}`"))
            .0;
        let digits = before.rsplit(' ').next().unwrap_or_default();
        digits.parse().unwrap_or_else(|_| panic!("`{line}`"))
    };
    (number("cached,"), number("compiled"))
}

/// Returns every entry file of the bytecode cache under `base`.
fn entries(base: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(shards) = std::fs::read_dir(base.join("bytecode/v1")) else {
        return out;
    };
    for shard in shards {
        for entry in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            out.push(entry.unwrap().path());
        }
    }
    out.sort();
    out
}

#[test]
fn rebuild_hits_the_cache_with_identical_output() {
    let ctx = TestContext::new();
    let wheels = wheels(&ctx);
    let base = ctx.root().join("cache/pybundle");

    let (cold, out) = build(&ctx, &wheels, &[]);
    let (cached, compiled) = counts(&out);
    assert_eq!(cached, 0, "{}", describe(&out));
    assert!(compiled > 5, "{}", describe(&out));
    assert!(
        stderr(&out).contains(", 1 left as source only"),
        "{}",
        describe(&out)
    );
    // One entry per source, the failing one included; none readable by others.
    let stored = entries(&base);
    assert_eq!(stored.len(), compiled, "{stored:?}");
    let mode = std::fs::metadata(base.join("bytecode"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "bytecode/ has mode {mode:o}");

    // The second build compiles nothing (compile.py gets no job), knows the failure, and
    // writes the same bytes.
    let (warm, out) = build(&ctx, &wheels, &[]);
    assert_eq!(counts(&out), (compiled, 0), "{}", describe(&out));
    assert!(
        stderr(&out).contains(", 1 left as source only"),
        "{}",
        describe(&out)
    );
    assert!(warm == cold, "a build from the cache differs");
    // With every module cached the entry point's attribute is still checked.
    let out = crate::common::run(&mut ctx.build_offline_command(
        &python311(),
        &wheels,
        &["-e", "myapp.main:nosuch"],
        &["myapp", "oldcode"],
        "app.pyz",
    ));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).contains(&format!(": {compiled} cached, 0 compiled,"))
            && stderr(&out).contains("has no top-level `nosuch`"),
        "{}",
        describe(&out)
    );

    // Without the cache, and with an empty one: the same bytes.
    let off = Path::new("1");
    let (uncached, out) = build(&ctx, &wheels, &[("PYBUNDLE_NO_BUILD_CACHE", off)]);
    assert!(
        !stderr(&out).contains("cached"),
        "the cache was used\n{}",
        describe(&out)
    );
    assert!(uncached == cold, "a build without the cache differs");
    let empty = ctx.root().join("empty-cache");
    let (fresh, out) = build(&ctx, &wheels, &[("PYBUNDLE_CACHE_DIR", &empty)]);
    assert_eq!(counts(&out), (0, compiled), "{}", describe(&out));
    assert!(fresh == cold, "a build with an empty cache differs");
    assert_eq!(entries(&empty).len(), compiled);
}

#[test]
fn damaged_entries_are_compiled_again() {
    let ctx = TestContext::new();
    let wheels = wheels(&ctx);
    let base = ctx.root().join("cache/pybundle");
    let (cold, out) = build(&ctx, &wheels, &[]);
    let (_, compiled) = counts(&out);

    // Truncate one entry to half its length, empty another, flip the last byte of a third.
    let stored = entries(&base);
    assert!(stored.len() >= 3, "{stored:?}");
    let half = std::fs::read(&stored[0]).unwrap();
    std::fs::write(&stored[0], &half[..half.len() / 2]).unwrap();
    std::fs::write(&stored[1], b"").unwrap();
    let mut flipped = std::fs::read(&stored[2]).unwrap();
    *flipped.last_mut().unwrap() ^= 0x55;
    std::fs::write(&stored[2], &flipped).unwrap();

    let (again, out) = build(&ctx, &wheels, &[]);
    assert_eq!(counts(&out), (compiled - 3, 3), "{}", describe(&out));
    assert!(again == cold, "a build after damage differs");
    // The damaged entries were overwritten with sound ones.
    let (_, out) = build(&ctx, &wheels, &[]);
    assert_eq!(counts(&out), (compiled, 0), "{}", describe(&out));
}

#[test]
fn an_unusable_or_untrusted_cache_does_not_fail_the_build() {
    let ctx = TestContext::new();
    let wheels = wheels(&ctx);
    let off = Path::new("1");
    let (reference, _) = build(&ctx, &wheels, &[("PYBUNDLE_NO_BUILD_CACHE", off)]);

    // A base that cannot be created (below a regular file).
    let file = ctx.root().join("a-file");
    std::fs::write(&file, "").unwrap();
    let (bytes, out) = build(&ctx, &wheels, &[("PYBUNDLE_CACHE_DIR", &file.join("x"))]);
    assert!(
        stderr(&out).contains("warning: cannot use the bytecode cache"),
        "{}",
        describe(&out)
    );
    assert!(bytes == reference);

    // A cache directory that others may write into is not read nor written.
    let shared = ctx.root().join("shared");
    std::fs::create_dir_all(shared.join("bytecode/v1")).unwrap();
    std::fs::set_permissions(
        shared.join("bytecode"),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    let (bytes, out) = build(&ctx, &wheels, &[("PYBUNDLE_CACHE_DIR", &shared)]);
    let text = stderr(&out);
    assert!(
        text.contains("warning: ignoring the bytecode cache") && text.contains("mode 0777"),
        "{}",
        describe(&out)
    );
    assert!(entries(&shared).is_empty());
    assert!(bytes == reference);
}
