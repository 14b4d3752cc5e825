//! Install one wheel: unpack it into its own site-packages-shaped root, verifying it against its
//! `RECORD` as PEP 427 (binary distribution format) requires. Input: a wheel file and an empty
//! (or absent) destination; output: an [`InstalledDist`].
//!
//! [`install_wheel`] never writes outside its destination: every member path is normalised by
//! [`enclosed_relative`], symbolic links are refused, nothing is written before the archive's
//! member list and its `RECORD` agree, every byte written is hashed on the way and compared with
//! `RECORD`, and a failed install removes what it wrote. The layout mirrors
//! `pip install --no-deps --target ROOT` (see [`super::data`]), and the installed `RECORD` is
//! rewritten to list the files where they actually are, with their SHA-256 and size.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::data::{self, Scheme, place_member};
use super::error::{InstallError, io_err};
use super::filename::{FilenameError, WheelFilename};
use super::record::{
    Expected, HashAlgorithm, RecordHasher, check_members, is_record_file, parse_record,
};
use super::top_level::{derive_top_level, top_level_from_text};
use super::{EntryPoints, InstalledDist, entry_points, metadata};
use crate::fsutil::{b64_urlsafe_nopad, enclosed_relative};
use crate::name::normalize_name;

/// Removes what a failed install wrote: the destination itself if the install created it, else
/// its contents (it was empty before). Disarmed once the install succeeds.
struct DestGuard<'a> {
    dest: &'a Path,
    created: bool,
    armed: bool,
}

impl Drop for DestGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // Best effort: the install error is what the caller needs to see.
        if self.created {
            let _ = fs_err::remove_dir_all(self.dest);
        } else if let Ok(entries) = fs_err::read_dir(self.dest) {
            for entry in entries.flatten() {
                let path = entry.path();
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                let _ = if is_dir {
                    fs_err::remove_dir_all(&path)
                } else {
                    fs_err::remove_file(&path)
                };
            }
        }
    }
}

/// Creates `dest` (and its parents) or checks that it is an empty directory. Returns whether it
/// was created.
fn prepare_dest(dest: &Path) -> Result<bool, InstallError> {
    match fs_err::symlink_metadata(dest) {
        Ok(meta) => {
            if !meta.is_dir() {
                return Err(InstallError::DestNotEmpty {
                    dest: dest.to_path_buf(),
                });
            }
            let mut entries =
                fs_err::read_dir(dest).map_err(io_err("cannot list the install directory"))?;
            if entries.next().is_some() {
                return Err(InstallError::DestNotEmpty {
                    dest: dest.to_path_buf(),
                });
            }
            Ok(false)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs_err::create_dir_all(dest).map_err(io_err("cannot create the install directory"))?;
            Ok(true)
        }
        Err(e) => Err(io_err("cannot inspect the install directory")(e)),
    }
}

/// One file member of the archive.
struct Member {
    /// Index in the zip central directory.
    index: usize,
    /// Normalised path.
    path: String,
    /// Whether any execute bit is set in the member's unix mode.
    executable: bool,
}

/// Reads a small member (a `.dist-info` text file) as UTF-8.
fn read_text<R: Read + io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    index: usize,
    wheel: &str,
    path: &str,
) -> Result<String, InstallError> {
    let mut file = archive.by_index(index).map_err(|e| InstallError::Corrupt {
        wheel: wheel.to_string(),
        reason: format!("cannot read `{path}`: {e}"),
    })?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| InstallError::Corrupt {
            wheel: wheel.to_string(),
            reason: format!("cannot read `{path}`: {e}"),
        })?;
    String::from_utf8(bytes).map_err(|_| InstallError::BadWheelFile {
        wheel: wheel.to_string(),
        path: path.to_string(),
        reason: "it is not UTF-8".to_string(),
    })
}

/// Quotes a field for a `RECORD` row when the CSV dialect requires it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Sets the installed file's permissions: 0o755 when executable, else 0o644.
fn set_mode(path: &Path, executable: bool) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if executable { 0o755 } else { 0o644 };
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    {
        let _ = (path, executable);
    }
    Ok(())
}

/// Unpacks the wheel at `wheel` into `dest` (created if absent; it must otherwise be an empty
/// directory), following PEP 427, one step after the other: list the members, find the single
/// `.dist-info`, read `WHEEL` (major version 1 only) and `METADATA` and check that the archive
/// and `RECORD` list the same files with trusted hashes, decide where every member goes (see
/// [`data`]), stream them there verifying hash and size, and write a `RECORD` describing the
/// installed files. On any error, what was written to `dest` is removed.
pub fn install_wheel(wheel: &Path, dest: &Path) -> Result<InstalledDist, InstallError> {
    let wheel_name = wheel
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| FilenameError {
            input: wheel.display().to_string(),
            reason: "it has no UTF-8 file name".to_string(),
        })?
        .to_string();
    let parsed: WheelFilename = wheel_name.parse()?;
    let w = wheel_name.as_str();

    let file = fs_err::File::open(wheel).map_err(io_err("cannot open the wheel"))?;
    let mut archive =
        zip::ZipArchive::new(io::BufReader::new(file)).map_err(|e| InstallError::NotAZip {
            wheel: w.to_string(),
            reason: e.to_string(),
        })?;

    let members = list_members(&mut archive, w)?;
    let dist_info = find_dist_info(&members.list, w)?;
    let info = read_dist_info(&mut archive, &members, &dist_info, &parsed, w)?;
    let plan = place_members(&members.list, &dist_info, &info, w)?;

    let created = prepare_dest(dest)?;
    let mut guard = DestGuard {
        dest,
        created,
        armed: true,
    };
    let mut installed = extract_verified(&mut archive, &plan, &info.expected, dest, w)?;
    write_record(&mut installed, &info.record_path, dest, w)?;

    let mut files: Vec<String> = installed.iter().map(|(p, _, _)| p.clone()).collect();
    files.push(info.record_path);
    files.sort();
    files.dedup();
    let top_level = match &info.top_level_text {
        Some(text) => top_level_from_text(text),
        None => derive_top_level(
            plan.iter()
                .filter(|(_, p)| p.scheme.is_library())
                .map(|(_, p)| p.dest.as_str()),
        ),
    };
    let mut prefix_files: Vec<(String, Scheme)> = plan
        .iter()
        .filter(|(_, p)| !p.scheme.is_library())
        .map(|(_, p)| (p.dest.clone(), p.scheme))
        .collect();
    prefix_files.sort_by(|a, b| a.0.cmp(&b.0));
    guard.armed = false;
    Ok(InstalledDist {
        name: info.meta.name,
        version: info.meta.version,
        dist_info,
        root: dest.to_path_buf(),
        files,
        purelib: info.wheel.root_is_purelib,
        tags: info.wheel.tags,
        entry_points: info.entry_points,
        requires_python: info.meta.requires_python,
        license: info.meta.license,
        summary: info.meta.summary,
        top_level,
        prefix_files,
    })
}

/// The archive's file members.
struct Members {
    /// In central-directory order.
    list: Vec<Member>,
    /// Normalised path → index in `list`.
    by_path: BTreeMap<String, usize>,
}

/// Step 1. The member list: safe paths, no links, no duplicates.
fn list_members<R: Read + io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    w: &str,
) -> Result<Members, InstallError> {
    let mut members: Vec<Member> = Vec::new();
    let mut by_path: BTreeMap<String, usize> = BTreeMap::new();
    for index in 0..archive.len() {
        let entry = archive
            .by_index_data(index)
            .map_err(|e| InstallError::Corrupt {
                wheel: w.to_string(),
                reason: format!("cannot read entry {index} of the central directory: {e}"),
            })?;
        let raw = entry
            .name()
            .map_err(|e| InstallError::Corrupt {
                wheel: w.to_string(),
                reason: format!("entry {index} has an unreadable name: {e}"),
            })?
            .into_owned();
        let path = enclosed_relative(&raw).ok_or_else(|| InstallError::EscapingPath {
            wheel: w.to_string(),
            path: raw.clone(),
        })?;
        let mode = entry.unix_mode();
        if mode.is_some_and(|m| m & 0o170000 == 0o120000) {
            return Err(InstallError::Symlink {
                wheel: w.to_string(),
                path: raw,
            });
        }
        if entry.is_dir() {
            continue;
        }
        if let Some(&prev) = by_path.get(&path) {
            return Err(InstallError::Collision {
                wheel: w.to_string(),
                path: path.clone(),
                first: members[prev].path.clone(),
                second: raw,
            });
        }
        by_path.insert(path.clone(), members.len());
        members.push(Member {
            index,
            path,
            executable: mode.is_some_and(|m| m & 0o111 != 0),
        });
    }
    Ok(Members {
        list: members,
        by_path,
    })
}

/// Step 2. The single `.dist-info` directory.
fn find_dist_info(members: &[Member], w: &str) -> Result<String, InstallError> {
    let dist_infos: BTreeSet<&str> = members
        .iter()
        .filter_map(|m| m.path.split_once('/').map(|(top, _)| top))
        .filter(|top| top.ends_with(".dist-info"))
        .collect();
    match dist_infos.len() {
        1 => Ok(dist_infos
            .iter()
            .next()
            .map(|s| s.to_string())
            .unwrap_or_default()),
        0 => Err(InstallError::NoDistInfo {
            wheel: w.to_string(),
            found: "none".to_string(),
        }),
        _ => Err(InstallError::NoDistInfo {
            wheel: w.to_string(),
            found: dist_infos
                .iter()
                .map(|d| format!("`{d}`"))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// What the `.dist-info` directory says.
struct DistInfoFiles {
    wheel: metadata::WheelInfo,
    meta: metadata::Metadata,
    record_path: String,
    /// Every member `RECORD` lists, with its hash and size.
    expected: BTreeMap<String, Expected>,
    entry_points: EntryPoints,
    top_level_text: Option<String>,
}

/// Step 3. `WHEEL`, `METADATA`, `RECORD` (checked against the member list), `entry_points.txt`
/// and `top_level.txt`.
fn read_dist_info<R: Read + io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    members: &Members,
    dist_info: &str,
    parsed: &WheelFilename,
    w: &str,
) -> Result<DistInfoFiles, InstallError> {
    let mut read_info = |name: &str| -> Result<Option<String>, InstallError> {
        let path = format!("{dist_info}/{name}");
        match members.by_path.get(&path) {
            Some(&i) => read_text(archive, members.list[i].index, w, &path).map(Some),
            None => Ok(None),
        }
    };
    let bad_file = |name: &str, reason: String| InstallError::BadWheelFile {
        wheel: w.to_string(),
        path: format!("{dist_info}/{name}"),
        reason,
    };
    let wheel_text =
        read_info("WHEEL")?.ok_or_else(|| bad_file("WHEEL", "it is missing".into()))?;
    let wheel_info = metadata::parse_wheel(&wheel_text).map_err(|r| bad_file("WHEEL", r))?;
    let metadata_text =
        read_info("METADATA")?.ok_or_else(|| bad_file("METADATA", "it is missing".into()))?;
    let meta = metadata::parse_metadata(&metadata_text).map_err(|r| bad_file("METADATA", r))?;
    if normalize_name(&meta.name) != normalize_name(&parsed.name) {
        return Err(bad_file(
            "METADATA",
            format!(
                "its `Name: {}` does not match the file name's `{}`",
                meta.name, parsed.name
            ),
        ));
    }
    let record_path = format!("{dist_info}/RECORD");
    let record_text = read_info("RECORD")?.ok_or_else(|| InstallError::MissingRecord {
        wheel: w.to_string(),
        path: record_path.clone(),
    })?;
    let entry_points_text = read_info("entry_points.txt")?;
    let top_level_text = read_info("top_level.txt")?;
    let record = parse_record(&record_text, w, &record_path)?;
    let member_set: BTreeSet<String> = members.list.iter().map(|m| m.path.clone()).collect();
    let expected = check_members(w, dist_info, &member_set, &record)?;

    let entry_points = match &entry_points_text {
        Some(text) => entry_points::parse_entry_points(text)
            .map_err(|e| bad_file("entry_points.txt", e.to_string()))?,
        None => EntryPoints::default(),
    };
    Ok(DistInfoFiles {
        wheel: wheel_info,
        meta,
        record_path,
        expected,
        entry_points,
        top_level_text,
    })
}

/// Step 4. Where everything goes; no two members may land on the same path, nor on RECORD.
fn place_members<'m>(
    members: &'m [Member],
    dist_info: &str,
    info: &DistInfoFiles,
    w: &str,
) -> Result<Vec<(&'m Member, data::Placement)>, InstallError> {
    let record_path = &info.record_path;
    let mut plan: Vec<(&Member, data::Placement)> = Vec::new();
    let mut dests: BTreeMap<String, String> = BTreeMap::new();
    dests.insert(record_path.clone(), record_path.clone());
    for member in members {
        if is_record_file(&member.path, dist_info) {
            continue;
        }
        let placement = place_member(&member.path, &info.meta.name).map_err(|reason| {
            InstallError::BadWheelFile {
                wheel: w.to_string(),
                path: member.path.clone(),
                reason,
            }
        })?;
        if let Some(first) = dests.insert(placement.dest.clone(), member.path.clone()) {
            return Err(InstallError::Collision {
                wheel: w.to_string(),
                path: placement.dest,
                first,
                second: member.path.clone(),
            });
        }
        plan.push((member, placement));
    }
    Ok(plan)
}

/// Step 5. Extracts every planned member, verifying its hash and size against `RECORD` as the
/// bytes go by; returns (installed path, sha256, size) of each.
fn extract_verified<R: Read + io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    plan: &[(&Member, data::Placement)],
    expected: &BTreeMap<String, Expected>,
    dest: &Path,
    w: &str,
) -> Result<Vec<(String, String, u64)>, InstallError> {
    let mut installed: Vec<(String, String, u64)> = Vec::with_capacity(plan.len() + 1);
    let mut buf = vec![0u8; 64 * 1024];
    for (member, placement) in plan {
        let exp = expected
            .get(&member.path)
            .ok_or_else(|| InstallError::NotInRecord {
                wheel: w.to_string(),
                path: member.path.clone(),
            })?;
        let out_path = dest.join(&placement.dest);
        let written = extract_member(archive, member, exp.algorithm, &out_path, &mut buf, w)?;
        written.check(exp, &member.path, w)?;
        set_mode(
            &out_path,
            member.executable || placement.scheme == Scheme::Scripts,
        )
        .map_err(io_err(format!(
            "cannot install `{}` from `{w}`",
            member.path
        )))?;
        installed.push((placement.dest.clone(), written.sha256, written.size));
    }
    Ok(installed)
}

/// The digests and size of one extracted member, taken as its bytes were written.
struct Written {
    /// Its sha256 (urlsafe base64, no padding), for the installed `RECORD`.
    sha256: String,
    /// Its digest with the algorithm `RECORD` declares for it.
    declared: String,
    /// Its size in bytes.
    size: u64,
}

impl Written {
    /// Checks the member against what `RECORD` declares: its digest, and its size if given.
    fn check(&self, exp: &Expected, path: &str, w: &str) -> Result<(), InstallError> {
        if self.declared != exp.digest {
            return Err(InstallError::HashMismatch {
                wheel: w.to_string(),
                path: path.to_string(),
                algorithm: exp.algorithm.name().to_string(),
                expected: exp.digest.clone(),
                actual: self.declared.clone(),
            });
        }
        if let Some(expected_size) = exp.size
            && expected_size != self.size
        {
            return Err(InstallError::SizeMismatch {
                wheel: w.to_string(),
                path: path.to_string(),
                expected: expected_size,
                actual: self.size,
            });
        }
        Ok(())
    }
}

/// Writes `member` to the new file `out_path` (creating its directory) through `buf`, hashing
/// the bytes with sha256 and, when `RECORD` declares another, with `algorithm` too.
fn extract_member<R: Read + io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    member: &Member,
    algorithm: HashAlgorithm,
    out_path: &Path,
    buf: &mut [u8],
    w: &str,
) -> Result<Written, InstallError> {
    let cannot_install = || io_err(format!("cannot install `{}` from `{w}`", member.path));
    let cannot_read = |e: &dyn std::fmt::Display| InstallError::Corrupt {
        wheel: w.to_string(),
        reason: format!("cannot read `{}`: {e}", member.path),
    };
    if let Some(parent) = out_path.parent() {
        fs_err::create_dir_all(parent).map_err(cannot_install())?;
    }
    let mut out = fs_err::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out_path)
        .map_err(cannot_install())?;
    let mut zf = archive
        .by_index(member.index)
        .map_err(|e| cannot_read(&e))?;
    let mut declared = (algorithm != HashAlgorithm::Sha256).then(|| RecordHasher::new(algorithm));
    let mut sha256 = Sha256::new();
    let mut size = 0u64;
    loop {
        let n = zf.read(buf).map_err(|e| cannot_read(&e))?;
        if n == 0 {
            break;
        }
        sha256.update(&buf[..n]);
        if let Some(h) = declared.as_mut() {
            h.update(&buf[..n]);
        }
        out.write_all(&buf[..n]).map_err(cannot_install())?;
        size += n as u64;
    }
    drop(zf);
    out.flush().map_err(cannot_install())?;
    drop(out);
    let sha256 = b64_urlsafe_nopad(&sha256.finalize());
    let declared = match declared {
        Some(h) => h.finish(),
        None => sha256.clone(),
    };
    Ok(Written {
        sha256,
        declared,
        size,
    })
}

/// Step 6. The installed `RECORD`: every installed file with its sha256 and size, sorted, and
/// `RECORD` itself without a hash.
fn write_record(
    installed: &mut [(String, String, u64)],
    record_path: &str,
    dest: &Path,
    w: &str,
) -> Result<(), InstallError> {
    installed.sort();
    let mut record_out = String::new();
    for (path, hash, size) in installed.iter() {
        record_out.push_str(&format!("{},sha256={hash},{size}\n", csv_field(path)));
    }
    record_out.push_str(&format!("{},,\n", csv_field(record_path)));
    let record_file = dest.join(record_path);
    fs_err::write(&record_file, record_out)
        .map_err(io_err(format!("cannot write `{record_path}` for `{w}`")))?;
    set_mode(&record_file, false)
        .map_err(io_err(format!("cannot write `{record_path}` for `{w}`")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::wheel_builder::WheelBuilder;
    use super::*;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    #[test]
    fn installs_a_good_wheel() {
        let t = tmp();
        let whl = WheelBuilder::sample().build(t.path());
        assert_eq!(
            whl.file_name().and_then(|n| n.to_str()),
            Some("Foo_Bar-1.0-py3-none-any.whl")
        );
        let dest = t.path().join("out/foo");
        let dist = install_wheel(&whl, &dest).expect("install");
        assert_eq!(dist.name, "Foo.Bar");
        assert_eq!(dist.version, "1.0");
        assert_eq!(dist.dist_info, "Foo_Bar-1.0.dist-info");
        assert_eq!(dist.root, dest);
        assert!(dist.purelib);
        assert_eq!(dist.tags, ["py3-none-any"]);
        assert_eq!(dist.summary.as_deref(), Some("A test package"));
        assert_eq!(dist.license.as_deref(), Some("MIT"));
        assert_eq!(dist.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(dist.top_level, ["_speed", "foo_bar", "helper"]);
        assert_eq!(
            dist.entry_points.console_script("foo-extra"),
            Some(crate::name::EntryTarget {
                module: "foo_bar.cli".into(),
                attr: Some("main".into())
            })
        );
        assert_eq!(
            dist.files,
            [
                "Foo_Bar-1.0.dist-info/METADATA",
                "Foo_Bar-1.0.dist-info/RECORD",
                "Foo_Bar-1.0.dist-info/WHEEL",
                "Foo_Bar-1.0.dist-info/entry_points.txt",
                "_speed.cpython-311-x86_64-linux-gnu.so",
                "foo_bar/__init__.py",
                "foo_bar/cli.py",
                "foo_bar/run.sh",
                "helper.py",
            ]
        );
        for f in &dist.files {
            assert!(dest.join(f).is_file(), "{f}");
        }
        assert_eq!(
            fs_err::read_to_string(dest.join("foo_bar/__init__.py")).expect("read"),
            "VALUE = 1\n"
        );
        assert_eq!(
            fs_err::read(dest.join("_speed.cpython-311-x86_64-linux-gnu.so")).expect("read"),
            [0, 1, 2, 255]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &str| {
                fs_err::metadata(dest.join(p))
                    .expect("stat")
                    .permissions()
                    .mode()
                    & 0o777
            };
            assert_eq!(mode("foo_bar/run.sh"), 0o755);
            assert_eq!(mode("foo_bar/cli.py"), 0o644);
        }
        // The installed RECORD lists every file with its real hash and size.
        let record =
            fs_err::read_to_string(dest.join("Foo_Bar-1.0.dist-info/RECORD")).expect("read");
        let entries = parse_record(&record, "x", "RECORD").expect("valid RECORD");
        assert_eq!(entries.len(), dist.files.len());
        for e in &entries {
            if e.path.ends_with("/RECORD") {
                assert_eq!(e.hash, None);
                continue;
            }
            let bytes = fs_err::read(dest.join(&e.path)).expect("read");
            let hash = e.hash.as_ref().expect("hash");
            assert_eq!(
                format!("{}={}", hash.algorithm, hash.digest),
                crate::fsutil::record_hash(&bytes)
            );
            assert_eq!(e.size, Some(bytes.len() as u64));
        }
    }

    #[test]
    fn installs_into_existing_empty_dir_but_not_a_full_one() {
        let t = tmp();
        let whl = WheelBuilder::sample().build(t.path());
        let dest = t.path().join("empty");
        fs_err::create_dir(&dest).expect("mkdir");
        install_wheel(&whl, &dest).expect("install into empty dir");
        let err = install_wheel(&whl, &dest).expect_err("not empty");
        assert!(matches!(err, InstallError::DestNotEmpty { .. }), "{err}");
        // The failed attempt must not have touched the earlier install.
        assert!(dest.join("foo_bar/__init__.py").is_file());
    }

    /// Installs `builder`'s wheel, expects failure, and checks that nothing was left behind.
    fn install_fails(builder: WheelBuilder) -> InstallError {
        let t = tmp();
        let whl = builder.build(t.path());
        let dest = t.path().join("dest");
        let err = install_wheel(&whl, &dest).expect_err("install should fail");
        assert!(!dest.exists(), "a failed install left {}", dest.display());
        let pre = t.path().join("pre");
        fs_err::create_dir(&pre).expect("mkdir");
        install_wheel(&whl, &pre).expect_err("install should fail");
        assert_eq!(
            fs_err::read_dir(&pre).expect("ls").count(),
            0,
            "leftovers in existing dest"
        );
        let msg = err.to_string();
        assert!(msg.contains(&format!("`{}`", builder.file_name())), "{msg}");
        assert!(msg.starts_with(|c: char| !c.is_uppercase()), "{msg}");
        err
    }

    #[test]
    fn rejects_hash_mismatch() {
        let err = install_fails(WheelBuilder::sample().corrupt_record_hash("foo_bar/cli.py"));
        match &err {
            InstallError::HashMismatch {
                path,
                expected,
                actual,
                ..
            } => {
                assert_eq!(path, "foo_bar/cli.py");
                assert_ne!(expected, actual);
                let msg = err.to_string();
                assert!(
                    msg.contains("is corrupt: RECORD says `foo_bar/cli.py` has sha256"),
                    "{msg}"
                );
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn rejects_size_mismatch() {
        let err = install_fails(WheelBuilder::sample().wrong_record_size("helper.py"));
        assert!(
            matches!(err, InstallError::SizeMismatch { ref path, expected: 7, actual: 6, .. } if path == "helper.py"),
            "{err}"
        );
    }

    #[test]
    fn rejects_parent_dir_member() {
        let err = install_fails(WheelBuilder::sample().extra_member_raw("../evil.py", "boom"));
        assert!(
            matches!(err, InstallError::EscapingPath { ref path, .. } if path == "../evil.py"),
            "{err}"
        );
        let err =
            install_fails(WheelBuilder::sample().extra_member_raw("foo_bar/../../evil.py", "boom"));
        assert!(matches!(err, InstallError::EscapingPath { .. }), "{err}");
        let err = install_fails(WheelBuilder::sample().extra_member_raw("C:\\evil.py", "boom"));
        assert!(matches!(err, InstallError::EscapingPath { .. }), "{err}");
    }

    #[test]
    fn rejects_absolute_member() {
        let err = install_fails(WheelBuilder::sample().absolute_member("/tmp/evil"));
        assert!(
            matches!(err, InstallError::EscapingPath { ref path, .. } if path == "/tmp/evil"),
            "{err}"
        );
    }

    #[test]
    fn rejects_symlink_member() {
        let err =
            install_fails(WheelBuilder::sample().symlink_member("foo_bar/link", "/etc/passwd"));
        assert!(
            matches!(err, InstallError::Symlink { ref path, .. } if path == "foo_bar/link"),
            "{err}"
        );
    }

    #[test]
    fn rejects_record_inconsistencies() {
        let err = install_fails(WheelBuilder::sample().omit_from_record("foo_bar/cli.py"));
        assert!(
            matches!(err, InstallError::NotInRecord { ref path, .. } if path == "foo_bar/cli.py"),
            "{err}"
        );
        let err = install_fails(WheelBuilder::sample().extra_member_raw("foo_bar/sneaky.py", "x"));
        assert!(matches!(err, InstallError::NotInRecord { .. }), "{err}");
        let err = install_fails(WheelBuilder::sample().without_record());
        assert!(matches!(err, InstallError::MissingRecord { .. }), "{err}");
        let err = install_fails(WheelBuilder::sample().record_hash_raw("helper.py", "md5=abc"));
        assert!(matches!(err, InstallError::UnsupportedHash { .. }), "{err}");
        let err = install_fails(WheelBuilder::sample().record_hash_raw("helper.py", "sha1=abc"));
        assert!(matches!(err, InstallError::UnsupportedHash { .. }), "{err}");
        let err = install_fails(WheelBuilder::sample().record_hash_raw("helper.py", ""));
        assert!(matches!(err, InstallError::MissingHash { .. }), "{err}");
    }

    #[test]
    fn accepts_sha512_record_hashes() {
        use sha2::Sha512;
        let digest = b64_urlsafe_nopad(&Sha512::digest(b"X = 2\n"));
        let t = tmp();
        let whl = WheelBuilder::sample()
            .record_hash_raw("helper.py", &format!("sha512={digest}"))
            .build(t.path());
        install_wheel(&whl, &t.path().join("d")).expect("sha512 accepted");
        let bad = WheelBuilder::sample()
            .record_hash_raw("helper.py", "sha512=AAAA")
            .build(t.path());
        let err = install_wheel(&bad, &t.path().join("e")).expect_err("mismatch");
        assert!(
            matches!(err, InstallError::HashMismatch { ref algorithm, .. } if algorithm == "sha512"),
            "{err}"
        );
    }

    #[test]
    fn rejects_missing_archive_member() {
        // A RECORD row whose file is absent: list a raw-hash row for a file that is never written.
        let t = tmp();
        let builder = WheelBuilder::sample();
        let whl = builder.build(t.path());
        // Rewrite the archive without `helper.py` but with the same RECORD.
        let src = fs_err::File::open(&whl).expect("open");
        let mut archive = zip::ZipArchive::new(src).expect("zip");
        let out_path = t.path().join("sub").join(builder.file_name());
        fs_err::create_dir(t.path().join("sub")).expect("mkdir");
        let out = fs_err::File::create(&out_path).expect("create");
        let mut writer = zip::ZipWriter::new(out);
        for i in 0..archive.len() {
            let f = archive.by_index(i).expect("entry");
            if f.name().expect("name") != "helper.py" {
                writer.raw_copy_file(f).expect("copy");
            }
        }
        writer.finish().expect("finish");
        let err = install_wheel(&out_path, &t.path().join("d")).expect_err("missing");
        assert!(
            matches!(err, InstallError::MissingFromArchive { ref path, .. } if path == "helper.py"),
            "{err}"
        );
        assert!(!t.path().join("d").exists());
    }

    #[test]
    fn rejects_bad_wheel_metadata() {
        let err = install_fails(WheelBuilder::sample().wheel_version("2.0"));
        assert!(
            matches!(err, InstallError::BadWheelFile { ref path, .. } if path.ends_with("/WHEEL")),
            "{err}"
        );
        let err = install_fails(WheelBuilder::sample().data("weird", "x", "y"));
        assert!(err.to_string().contains("unknown `.data` scheme"), "{err}");
        let err = install_fails(
            WheelBuilder::sample().file("other-1.0.dist-info/METADATA", "Name: other\n"),
        );
        assert!(matches!(err, InstallError::NoDistInfo { .. }), "{err}");
        let err = install_fails(WheelBuilder::sample().data("purelib", "helper.py", "dup"));
        assert!(
            matches!(err, InstallError::Collision { ref path, .. } if path == "helper.py"),
            "{err}"
        );
    }

    #[test]
    fn rejects_bad_files() {
        let t = tmp();
        let bad_name = t.path().join("notawheel.whl");
        fs_err::write(&bad_name, b"x").expect("write");
        let err = install_wheel(&bad_name, &t.path().join("d")).expect_err("bad name");
        assert!(matches!(err, InstallError::BadFilename(_)), "{err}");
        assert!(err.to_string().contains("`notawheel.whl`"), "{err}");
        let not_zip = t.path().join("foo-1.0-py3-none-any.whl");
        fs_err::write(&not_zip, b"not a zip").expect("write");
        let err = install_wheel(&not_zip, &t.path().join("d")).expect_err("not zip");
        assert!(matches!(err, InstallError::NotAZip { .. }), "{err}");
        assert!(!t.path().join("d").exists());
    }

    #[test]
    fn maps_data_directory() {
        let t = tmp();
        let whl = WheelBuilder::new("tool", "2.0")
            .file("tool/__init__.py", "")
            .data("purelib", "tool_extra/__init__.py", "E = 1\n")
            .data("platlib", "_tool.so", "elf")
            .data("scripts", "tool-run", "#!python\nimport tool\n")
            .data("data", "share/tool/readme.txt", "doc\n")
            .data("headers", "tool.h", "int x;\n")
            .root_is_purelib(false)
            .tag("cp311-cp311-manylinux_2_17_x86_64")
            .build(t.path());
        let dest = t.path().join("d");
        let dist = install_wheel(&whl, &dest).expect("install");
        assert!(!dist.purelib);
        assert_eq!(dist.tags, ["cp311-cp311-manylinux_2_17_x86_64"]);
        assert_eq!(
            dist.files,
            [
                "_tool.so",
                "bin/tool-run",
                "include/tool/tool.h",
                "share/tool/readme.txt",
                "tool-2.0.dist-info/METADATA",
                "tool-2.0.dist-info/RECORD",
                "tool-2.0.dist-info/WHEEL",
                "tool/__init__.py",
                "tool_extra/__init__.py",
            ]
        );
        assert_eq!(dist.top_level, ["_tool", "tool", "tool_extra"]);
        assert!(!dest.join("tool-2.0.data").exists());
        assert_eq!(
            fs_err::read_to_string(dest.join("bin/tool-run")).expect("read"),
            "#!python\nimport tool\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs_err::metadata(dest.join("bin/tool-run"))
                .expect("stat")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o755);
        }
    }

    #[test]
    fn top_level_txt_wins() {
        let t = tmp();
        let whl = WheelBuilder::sample()
            .top_level(["foo_bar", "helper"])
            .build(t.path());
        let dist = install_wheel(&whl, &t.path().join("d")).expect("install");
        assert_eq!(dist.top_level, ["foo_bar", "helper"]);
    }
}
