//! `--site-packages DIR`: describe a ready site-packages tree (for example from
//! `pip install --target DIR`) in the install stage's terms, without copying it. Input: a
//! directory; output: one [`InstalledDist`] per `*.dist-info`, plus one unit for the files no
//! `RECORD` claims. Nothing is written.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use super::data::Scheme;
use super::error::{InstallError, io_err};
use super::top_level::{derive_top_level, top_level_from_text};
use super::{EntryPoints, InstalledDist, entry_points, metadata, record};
use crate::fsutil::enclosed_relative;

/// Whether a relative path is byte-code or inside a `__pycache__` directory, which pybundle never
/// takes from an installed tree (it compiles its own).
fn is_bytecode(path: &str) -> bool {
    path.ends_with(".pyc") || path.split('/').any(|c| c == "__pycache__")
}

/// Describes a ready site-packages tree (for example from `pip install --target DIR`) without
/// copying it: every top-level `*.dist-info` becomes an [`InstalledDist`] (with `root = dir`)
/// owning the files its `RECORD` lists plus its own `.dist-info` files, and the files no `RECORD`
/// claims form one more unit named `site-packages`, version `0`, with an empty `dist_info`
/// (omitted when empty).
///
/// `RECORD` rows that leave `dir` (such as pip's `../../bin/tool`) or whose file is missing are
/// ignored, and `RECORD` hashes are not verified (the installer that wrote them is trusted).
/// `__pycache__` directories and `*.pyc` files are never included, nor is a top-level `bin/` in
/// the unclaimed unit. A symbolic link that resolves outside `dir` is an error; links inside are
/// followed. The unclaimed unit's `purelib` is true unless it holds `.so`/`.pyd` files.
pub fn scan_site_packages(dir: &Path) -> Result<Vec<InstalledDist>, InstallError> {
    let all_files = tree_files(dir)?;
    let mut dists = Vec::new();
    let mut claimed: BTreeSet<String> = BTreeSet::new();
    for name in dist_info_names(dir)? {
        let dist = DistInfoDir::new(dir, name).describe(&all_files)?;
        claimed.extend(dist.files.iter().cloned());
        dists.push(dist);
    }
    let unclaimed: Vec<String> = all_files
        .into_iter()
        .filter(|f| !claimed.contains(f) && !f.starts_with("bin/"))
        .collect();
    if !unclaimed.is_empty() {
        dists.push(unclaimed_unit(dir, unclaimed));
    }
    Ok(dists)
}

/// Returns every file of the tree at `dir` (relative, `/`-separated), links inside it followed,
/// byte-code left out; fails on a link that resolves outside `dir`.
fn tree_files(dir: &Path) -> Result<BTreeSet<String>, InstallError> {
    let canon =
        fs_err::canonicalize(dir).map_err(io_err("cannot scan the site-packages directory"))?;
    let mut all_files: BTreeSet<String> = BTreeSet::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || e.file_name() != "__pycache__");
    for entry in walker {
        let entry = entry.map_err(|e| {
            let context = match e.path() {
                Some(p) => format!("cannot scan `{}`", p.display()),
                None => format!("cannot scan `{}`", dir.display()),
            };
            InstallError::Io {
                context,
                error: e.into(),
            }
        })?;
        let rel_path = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let rel = rel_path
            .components()
            .map(|c| c.as_os_str().to_str())
            .collect::<Option<Vec<_>>>()
            .map(|parts| parts.join("/"))
            .ok_or_else(|| InstallError::Io {
                context: format!("cannot scan `{}`", entry.path().display()),
                error: io::Error::new(io::ErrorKind::InvalidData, "the file name is not UTF-8"),
            })?;
        if entry.path_is_symlink() {
            // A dangling link is skipped like a missing file.
            if let Ok(target) = std::fs::canonicalize(entry.path())
                && !target.starts_with(&canon)
            {
                return Err(InstallError::SymlinkOutside {
                    dir: dir.to_path_buf(),
                    path: rel,
                    target,
                });
            }
        }
        if entry.file_type().is_file() && !is_bytecode(&rel) {
            all_files.insert(rel);
        }
    }
    Ok(all_files)
}

/// Returns the names of the top-level `*.dist-info` directories of `dir`, sorted.
fn dist_info_names(dir: &Path) -> Result<Vec<String>, InstallError> {
    let mut dist_infos: Vec<String> = Vec::new();
    for entry in fs_err::read_dir(dir).map_err(io_err("cannot scan the site-packages directory"))? {
        let entry = entry.map_err(io_err(format!("cannot scan `{}`", dir.display())))?;
        if let Some(name) = entry.file_name().to_str()
            && name.ends_with(".dist-info")
            && entry.path().is_dir()
        {
            dist_infos.push(name.to_string());
        }
    }
    dist_infos.sort();
    Ok(dist_infos)
}

/// One top-level `*.dist-info` directory of the tree.
struct DistInfoDir<'a> {
    /// The tree.
    root: &'a Path,
    /// The directory's name, e.g. `a-1.0.dist-info`.
    name: String,
    /// `root/name`.
    path: PathBuf,
}

impl<'a> DistInfoDir<'a> {
    fn new(root: &'a Path, name: String) -> Self {
        let path = root.join(&name);
        DistInfoDir { root, name, path }
    }

    /// Returns the text of the directory's file `file`, `None` when it has none.
    fn read(&self, file: &str) -> Result<Option<String>, InstallError> {
        let path = self.path.join(file);
        if !path.is_file() {
            return Ok(None);
        }
        fs_err::read_to_string(&path)
            .map(Some)
            .map_err(io_err(format!("cannot read `{}`", path.display())))
    }

    /// Returns the error for its file `file` that cannot be used, and why.
    fn bad(&self, file: &str, reason: String) -> InstallError {
        InstallError::BadWheelFile {
            wheel: self.path.display().to_string(),
            path: file.to_string(),
            reason,
        }
    }

    /// Returns the distribution this directory describes, owning its own files and those of
    /// `all_files` its `RECORD` lists.
    fn describe(self, all_files: &BTreeSet<String>) -> Result<InstalledDist, InstallError> {
        let meta_text =
            (self.read("METADATA")?).ok_or_else(|| self.bad("METADATA", "it is missing".into()))?;
        let meta = metadata::parse_metadata(&meta_text).map_err(|r| self.bad("METADATA", r))?;
        // A `.dist-info` without `WHEEL` was not installed from a wheel (pure Python then, as
        // pip assumes for such installs).
        let (purelib, tags) = match self.read("WHEEL")? {
            Some(text) => metadata::read_installed_wheel(&text),
            None => (true, Vec::new()),
        };
        let files = self.files(all_files)?;
        let entry_points = match self.read("entry_points.txt")? {
            Some(text) => entry_points::parse_entry_points(&text)
                .map_err(|e| self.bad("entry_points.txt", e.to_string()))?,
            None => EntryPoints::default(),
        };
        let top_level = match self.read("top_level.txt")? {
            Some(text) => top_level_from_text(&text),
            None => derive_top_level(
                files
                    .iter()
                    .filter(|f| !f.starts_with("bin/"))
                    .map(String::as_str),
            ),
        };
        let prefix_files = target_prefix_files(&files);
        Ok(InstalledDist {
            name: meta.name,
            version: meta.version,
            dist_info: self.name,
            root: self.root.to_path_buf(),
            files: files.into_iter().collect(),
            purelib,
            tags,
            entry_points,
            requires_python: meta.requires_python,
            license: meta.license,
            summary: meta.summary,
            top_level,
            prefix_files,
        })
    }

    /// Returns the files of `all_files` under this directory or listed in its `RECORD` (rows
    /// that leave the tree or name a missing file are ignored).
    fn files(&self, all_files: &BTreeSet<String>) -> Result<BTreeSet<String>, InstallError> {
        let mut files: BTreeSet<String> = BTreeSet::new();
        let prefix = format!("{}/", self.name);
        files.extend(all_files.iter().filter(|f| f.starts_with(&prefix)).cloned());
        if let Some(text) = self.read("RECORD")? {
            let rows =
                record::parse_csv(&text).map_err(|(line, reason)| InstallError::BadRecord {
                    wheel: self.path.display().to_string(),
                    path: "RECORD".to_string(),
                    line,
                    reason,
                })?;
            for (_, fields) in rows {
                let Some(path) = fields.first().and_then(|p| enclosed_relative(p)) else {
                    continue;
                };
                if all_files.contains(&path) {
                    files.insert(path);
                }
            }
        }
        Ok(files)
    }
}

/// Returns the unit of the files no `RECORD` claims: `site-packages`, version `0`, with an
/// empty `dist_info`.
fn unclaimed_unit(dir: &Path, unclaimed: Vec<String>) -> InstalledDist {
    let purelib = !unclaimed
        .iter()
        .any(|f| f.ends_with(".so") || f.ends_with(".pyd"));
    let top_level = derive_top_level(unclaimed.iter().map(String::as_str));
    let prefix_files = target_prefix_files(&unclaimed.iter().cloned().collect());
    InstalledDist {
        purelib,
        top_level,
        prefix_files,
        ..InstalledDist::unclaimed(dir.to_path_buf(), unclaimed)
    }
}

/// Returns the files of a distribution of a `pip install --target` tree that came from its
/// wheel's prefix schemes, as far as the tree tells: `bin/…` (scripts) and `share/…`, `etc/…`
/// (data: pip's `--target` puts the data scheme at the top of the tree; its `RECORD` names them
/// `../../share/…`, so they usually fall to the unit of unclaimed files).
fn target_prefix_files(files: &BTreeSet<String>) -> Vec<(String, Scheme)> {
    files
        .iter()
        .filter_map(|f| match f.split('/').next() {
            Some("bin") => Some((f.clone(), Scheme::Scripts)),
            Some("share" | "etc") if f.contains('/') => Some((f.clone(), Scheme::Data)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    #[test]
    fn scan_rejects_symlink_escaping_tree() {
        let t = tmp();
        let site = t.path().join("site");
        fs_err::create_dir_all(site.join("pkg")).expect("mkdir");
        fs_err::write(site.join("pkg/__init__.py"), "").expect("write");
        fs_err::write(t.path().join("outside.py"), "").expect("write");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(site.join("pkg/__init__.py"), site.join("inside.py"))
                .expect("symlink");
            let dists = scan_site_packages(&site).expect("inside links are fine");
            assert_eq!(dists.len(), 1);
            assert_eq!(dists[0].files, ["inside.py", "pkg/__init__.py"]);
            std::os::unix::fs::symlink(t.path().join("outside.py"), site.join("pkg/out.py"))
                .expect("symlink");
            let err = scan_site_packages(&site).expect_err("outside link");
            assert!(
                matches!(err, InstallError::SymlinkOutside { ref path, .. } if path == "pkg/out.py"),
                "{err}"
            );
            assert!(err.to_string().contains("`pkg/out.py`"), "{err}");
        }
    }

    #[test]
    fn scan_of_empty_dir_is_empty() {
        let t = tmp();
        assert!(scan_site_packages(t.path()).expect("scan").is_empty());
        assert!(scan_site_packages(&t.path().join("missing")).is_err());
    }

    #[test]
    fn scan_ignores_escaping_and_missing_record_rows() {
        let t = tmp();
        let site = t.path();
        let di = site.join("a-1.0.dist-info");
        fs_err::create_dir_all(&di).expect("mkdir");
        fs_err::create_dir_all(site.join("a")).expect("mkdir");
        fs_err::write(site.join("a/__init__.py"), "").expect("write");
        fs_err::write(di.join("METADATA"), "Name: a\nVersion: 1.0\n").expect("write");
        fs_err::write(
            di.join("RECORD"),
            "a/__init__.py,,\na/gone.py,sha256=x,1\n../../bin/a,,\n/abs,,\na-1.0.dist-info/RECORD,,\n",
        )
        .expect("write");
        let dists = scan_site_packages(site).expect("scan");
        assert_eq!(dists.len(), 1);
        assert_eq!(
            dists[0].files,
            [
                "a-1.0.dist-info/METADATA",
                "a-1.0.dist-info/RECORD",
                "a/__init__.py"
            ]
        );
        assert!(dists[0].purelib);
        assert_eq!(dists[0].top_level, ["a"]);
    }
}
