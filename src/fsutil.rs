//! Small filesystem helpers shared by the build stages: normalising untrusted archive paths so
//! they can never leave the directory they are extracted into, and hashing files the way wheel
//! `RECORD` files and the bundle manifest expect (SHA-256, hex or urlsafe base64 without padding).

use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Returns true if and only if `path` is a regular file with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs_err::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Normalises a `/`-separated archive path into a clean relative path, or returns `None` when the
/// path is unsafe or meaningless.
///
/// Rejected: the empty path (or one made only of `.` and `/`), absolute paths (`/x`), Windows
/// drive paths (`C:`, `C:x`, `C:/x`), any path containing a backslash or a NUL byte, and any path
/// with a `..` component (even one that would stay inside, like `a/../b`: archives have no reason
/// to contain one). `.` components and repeated or trailing slashes are dropped, so
/// `./pkg//mod.py` becomes `pkg/mod.py`.
pub fn enclosed_relative(path: &str) -> Option<String> {
    if path.is_empty() || path.starts_with('/') || path.contains('\\') || path.contains('\0') {
        return None;
    }
    let bytes = path.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => return None,
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

/// Streams the file at `path` through SHA-256 and returns its lowercase hex digest and its size
/// in bytes.
pub fn sha256_file(path: &Path) -> io::Result<(String, u64)> {
    sha256_reader(&mut fs_err::File::open(path)?)
}

/// Streams everything `reader` yields through SHA-256 and returns its lowercase hex digest and
/// its size in bytes.
pub fn sha256_reader(reader: &mut impl Read) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex(&hasher.finalize()), size))
}

/// Returns the `RECORD` form of the SHA-256 of `bytes`: `sha256=` followed by the urlsafe base64
/// encoding of the digest without `=` padding (PEP 376 / PEP 427).
pub fn record_hash(bytes: &[u8]) -> String {
    format!("sha256={}", b64_urlsafe_nopad(&Sha256::digest(bytes)))
}

/// Returns the lowercase hex encoding of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The urlsafe base64 alphabet (RFC 4648 §5).
const B64_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Urlsafe base64 without padding, as used by wheel `RECORD` hashes. Also used by the `RECORD`
/// verifier for the SHA-384 and SHA-512 digests.
pub(crate) fn b64_urlsafe_nopad(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = u32::from(chunk[0]);
        let b1 = chunk.get(1).copied().map_or(0, u32::from);
        let b2 = chunk.get(2).copied().map_or(0, u32::from);
        let n = (b0 << 16) | (b1 << 8) | b2;
        let symbols = chunk.len() + 1;
        for i in 0..symbols {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(B64_ALPHABET[index as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enclosed_accepts_and_cleans_relative_paths() {
        assert_eq!(
            enclosed_relative("pkg/mod.py").as_deref(),
            Some("pkg/mod.py")
        );
        assert_eq!(
            enclosed_relative("./pkg//mod.py").as_deref(),
            Some("pkg/mod.py")
        );
        assert_eq!(enclosed_relative("pkg/./sub/").as_deref(), Some("pkg/sub"));
        assert_eq!(
            enclosed_relative("a.b-1.0.dist-info/RECORD").as_deref(),
            Some("a.b-1.0.dist-info/RECORD")
        );
        assert_eq!(enclosed_relative("...").as_deref(), Some("..."));
        assert_eq!(enclosed_relative("a..b/c").as_deref(), Some("a..b/c"));
    }

    #[test]
    fn enclosed_rejects_unsafe_paths() {
        for bad in [
            "", ".", "./", "//", "/abs", "/", "../x", "a/../b", "a/..", "..", "C:", "C:x", "c:/x",
            "C:\\x", "a\\b", "a\0b",
        ] {
            assert_eq!(enclosed_relative(bad), None, "{bad:?} should be rejected");
        }
    }

    #[test]
    fn record_hash_matches_known_value() {
        // python3 -c 'import hashlib,base64;print(base64.urlsafe_b64encode(hashlib.sha256(b"").digest()).rstrip(b"="))'
        assert_eq!(
            record_hash(b""),
            "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
        assert_eq!(
            record_hash(b"hello\n"),
            "sha256=WJG1tSLV3whtD_CxEPvZ0hu0_HFjrzTQgoai6Eb2vgM"
        );
    }

    #[test]
    fn b64_handles_all_remainders() {
        assert_eq!(b64_urlsafe_nopad(b""), "");
        assert_eq!(b64_urlsafe_nopad(b"f"), "Zg");
        assert_eq!(b64_urlsafe_nopad(b"fo"), "Zm8");
        assert_eq!(b64_urlsafe_nopad(b"foo"), "Zm9v");
        assert_eq!(b64_urlsafe_nopad(b"foob"), "Zm9vYg");
        assert_eq!(b64_urlsafe_nopad(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn sha256_file_streams() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        fs_err::write(&path, b"hello\n").expect("write");
        let (hex, size) = sha256_file(&path).expect("hash");
        assert_eq!(
            hex,
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert_eq!(size, 6);
        assert!(sha256_file(&dir.path().join("missing")).is_err());
    }
}
