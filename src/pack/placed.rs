//! One distribution as the analysis placed it ([`Placed`]), with what the later stages add
//! before pack lays it out: the cache key, lazy names and native files of an extracted one, the
//! scripts the entry executes, then its bytecode.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::writer::Source;
use crate::analyze::Decision;
use crate::install::InstalledDist;
use crate::layout::placement::Placement;
use crate::layout::{self, EXTRACT_DIR};

/// One distribution as the analysis placed it, with what the later stages add: its cache key
/// and lazy names when it is extracted (both known before compiling), then its bytecode.
#[derive(Debug)]
pub struct Placed<'a> {
    /// The installed distribution.
    pub dist: &'a InstalledDist,
    /// Where it goes and why (see [`Placement`]).
    pub decision: Decision,
    /// Its inner archive when it is extracted (whole or a unit); `None` when zipped.
    pub extracted: Option<Extracted>,
    /// Its scripts that the entry or a multi-call command executes from the cache (paths
    /// relative to its root): always 0755 in the bundle, whatever the mode of a
    /// `--site-packages` tree's copy.
    pub executed: BTreeSet<String>,
    /// The bytecode the compile stage is to write: (path relative to the distribution root,
    /// the compile job's target), filled in by `bytecode::plan`.
    pub planned: Vec<(String, PathBuf)>,
    /// Compiled bytecode: (path relative to the distribution root, file on disk or bytes taken
    /// from the build cache). Never executable. Moved into the bundle by [`super::pack`].
    pub bytecode: Vec<(String, Source)>,
}

/// What an extracted distribution's `EXTRACT` item needs besides its members.
#[derive(Debug)]
pub struct Extracted {
    /// The cache key (`extract/<key>/`, see [`layout::cache_key`]).
    pub key: String,
    /// The top-level names whose first import extracts it (a unit's trigger); empty: at start.
    pub lazy_names: Vec<String>,
    /// The files of its inner archive that every start checks before using the entry (paths
    /// relative to the distribution's root, sorted): extension modules, shared libraries and
    /// executables (the scripts the bundle executes included); empty in a venv bundle, which
    /// has no inner archives.
    pub native: Vec<String>,
}

impl<'a> Placed<'a> {
    /// Places `dist` as `decision` says, with `executed` its scripts that the bundle executes,
    /// for bytecode of `cache_tag` and `magic` (its cache key hashes its files when it is
    /// extracted), in a venv bundle when `venv`.
    pub fn new(
        dist: &'a InstalledDist,
        decision: Decision,
        executed: BTreeSet<String>,
        venv: bool,
        (cache_tag, magic): (&str, &str),
    ) -> std::io::Result<Self> {
        let extracted = match &decision.placement {
            Placement::Zip => None,
            placement => Some(Extracted {
                key: cache_key(dist, placement, cache_tag, magic)?,
                lazy_names: match placement.unit() {
                    Some(unit) => vec![unit.trigger.clone()],
                    None => lazy_names(dist),
                },
                native: if venv {
                    Vec::new()
                } else {
                    native_files(dist, placement, &executed)
                },
            }),
        };
        Ok(Placed {
            dist,
            decision,
            extracted,
            executed,
            planned: Vec::new(),
            bytecode: Vec::new(),
        })
    }

    /// Returns how its files are laid out.
    pub fn placement(&self) -> &Placement {
        &self.decision.placement
    }

    /// Returns the cache key of an extracted distribution.
    pub fn key(&self) -> Option<&str> {
        self.extracted.as_ref().map(|e| e.key.as_str())
    }

    /// Returns the archive directory this distribution's top-level files go under (`""` is the
    /// root): its inner archive when it is extracted whole, else the site store.
    pub fn archive_dir(&self) -> String {
        match (self.placement(), self.key()) {
            (Placement::Whole { .. }, Some(key)) => format!("{EXTRACT_DIR}/{key}"),
            _ => String::new(),
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
            out.push(rel.to_string());
        }
        if let (true, Some(key)) = (extract, self.key()) {
            out.push(format!("{EXTRACT_DIR}/{key}/{rel}"));
        }
        out
    }
}

/// Returns the files of `dist` that `placement` puts in its inner archive and every start checks
/// (existence and size) before using the entry: extension modules, shared libraries and
/// executables (any file with an execute bit, and the scripts in `executed`). They are what a
/// damaged entry must not lose silently: a library whose extension module is missing runs its
/// pure-Python fallback, if it has one. Sorted by path, as the inner archive lists them.
fn native_files(
    dist: &InstalledDist,
    placement: &Placement,
    executed: &BTreeSet<String>,
) -> Vec<String> {
    let mut out: Vec<String> = dist
        .files
        .iter()
        .filter(|f| placement.extracts(f))
        .filter(|f| {
            crate::analyze::is_native_file(f)
                || executed.contains(*f)
                || crate::fsutil::is_executable(&dist.root.join(f))
        })
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Returns the cache key of the extracted distribution `dist` laid out as `placement`, for
/// bytecode of `cache_tag` and `magic` (see [`layout::cache_key`]).
fn cache_key(
    dist: &InstalledDist,
    placement: &Placement,
    cache_tag: &str,
    magic: &str,
) -> std::io::Result<String> {
    let unit = match placement {
        Placement::Unit(unit) => format!("{}\0{}", unit.dir, unit.trigger),
        // The test suites left in the store are not in the entry, the parts come later; a
        // distribution with neither keeps the key it had before either existed.
        Placement::Whole { tests, parts } => {
            let mut s = String::new();
            if !tests.is_empty() {
                s += &format!("\0tests\0{}", tests.join("\0"));
            }
            if !parts.is_empty() {
                s += &format!("\0parts\0{}", parts.join("\0"));
            }
            s
        }
        Placement::Zip => String::new(),
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;
    use crate::analyze::Reason;
    use crate::layout::placement::Unit;

    /// A distribution with a plain module, an extension module, a vendored library, an
    /// executable file and a script that is executed without an execute bit on disk.
    fn dist(site: &Path) -> InstalledDist {
        let files = [
            "pkg/__init__.py",
            "pkg/_speed.cpython-311-x86_64-linux-gnu.so",
            "pkg/tool",
            "pkg.libs/libz.so.1",
            "bin/run",
            "other/mod.py",
        ];
        for f in files {
            let disk = site.join(f);
            fs_err::create_dir_all(disk.parent().expect("a parent")).expect("mkdir");
            fs_err::write(&disk, f).expect("write");
        }
        let tool = site.join("pkg/tool");
        fs_err::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let mut files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
        files.sort();
        InstalledDist {
            name: "pkg".into(),
            version: "1".into(),
            purelib: false,
            ..InstalledDist::unclaimed(site.to_path_buf(), files)
        }
    }

    fn place(dist: &InstalledDist, placement: Placement, venv: bool) -> Placed<'_> {
        let decision = Decision {
            placement,
            reason: Reason::Platlib,
            native: true,
        };
        let executed = BTreeSet::from(["bin/run".to_string()]);
        Placed::new(dist, decision, executed, venv, ("cpython-311", "a70d0d0a")).expect("key")
    }

    #[test]
    fn native_files_are_known_before_pack() {
        let site = tempfile::tempdir().expect("tempdir");
        let dist = dist(site.path());
        let whole = place(&dist, Placement::whole(), false);
        let native = &whole.extracted.as_ref().expect("extracted").native;
        assert_eq!(
            native,
            &[
                "bin/run",
                "pkg.libs/libz.so.1",
                "pkg/_speed.cpython-311-x86_64-linux-gnu.so",
                "pkg/tool",
            ]
        );
        // A unit's inner archive holds its directory only.
        let unit = Placement::Unit(Unit {
            dir: "pkg".into(),
            trigger: "pkg".into(),
            why: "path use".into(),
        });
        let unit = place(&dist, unit, false);
        let native = &unit.extracted.as_ref().expect("extracted").native;
        assert_eq!(
            native,
            &["pkg/_speed.cpython-311-x86_64-linux-gnu.so", "pkg/tool"]
        );
        // A venv bundle has no inner archives; a zipped distribution none of its own.
        let venv = place(&dist, Placement::whole(), true);
        assert!(venv.extracted.expect("extracted").native.is_empty());
        assert!(place(&dist, Placement::Zip, false).extracted.is_none());
    }
}
