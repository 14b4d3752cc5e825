//! Wheel `RECORD` files (PEP 376 / PEP 427 "The .dist-info directory"): a CSV file with one
//! `path,algorithm=urlsafe-b64-digest,size` row per file of the distribution.
//!
//! The CSV dialect is Python's `csv` default: comma separated, fields optionally quoted with `"`,
//! a quote inside a quoted field doubled. Hashes are accepted only with `sha256`, `sha384` or
//! `sha512` (the algorithms of `hashlib.algorithms_guaranteed` that are not broken); `md5` and
//! `sha1` are rejected, as PEP 427 requires. This module also holds the streaming hashers used
//! while extracting and the check that the archive and its `RECORD` list the same files.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::fsutil::{b64_urlsafe_nopad, enclosed_relative};

use super::InstallError;

/// One row of a `RECORD` file, its path normalised by [`enclosed_relative`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEntry {
    /// The file's path relative to the install root, `/`-separated.
    pub path: String,
    /// The declared hash, absent for `RECORD` itself (and for files the producer did not hash).
    pub hash: Option<RecordHash>,
    /// The declared size in bytes, when given.
    pub size: Option<u64>,
    /// The 1-based line the row starts on, for error messages.
    pub line: usize,
}

/// A `RECORD` hash: `algorithm=digest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHash {
    /// The algorithm name as written, lowercased (`sha256`).
    pub algorithm: String,
    /// The urlsafe base64 digest, with any `=` padding removed.
    pub digest: String,
}

/// A hash algorithm this installer trusts for `RECORD` verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// SHA-256, the algorithm every wheel builder uses.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// Looks up an algorithm by its `RECORD` name; `None` for weak (`md5`, `sha1`) or unknown ones.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The `RECORD` name of the algorithm.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }
}

/// An incremental hasher for one of the trusted algorithms.
#[derive(Debug, Clone)]
pub enum RecordHasher {
    /// SHA-256 state.
    Sha256(Sha256),
    /// SHA-384 state.
    Sha384(Sha384),
    /// SHA-512 state.
    Sha512(Sha512),
}

impl RecordHasher {
    /// A fresh hasher for `algorithm`.
    pub fn new(algorithm: HashAlgorithm) -> Self {
        match algorithm {
            HashAlgorithm::Sha256 => Self::Sha256(Sha256::new()),
            HashAlgorithm::Sha384 => Self::Sha384(Sha384::new()),
            HashAlgorithm::Sha512 => Self::Sha512(Sha512::new()),
        }
    }

    /// Feeds bytes to the hasher.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(bytes),
            Self::Sha384(h) => h.update(bytes),
            Self::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest in `RECORD` form (urlsafe base64, no padding), without the `algo=` prefix.
    pub fn finish(self) -> String {
        match self {
            Self::Sha256(h) => b64_urlsafe_nopad(&h.finalize()),
            Self::Sha384(h) => b64_urlsafe_nopad(&h.finalize()),
            Self::Sha512(h) => b64_urlsafe_nopad(&h.finalize()),
        }
    }
}

/// One CSV row: the 1-based line it starts on and its fields.
pub type CsvRow = (usize, Vec<String>);

/// Splits CSV text (Python `csv` default dialect) into rows of fields, each with the 1-based line
/// it starts on. Blank lines are skipped. Errors describe the problem and its line.
pub fn parse_csv(text: &str) -> Result<Vec<CsvRow>, (usize, String)> {
    let mut rows = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    while chars.peek().is_some() {
        let start_line = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted_field = false;
        loop {
            match chars.next() {
                None => {
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                Some('\n') => {
                    line += 1;
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                Some('\r') => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    line += 1;
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                Some(',') => {
                    fields.push(std::mem::take(&mut field));
                    quoted_field = false;
                }
                Some('"') if field.is_empty() && !quoted_field => {
                    quoted_field = true;
                    loop {
                        match chars.next() {
                            None => return Err((start_line, "unterminated quoted field".into())),
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                field.push('"');
                            }
                            Some('"') => break,
                            Some(c) => {
                                if c == '\n' {
                                    line += 1;
                                }
                                field.push(c);
                            }
                        }
                    }
                    match chars.peek() {
                        None | Some(',' | '\n' | '\r') => {}
                        Some(_) => {
                            return Err((line, "unexpected character after a quoted field".into()));
                        }
                    }
                }
                Some(c) => field.push(c),
            }
        }
        if fields.len() == 1 && fields[0].is_empty() && !quoted_field {
            continue;
        }
        rows.push((start_line, fields));
    }
    Ok(rows)
}

/// Parses a wheel's `RECORD` strictly: three columns per row, a safe relative path, a hash of the
/// form `algorithm=digest` or nothing, a decimal size or nothing.
///
/// `wheel` and `record_path` only serve the error messages.
pub fn parse_record(
    text: &str,
    wheel: &str,
    record_path: &str,
) -> Result<Vec<RecordEntry>, InstallError> {
    let bad = |line: usize, reason: String| InstallError::BadRecord {
        wheel: wheel.to_string(),
        path: record_path.to_string(),
        line,
        reason,
    };
    let rows = parse_csv(text).map_err(|(line, reason)| bad(line, reason))?;
    let mut entries = Vec::with_capacity(rows.len());
    for (line, fields) in rows {
        if fields.len() != 3 {
            return Err(bad(
                line,
                format!("expected 3 comma-separated fields, found {}", fields.len()),
            ));
        }
        let path = enclosed_relative(&fields[0]).ok_or_else(|| InstallError::EscapingPath {
            wheel: wheel.to_string(),
            path: fields[0].clone(),
        })?;
        let hash = if fields[1].is_empty() {
            None
        } else {
            let (algorithm, digest) = fields[1].split_once('=').ok_or_else(|| {
                bad(
                    line,
                    format!("hash `{}` is not `algorithm=digest`", fields[1]),
                )
            })?;
            let digest = digest.trim_end_matches('=');
            if algorithm.is_empty() || digest.is_empty() {
                return Err(bad(
                    line,
                    format!("hash `{}` is not `algorithm=digest`", fields[1]),
                ));
            }
            Some(RecordHash {
                algorithm: algorithm.to_ascii_lowercase(),
                digest: digest.to_string(),
            })
        };
        let size = if fields[2].is_empty() {
            None
        } else {
            Some(
                fields[2]
                    .parse::<u64>()
                    .map_err(|_| bad(line, format!("size `{}` is not a number", fields[2])))?,
            )
        };
        entries.push(RecordEntry {
            path,
            hash,
            size,
            line,
        });
    }
    Ok(entries)
}

/// Whether `path` is the `RECORD` file or one of its signatures, which `RECORD` cannot hash.
pub fn is_record_file(path: &str, dist_info: &str) -> bool {
    path.strip_prefix(dist_info)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|name| matches!(name, "RECORD" | "RECORD.jws" | "RECORD.p7s"))
}

/// What to check while extracting one archive member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The algorithm and digest `RECORD` declares.
    pub algorithm: HashAlgorithm,
    /// The declared digest (urlsafe base64, no padding).
    pub digest: String,
    /// The declared size, if any.
    pub size: Option<u64>,
}

/// Cross-checks the archive's file members against `RECORD` before anything is written.
///
/// Every member other than `RECORD` and its signatures must have a row with a trusted hash, and
/// every row (other than `RECORD`'s own) must name a member. Returns what each member must hash
/// to, keyed by member path.
pub fn check_members(
    wheel: &str,
    dist_info: &str,
    members: &BTreeSet<String>,
    record: &[RecordEntry],
) -> Result<BTreeMap<String, Expected>, InstallError> {
    let mut by_path: BTreeMap<&str, &RecordEntry> = BTreeMap::new();
    for entry in record {
        by_path.insert(entry.path.as_str(), entry);
    }
    for entry in record {
        if !is_record_file(&entry.path, dist_info) && !members.contains(&entry.path) {
            return Err(InstallError::MissingFromArchive {
                wheel: wheel.to_string(),
                path: entry.path.clone(),
            });
        }
    }
    let mut expected = BTreeMap::new();
    for member in members {
        if is_record_file(member, dist_info) {
            continue;
        }
        let entry = by_path
            .get(member.as_str())
            .ok_or_else(|| InstallError::NotInRecord {
                wheel: wheel.to_string(),
                path: member.clone(),
            })?;
        let hash = entry
            .hash
            .as_ref()
            .ok_or_else(|| InstallError::MissingHash {
                wheel: wheel.to_string(),
                path: member.clone(),
            })?;
        let algorithm = HashAlgorithm::from_name(&hash.algorithm).ok_or_else(|| {
            InstallError::UnsupportedHash {
                wheel: wheel.to_string(),
                path: member.clone(),
                algorithm: hash.algorithm.clone(),
            }
        })?;
        expected.insert(
            member.clone(),
            Expected {
                algorithm,
                digest: hash.digest.clone(),
                size: entry.size,
            },
        );
    }
    Ok(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DI: &str = "foo-1.0.dist-info";

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn csv_handles_quotes_and_line_endings() {
        let text = "a,b,c\r\n\"x,y\",\"say \"\"hi\"\"\",3\n\n\"multi\nline\",,\nlast,,";
        let rows = parse_csv(text).expect("valid csv");
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0], (1, vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(
            rows[1],
            (2, vec!["x,y".into(), "say \"hi\"".into(), "3".into()])
        );
        assert_eq!(
            rows[2],
            (4, vec!["multi\nline".into(), String::new(), String::new()])
        );
        assert_eq!(
            rows[3],
            (6, vec!["last".into(), String::new(), String::new()])
        );
        assert!(parse_csv("\"open,,").is_err());
        assert!(parse_csv("\"a\"b,,").is_err());
    }

    #[test]
    fn parses_record_rows() {
        let text = "foo/__init__.py,sha256=AAAA,12\nfoo-1.0.dist-info/RECORD,,\n./foo//x.py,sha512=BB==,\n";
        let entries = parse_record(text, "w.whl", "foo-1.0.dist-info/RECORD").expect("valid");
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].path, "foo/__init__.py");
        assert_eq!(
            entries[0].hash,
            Some(RecordHash {
                algorithm: "sha256".into(),
                digest: "AAAA".into()
            })
        );
        assert_eq!(entries[0].size, Some(12));
        assert_eq!(entries[1].hash, None);
        assert_eq!(entries[2].path, "foo/x.py");
        assert_eq!(
            entries[2].hash.as_ref().map(|h| h.digest.as_str()),
            Some("BB")
        );
        assert_eq!(entries[2].size, None);
    }

    #[test]
    fn rejects_malformed_record_rows() {
        let cases = [
            ("a,b\n", "expected 3"),
            ("a,sha256,1\n", "algorithm=digest"),
            ("a,sha256=x,big\n", "not a number"),
            ("a,=x,1\n", "algorithm=digest"),
        ];
        for (text, needle) in cases {
            let err = parse_record(text, "w.whl", "R")
                .expect_err(text)
                .to_string();
            assert!(err.contains(needle), "{err}");
            assert!(err.contains("`w.whl`"), "{err}");
        }
        let err = parse_record("../x,sha256=a,1\n", "w.whl", "R").expect_err("escape");
        assert!(matches!(err, InstallError::EscapingPath { .. }), "{err}");
    }

    #[test]
    fn check_members_accepts_matching_sets() {
        let record = parse_record(
            "foo/a.py,sha256=AA,1\nfoo/b.py,sha384=BB,\nfoo-1.0.dist-info/RECORD,,\n",
            "w",
            "R",
        )
        .expect("valid");
        let members = set(&[
            "foo/a.py",
            "foo/b.py",
            "foo-1.0.dist-info/RECORD",
            "foo-1.0.dist-info/RECORD.jws",
        ]);
        let expected = check_members("w", DI, &members, &record).expect("consistent");
        assert_eq!(expected.len(), 2);
        assert_eq!(expected["foo/b.py"].algorithm, HashAlgorithm::Sha384);
        assert_eq!(expected["foo/a.py"].size, Some(1));
    }

    #[test]
    fn check_members_reports_each_inconsistency() {
        let record = parse_record("foo/a.py,sha256=AA,1\n", "w", "R").expect("valid");
        let err = check_members("w", DI, &set(&["foo/a.py", "foo/b.py"]), &record).expect_err("b");
        assert!(matches!(err, InstallError::NotInRecord { ref path, .. } if path == "foo/b.py"));

        let err = check_members("w", DI, &set(&[]), &record).expect_err("a");
        assert!(
            matches!(err, InstallError::MissingFromArchive { ref path, .. } if path == "foo/a.py")
        );

        for algo in ["md5", "sha1", "blake9"] {
            let record = parse_record(&format!("foo/a.py,{algo}=AA,1\n"), "w", "R").expect("valid");
            let err = check_members("w", DI, &set(&["foo/a.py"]), &record).expect_err(algo);
            assert!(matches!(err, InstallError::UnsupportedHash { .. }), "{err}");
        }

        let record = parse_record("foo/a.py,,1\n", "w", "R").expect("valid");
        let err = check_members("w", DI, &set(&["foo/a.py"]), &record).expect_err("nohash");
        assert!(matches!(err, InstallError::MissingHash { .. }), "{err}");
    }

    #[test]
    fn hashers_match_record_encoding() {
        let mut h = RecordHasher::new(HashAlgorithm::Sha256);
        h.update(b"hel");
        h.update(b"lo\n");
        assert_eq!(
            format!("sha256={}", h.finish()),
            crate::fsutil::record_hash(b"hello\n")
        );
        // python3 -c 'import hashlib,base64;print(base64.urlsafe_b64encode(hashlib.sha384(b"").digest()))'
        let h = RecordHasher::new(HashAlgorithm::Sha384);
        assert_eq!(
            h.finish(),
            "OLBgp1GsljhM2TJ-sbHjaiH9txEUvgdDTAzHv2P24donTt6_529l-9Ua0vFImLlb"
        );
        assert_eq!(
            HashAlgorithm::from_name("sha512").map(HashAlgorithm::name),
            Some("sha512")
        );
    }
}
