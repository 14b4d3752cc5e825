//! Hostile bundles against every reader (issue 21): a site index whose slots are all taken, a
//! Zip64 size of 2^62 bytes, a member that inflates past its declared size, a flipped byte in
//! an inner archive's member name, and `verify` naming every damaged member. The random
//! version of these is `fuzz`.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::{TestContext, describe, python311, run, stderr, stdout};

/// Builds the fixture app (`myapp`, `puredep`, the C extension `spam`) into `<work>/app.pyz`.
fn app(ctx: &TestContext) -> PathBuf {
    let wheels = ctx.fixture_wheels(&python311());
    ctx.build_app(&wheels, &["-q", "-e", "myapp.main:main"], "app.pyz")
}

/// Runs `python BUNDLE`; fails the test if it takes more than 20 s.
fn start(ctx: &TestContext, bundle: &Path) -> Output {
    let mut child = ctx
        .bundle_with(&python311(), bundle)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the bundle hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// (offset of the local header, of the central directory header, of the data, stored size)
/// of `member`.
fn locate(bundle: &Path, member: &str) -> (usize, usize, usize, usize) {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(bundle).unwrap()).unwrap();
    let m = zip.by_name(member).unwrap();
    let n = |v: u64| usize::try_from(v).unwrap();
    (
        n(m.header_start()),
        n(m.central_header_start()),
        n(m.data_start().unwrap()),
        n(m.compressed_size()),
    )
}

fn assert_damaged(out: &Output, bundle: &Path) {
    assert_eq!(out.status.code(), Some(1), "{}", describe(out));
    assert!(
        stderr(out).starts_with(&format!(
            "error: the bundle `{}` is damaged (",
            bundle.display()
        )) && stderr(out).lines().count() == 1,
        "{}",
        describe(out)
    );
}

fn le32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn a_full_site_index_is_a_miss_and_fails_verify() {
    let ctx = TestContext::new();
    let bundle = app(&ctx);
    let intact = start(&ctx, &bundle);
    assert!(intact.status.success(), "{}", describe(&intact));
    let (local, central, data, size) = locate(&bundle, "_pybundle/site.index");
    let mut bytes = std::fs::read(&bundle).unwrap();
    let index = &mut bytes[data..data + size];
    let nslots = u32::from_le_bytes(index[4..8].try_into().unwrap()) as usize;
    let first = u32::from_le_bytes(index[12..16].try_into().unwrap()) as usize + 8 * nslots;
    for i in 0..nslots {
        let slot = 32 + 8 * i;
        if index[slot + 4..slot + 8] == [0; 4] {
            le32(index, slot, 0xFFFF_FFFF); // a hash no path has, the root's record
            le32(index, slot + 4, u32::try_from(first).unwrap());
        }
    }
    // a consistent CRC-32: what the run time and verify check is the table itself
    let crc = crc32fast::hash(&bytes[data..data + size]);
    le32(&mut bytes, local + 14, crc);
    le32(&mut bytes, central + 16, crc);
    let full = ctx.work().join("full.pyz");
    std::fs::write(&full, &bytes).unwrap();
    let out = start(&ctx, &full);
    assert_eq!(stdout(&out), stdout(&intact), "{}", describe(&out));
    let out = run(ctx.pybundle().arg("verify").arg(&full));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stdout(&out).contains("damaged: `_pybundle/site.index`: inconsistent: "),
        "{}",
        describe(&out)
    );
}

/// Declares `size` bytes for `member` in a Zip64 extra field of its central directory header.
fn declare_zip64(bytes: &mut Vec<u8>, central: usize, size: u64) {
    le32(bytes, central + 20, 0xFFFF_FFFF);
    le32(bytes, central + 24, 0xFFFF_FFFF);
    let n = usize::from(u16::from_le_bytes([
        bytes[central + 28],
        bytes[central + 29],
    ]));
    let x = u16::from_le_bytes([bytes[central + 30], bytes[central + 31]]);
    bytes[central + 30..central + 32].copy_from_slice(&(x + 20).to_le_bytes());
    let mut extra = vec![1u8, 0, 16, 0];
    extra.extend_from_slice(&size.to_le_bytes());
    extra.extend_from_slice(&size.to_le_bytes());
    let at = central + 46 + n + usize::from(x);
    bytes.splice(at..at, extra);
    let end = bytes.len() - 22; // the end record, no comment
    let cd_size = u32::from_le_bytes(bytes[end + 12..end + 16].try_into().unwrap());
    le32(bytes, end + 12, cd_size + 20);
}

#[test]
fn a_zip64_size_of_2_62_bytes_is_an_error_not_an_abort() {
    let ctx = TestContext::new();
    let bundle = app(&ctx);
    let inner = {
        let zip = zip::ZipArchive::new(std::fs::File::open(&bundle).unwrap()).unwrap();
        zip.file_names()
            .filter_map(Result::ok)
            .find(|n| n.starts_with("extract/spam-"))
            .unwrap()
            .to_string()
    };
    for member in [
        inner.as_str(),
        "_pybundle/site.index",
        "_pybundle/manifest.json",
    ] {
        let (_, central, _, _) = locate(&bundle, member);
        let mut bytes = std::fs::read(&bundle).unwrap();
        declare_zip64(&mut bytes, central, 1 << 62);
        let bad = ctx.work().join("zip64.pyz");
        std::fs::write(&bad, &bytes).unwrap();
        for args in [&["verify"][..], &["info"], &["extract", "--root"]] {
            let mut cmd = ctx.pybundle();
            cmd.args(args);
            if args[0] == "extract" {
                cmd.arg(ctx.root().join("pre"));
            }
            let out = run(cmd.arg(&bad));
            assert!(
                matches!(out.status.code(), Some(0 | 1)) && !stderr(&out).contains("panicked"),
                "{member}, {args:?}: {}",
                describe(&out)
            );
            if out.status.code() == Some(1) {
                assert!(
                    stderr(&out).starts_with("error:") || stdout(&out).starts_with("damaged: "),
                    "{member}, {args:?}: {}",
                    describe(&out)
                );
            }
        }
        let out = run(ctx.pybundle().arg("verify").arg(&bad));
        assert_eq!(out.status.code(), Some(1), "{member}: {}", describe(&out));
    }
}

#[test]
fn inflating_past_the_declared_size_is_damage() {
    let ctx = TestContext::new();
    let bundle = app(&ctx);
    let at = {
        let mut opened = pybundle::bundle::Bundle::open(&bundle).unwrap();
        let store = opened.store().unwrap().unwrap();
        let entry = store.lookup("myapp/main.py").unwrap().unwrap();
        assert!(entry.has_pyc());
        let (_, _, data, _) = locate(&bundle, "_pybundle/site.index");
        data + usize::try_from(entry.at).unwrap()
    };
    // The record of myapp/main.py declares 16 bytes of bytecode: its stream holds more. The
    // index's CRC-32 is made to match, so that the bound on inflation is what catches it.
    let mut bytes = std::fs::read(&bundle).unwrap();
    le32(&mut bytes, at + 36, 16);
    let (local, central, data, size) = locate(&bundle, "_pybundle/site.index");
    let crc = crc32fast::hash(&bytes[data..data + size]);
    le32(&mut bytes, local + 14, crc);
    le32(&mut bytes, central + 16, crc);
    let bad = ctx.work().join("small.pyz");
    std::fs::write(&bad, &bytes).unwrap();
    let out = start(&ctx, &bad);
    assert_damaged(&out, &bad);
    assert!(
        stderr(&out).contains("myapp/main.pyc: inflates past its declared 16 bytes"),
        "{}",
        describe(&out)
    );
}

/// One flipped byte in the directory of an inner archive: a member name that differs from its
/// local header, or one that is not UTF-8. Damage, every time; nothing is installed.
#[test]
fn a_flipped_inner_member_name_is_damage_not_a_repair() {
    let ctx = TestContext::new();
    let bundle = app(&ctx);
    let intact = std::fs::read(&bundle).unwrap();
    for (needle, flip) in [(&b"_speedups"[..], 0x01u8), (b"spam/__init__.py", 0x80)] {
        // the last occurrence is in the inner archive's central directory
        let at = intact
            .windows(needle.len())
            .rposition(|w| w == needle)
            .unwrap();
        let mut bytes = intact.clone();
        bytes[at + 1] ^= flip;
        let bad = ctx.work().join("name.pyz");
        std::fs::write(&bad, &bytes).unwrap();
        for _ in 0..2 {
            let out = start(&ctx, &bad);
            assert_damaged(&out, &bad);
            assert!(!stderr(&out).contains("repair"), "{}", describe(&out));
        }
        let dists = ctx.bundle_root().join("v1/dists");
        let installed = std::fs::read_dir(&dists).map_or(0, Iterator::count);
        assert_eq!(installed, 0, "nothing is installed from a damaged archive");
        let out = run(ctx.pybundle().arg("verify").arg(&bad));
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    }
}

#[test]
fn verify_names_every_damaged_member() {
    let ctx = TestContext::new();
    let bundle = app(&ctx);
    let mut bytes = std::fs::read(&bundle).unwrap();
    let members = ["myapp/main.py", "puredep/__init__.py"];
    {
        let mut opened = pybundle::bundle::Bundle::open(&bundle).unwrap();
        let store = opened.store().unwrap().unwrap();
        for member in members {
            let entry = store.lookup(member).unwrap().unwrap();
            let (at, len) = store.stored_range(&entry);
            bytes[usize::try_from(at + len / 2).unwrap()] ^= 0x20;
        }
    }
    let bad = ctx.work().join("two.pyz");
    std::fs::write(&bad, &bytes).unwrap();
    let out = run(ctx.pybundle().arg("verify").arg(&bad));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = stdout(&out);
    for member in members {
        assert!(
            text.contains(&format!("damaged: `{member}`: ")),
            "{}",
            describe(&out)
        );
    }
    assert!(
        text.ends_with("2 damaged member(s); rebuild the bundle or copy it again\n"),
        "{}",
        describe(&out)
    );
}

/// A flipped bit in the size the zip directory declares for a deflated member: the zip crate
/// inflates it all the same, the run time inflates exactly that size and refuses the bundle, so
/// `verify` must name it too.
#[test]
fn a_flipped_declared_size_fails_verify_as_it_fails_a_start() {
    let ctx = TestContext::new();
    let bundle = app(&ctx);
    let member = "_pybundle/_zip.pyc";
    let (_, central, _, _) = locate(&bundle, member);
    let mut bytes = std::fs::read(&bundle).unwrap();
    bytes[central + 24] ^= 0x04; // the uncompressed size, low byte
    let bad = ctx.work().join("size.pyz");
    std::fs::write(&bad, &bytes).unwrap();
    assert_damaged(&start(&ctx, &bad), &bad);
    let out = run(ctx.pybundle().arg("verify").arg(&bad));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stdout(&out).contains(&format!("damaged: `{member}`: the zip directory says ")),
        "{}",
        describe(&out)
    );
}
