//! `pybundle extract FILE --root DIR`: lay out exactly what the bundle's bootstrap would extract
//! on its first run (`<DIR>/v1/dists/<key>/` plus the `.pybundle-complete` marker), so that an
//! image can be pre-seeded at build time and run with `PYBUNDLE_ROOTS=DIR` (or a baked
//! `--root DIR`) without writing anything at run time.
//!
//! The layout and the marker format are the ones `src/bootstrap/_pybundle/_extract.py` writes and
//! reads (keep the two identical): first line `pybundle-complete 1 <file count> <total bytes>`,
//! then one `<size> <relative path>` line per file, in zip order, `\n`-terminated. Each entry is
//! written into `<DIR>/v1/tmp/<key>.<pid>.<random>/` and renamed into place, so a concurrent
//! bundle start sees a complete entry or none. The root, `v1` and `v1/dists` are created with
//! mode 0755 (a pre-seeded image root is read by other users; the bootstrap refuses only
//! group/other-*writable* roots), `v1/tmp` with 0700; existing directories keep their mode but
//! are refused when group/other-writable. Member names are
//! normalised with [`crate::fsutil::enclosed_relative`] (no `..`, no absolute paths), executable
//! bits are kept (0755, else 0644), and every member is checked against the manifest's sha256 as
//! it is written, so a damaged bundle is never laid out.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::bundle::{Bundle, InnerArchive};
use crate::fsutil::{enclosed_relative, hex};
use crate::layout::placement::under;
use crate::layout::{
    DISTS_DIR, EXTRACT_DIR, LAYOUT, MARKER, MARKER_HEADER, Mode, PARTS_DIR, PYC_PACK, PycPack,
    SITE_DIR, TMP_DIR, pyc_source,
};

/// What happened to one distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Extracted now: (files, bytes).
    Extracted(usize, u64),
    /// A complete entry was already there and was left alone.
    Present,
}

/// Creates `dir` with `mode` if missing, and refuses one that is not a directory or is
/// writable by group or others (the bootstrap would refuse it too).
pub fn ensure_dir(dir: &Path, mode: u32) -> Result<()> {
    match std::fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create `{}`", dir.display())),
    }
    let meta = fs_err::metadata(dir)?;
    if !meta.is_dir() {
        bail!("`{}` is not a directory", dir.display());
    }
    if meta.mode() & 0o022 != 0 {
        bail!(
            "`{}` has mode {:04o}: the bundle refuses a cache root writable by group or others\nhint: `chmod 700 {}`",
            dir.display(),
            meta.mode() & 0o7777,
            dir.display()
        );
    }
    Ok(())
}

/// Extracts every extracted distribution of the bundle at `bundle` into `root`; returns
/// (key, outcome) in manifest order.
pub fn extract(bundle: &Path, root: &Path) -> Result<Vec<(String, Outcome)>> {
    let mut bundle = Bundle::open(bundle)?;
    if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs_err::create_dir_all(parent)?;
    }
    let v1 = root.join(LAYOUT);
    let dists = v1.join(DISTS_DIR);
    let tmp = v1.join(TMP_DIR);
    for dir in [root, &v1, &dists] {
        ensure_dir(dir, 0o755)?;
    }
    ensure_dir(&tmp, 0o700)?;
    let wanted: Vec<(String, usize, u64, Vec<String>)> = bundle
        .manifest
        .distributions
        .iter()
        .filter(|d| d.mode == Mode::Extract)
        .filter_map(|d| {
            let (files, size) = d.extracted_totals();
            let parts = d.parts.iter().map(|p| p.dir.clone()).collect();
            d.key.clone().map(|k| (k, files, size, parts))
        })
        .collect();
    let mut out = Vec::new();
    for (key, files, size, parts) in wanted {
        if enclosed_relative(&key).as_deref() != Some(key.as_str()) || key.contains('/') {
            bail!("the bundle has an unsafe cache key `{key}`");
        }
        let target = dists.join(&key);
        if target.join(MARKER).is_file() {
            out.push((key, Outcome::Present));
            continue;
        }
        let path = bundle.path.clone();
        let damaged = |what: String| anyhow::anyhow!(damaged(&path, what));
        let mut inner = bundle
            .inner(&key)
            .map_err(|e| damaged(format!("cannot read `{EXTRACT_DIR}/{key}.zip`: {e}")))?
            .ok_or_else(|| damaged(format!("`{EXTRACT_DIR}/{key}.zip` is missing")))?;
        let private = tmp.join(format!("{key}.{}.{:08x}", std::process::id(), rand_u32()));
        let result = write_entry(&mut inner, &bundle, &key, &parts, &private)
            .and_then(|(n, bytes)| {
                if (n, bytes) != (files, size) {
                    bail!(
                        "`{EXTRACT_DIR}/{key}/` holds {n} files / {bytes} bytes but the manifest says {files} / {size}\nhint: the bundle is damaged; rebuild it or copy it again"
                    );
                }
                install(&private, &target, &tmp, &key)?;
                Ok((n, bytes))
            });
        match result {
            Ok((n, bytes)) => out.push((key, Outcome::Extracted(n, bytes))),
            Err(err) => {
                let _ = fs_err::remove_dir_all(&private);
                return Err(err);
            }
        }
    }
    Ok(out)
}

/// Writes the files of the inner archive of entry `key` into `dest` plus the marker; returns
/// (files, bytes). Each file is checked against the manifest (`extract/<key>/<path>`). The
/// subpackages `parts`, which a start writes on their first import, are written too, each
/// with its pack and listing as the start writes them (see [`write_parts`]).
fn write_entry(
    archive: &mut InnerArchive,
    bundle: &Bundle,
    key: &str,
    parts: &[String],
    dest: &Path,
) -> Result<(usize, u64)> {
    let site = dest.join(SITE_DIR); // the files; the marker and the pack beside
    create_dirs(&site)?;
    let prefix = format!("{EXTRACT_DIR}/{key}/");
    let pyc_suffix = format!(".{}.pyc", bundle.manifest.python.cache_tag);
    // Per destination (the entry, then each part): its listing and its bytecode, which goes
    // into one file, as the bootstrap writes it (see `PycPack`).
    let mut listings: Vec<Vec<(String, u64)>> = vec![Vec::new(); parts.len() + 1];
    let mut packs: Vec<PycPack> = (0..=parts.len()).map(|_| PycPack::default()).collect();
    let (mut files, mut bytes) = (0usize, 0u64);
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).with_context(|| {
            format!(
                "cannot read member #{i} of `{prefix}` in `{}`",
                bundle.path.display()
            )
        })?;
        let inner_name = member.name().map(|n| n.to_string()).unwrap_or_default();
        let name = format!("{prefix}{inner_name}");
        let rel_raw = inner_name.as_str();
        if rel_raw.is_empty() || rel_raw == "/" {
            continue;
        }
        let Some(rel) = enclosed_relative(rel_raw).filter(|r| !r.contains('\n')) else {
            bail!(
                "`{}` has an unsafe member name `{name}`",
                bundle.path.display()
            );
        };
        let path = site.join(&rel);
        let to = parts
            .iter()
            .position(|p| under(p, &rel))
            .map_or(0, |i| i + 1);
        let packed_source = pyc_source(&rel, &pyc_suffix).filter(|_| !member.is_dir());
        if let Some(source) = packed_source {
            let size = member.size();
            let data = read_packed(&mut member, size, bundle, &name)?;
            files += 1;
            bytes += data.len() as u64;
            packs[to].push(source, data);
            continue;
        }
        if member.is_dir() {
            create_dirs(&path)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            create_dirs(parent)?;
        }
        let executable = member.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let declared = member.size();
        let written = write_file(&mut member, declared, executable, bundle, &name, &path)?;
        files += 1;
        bytes += written;
        listings[to].push((format!("{SITE_DIR}/{rel}"), written));
    }
    let (pack, listing) = (packs.remove(0), listings.remove(0));
    write_parts(dest, parts, packs.into_iter().zip(listings))?;
    write_pack_and_marker(dest, pack, listing)?;
    Ok((files, bytes))
}

/// Writes into `dest`'s [`PARTS_DIR`] the pack (`<dir dotted>.pyc`, when it holds bytecode)
/// and the listing (`<dir dotted>.list`, the marker's format, relative to `dest`) of each of
/// `parts`, as `_extract.extract_part` does.
fn write_parts(
    dest: &Path,
    parts: &[String],
    written: impl Iterator<Item = (PycPack, Vec<(String, u64)>)>,
) -> Result<()> {
    if parts.is_empty() {
        return Ok(());
    }
    create_dirs(&dest.join(PARTS_DIR))?;
    for (dir, (pack, mut listing)) in parts.iter().zip(written) {
        let name = dir.replace('/', ".");
        if !pack.is_empty() {
            let data = pack.finish();
            let rel = format!("{PARTS_DIR}/{name}.pyc");
            fs_err::write(dest.join(&rel), &data)?;
            fs_err::set_permissions(dest.join(&rel), std::fs::Permissions::from_mode(0o644))?;
            listing.push((rel, data.len() as u64));
        }
        listing.sort();
        fs_err::write(
            dest.join(format!("{PARTS_DIR}/{name}.list")),
            marker_text(&listing),
        )?;
    }
    Ok(())
}

/// The marker of an entry (or the listing of a part) whose files are `listing` (sorted).
fn marker_text(listing: &[(String, u64)]) -> String {
    let total: u64 = listing.iter().map(|(_, s)| s).sum();
    let mut marker = format!("{MARKER_HEADER} {} {total}\n", listing.len());
    for (rel, size) in listing {
        marker.push_str(&format!("{size} {rel}\n"));
    }
    marker
}

/// Creates `dir` and its missing parents with mode 0755.
fn create_dirs(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .with_context(|| format!("cannot create `{}`", dir.display()))
}

/// Returns the message for the bundle at `path` found damaged: `what`, with the hint.
fn damaged(path: &Path, what: impl std::fmt::Display) -> String {
    format!(
        "`{}` is damaged: {what}\nhint: rebuild the bundle or copy it again",
        path.display()
    )
}

/// Reads the bytecode member `name` (of `declared` bytes), which goes into the entry's pyc pack,
/// checked against the manifest.
fn read_packed(
    member: &mut impl Read,
    declared: u64,
    bundle: &Bundle,
    name: &str,
) -> Result<Vec<u8>> {
    let data = crate::bundle::read_bounded(member, name, declared, bundle.len)
        .with_context(|| damaged(&bundle.path, format_args!("cannot read `{name}`")))?;
    check_member(
        bundle,
        name,
        &hex(&Sha256::digest(&data)),
        data.len() as u64,
    )?;
    Ok(data)
}

/// Writes the member `name` (of `declared` bytes) to the new file `path` with the mode the
/// bootstrap gives it (0755 when `executable`, else 0644), checked against the manifest as the
/// bytes go by; returns its size.
fn write_file(
    member: &mut impl Read,
    declared: u64,
    executable: bool,
    bundle: &Bundle,
    name: &str,
    path: &Path,
) -> Result<u64> {
    let mode = if executable { 0o755 } else { 0o644 };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create `{}`", path.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        let n = member
            .read(&mut buf)
            .with_context(|| damaged(&bundle.path, format_args!("cannot read `{name}`")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        writer
            .write_all(&buf[..n])
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        written += n as u64;
        if written > declared {
            bail!(damaged(
                &bundle.path,
                format_args!("`{name}` inflates past its declared {declared} bytes")
            ));
        }
    }
    writer
        .flush()
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    // umask may have dropped bits; the mode must be exactly what the bootstrap writes.
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    check_member(bundle, name, &hex(&hasher.finalize()), written)?;
    Ok(written)
}

/// Writes the entry's pyc pack into `dest` (when it holds bytecode), then the marker listing
/// `listing` (with the pack) and its totals.
fn write_pack_and_marker(
    dest: &Path,
    pack: PycPack,
    mut listing: Vec<(String, u64)>,
) -> Result<()> {
    if !pack.is_empty() {
        let data = pack.finish();
        let path = dest.join(PYC_PACK);
        fs_err::write(&path, &data)?;
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        listing.push((PYC_PACK.to_string(), data.len() as u64));
        listing.sort();
    }
    fs_err::write(dest.join(MARKER), marker_text(&listing))?;
    Ok(())
}

/// Fails unless `name`'s content has the sha256 and size the manifest lists.
fn check_member(bundle: &Bundle, name: &str, sha: &str, size: u64) -> Result<()> {
    match bundle.manifest.members.get(name) {
        Some(expected) if expected.sha256 == sha && expected.size == size => Ok(()),
        _ => bail!(damaged(
            &bundle.path,
            format_args!("`{name}` does not match its manifest hash")
        )),
    }
}

/// Renames the complete `private` dir to `target`; an incomplete `target` is moved aside first.
fn install(private: &Path, target: &Path, tmp: &Path, key: &str) -> Result<()> {
    for _ in 0..5 {
        match std::fs::rename(private, target) {
            Ok(()) => return Ok(()),
            Err(_) if target.join(MARKER).is_file() => {
                // Another process (a bundle start or a parallel extract) won.
                fs_err::remove_dir_all(private)?;
                return Ok(());
            }
            Err(_) if target.exists() => {
                let aside = tmp.join(format!(
                    "{key}.stale.{}.{:08x}",
                    std::process::id(),
                    rand_u32()
                ));
                if std::fs::rename(target, &aside).is_ok() {
                    let _ = fs_err::remove_dir_all(&aside);
                }
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot move into `{}`", target.display()));
            }
        }
    }
    bail!("cannot install `{}`; try again", target.display())
}

/// A random 32-bit value for private directory names (no extra dependency).
pub fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() as u32
}

/// Runs `pybundle extract` and prints one line per distribution.
pub fn run(bundle: &Path, root: &Path) -> Result<()> {
    let root: PathBuf = std::path::absolute(root)
        .with_context(|| format!("cannot resolve `{}`", root.display()))?;
    let done =
        extract(bundle, &root).with_context(|| format!("cannot extract `{}`", bundle.display()))?;
    let mut out = std::io::stdout().lock();
    if done.is_empty() {
        writeln!(
            out,
            "nothing to extract: `{}` runs entirely from the zip",
            bundle.display()
        )?;
    }
    for (key, outcome) in &done {
        match outcome {
            Outcome::Extracted(n, bytes) => writeln!(
                out,
                "extracted {key} ({n} files, {:.1} MB)",
                *bytes as f64 / 1e6
            )?,
            Outcome::Present => writeln!(out, "present   {key}")?,
        }
    }
    writeln!(
        out,
        "root: {} (run with PYBUNDLE_ROOTS={} to use it read-only)",
        root.display(),
        root.display()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_bytecode_sources() {
        let tag = ".cpython-311.pyc";
        assert_eq!(
            pyc_source("pkg/__pycache__/mod.cpython-311.pyc", tag).as_deref(),
            Some("pkg/mod.py")
        );
        assert_eq!(
            pyc_source("__pycache__/top.cpython-311.pyc", tag).as_deref(),
            Some("top.py")
        );
        assert_eq!(pyc_source("pkg/mod.pyc", tag), None);
        assert_eq!(pyc_source("pkg/__pycache__/mod.cpython-312.pyc", tag), None);
    }
}
