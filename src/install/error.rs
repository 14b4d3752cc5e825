//! The install stage's errors: one enum for installing wheels and scanning site-packages trees.
//! Messages start lowercase and name the wheel (file name) or directory and the member in
//! backticks; the three advices that several errors share are written once, below, and rendered
//! as `hint:` lines by `ui`.

use std::io;
use std::path::PathBuf;

use super::filename::FilenameError;

/// The advice for a wheel whose bytes are not what its archive or `RECORD` promise.
const DAMAGED: &str = "hint: the wheel is damaged or was tampered with: delete it (from the wheelhouse, or with `pip cache purge`) and build again";
/// The advice for a wheel whose `RECORD` cannot vouch for its files.
const UNVERIFIABLE: &str = "hint: a wheel must carry a RECORD with a sha256 (or sha384/sha512) for every file; rebuild the wheel with a current build backend";
/// The advice for a wheel that would write outside its directory.
const UNSAFE: &str = "hint: wheels must not write outside site-packages; this one is malformed or malicious: do not install it";

/// Everything that can go wrong installing a wheel or scanning a site-packages tree. Messages
/// start lowercase and name the wheel (file name) or directory and the member in backticks.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The wheel's file name does not follow PEP 427.
    #[error(transparent)]
    BadFilename(#[from] FilenameError),
    /// The file is not a readable zip archive.
    #[error("`{wheel}` is not a zip archive: {reason}\n{hint}", hint = DAMAGED)]
    NotAZip {
        /// The wheel file name.
        wheel: String,
        /// The zip reader's complaint.
        reason: String,
    },
    /// The archive is damaged in a way the zip reader detects (bad CRC, truncated data…).
    #[error("`{wheel}` is corrupt: {reason}\n{hint}", hint = DAMAGED)]
    Corrupt {
        /// The wheel file name.
        wheel: String,
        /// What failed.
        reason: String,
    },
    /// Not exactly one top-level `*.dist-info` directory.
    #[error("`{wheel}` must have exactly one top-level `*.dist-info` directory, it has {found}")]
    NoDistInfo {
        /// The wheel file name.
        wheel: String,
        /// `none` or the list of directories found.
        found: String,
    },
    /// `WHEEL`, `METADATA`, `entry_points.txt` or a `.data` path is missing or invalid.
    #[error("`{wheel}` has an invalid `{path}`: {reason}")]
    BadWheelFile {
        /// The wheel file name (or the `.dist-info` directory of a scanned tree).
        wheel: String,
        /// The offending member.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The wheel has no `RECORD`, so it cannot be verified.
    #[error("`{wheel}` has no `{path}`, so its contents cannot be verified\n{hint}", hint = UNVERIFIABLE)]
    MissingRecord {
        /// The wheel file name.
        wheel: String,
        /// The expected `RECORD` path.
        path: String,
    },
    /// `RECORD` is not valid CSV or has a malformed row.
    #[error("`{wheel}` has an invalid `{path}` (line {line}): {reason}")]
    BadRecord {
        /// The wheel file name.
        wheel: String,
        /// The `RECORD` path.
        path: String,
        /// 1-based line of the bad row.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// `RECORD` lists a file without a hash.
    #[error("`{wheel}` cannot be verified: RECORD lists `{path}` without a hash\n{hint}", hint = UNVERIFIABLE)]
    MissingHash {
        /// The wheel file name.
        wheel: String,
        /// The member.
        path: String,
    },
    /// `RECORD` uses a weak or unknown hash algorithm.
    #[error("`{wheel}` cannot be verified: RECORD hashes `{path}` with `{algorithm}`, only sha256, sha384 and sha512 are accepted\n{hint}", hint = UNVERIFIABLE)]
    UnsupportedHash {
        /// The wheel file name.
        wheel: String,
        /// The member.
        path: String,
        /// The algorithm named in `RECORD`.
        algorithm: String,
    },
    /// A member's content does not match its `RECORD` hash.
    #[error("`{wheel}` is corrupt: RECORD says `{path}` has {algorithm} {expected}, the archive has {actual}\n{hint}", hint = DAMAGED)]
    HashMismatch {
        /// The wheel file name.
        wheel: String,
        /// The member.
        path: String,
        /// The algorithm.
        algorithm: String,
        /// The digest in `RECORD`.
        expected: String,
        /// The digest of the archive's bytes.
        actual: String,
    },
    /// A member's size does not match its `RECORD` size.
    #[error("`{wheel}` is corrupt: RECORD says `{path}` has {expected} bytes, the archive has {actual}\n{hint}", hint = DAMAGED)]
    SizeMismatch {
        /// The wheel file name.
        wheel: String,
        /// The member.
        path: String,
        /// The size in `RECORD`.
        expected: u64,
        /// The size of the archive's bytes.
        actual: u64,
    },
    /// An archive member that `RECORD` does not list.
    #[error("`{wheel}` is corrupt: `{path}` is in the archive but not in RECORD\n{hint}", hint = DAMAGED)]
    NotInRecord {
        /// The wheel file name.
        wheel: String,
        /// The member.
        path: String,
    },
    /// A `RECORD` row whose file is not in the archive.
    #[error("`{wheel}` is corrupt: RECORD lists `{path}`, which is not in the archive\n{hint}", hint = DAMAGED)]
    MissingFromArchive {
        /// The wheel file name.
        wheel: String,
        /// The path listed in `RECORD`.
        path: String,
    },
    /// A member (or `RECORD` row) whose path is absolute, has `..`, a drive or a backslash.
    #[error("`{wheel}` has a member `{path}` that would be written outside the install directory\n{hint}", hint = UNSAFE)]
    EscapingPath {
        /// The wheel file name.
        wheel: String,
        /// The path as written in the archive.
        path: String,
    },
    /// A member that is a symbolic link.
    #[error("`{wheel}` has a member `{path}` that is a symbolic link, which wheels cannot contain\n{hint}", hint = UNSAFE)]
    Symlink {
        /// The wheel file name.
        wheel: String,
        /// The member.
        path: String,
    },
    /// A symbolic link in a scanned tree that points outside the tree.
    #[error(
        "`{dir}` has a symbolic link `{path}` pointing outside it (to `{target}`)\nhint: replace the link by a copy of what it points to, or remove it"
    )]
    SymlinkOutside {
        /// The scanned directory.
        dir: PathBuf,
        /// The link, relative to `dir`.
        path: String,
        /// Where it resolves to.
        target: PathBuf,
    },
    /// Two members would be installed at the same path.
    #[error("`{wheel}` installs `{path}` twice (from `{first}` and `{second}`)")]
    Collision {
        /// The wheel file name.
        wheel: String,
        /// The destination path.
        path: String,
        /// The first member.
        first: String,
        /// The second member.
        second: String,
    },
    /// The destination exists and is not an empty directory.
    #[error("cannot install into `{}`: it is not an empty directory", dest.display())]
    DestNotEmpty {
        /// The destination.
        dest: PathBuf,
    },
    /// Reading or writing the filesystem failed.
    #[error("{context}: {error}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The underlying error.
        error: io::Error,
    },
}

/// Shorthand for an [`InstallError::Io`].
pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> InstallError {
    let context = context.into();
    move |error| InstallError::Io { context, error }
}
