//! Read a built bundle: open the zip behind the shebang, load its manifest, open the site store
//! (`_pybundle/site.data` and `site.index`, see `layout::store`), and check files against the
//! manifest's hashes by their logical paths (`pkg/mod.py`, `pkg/mod.pyc` for the bytecode
//! attached to `pkg/mod.py`, `extract/<key>/<path>`). Used by `info`, `verify` and `extract`;
//! damage is reported as a [`BundleReadError`] that names what is wrong instead of a deep zip
//! error.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::layout::store::{DATA_MEMBER, INDEX_MEMBER, Store, StoreError};
use crate::layout::{MANIFEST_PATH, Manifest};

/// The site store of an opened bundle, read from the bundle file.
pub type SiteStore = Store<fs_err::File>;

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
    /// The file's size: no member can declare more (a reader that sizes a buffer from a
    /// declared size checks it against this first, see [`read_bounded`]).
    pub len: u64,
}

/// Reads a whole member that declares `declared` bytes, in a file of `len` bytes: the buffer
/// never starts larger than the file (a damaged Zip64 extra field can declare 2^62 bytes) and
/// reading stops one byte past the declared size; a member whose content is not exactly its
/// declared size is an `InvalidData` error naming it.
pub fn read_bounded(
    member: &mut impl Read,
    name: &str,
    declared: u64,
    len: u64,
) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(usize::try_from(declared.min(len)).unwrap_or(0));
    member
        .take(declared.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 != declared {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "`{name}` holds {} bytes, its directory says {declared}",
                if bytes.len() as u64 > declared {
                    "more".to_string()
                } else {
                    bytes.len().to_string()
                }
            ),
        ));
    }
    Ok(bytes)
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
        let len = fs_err::metadata(path).map_or(u64::MAX, |m| m.len());
        let text;
        {
            let mut member = archive.by_name(MANIFEST_PATH).map_err(|_| {
                if ends_with_end_record(path) {
                    BundleReadError::NoManifest {
                        path: path.to_path_buf(),
                    }
                } else {
                    // A truncated bundle: a reader that searches backwards for an end
                    // record can land on the one of an inner archive (`extract/*.zip`).
                    BundleReadError::NotAZip {
                        path: path.to_path_buf(),
                        reason: "the file does not end with a zip end record".into(),
                    }
                }
            })?;
            let size = member.size();
            let bytes = read_bounded(&mut member, MANIFEST_PATH, size, len).map_err(|e| {
                BundleReadError::BadManifest {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                }
            })?;
            text = String::from_utf8(bytes).map_err(|e| BundleReadError::BadManifest {
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
            len,
        })
    }

    /// Opens the inner archive of the extracted distribution `key` (`extract/<key>.zip`, stored
    /// in the bundle; its members are the entry's files). `Ok(None)` when there is none.
    pub fn inner(&mut self, key: &str) -> std::io::Result<Option<InnerArchive>> {
        let name = format!("{}/{key}.zip", crate::layout::EXTRACT_DIR);
        let mut member = match self.archive.by_name(&name) {
            Ok(member) => member,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(std::io::Error::other(e)),
        };
        let size = member.size();
        let bytes = read_bounded(&mut member, &name, size, self.len)?;
        zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map(Some)
            .map_err(|e| std::io::Error::other(format!("`{name}`: {e}")))
    }

    /// Opens the site store: `Ok(None)` when the bundle has none (an older layout), an error
    /// naming what is wrong when it cannot be read.
    pub fn store(&mut self) -> Result<Option<SiteStore>, String> {
        let index = match self.archive.by_name(INDEX_MEMBER) {
            Ok(mut member) => {
                let size = member.size();
                read_bounded(&mut member, INDEX_MEMBER, size, self.len)
                    .map_err(|e| e.to_string())?
            }
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(format!("`{INDEX_MEMBER}`: {e}")),
        };
        let (base, len) = {
            let member = self
                .archive
                .by_name(DATA_MEMBER)
                .map_err(|e| format!("`{DATA_MEMBER}`: {e}"))?;
            if member.compression() != zip::CompressionMethod::Stored {
                return Err(format!("`{DATA_MEMBER}` is not a stored member"));
            }
            let base = member
                .data_start()
                .ok_or_else(|| format!("`{DATA_MEMBER}`: no data offset"))?;
            (base, member.size())
        };
        if base.saturating_add(len) > self.len {
            return Err(format!(
                "`{DATA_MEMBER}` declares {len} bytes at {base}, past the end of the file"
            ));
        }
        let file = fs_err::File::open(&self.path).map_err(|e| e.to_string())?;
        Store::open(index, file, base, len)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    /// Returns every damaged member: content that does not match the manifest, members the
    /// manifest lists that are missing, and members it does not list. The files of the site
    /// store are checked by their logical paths (`pkg/mod.py`, and `pkg/mod.pyc` for its
    /// bytecode), the members of the inner archives `extract/<key>.zip` as
    /// `extract/<key>/<path>`.
    pub fn verify(&mut self) -> Vec<Damage> {
        let mut damage = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        seen.insert(DATA_MEMBER.to_string());
        seen.insert(INDEX_MEMBER.to_string());
        match self.store() {
            Ok(Some(mut store)) => check_store(&mut store, &self.manifest, &mut seen, &mut damage),
            Ok(None) => {}
            Err(what) => damage.push(Damage {
                path: INDEX_MEMBER.to_string(),
                what: format!("unreadable site store: {what}"),
            }),
        }
        let inner_keys: Vec<String> = self
            .archive
            .file_names()
            .filter_map(|n| {
                n.ok()?
                    .strip_prefix(&format!("{}/", crate::layout::EXTRACT_DIR))?
                    .strip_suffix(".zip")
                    .filter(|k| !k.contains('/'))
                    .map(str::to_string)
            })
            .collect();
        for key in inner_keys {
            seen.insert(format!("{}/{key}.zip", crate::layout::EXTRACT_DIR));
            match self.inner(&key) {
                Ok(Some(mut inner)) => {
                    let prefix = format!("{}/{key}/", crate::layout::EXTRACT_DIR);
                    check_members(&mut inner, &prefix, &self.manifest, &mut seen, &mut damage);
                }
                Ok(None) => {}
                Err(err) => damage.push(Damage {
                    path: format!("{}/{key}.zip", crate::layout::EXTRACT_DIR),
                    what: format!("unreadable: {err}"),
                }),
            }
        }
        for i in 0..self.archive.len() {
            let Ok(mut member) = self.archive.by_index(i) else {
                damage.push(Damage {
                    path: format!("#{i}"),
                    what: "unreadable entry".into(),
                });
                continue;
            };
            let name = member.name().map(|n| n.to_string()).unwrap_or_default();
            // The zip crate reads a stored member by its size; the run time reads its stored
            // size, as zipimport does: the two must agree.
            if member.compression() == zip::CompressionMethod::Stored
                && member.compressed_size() != member.size()
            {
                damage.push(Damage {
                    path: name.clone(),
                    what: format!(
                        "stored in {} bytes, its size is {}",
                        member.compressed_size(),
                        member.size()
                    ),
                });
            }
            if member.is_dir() || name == MANIFEST_PATH || seen.contains(&name) {
                continue;
            }
            seen.insert(name.clone());
            declared_size(member.size(), &name, &self.manifest, &mut damage);
            check_member(&mut member, name, &self.manifest, &mut damage);
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

/// Whether the last 22 bytes of `path` are a zip end-of-central-directory record without a
/// comment (pybundle writes no comment).
fn ends_with_end_record(path: &Path) -> bool {
    use std::io::{Seek, SeekFrom};
    let mut tail = [0u8; 22];
    std::fs::File::open(path)
        .and_then(|mut f| {
            f.seek(SeekFrom::End(-22))?;
            f.read_exact(&mut tail)
        })
        .is_ok_and(|()| tail[..4] == *b"PK\x05\x06")
}

/// An extracted distribution's inner archive, read into memory.
pub type InnerArchive = zip::ZipArchive<std::io::Cursor<Vec<u8>>>;

/// Checks the size the zip directory declares for the member `name` against its manifest entry,
/// adding to `damage`. The zip crate inflates a deflated member whatever size its directory
/// entry says; the run time inflates exactly that many bytes (`_importer.inflate`), so a flipped
/// size that the content check alone would pass makes every start refuse the bundle.
fn declared_size(declared: u64, name: &str, manifest: &Manifest, damage: &mut Vec<Damage>) {
    if let Some(expected) = manifest.members.get(name)
        && declared != expected.size
    {
        damage.push(Damage {
            path: name.to_string(),
            what: format!(
                "the zip directory says {declared} bytes, the manifest {}",
                expected.size
            ),
        });
    }
}

/// Checks one member's content against the manifest entry `name`, adding to `damage`.
fn check_member(
    member: &mut impl std::io::Read,
    name: String,
    manifest: &Manifest,
    damage: &mut Vec<Damage>,
) {
    let Some(expected) = manifest.members.get(&name) else {
        damage.push(Damage {
            path: name,
            what: "not listed in the manifest".into(),
        });
        return;
    };
    match crate::fsutil::sha256_reader(member) {
        Ok((sha, size)) if sha == expected.sha256 && size == expected.size => {}
        Ok((sha, size)) => damage.push(Damage {
            path: name,
            what: format!(
                "content differs (sha256 {sha}, {size} bytes; the manifest says {}, {} bytes)",
                expected.sha256, expected.size
            ),
        }),
        Err(err) => damage.push(Damage {
            path: name,
            what: format!("unreadable: {err}"),
        }),
    }
}

/// Checks every file of `archive` as `prefix + name` against `manifest` (see [`Bundle::verify`]).
fn check_members(
    archive: &mut InnerArchive,
    prefix: &str,
    manifest: &Manifest,
    seen: &mut std::collections::BTreeSet<String>,
    damage: &mut Vec<Damage>,
) {
    for i in 0..archive.len() {
        let Ok(mut member) = archive.by_index(i) else {
            damage.push(Damage {
                path: format!("{prefix}#{i}"),
                what: "unreadable entry".into(),
            });
            continue;
        };
        if member.is_dir() {
            continue;
        }
        let name = format!("{prefix}{}", member.name().unwrap_or_default());
        seen.insert(name.clone());
        declared_size(member.size(), &name, manifest, damage);
        check_member(&mut member, name, manifest, damage);
    }
}

/// Checks every file of the site store (content, then attached bytecode as `X.pyc`) against
/// `manifest` (see [`Bundle::verify`]).
fn check_store(
    store: &mut SiteStore,
    manifest: &Manifest,
    seen: &mut std::collections::BTreeSet<String>,
    damage: &mut Vec<Damage>,
) {
    if let Err(err) = store.check_slots() {
        damage.push(Damage {
            path: INDEX_MEMBER.to_string(),
            what: format!("inconsistent: {err}"),
        });
    }
    let entries = match store.entries() {
        Ok(entries) => entries,
        Err(err) => {
            damage.push(Damage {
                path: INDEX_MEMBER.to_string(),
                what: format!("unreadable: {err}"),
            });
            return;
        }
    };
    for entry in entries.into_iter().filter(|e| !e.is_dir) {
        let mut check = |name: String, read: Result<Option<Vec<u8>>, StoreError>| {
            seen.insert(name.clone());
            match read {
                Ok(Some(bytes)) => check_member(&mut bytes.as_slice(), name, manifest, damage),
                Ok(None) => {}
                Err(StoreError::Corrupt { what, .. }) => damage.push(Damage { path: name, what }),
                Err(err) => damage.push(Damage {
                    path: name,
                    what: format!("unreadable: {err}"),
                }),
            }
        };
        check(entry.path.clone(), store.read(&entry).map(Some));
        if entry.has_pyc() {
            let stem = entry.path.strip_suffix(".py").unwrap_or(&entry.path);
            check(format!("{stem}.pyc"), store.read_pyc(&entry));
        }
    }
}
