//! The pack stage: staged distributions (with their zip/extract decisions and compiled bytecode)
//! → the bundle file. Members are laid out as `docs/DESIGN.md` describes (zip-imported
//! distributions in the site store, extracted ones in inner archives), hashed in parallel, the
//! build id is computed over the content, and the file is streamed ([`stream`]) to a temporary
//! file next to the output and renamed into place only when complete.

mod placed;
pub mod stream;
pub mod venv;
pub mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::fsutil::hex;
use crate::layout::main::{ExtractItem, ExtractPart, MainData, render_main};
use crate::layout::placement::under;
use crate::layout::{
    self, DistInfo, EXTRACT_DIR, EntryInfo, LockInfo, MAIN_PATH, MANIFEST_PATH, Manifest,
    MemberInfo, PartInfo, PythonInfo, SCHEMA_VERSION, TestsInfo, UnitInfo, WheelInfo,
};
use crate::name::normalize_name;
use writer::{EntryStyle, Member, Source};

pub use placed::{Extracted, Placed};

/// The largest bundle a zip can describe without Zip64 offsets.
pub const ZIP32_MAX_BYTES: u64 = 0xFFFF_FFFF;
/// The first CPython whose `zipimport` reads Zip64 archives.
pub const ZIP64_IMPORT_SINCE: (u32, u32) = (3, 13);

/// A bundle too large for the `zipimport` of an interpreter that may run it.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// Larger than a zip without Zip64 offsets can describe.
    #[error(
        "the bundle would be {bytes} bytes, over the 4 GiB that Python before 3.13 can import from (its `zipimport` does not read Zip64 offsets, the bundle would fail to start)\nhint: leave large data files out of the bundle, or target Python 3.13 or newer with `--python` for a bundle with native code (which runs only on that version)"
    )]
    TooLarge {
        /// Size of the bundle.
        bytes: u64,
    },
}

/// Fails when a bundle of `bytes` bytes needs Zip64 offsets and may start on an interpreter
/// older than 3.13. `pinned` is the target `(major, minor)` when the bundle runs only on that
/// version (native code), `None` for a pure bundle (it runs on any version its
/// `Requires-Python` allows). The number of files needs no check: the outer zip lists a handful
/// of members whatever it holds (see [`stream`]).
pub fn check_zip_limits(pinned: Option<(u32, u32)>, bytes: u64) -> Result<(), LimitError> {
    if bytes <= ZIP32_MAX_BYTES || pinned.is_some_and(|v| v >= ZIP64_IMPORT_SINCE) {
        return Ok(());
    }
    Err(LimitError::TooLarge { bytes })
}

/// Everything the writer needs besides the distributions.
#[derive(Debug)]
pub struct PackSettings {
    /// Output file, named once the build id is known.
    pub output: crate::output::OutputName,
    /// Shebang line (without `#!`).
    pub shebang: String,
    /// Deflate level.
    pub level: u8,
    /// `SOURCE_DATE_EPOCH`.
    pub source_date_epoch: Option<u64>,
    /// Build id override.
    pub build_id: Option<String>,
    /// Entry point for the manifest.
    pub entry: EntryInfo,
    /// Commands of a multi-call bundle for the manifest (empty otherwise).
    pub commands: BTreeMap<String, EntryInfo>,
    /// Target interpreter for the manifest.
    pub python: PythonInfo,
    /// `__main__.py` data, without build id and extraction list (filled here).
    pub main: MainData,
    /// The run-time package: (archive path, source file on disk or bytes), including bytecode.
    pub runtime: Vec<Member>,
    /// The lock the bundle is built from (`--lock`), for the manifest.
    pub lock: Option<LockInfo>,
    /// The wheel each distribution came from, by normalized name (lock builds only).
    pub wheels: BTreeMap<String, WheelInfo>,
    /// For a `--venv` bundle, why (see [`venv`]); every distribution is then extracted.
    pub venv: Option<String>,
}

/// The pack stage's output: what was written.
#[derive(Debug)]
pub struct Packed {
    /// The file written (the output with its placeholders filled).
    pub output: PathBuf,
    /// The directories created for it (see `output::create_parents`).
    pub created_dirs: Vec<PathBuf>,
    /// The manifest stored in the bundle.
    pub manifest: Manifest,
    /// Size of the bundle in bytes.
    pub size: u64,
    /// Details for `-v`: paths that more than one distribution holds (the first one kept).
    pub notes: Vec<String>,
}

/// Who a member belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The run-time package, the preamble.
    Runtime,
    /// The distribution at this index of `placed`.
    Dist(usize),
}

/// The members by archive path, with their owner and whether they are attached bytecode.
pub(crate) type Members = BTreeMap<String, (Member, Owner, bool)>;

/// One member of the bundle, laid out and hashed.
struct Laid {
    /// Its archive path (`extract/<key>/<rel>` for a file of an inner archive).
    path: String,
    member: Member,
    owner: Owner,
    /// Whether it is the compiled bytecode of a zip-imported module (stored with its source).
    attached: bool,
    info: MemberInfo,
}

/// Writes the bundle. The distributions' bytecode is moved into the bundle (`bytecode` is left
/// empty).
///
/// Two passes over the files: the first hashes every file (in parallel, nothing kept but size
/// and sha256) for the manifest and the build id; the second writes the members in path order
/// ([`stream::write_bundle`]), compressing bounded batches.
pub fn pack(placed: &mut [Placed<'_>], settings: PackSettings) -> anyhow::Result<Packed> {
    let style = EntryStyle {
        level: settings.level,
        mtime: writer::zip_mtime(settings.source_date_epoch),
    };
    let is_venv = settings.venv.is_some();
    let (members, notes) = lay_out(placed, settings.runtime, is_venv);
    let venv_roots = is_venv.then(|| venv::store_roots(&members, placed.len()));
    let laid = hash_members(members)?;
    let mut listed: BTreeMap<String, MemberInfo> = BTreeMap::new();
    let mut id_hasher = Sha256::new();
    for m in &laid {
        id_hasher.update(format!("{}\0{}\n", m.path, m.info.sha256));
        listed.insert(m.path.clone(), m.info.clone());
    }
    let dists = dist_infos(placed, &laid, &settings.wheels);
    let mut payload = payload(laid);
    let pinned = settings.main.native.then_some(settings.main.version);
    let mut main = main_data(settings.main, placed, &dists, &listed);
    if let Some(roots) = venv_roots {
        let (outer, output) = (&mut payload.outer, &settings.output);
        venv::apply(placed, roots, output, &mut main, &mut listed, outer)?;
    }
    // The build id covers every member and the generated `__main__.py` (rendered without it).
    id_hasher.update(render_main(&main).as_bytes());
    main.build_id = settings
        .build_id
        .clone()
        .unwrap_or_else(|| hex(&id_hasher.finalize()));
    let main_bytes = render_main(&main).into_bytes();
    listed.insert(
        MAIN_PATH.to_string(),
        Source::Bytes(main_bytes.clone()).hash()?,
    );
    add_outer(&mut payload, MAIN_PATH, main_bytes);
    let manifest = Manifest {
        schema: SCHEMA_VERSION,
        build_id: main.build_id.clone(),
        pybundle_version: env!("CARGO_PKG_VERSION").to_string(),
        built_at: settings.source_date_epoch.map(layout::rfc3339),
        entry: settings.entry,
        python: settings.python,
        distributions: dists,
        commands: settings.commands,
        venv: settings.venv,
        members: listed,
        lock: settings.lock,
    };
    let manifest_json = anyhow::Context::context(
        serde_json::to_vec_pretty(&manifest),
        "cannot serialise the manifest",
    )?;
    add_outer(&mut payload, MANIFEST_PATH, manifest_json);
    let output = settings.output.path(&main.build_id);
    let (size, created_dirs) = write_bundle(&output, &settings.shebang, payload, style, pinned)?;
    Ok(Packed {
        output,
        created_dirs,
        manifest,
        size,
        notes,
    })
}

/// Lays the members out by archive path: the run-time package, then each distribution's files
/// and bytecode where its placement puts them. The first distribution to claim a path keeps it
/// (pip would let the last one win; identical namespace `__init__.py` files are the usual
/// case); the others give a note for `-v`. A venv bundle (`is_venv`) puts the extracted
/// distributions' files in the site store ([`venv::member_path`]). The scripts the bundle
/// executes ([`Placed::executed`]) are made executable.
fn lay_out(
    placed: &mut [Placed<'_>],
    runtime: Vec<Member>,
    is_venv: bool,
) -> (Members, Vec<String>) {
    let mut members: Members = BTreeMap::new();
    let mut notes = Vec::new();
    for member in runtime {
        members.insert(member.path.clone(), (member, Owner::Runtime, false));
    }
    for (index, p) in placed.iter_mut().enumerate() {
        let bytecode = std::mem::take(&mut p.bytecode);
        let files = p.dist.files.iter().map(|f| {
            let disk = p.dist.root.join(f);
            (f.clone(), Source::File(disk), false)
        });
        let compiled = bytecode
            .into_iter()
            .map(|(rel, source)| (rel, source, true));
        for (rel, source, is_pyc) in files.chain(compiled) {
            for path in p.archive_paths(&rel, is_pyc) {
                let path = venv::member_path(is_venv, path, is_pyc);
                if members.contains_key(&path) {
                    notes.push(format!(
                        "`{path}` is in more than one distribution; keeping the first"
                    ));
                    continue;
                }
                let executable = (!is_pyc && p.executed.contains(&rel))
                    || match &source {
                        Source::File(disk) => crate::fsutil::is_executable(disk),
                        Source::FileFrom(..) | Source::Bytes(_) => false,
                    };
                // The bytecode of a zip-imported module (logical `X.pyc`) is stored with `X.py`.
                let attached = is_pyc && !path.starts_with(&format!("{EXTRACT_DIR}/"));
                let member = Member {
                    path: path.clone(),
                    source: source.clone(),
                    executable,
                };
                members.insert(path, (member, Owner::Dist(index), attached));
            }
        }
    }
    (members, notes)
}

/// Pass 1: size and sha256 of every member, in parallel, in path order.
fn hash_members(members: Members) -> anyhow::Result<Vec<Laid>> {
    use anyhow::Context;
    members
        .into_iter()
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(path, (member, owner, attached))| {
            let info = member
                .source
                .hash()
                .with_context(|| format!("cannot read the staged file for `{}`", member.path))?;
            Ok(Laid {
                path,
                member,
                owner,
                attached,
                info,
            })
        })
        .collect()
}

/// Returns the manifest's record of every distribution: its totals and hash over its members,
/// and for a unit what its inner archive holds (checked when it is extracted).
fn dist_infos(
    placed: &[Placed<'_>],
    laid: &[Laid],
    wheels: &BTreeMap<String, WheelInfo>,
) -> Vec<DistInfo> {
    // Per distribution: files, bytes, the hash over its members; files and bytes of its inner
    // archive.
    let mut totals: Vec<(usize, u64, Sha256, usize, u64)> =
        placed.iter().map(|_| (0, 0, Sha256::new(), 0, 0)).collect();
    let inner_prefix = format!("{EXTRACT_DIR}/");
    for m in laid {
        let Owner::Dist(index) = m.owner else {
            continue;
        };
        let t = &mut totals[index];
        t.0 += 1;
        t.1 += m.info.size;
        t.2.update(format!("{}\0{}\n", m.path, m.info.sha256));
        if m.path.starts_with(&inner_prefix) {
            t.3 += 1;
            t.4 += m.info.size;
        }
    }
    placed
        .iter()
        .zip(totals)
        .map(
            |(p, (files, size, hasher, inner_files, inner_size))| DistInfo {
                name: p.dist.name.clone(),
                version: p.dist.version.clone(),
                mode: p.placement().mode(),
                reason: p.decision.reason.to_string(),
                key: p.key().map(str::to_string),
                files,
                size,
                sha256: hex(&hasher.finalize()),
                license: p.dist.license.clone(),
                summary: p.dist.summary.clone(),
                tags: p.dist.tags.clone(),
                top_level: p.dist.top_level.clone(),
                wheel: wheels.get(&normalize_name(&p.dist.name)).cloned(),
                unit: p.placement().unit().map(|u| UnitInfo {
                    dir: u.dir.clone(),
                    trigger: u.trigger.clone(),
                    why: u.why.clone(),
                    files: inner_files,
                    size: inner_size,
                }),
                tests: (!p.placement().tests().is_empty()).then(|| TestsInfo {
                    dirs: p.placement().tests().to_vec(),
                    files: files - inner_files,
                    size: size - inner_size,
                }),
                parts: part_totals(p, laid),
            },
        )
        .collect()
}

/// Returns the files and bytes of each subpackage of `p` written on its first import.
fn part_totals(p: &Placed<'_>, laid: &[Laid]) -> Vec<PartInfo> {
    let Some(key) = p.key() else {
        return Vec::new();
    };
    p.placement()
        .parts()
        .iter()
        .map(|dir| {
            let prefix = format!("{EXTRACT_DIR}/{key}/{dir}/");
            let (files, size) = laid
                .iter()
                .filter(|m| m.path.starts_with(&prefix))
                .fold((0, 0), |(n, s), m| (n + 1, s + m.info.size));
            PartInfo {
                dir: dir.clone(),
                files,
                size,
            }
        })
        .collect()
}

/// Lays out the payload: the run-time package in the outer zip, extracted distributions in
/// inner archives (under their path inside the entry), zip-imported ones in the site store.
fn payload(laid: Vec<Laid>) -> stream::Payload {
    let mut payload = stream::Payload::default();
    let mut pycs = Vec::new();
    for Laid {
        path,
        mut member,
        owner,
        attached,
        info,
    } in laid
    {
        let inner = path
            .strip_prefix(&format!("{EXTRACT_DIR}/"))
            .and_then(|rest| rest.split_once('/'))
            .map(|(key, rel)| (key.to_string(), rel.to_string()));
        if let Some((key, rel)) = inner {
            member.path = rel;
            payload
                .inner
                .entry(key)
                .or_default()
                .push((member, info.size));
        } else if owner == Owner::Runtime {
            payload.outer.insert(path, member);
        } else if attached {
            pycs.push((path, member.source, info.size));
        } else {
            payload.store.push(stream::StoreFile {
                path,
                source: member.source,
                executable: member.executable,
                pyc: None,
                size: info.size,
            });
        }
    }
    payload.attach_bytecode(pycs);
    payload
}

/// Returns `main` with its extraction list and the zip-imported distributions' metadata; the
/// sizes of the native files come from the `listed` members.
fn main_data(
    mut main: MainData,
    placed: &[Placed<'_>],
    dists: &[DistInfo],
    listed: &BTreeMap<String, MemberInfo>,
) -> MainData {
    main.extract = dists
        .iter()
        .zip(placed)
        .filter_map(|(d, p)| {
            let extracted = p.extracted.as_ref()?;
            let (files, bytes) = d.extracted_totals();
            let unit = p.placement().unit();
            let size_of = |rel: &String| {
                let path = format!("{EXTRACT_DIR}/{}/{rel}", extracted.key);
                Some((rel.clone(), listed.get(&path)?.size))
            };
            let in_part = |rel: &str| d.parts.iter().any(|part| under(&part.dir, rel));
            let parts = d
                .parts
                .iter()
                .map(|part| ExtractPart {
                    dir: part.dir.clone(),
                    files: part.files,
                    bytes: part.size,
                    native: (extracted.native.iter())
                        .filter(|rel| under(&part.dir, rel))
                        .filter_map(size_of)
                        .collect(),
                })
                .collect();
            Some(ExtractItem {
                key: extracted.key.clone(),
                files: files - d.parts.iter().map(|p| p.files).sum::<usize>(),
                bytes: bytes - d.parts.iter().map(|p| p.size).sum::<u64>(),
                parts,
                lazy_names: extracted.lazy_names.clone(),
                // A unit's `.dist-info` is in the site store.
                dist_info: (unit.is_none() && !p.dist.dist_info.is_empty())
                    .then(|| p.dist.dist_info.clone()),
                unit: unit.map(|u| u.dir.clone()),
                tests: p.placement().tests().to_vec(),
                native: (extracted.native.iter())
                    .filter(|rel| !in_part(rel))
                    .filter_map(size_of)
                    .collect(),
            })
        })
        .collect();
    main.dists = placed
        .iter()
        .filter(|p| !p.placement().is_whole() && !p.dist.dist_info.is_empty())
        .map(|p| (normalize_name(&p.dist.name), p.dist.dist_info.clone()))
        .collect();
    main
}

/// Adds the generated member `path` to the outer zip.
fn add_outer(payload: &mut stream::Payload, path: &str, bytes: Vec<u8>) {
    payload.outer.insert(
        path.to_string(),
        Member {
            path: path.to_string(),
            source: Source::Bytes(bytes),
            executable: false,
        },
    );
}

/// Pass 2: creates the output's missing directories and streams the bundle to `output`
/// atomically; fails when it is too large for the interpreters that may run it (`pinned`).
/// Returns its size and the directories created.
fn write_bundle(
    output: &Path,
    shebang: &str,
    payload: stream::Payload,
    style: EntryStyle,
    pinned: Option<(u32, u32)>,
) -> anyhow::Result<(u64, Vec<PathBuf>)> {
    let created_dirs = crate::output::create_parents(output)?;
    let _on_signal: Vec<_> = created_dirs
        .iter()
        .map(crate::interrupt::empty_dir)
        .collect();
    let temp_dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let written = write_atomically(output, |file| {
        stream::write_bundle(file, shebang, payload, style, &temp_dir)?;
        let written = std::io::Seek::stream_position(file)?;
        check_zip_limits(pinned, written)?;
        Ok(())
    });
    let size = written.inspect_err(|_| crate::output::remove_created(&created_dirs))?;
    Ok((size, created_dirs))
}

/// Writes `output` through a temporary file in the same directory, renamed into place and made
/// executable only when `write` succeeded. On failure nothing is left behind.
pub fn write_atomically(
    output: &Path,
    write: impl FnOnce(&mut std::fs::File) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    use anyhow::Context;
    use std::os::unix::fs::PermissionsExt;
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = output
        .file_name()
        .map_or_else(|| "bundle".into(), |n| n.to_string_lossy().into_owned());
    crate::output::check_target(output)?;
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a file in `{}`", dir.display()))?;
    let _on_signal = crate::interrupt::file(temp.path());
    write(temp.as_file_mut()).with_context(|| format!("cannot write `{}`", output.display()))?;
    temp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write `{}`", output.display()))?;
    let size = temp.as_file().metadata().map(|m| m.len()).unwrap_or(0);
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make `{}` executable", output.display()))?;
    crate::output::check_target(output)?;
    temp.persist(output)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write `{}`", output.display()))?;
    Ok(size)
}

/// Returns the `.pth` files at the top of each distribution, as (archive directory, name), in
/// the order `site` would process them (sorted by name within a directory).
pub fn pth_files(placed: &[Placed<'_>]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = placed
        .iter()
        .flat_map(|p| {
            let dir = p.archive_dir();
            p.dist
                .files
                .iter()
                .filter(|f| !f.contains('/') && f.ends_with(".pth"))
                .map(move |f| (dir.clone(), f.clone()))
        })
        .collect();
    // The site store's (`""`) first, then each inner archive's.
    out.sort_by(|a, b| (!a.0.is_empty(), &a.0, &a.1).cmp(&(!b.0.is_empty(), &b.0, &b.1)));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip64_offsets_only_for_bundles_pinned_to_3_13() {
        assert!(check_zip_limits(None, ZIP32_MAX_BYTES).is_ok());
        assert!(check_zip_limits(Some((3, 8)), 1 << 20).is_ok());
        let err = check_zip_limits(None, ZIP32_MAX_BYTES + 1).unwrap_err();
        assert!(err.to_string().contains("over the 4 GiB"), "{err}");
        assert!(check_zip_limits(Some((3, 12)), ZIP32_MAX_BYTES + 1).is_err());
        assert!(check_zip_limits(Some((3, 13)), ZIP32_MAX_BYTES + 1).is_ok());
    }
}
