//! The pack stage: staged distributions (with their zip/extract decisions and compiled bytecode)
//! → the bundle file. Members are laid out as `docs/DESIGN.md` describes (zip-imported
//! distributions in the site store, extracted ones in inner archives), hashed in parallel, the
//! build id is computed over the content, and the file is streamed ([`stream`]) to a temporary
//! file next to the output and renamed into place only when complete.

pub mod stream;
pub mod venv;
pub mod writer;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::analyze::Unit;
use crate::bootstrap::{self, MainData};
use crate::fsutil::hex;
use crate::install::InstalledDist;
use crate::layout::placement::Placement;
use crate::layout::{
    self, DistInfo, EXTRACT_DIR, EntryInfo, LockInfo, MAIN_PATH, MANIFEST_PATH, Manifest,
    MemberInfo, Mode, PythonInfo, SCHEMA_VERSION, SITE_PACKAGES, UnitInfo, WheelInfo,
};
use crate::name::normalize_name;
use writer::{EntryStyle, Member, Source};

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

/// One distribution, placed.
#[derive(Debug)]
pub struct Placed<'a> {
    /// The installed distribution.
    pub dist: &'a InstalledDist,
    /// zip or extract.
    pub mode: Mode,
    /// Why.
    pub reason: String,
    /// Whether it holds native code.
    pub native: bool,
    /// Cache key for extracted distributions.
    pub key: Option<String>,
    /// For an extracted distribution: the one package subtree that goes to disk (`None`: the
    /// whole distribution). The rest of its files go to the site store.
    pub unit: Option<Unit>,
    /// Compiled bytecode: (path relative to the distribution root, file on disk or bytes taken
    /// from the build cache). Never executable.
    pub bytecode: Vec<(String, Source)>,
}

impl Placed<'_> {
    /// Returns the archive directory this distribution's top-level files go under (`""` is the
    /// root): its inner archive when it is extracted whole, else the site store.
    pub fn archive_dir(&self) -> String {
        match &self.key {
            Some(key) if self.mode == Mode::Extract && self.unit.is_none() => {
                format!("{EXTRACT_DIR}/{key}")
            }
            _ => SITE_PACKAGES.to_string(),
        }
    }

    /// Returns how its files are laid out.
    pub fn placement(&self) -> Placement<'_> {
        match self.key {
            Some(_) => placement(self.mode, self.unit.as_ref()),
            None => Placement::Zip,
        }
    }

    /// Returns the archive paths of `rel`, a path relative to the distribution's root: in the
    /// site store, in the inner archive, or both (see [`Placement`]). Bytecode goes where its
    /// module is imported from: legacy `module.pyc` to the store, `__pycache__` to the archive.
    pub fn archive_paths(&self, rel: &str, is_pyc: bool) -> Vec<String> {
        let placement = self.placement();
        let (store, extract) = if is_pyc {
            let cached = rel.starts_with("__pycache__/") || rel.contains("/__pycache__/");
            (!cached, cached)
        } else {
            (placement.stores(rel), placement.extracts(rel))
        };
        let mut out = Vec::new();
        if store {
            out.push(if SITE_PACKAGES.is_empty() {
                rel.to_string()
            } else {
                format!("{SITE_PACKAGES}/{rel}")
            });
        }
        if let (true, Some(key)) = (extract, &self.key) {
            out.push(format!("{EXTRACT_DIR}/{key}/{rel}"));
        }
        out
    }
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

/// Returns the layout of a distribution with `mode` and `unit`.
pub fn placement(mode: Mode, unit: Option<&Unit>) -> Placement<'_> {
    match (mode, unit) {
        (Mode::Zip, _) => Placement::Zip,
        (Mode::Extract, None) => Placement::Whole,
        (Mode::Extract, Some(u)) => Placement::Unit {
            dir: &u.dir,
            trigger: &u.trigger,
        },
    }
}

/// Returns the cache key of the extracted distribution `dist` laid out as `placement`, for
/// bytecode of `cache_tag` and `magic` (see [`layout::cache_key`]).
pub fn cache_key(
    dist: &InstalledDist,
    placement: Placement<'_>,
    cache_tag: &str,
    magic: &str,
) -> std::io::Result<String> {
    let unit = match placement {
        Placement::Unit { dir, trigger } => format!("{dir}\0{trigger}"),
        Placement::Zip | Placement::Whole => String::new(),
    };
    layout::cache_key(
        &dist.name,
        &dist.version,
        &dist.root,
        &dist.dist_info,
        &dist.files,
        &unit,
        cache_tag,
        magic,
    )
}

/// Writes the bundle. The distributions' bytecode is moved into the bundle (`bytecode` is left
/// empty).
///
/// Two passes over the files: the first hashes every file (in parallel, nothing kept but size
/// and sha256) for the manifest and the build id; the second writes the members in path order
/// ([`stream::write_bundle`]), compressing bounded batches.
pub fn pack(placed: &mut [Placed<'_>], settings: PackSettings) -> anyhow::Result<Packed> {
    use anyhow::Context;
    let style = EntryStyle {
        level: settings.level,
        mtime: writer::zip_mtime(settings.source_date_epoch),
    };
    // Lay out the members. The first distribution to claim a path keeps it (pip would let the
    // last one win; identical namespace `__init__.py` files are the usual case).
    let mut members: BTreeMap<String, (Member, usize)> = BTreeMap::new();
    // The compiled bytecode of zip-imported distributions (logical `X.pyc`): stored with `X.py`.
    let mut attached: BTreeSet<String> = BTreeSet::new();
    let mut notes = Vec::new();
    // Scripts that the entry or a multi-call command executes from the cache: always 0755 in
    // the bundle (whatever the mode of a `--site-packages` tree's copy), and so also among
    // their entry's native files, checked before every start that uses the entry.
    let is_venv = settings.venv.is_some();
    let executed: BTreeSet<String> = std::iter::once(&settings.entry)
        .chain(settings.commands.values())
        .filter_map(|e| e.executed_script().map(str::to_string))
        .map(|p| venv::member_path(is_venv, p, false))
        .collect();
    for member in settings.runtime {
        members.insert(member.path.clone(), (member, usize::MAX));
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
                let executable = executed.contains(&path)
                    || match &source {
                        Source::File(disk) => is_executable(disk),
                        Source::FileFrom(..) | Source::Bytes(_) => false,
                    };
                if is_pyc && !path.starts_with(&format!("{EXTRACT_DIR}/")) {
                    attached.insert(path.clone());
                }
                let source = source.clone();
                members.insert(
                    path.clone(),
                    (
                        Member {
                            path,
                            source,
                            executable,
                        },
                        index,
                    ),
                );
            }
        }
    }
    // Pass 1: size and sha256 of every member, in parallel.
    let members: Vec<(String, Member, usize)> = members
        .into_iter()
        .map(|(path, (member, owner))| (path, member, owner))
        .collect();
    let infos: Vec<MemberInfo> = members
        .par_iter()
        .map(|(_, member, _)| {
            member
                .source
                .hash()
                .with_context(|| format!("cannot read the staged file for `{}`", member.path))
        })
        .collect::<anyhow::Result<_>>()?;

    let venv_roots = is_venv.then(|| venv::store_roots(&members, &attached, placed.len()));
    // The manifest's list, and the build id's hash over every member.
    let mut listed: BTreeMap<String, MemberInfo> = BTreeMap::new();
    let mut id_hasher = Sha256::new();
    for ((path, _, _), info) in members.iter().zip(&infos) {
        id_hasher.update(format!("{}\0{}\n", path, info.sha256));
        listed.insert(path.clone(), info.clone());
    }
    // Per-distribution totals and hashes, and what each one's inner archive holds (checked
    // when it is extracted; less than the distribution for a unit).
    let mut per_dist: Vec<(usize, u64, Sha256)> =
        placed.iter().map(|_| (0, 0, Sha256::new())).collect();
    let mut inner_totals: Vec<(usize, u64)> = vec![(0, 0); placed.len()];
    let inner_prefix = format!("{EXTRACT_DIR}/");
    for ((path, _, owner), info) in members.iter().zip(&infos) {
        if let Some(entry) = per_dist.get_mut(*owner) {
            entry.0 += 1;
            entry.1 += info.size;
            entry.2.update(format!("{}\0{}\n", path, info.sha256));
            if path.starts_with(&inner_prefix) {
                inner_totals[*owner].0 += 1;
                inner_totals[*owner].1 += info.size;
            }
        }
    }
    let dists: Vec<DistInfo> = placed
        .iter()
        .zip(per_dist)
        .zip(inner_totals)
        .map(
            |((p, (files, size, hasher)), (inner_files, inner_size))| DistInfo {
                name: p.dist.name.clone(),
                version: p.dist.version.clone(),
                mode: p.mode,
                reason: p.reason.clone(),
                key: if p.mode == Mode::Extract {
                    p.key.clone()
                } else {
                    None
                },
                files,
                size,
                sha256: hex(&hasher.finalize()),
                license: p.dist.license.clone(),
                summary: p.dist.summary.clone(),
                tags: p.dist.tags.clone(),
                top_level: p.dist.top_level.clone(),
                wheel: settings
                    .wheels
                    .get(&crate::name::normalize_name(&p.dist.name))
                    .cloned(),
                unit: p.unit.as_ref().map(|u| UnitInfo {
                    dir: u.dir.clone(),
                    trigger: u.trigger.clone(),
                    why: u.why.clone(),
                    files: inner_files,
                    size: inner_size,
                }),
            },
        )
        .collect();

    // Lay out the payload: the run-time package in the outer zip, extracted distributions in
    // inner archives (under their path inside the entry), zip-imported ones in the site store.
    let mut payload = stream::Payload::default();
    let mut pycs = Vec::new();
    let mut native_members: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    for ((path, mut member, owner), info) in members.into_iter().zip(&infos) {
        let inner = path
            .strip_prefix(&format!("{EXTRACT_DIR}/"))
            .and_then(|rest| rest.split_once('/'))
            .map(|(key, rel)| (key.to_string(), rel.to_string()));
        if let Some((key, rel)) = inner {
            if is_native_member(&rel, member.executable) {
                native_members
                    .entry(key.clone())
                    .or_default()
                    .push((rel.clone(), info.size));
            }
            member.path = rel;
            payload
                .inner
                .entry(key)
                .or_default()
                .push((member, info.size));
        } else if owner == usize::MAX {
            payload.outer.insert(path, member);
        } else if attached.contains(&path) {
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

    let pinned = settings.main.native.then_some(settings.main.version);
    let mut main = settings.main;
    main.extract = dists
        .iter()
        .zip(placed.iter())
        .filter(|(d, _)| d.mode == Mode::Extract)
        .filter_map(|(d, p)| {
            let (files, bytes) = d.extracted_totals();
            Some(bootstrap::ExtractItem {
                key: d.key.clone()?,
                files,
                bytes,
                lazy_names: match &p.unit {
                    Some(unit) => vec![unit.trigger.clone()],
                    None => lazy_names(p.dist),
                },
                // A unit's `.dist-info` is in the site store.
                dist_info: (p.unit.is_none() && !p.dist.dist_info.is_empty())
                    .then(|| p.dist.dist_info.clone()),
                unit: p.unit.as_ref().map(|u| u.dir.clone()),
                native: d
                    .key
                    .as_ref()
                    .and_then(|key| native_members.get(key))
                    .cloned()
                    .unwrap_or_default(),
            })
        })
        .collect();
    main.dists = placed
        .iter()
        .filter(|p| (p.mode == Mode::Zip || p.unit.is_some()) && !p.dist.dist_info.is_empty())
        .map(|p| (normalize_name(&p.dist.name), p.dist.dist_info.clone()))
        .collect();
    if let Some(roots) = venv_roots {
        let (outer, output) = (&mut payload.outer, &settings.output);
        venv::apply(placed, roots, output, &mut main, &mut listed, outer)?;
    }
    // The build id covers every member and the generated `__main__.py` (rendered without it).
    id_hasher.update(bootstrap::render_main(&main).as_bytes());
    main.build_id = settings
        .build_id
        .clone()
        .unwrap_or_else(|| hex(&id_hasher.finalize()));

    let main_bytes = bootstrap::render_main(&main).into_bytes();
    let main_info = Source::Bytes(main_bytes.clone()).hash()?;
    listed.insert(MAIN_PATH.to_string(), main_info);
    payload.outer.insert(
        MAIN_PATH.to_string(),
        Member {
            path: MAIN_PATH.to_string(),
            source: Source::Bytes(main_bytes),
            executable: false,
        },
    );
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
    let manifest_json =
        serde_json::to_vec_pretty(&manifest).context("cannot serialise the manifest")?;
    payload.outer.insert(
        MANIFEST_PATH.to_string(),
        Member {
            path: MANIFEST_PATH.to_string(),
            source: Source::Bytes(manifest_json),
            executable: false,
        },
    );
    let output = settings.output.path(&main.build_id);
    let created_dirs = crate::output::create_parents(&output)?;
    let _on_signal: Vec<_> = created_dirs
        .iter()
        .map(crate::interrupt::empty_dir)
        .collect();
    let temp_dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let written = write_atomically(&output, |file| {
        stream::write_bundle(file, &settings.shebang, payload, style, &temp_dir)?;
        let written = std::io::Seek::stream_position(file)?;
        check_zip_limits(pinned, written)?;
        Ok(())
    });
    let size = written.inspect_err(|_| crate::output::remove_created(&created_dirs))?;
    Ok(Packed {
        output,
        created_dirs,
        manifest,
        size,
        notes,
    })
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

/// The top-level import names whose first import extracts an extracted distribution at run
/// time (see the bootstrap's `_LazyExtract`): the names of its code files and `top_level.txt`.
/// Empty (extract at start) when the distribution has a top-level `.pth` file, which the start
/// runs from the entry's directory.
fn lazy_names(dist: &InstalledDist) -> Vec<String> {
    if dist
        .files
        .iter()
        .any(|f| !f.contains('/') && f.ends_with(".pth"))
    {
        return Vec::new();
    }
    let mut names: BTreeSet<String> =
        crate::install::derive_top_level(dist.files.iter().map(String::as_str))
            .into_iter()
            .collect();
    names.extend(dist.top_level.iter().cloned());
    names.into_iter().collect()
}

/// Returns true if and only if the member `rel` of an extracted distribution is one of the
/// files every start checks (existence and size) before using the entry: extension modules,
/// shared libraries and executables (any file with an execute bit, which includes the scripts
/// that the entry or a multi-call command executes, see `executed` in [`pack`]). They are what
/// a damaged entry must not lose silently: a library whose extension module is missing runs its
/// pure-Python fallback, if it has one.
fn is_native_member(rel: &str, executable: bool) -> bool {
    executable || crate::analyze::is_native_file(rel)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs_err::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
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
    out.sort_by(|a, b| (a.0 != SITE_PACKAGES, &a.0, &a.1).cmp(&(b.0 != SITE_PACKAGES, &b.0, &b.1)));
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
