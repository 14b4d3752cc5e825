//! Read a built bundle: open the zip behind the shebang, load its manifest, and check members
//! against the manifest's hashes. Used by `info`, `verify` and `extract`; damage is reported as
//! a [`BundleReadError`] that names what is wrong instead of a deep zip error.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::pack::manifest::{MANIFEST_PATH, Manifest};

/// A bundle could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BundleReadError {
    #[error("cannot open `{path}`\nhint: check the path of the bundle")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "`{path}` is not a readable bundle: {reason}\nhint: the file may be truncated or damaged; copy it again or rebuild it"
    )]
    NotAZip { path: PathBuf, reason: String },
    #[error(
        "`{path}` is not a pybundle bundle (it has no `{MANIFEST_PATH}`)\nhint: shiv and pex files are zipapps too, but only pybundle's carry a manifest"
    )]
    NoManifest { path: PathBuf },
    #[error(
        "`{path}` has an unreadable manifest: {reason}\nhint: it may come from a newer pybundle, or be damaged; rebuild it"
    )]
    BadManifest { path: PathBuf, reason: String },
}

/// One damaged member found by [`Bundle::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Member path.
    pub path: String,
    /// What is wrong.
    pub what: String,
}

/// An opened bundle.
pub struct Bundle {
    /// Its path.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The zip archive.
    pub archive: zip::ZipArchive<fs_err::File>,
}

impl Bundle {
    /// Opens `path` and reads its manifest.
    pub fn open(path: &Path) -> Result<Bundle, BundleReadError> {
        let file = fs_err::File::open(path).map_err(|source| BundleReadError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mut archive = zip::ZipArchive::new(file).map_err(|e| BundleReadError::NotAZip {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut text = String::new();
        {
            let mut member =
                archive
                    .by_name(MANIFEST_PATH)
                    .map_err(|_| BundleReadError::NoManifest {
                        path: path.to_path_buf(),
                    })?;
            member
                .read_to_string(&mut text)
                .map_err(|e| BundleReadError::BadManifest {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })?;
        }
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| BundleReadError::BadManifest {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        Ok(Bundle {
            path: path.to_path_buf(),
            manifest,
            archive,
        })
    }

    /// Returns every damaged member: content that does not match the manifest, members the
    /// manifest lists that are missing, and members it does not list.
    pub fn verify(&mut self) -> Vec<Damage> {
        let mut damage = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..self.archive.len() {
            let Ok(mut member) = self.archive.by_index(i) else {
                damage.push(Damage {
                    path: format!("#{i}"),
                    what: "unreadable entry".into(),
                });
                continue;
            };
            let name = member.name().map(|n| n.to_string()).unwrap_or_default();
            if member.is_dir() || name == MANIFEST_PATH {
                continue;
            }
            seen.insert(name.clone());
            let Some(expected) = self.manifest.members.get(&name) else {
                damage.push(Damage {
                    path: name,
                    what: "not listed in the manifest".into(),
                });
                continue;
            };
            match crate::fsutil::sha256_reader(&mut member) {
                Ok((sha, size)) if sha == expected.sha256 && size == expected.size => {}
                Ok((sha, size)) => damage.push(Damage {
                    path: name,
                    what: format!("content differs (sha256 {sha}, {size} bytes; the manifest says {}, {} bytes)", expected.sha256, expected.size),
                }),
                Err(err) => damage.push(Damage { path: name, what: format!("unreadable: {err}") }),
            }
        }
        for name in self.manifest.members.keys() {
            if !seen.contains(name) {
                damage.push(Damage {
                    path: name.clone(),
                    what: "missing from the archive".into(),
                });
            }
        }
        damage
    }
}
