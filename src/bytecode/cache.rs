//! The build cache of compiled bytecode: one file per compiled source, found by a sha256 over
//! everything that determines the `.pyc` bytes, so a rebuild (or a build of another application
//! that shares packages) compiles only sources it has not compiled before.
//!
//! * **Key** ([`Identity::key`]): the compiling interpreter's bytecode identity (implementation,
//!   version, `sys.version`, cache tag, `MAGIC_NUMBER`), the compile settings (optimisation level
//!   0, `unchecked-hash`, the compile script itself), the `dfile` recorded as `co_filename`, and
//!   the source bytes. The same key always stands for the same `.pyc` bytes, so a build gives the
//!   same bundle with the cache, without it, or with an empty one.
//! * **Layout**: `<base>/bytecode/v1/<2 hex>/<64 hex>`, `<base>` being `PYBUNDLE_CACHE_DIR`, else
//!   `${XDG_CACHE_HOME:-~/.cache}/pybundle` (the run-time extraction cache's default root, whose
//!   `v1/` it does not touch). `<base>`, `bytecode/` and `v1/` are created 0700 (whatever the
//!   umask: a bundle refuses a run-time root that group or others can write).
//! * **Entry**: `pbc1`, a kind byte (`P`: the `.pyc`; `F`: the source does not compile, the payload
//!   is the reason), the sha256 of the payload, then the payload. An entry that is short, has a
//!   wrong checksum, or a `.pyc` without the interpreter's magic number is a miss: the source is
//!   compiled again and the entry overwritten. Entries are written to a temporary file in the
//!   same directory and renamed into place, so concurrent builds see whole entries or none.
//! * **Trust**: the cached bytes are shipped as code. A cache directory owned by another user or
//!   writable by group or others is ignored with a warning (the build compiles everything). A
//!   directory that cannot be created or written is not an error either: one warning, and the
//!   build goes on without storing.
//! * **Opt-out**: `PYBUNDLE_NO_BUILD_CACHE=1`.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::fsutil::hex;
use crate::python::Interpreter;

/// Overrides the base directory of the build cache.
pub const CACHE_DIR_ENV: &str = "PYBUNDLE_CACHE_DIR";
/// `1` turns the build cache off.
pub const NO_CACHE_ENV: &str = "PYBUNDLE_NO_BUILD_CACHE";
/// Bump when the key or the entry format changes.
const LAYOUT: &str = "v1";
/// The first bytes of every entry.
const ENTRY_TAG: &[u8; 4] = b"pbc1";
const KIND_PYC: u8 = b'P';
const KIND_FAILED: u8 = b'F';
const HEADER_LEN: usize = ENTRY_TAG.len() + 1 + 32;
/// Where an entry's payload (the `.pyc` of a [`Cached::Pyc`]) starts in its file.
pub const PAYLOAD_OFFSET: u64 = HEADER_LEN as u64;
/// A `.pyc` header: magic, flags, and 8 bytes of source hash (unchecked-hash).
const PYC_HEADER_LEN: usize = 16;

/// What the cache holds for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cached {
    /// The compiled `.pyc`.
    Pyc(Vec<u8>),
    /// The source does not compile, for this reason.
    Failed(String),
}

/// The part of the key that depends on the compiling interpreter and settings, and the magic
/// number every cached `.pyc` must start with.
#[derive(Debug, Clone)]
pub struct Identity {
    prefix: Vec<u8>,
    magic: Vec<u8>,
}

impl Identity {
    /// Returns the identity of `compiler` compiling with `script`, or `None` when its magic
    /// number is not known (the cache is then not used).
    pub fn new(compiler: &Interpreter, script: &str) -> Option<Identity> {
        let magic = decode_hex(&compiler.magic).filter(|m| m.len() == 4)?;
        let (major, minor, micro) = compiler.version;
        let mut prefix = Vec::new();
        for field in [
            format!("pybundle-bytecode-{LAYOUT}"),
            compiler.implementation.clone(),
            format!("{major}.{minor}.{micro}"),
            compiler.sys_version.clone(),
            compiler.cache_tag.clone(),
            compiler.magic.clone(),
            "optimize=0".to_string(),
            "unchecked-hash".to_string(),
            hex(&Sha256::digest(script.as_bytes())),
        ] {
            push_field(&mut prefix, field.as_bytes());
        }
        Some(Identity { prefix, magic })
    }

    /// Returns the key (64 hex digits) of the `.pyc` compiled from `source` with `dfile` as the
    /// file name recorded in its code objects.
    pub fn key(&self, dfile: &str, source: &[u8]) -> String {
        let mut hasher = Sha256::new();
        hasher.update(&self.prefix);
        let mut tail = Vec::with_capacity(dfile.len() + 8);
        push_field(&mut tail, dfile.as_bytes());
        hasher.update(&tail);
        hasher.update((source.len() as u64).to_le_bytes());
        hasher.update(source);
        hex(&hasher.finalize())
    }

    /// Returns the magic number every `.pyc` of this interpreter starts with.
    pub fn magic(&self) -> &[u8] {
        &self.magic
    }
}

/// Appends `bytes` with its length in front, so that no two field lists hash alike.
fn push_field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Returns the bytes stored for `cached`.
pub fn encode(cached: &Cached) -> Vec<u8> {
    let (kind, payload) = match cached {
        Cached::Pyc(bytes) => (KIND_PYC, bytes.as_slice()),
        Cached::Failed(reason) => (KIND_FAILED, reason.as_bytes()),
    };
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(ENTRY_TAG);
    out.push(kind);
    out.extend_from_slice(&Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

/// Returns what `entry` holds, or `None` when it is damaged or not an entry for `magic`.
pub fn decode(entry: &[u8], magic: &[u8]) -> Option<Cached> {
    let rest = entry.strip_prefix(ENTRY_TAG.as_slice())?;
    let (&kind, rest) = rest.split_first()?;
    let (digest, payload) = rest.split_at_checked(32)?;
    if Sha256::digest(payload).as_slice() != digest {
        return None;
    }
    match kind {
        KIND_PYC if looks_like_pyc(payload, magic) => Some(Cached::Pyc(payload.to_vec())),
        KIND_FAILED => String::from_utf8(payload.to_vec()).ok().map(Cached::Failed),
        _ => None,
    }
}

/// Returns true if and only if `bytes` is long enough for a `.pyc` and starts with `magic`.
pub fn looks_like_pyc(bytes: &[u8], magic: &[u8]) -> bool {
    bytes.len() >= PYC_HEADER_LEN && bytes.starts_with(magic)
}

/// An open bytecode cache directory.
#[derive(Debug)]
pub struct PycCache {
    dir: PathBuf,
    /// The first error of a write, if any (later writes are not tried).
    write_error: Mutex<Option<String>>,
    /// Details for `-v`: damaged entries found (and compiled again).
    notes: Mutex<Vec<String>>,
}

/// The build cache the environment selects, and what to tell the user about the choice.
#[derive(Debug, Default)]
pub struct Selected {
    /// The open cache; `None` when it is off, has no base directory or cannot be used.
    pub cache: Option<PycCache>,
    /// A detail for `-v` (the cache is turned off).
    pub note: Option<String>,
    /// A warning (the cache cannot be used).
    pub warning: Option<String>,
}

/// Why the cache directory is not used.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// It could not be created or read.
    #[error("cannot use the bytecode cache `{dir}`: {source}; compiling without it")]
    Unusable {
        /// The directory.
        dir: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Someone else could write into it.
    #[error(
        "ignoring the bytecode cache `{dir}`: {why}, and its files are shipped as code; compiling without it\nhint: `chown -R $(id -u) {dir} && chmod 700 {dir}`, or remove it"
    )]
    Untrusted {
        /// The directory.
        dir: String,
        /// What is wrong with it.
        why: String,
    },
}

impl PycCache {
    /// Opens the cache the environment asks for: none when it is turned off
    /// (`PYBUNDLE_NO_BUILD_CACHE=1`, with a note), has no base directory (no HOME), or cannot be
    /// used (with a warning). Prints nothing.
    pub fn from_env() -> Selected {
        if std::env::var_os(NO_CACHE_ENV).is_some_and(|v| !v.is_empty() && v != "0") {
            return Selected {
                note: Some(format!("bytecode cache: off ({NO_CACHE_ENV} is set)")),
                ..Selected::default()
            };
        }
        let Some(base) = std::env::var_os(CACHE_DIR_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(crate::dirs::xdg_root)
        else {
            return Selected::default();
        };
        match PycCache::open(&base) {
            Ok(cache) => Selected {
                cache: Some(cache),
                ..Selected::default()
            },
            Err(err) => Selected {
                warning: Some(err.to_string()),
                ..Selected::default()
            },
        }
    }

    /// Opens (creating it when missing) the cache under `base`: `<base>/bytecode/v1/`.
    pub fn open(base: &Path) -> Result<PycCache, OpenError> {
        let unusable = |dir: &Path, source| OpenError::Unusable {
            dir: dir.display().to_string(),
            source,
        };
        // Like the run time's own root (`~/.cache/pybundle` by default is both): parents 0755,
        // the base 0700, whatever the umask, so that a bundle accepts a root a build created.
        if !base.is_dir() {
            if let Some(parent) = base.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(parent)
                    .map_err(|e| unusable(parent, e))?;
            }
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(base)
                .map_err(|e| unusable(base, e))?;
        }
        let uid = current_uid().ok_or_else(|| {
            unusable(
                base,
                std::io::Error::other("cannot tell which user runs this build"),
            )
        })?;
        let top = base.join("bytecode");
        let dir = top.join(LAYOUT);
        for d in [&top, &dir] {
            match std::fs::DirBuilder::new().mode(0o700).create(d) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(unusable(d, e)),
            }
            let meta = std::fs::metadata(d).map_err(|e| unusable(d, e))?;
            if let Some(why) = untrusted(&meta, uid) {
                return Err(OpenError::Untrusted {
                    dir: d.display().to_string(),
                    why,
                });
            }
        }
        Ok(PycCache {
            dir,
            write_error: Mutex::new(None),
            notes: Mutex::new(Vec::new()),
        })
    }

    /// Returns the directory holding the entries.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns the file of the entry `key`.
    pub fn entry_path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(key)
    }

    /// Returns the entry of `key` when it is present and sound for `magic`.
    pub fn get(&self, key: &str, magic: &[u8]) -> Option<Cached> {
        let bytes = std::fs::read(self.entry_path(key)).ok()?;
        let cached = decode(&bytes, magic);
        if cached.is_none()
            && let Ok(mut notes) = self.notes.lock()
        {
            notes.push(format!(
                "bytecode cache: entry {key} is damaged; compiling again"
            ));
        }
        cached
    }

    /// Stores `cached` under `key` (atomically: a temporary file renamed into place). A failure
    /// is remembered (see [`PycCache::write_error`]) and stops later writes.
    pub fn put(&self, key: &str, cached: &Cached) {
        if self.write_error.lock().is_ok_and(|e| e.is_some()) {
            return;
        }
        if let Err(err) = self.try_put(key, cached)
            && let Ok(mut first) = self.write_error.lock()
        {
            first.get_or_insert(err.to_string());
        }
    }

    fn try_put(&self, key: &str, cached: &Cached) -> std::io::Result<()> {
        use std::io::Write;
        let path = self.entry_path(key);
        let shard = path.parent().expect("entries are in a shard directory");
        match std::fs::DirBuilder::new().mode(0o700).create(shard) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let mut temp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(shard)?;
        temp.write_all(&encode(cached))?;
        temp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Returns the details for `-v` gathered so far (damaged entries).
    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().map(|n| n.clone()).unwrap_or_default()
    }

    /// Returns the first error of a write, if one failed.
    pub fn write_error(&self) -> Option<String> {
        self.write_error.lock().ok().and_then(|e| e.clone())
    }
}

/// Returns why a directory with `meta` must not be trusted by user `uid`, if it must not.
fn untrusted(meta: &std::fs::Metadata, uid: u32) -> Option<String> {
    if !meta.is_dir() {
        return Some("it is not a directory".to_string());
    }
    if meta.uid() != uid {
        return Some(format!(
            "it belongs to user {} (this build runs as user {uid})",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Some(format!(
            "it has mode {:04o} (writable by group or others)",
            meta.mode() & 0o7777
        ));
    }
    None
}

/// Returns the effective user id of this process: the owner of a new file, else of `/proc/self`.
fn current_uid() -> Option<u32> {
    tempfile::tempfile()
        .and_then(|f| f.metadata())
        .map(|m| m.uid())
        .ok()
        .or_else(|| std::fs::metadata("/proc/self").ok().map(|m| m.uid()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interp() -> Interpreter {
        serde_json::from_str(
            r#"{"executable":"/usr/bin/python3.11","implementation":"cpython","version":[3,11,7],
            "sys_version":"3.11.7 (main, Jan 1 2024, 00:00:00) [GCC 12.2.0]",
            "cache_tag":"cpython-311","ext_suffix":".cpython-311-x86_64-linux-gnu.so",
            "platform":"linux-x86_64","sys_platform":"linux","machine":"x86_64",
            "multiarch":"x86_64-linux-gnu","magic":"a70d0d0a","pip":true}"#,
        )
        .expect("a probe answer parses")
    }

    fn key_with(change: impl FnOnce(&mut Interpreter), dfile: &str, source: &[u8]) -> String {
        let mut i = interp();
        change(&mut i);
        Identity::new(&i, "script")
            .expect("a known magic number")
            .key(dfile, source)
    }

    #[test]
    fn key_is_stable_and_hex() {
        let a = key_with(|_| {}, "app.pyz/m.py", b"x = 1\n");
        assert_eq!(a, key_with(|_| {}, "app.pyz/m.py", b"x = 1\n"));
        assert_eq!(a.len(), 64);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn key_covers_everything_that_shapes_the_pyc() {
        let base = key_with(|_| {}, "app.pyz/m.py", b"x = 1\n");
        let changed = [
            key_with(|_| {}, "other.pyz/m.py", b"x = 1\n"),
            key_with(|_| {}, "app.pyz/m.py", b"x = 2\n"),
            key_with(|i| i.magic = "a70d0d0b".into(), "app.pyz/m.py", b"x = 1\n"),
            key_with(
                |i| i.cache_tag = "cpython-312".into(),
                "app.pyz/m.py",
                b"x = 1\n",
            ),
            key_with(|i| i.version.2 = 8, "app.pyz/m.py", b"x = 1\n"),
            key_with(|i| i.sys_version.push('+'), "app.pyz/m.py", b"x = 1\n"),
            key_with(
                |i| i.implementation = "pypy".into(),
                "app.pyz/m.py",
                b"x = 1\n",
            ),
        ];
        for (n, key) in changed.iter().enumerate() {
            assert_ne!(&base, key, "change {n} kept the key");
        }
        let other_script = Identity::new(&interp(), "script 2")
            .unwrap()
            .key("app.pyz/m.py", b"x = 1\n");
        assert_ne!(base, other_script);
        // The interpreter's path does not matter (venvs of one interpreter share entries).
        assert_eq!(
            base,
            key_with(
                |i| i.executable = "/venv/bin/python".into(),
                "app.pyz/m.py",
                b"x = 1\n"
            )
        );
        // Field boundaries are not ambiguous.
        assert_ne!(key_with(|_| {}, "ab", b"c"), key_with(|_| {}, "a", b"bc"));
    }

    #[test]
    fn unknown_magic_means_no_cache() {
        let mut i = interp();
        i.magic = String::new();
        assert!(Identity::new(&i, "s").is_none());
        i.magic = "a70d0d".into();
        assert!(Identity::new(&i, "s").is_none());
        i.magic = "zz0d0d0a".into();
        assert!(Identity::new(&i, "s").is_none());
    }

    #[test]
    fn entries_round_trip_and_damage_is_detected() {
        let magic = [0xa7, 0x0d, 0x0d, 0x0a];
        let mut pyc = magic.to_vec();
        pyc.extend_from_slice(&[1, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9, 0xe3, 1, 2, 3]);
        let entry = encode(&Cached::Pyc(pyc.clone()));
        assert_eq!(decode(&entry, &magic), Some(Cached::Pyc(pyc.clone())));
        let failed = Cached::Failed("SyntaxError: invalid syntax".into());
        assert_eq!(decode(&encode(&failed), &magic), Some(failed));
        // Truncated anywhere, a flipped byte, another interpreter's magic, a short .pyc.
        for len in 0..entry.len() {
            assert_eq!(decode(&entry[..len], &magic), None, "truncated to {len}");
        }
        let mut flipped = entry.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(decode(&flipped, &magic), None);
        assert_eq!(decode(&entry, &[0x55, 0x0d, 0x0d, 0x0a]), None);
        assert_eq!(decode(&encode(&Cached::Pyc(magic.to_vec())), &magic), None);
    }

    #[test]
    fn store_and_read_back() {
        let base = tempfile::tempdir().unwrap();
        let cache = PycCache::open(base.path()).unwrap();
        let magic = [0xa7, 0x0d, 0x0d, 0x0a];
        let mut pyc = magic.to_vec();
        pyc.resize(40, 7);
        let key = "ab".repeat(32);
        assert_eq!(cache.get(&key, &magic), None);
        cache.put(&key, &Cached::Pyc(pyc.clone()));
        assert_eq!(cache.write_error(), None);
        assert_eq!(cache.get(&key, &magic), Some(Cached::Pyc(pyc)));
        let path = base.path().join("bytecode/v1/ab").join(&key);
        std::fs::write(&path, b"pbc1P").unwrap();
        assert_eq!(cache.get(&key, &magic), None);
    }

    #[test]
    fn creates_a_private_base() {
        let temp = tempfile::tempdir().unwrap();
        let base = temp.path().join("cache/pybundle");
        let cache = PycCache::open(&base).unwrap();
        for dir in [
            base.clone(),
            base.join("bytecode"),
            cache.dir().to_path_buf(),
        ] {
            let mode = std::fs::metadata(&dir).unwrap().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", dir.display());
        }
        assert_eq!(cache.dir(), base.join("bytecode/v1"));
    }

    #[test]
    fn refuses_a_directory_others_can_write() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        std::fs::create_dir(base.path().join("bytecode")).unwrap();
        std::fs::set_permissions(
            base.path().join("bytecode"),
            std::fs::Permissions::from_mode(0o777),
        )
        .unwrap();
        let err = PycCache::open(base.path()).unwrap_err();
        assert!(matches!(err, OpenError::Untrusted { .. }), "{err}");
        assert!(err.to_string().contains("mode 0777"), "{err}");
    }

    #[test]
    fn refuses_a_directory_of_another_user() {
        let base = tempfile::tempdir().unwrap();
        let top = base.path().join("bytecode");
        std::fs::DirBuilder::new().mode(0o700).create(&top).unwrap();
        // Only root can give a directory away; elsewhere there is nothing to test.
        if std::os::unix::fs::chown(&top, Some(65534), None).is_err() {
            return;
        }
        let err = PycCache::open(base.path()).unwrap_err();
        assert!(err.to_string().contains("belongs to user 65534"), "{err}");
    }

    #[test]
    fn an_unusable_base_is_an_error_not_a_panic() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let err = PycCache::open(&file.path().join("below-a-file")).unwrap_err();
        assert!(matches!(err, OpenError::Unusable { .. }), "{err}");
    }
}
