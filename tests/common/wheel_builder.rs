//! A builder for small but real wheels (PEP 427), for tests: it writes the members, `METADATA`,
//! `WHEEL`, `entry_points.txt` and a `RECORD` with SHA-256 hashes and sizes, so the result is
//! accepted by `pip install`. Knobs deliberately corrupt a wheel (bad hash, escaping or absolute
//! member, symbolic link, member left out of `RECORD`) to test the installer's defences.
//!
//! It only needs the `zip` and `sha2` crates, and carries its own urlsafe base64 encoder.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

/// One regular member to write.
#[derive(Debug, Clone)]
struct Member {
    path: String,
    bytes: Vec<u8>,
    mode: u32,
}

/// Builds a wheel file; see the module documentation.
#[derive(Debug, Clone)]
pub struct WheelBuilder {
    name: String,
    version: String,
    tag: String,
    purelib: bool,
    wheel_version: String,
    members: Vec<Member>,
    entry_points: Vec<(String, String, String)>,
    requires: Vec<String>,
    headers: Vec<(String, String)>,
    top_level: Option<Vec<String>>,
    corrupt_hash: BTreeSet<String>,
    wrong_size: BTreeSet<String>,
    raw_hash: Vec<(String, String)>,
    omit: BTreeSet<String>,
    raw_members: Vec<(String, Vec<u8>)>,
    absolute: Vec<String>,
    symlinks: Vec<(String, String)>,
    no_record: bool,
}

/// Urlsafe base64 without padding.
fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]));
        }
    }
    out
}

/// `sha256=<b64>` of `bytes`.
fn record_hash(bytes: &[u8]) -> String {
    format!("sha256={}", b64(&Sha256::digest(bytes)))
}

/// PEP 427 escaping of a name or version component of a file name.
fn escape(component: &str) -> String {
    let mut out = String::new();
    let mut in_run = false;
    for c in component.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('_');
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    out
}

/// Quotes a CSV field when needed.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl WheelBuilder {
    /// The install tests' sample wheel `Foo.Bar` 1.0: a package, a module at the root, an
    /// executable file, a binary file, two console scripts (one with extras), requirements and
    /// metadata fields.
    pub fn sample() -> Self {
        WheelBuilder::new("Foo.Bar", "1.0")
            .file("foo_bar/__init__.py", "VALUE = 1\n")
            .file("foo_bar/cli.py", "def main():\n    print('hi')\n")
            .executable("foo_bar/run.sh", "#!/bin/sh\necho hi\n")
            .file("helper.py", "X = 2\n")
            .binary("_speed.cpython-311-x86_64-linux-gnu.so", &[0, 1, 2, 255])
            .entry_point("console_scripts", "foo", "foo_bar.cli:main")
            .entry_point("console_scripts", "foo-extra", "foo_bar.cli:main [fast]")
            .requires(["six>=1", "attrs"])
            .metadata("Summary", "A test package")
            .metadata("License-Expression", "MIT")
            .metadata("Requires-Python", ">=3.8")
    }

    /// A pure-Python wheel `name`-`version` tagged `py3-none-any`, with no files yet.
    pub fn new(name: &str, version: &str) -> Self {
        WheelBuilder {
            name: name.to_string(),
            version: version.to_string(),
            tag: "py3-none-any".to_string(),
            purelib: true,
            wheel_version: "1.0".to_string(),
            members: Vec::new(),
            entry_points: Vec::new(),
            requires: Vec::new(),
            headers: Vec::new(),
            top_level: None,
            corrupt_hash: BTreeSet::new(),
            wrong_size: BTreeSet::new(),
            raw_hash: Vec::new(),
            omit: BTreeSet::new(),
            raw_members: Vec::new(),
            absolute: Vec::new(),
            symlinks: Vec::new(),
            no_record: false,
        }
    }

    /// The escaped `{name}-{version}` prefix of the file and of the `.dist-info`/`.data` dirs.
    fn stem(&self) -> String {
        format!("{}-{}", escape(&self.name), self.version.replace('-', "_"))
    }

    /// The `.dist-info` directory name.
    pub fn dist_info(&self) -> String {
        format!("{}.dist-info", self.stem())
    }

    /// The `.data` directory name.
    pub fn data_dir(&self) -> String {
        format!("{}.data", self.stem())
    }

    /// The wheel's file name.
    pub fn file_name(&self) -> String {
        format!("{}-{}.whl", self.stem(), self.tag)
    }

    /// Adds a text file (mode 0o644).
    pub fn file(self, path: &str, contents: &str) -> Self {
        self.member(path, contents.as_bytes(), 0o644)
    }

    /// Adds a binary file (mode 0o644).
    pub fn binary(self, path: &str, bytes: &[u8]) -> Self {
        self.member(path, bytes, 0o644)
    }

    /// Adds an executable text file (mode 0o755).
    pub fn executable(self, path: &str, contents: &str) -> Self {
        self.member(path, contents.as_bytes(), 0o755)
    }

    fn member(mut self, path: &str, bytes: &[u8], mode: u32) -> Self {
        self.members.push(Member {
            path: path.to_string(),
            bytes: bytes.to_vec(),
            mode,
        });
        self
    }

    /// Adds `{name}-{ver}.data/{scheme}/{path}` (scripts get mode 0o755).
    pub fn data(self, scheme: &str, path: &str, contents: &str) -> Self {
        let full = format!("{}/{scheme}/{path}", self.data_dir());
        let mode = if scheme == "scripts" { 0o755 } else { 0o644 };
        self.member(&full, contents.as_bytes(), mode)
    }

    /// Sets the compatibility tag (`py3-none-any` by default); compressed sets like
    /// `py2.py3-none-any` are expanded in `WHEEL`.
    pub fn tag(mut self, tag: &str) -> Self {
        self.tag = tag.to_string();
        self
    }

    /// Sets `Root-Is-Purelib` (true by default).
    pub fn root_is_purelib(mut self, purelib: bool) -> Self {
        self.purelib = purelib;
        self
    }

    /// Sets `Wheel-Version` (`1.0` by default).
    pub fn wheel_version(mut self, version: &str) -> Self {
        self.wheel_version = version.to_string();
        self
    }

    /// Adds an `entry_points.txt` entry.
    pub fn entry_point(mut self, group: &str, name: &str, value: &str) -> Self {
        self.entry_points
            .push((group.to_string(), name.to_string(), value.to_string()));
        self
    }

    /// Adds `Requires-Dist` lines.
    pub fn requires<I, S>(mut self, reqs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.requires
            .extend(reqs.into_iter().map(|r| r.as_ref().to_string()));
        self
    }

    /// Adds an arbitrary `METADATA` header (`Summary`, `License`, `Requires-Python`…).
    pub fn metadata(mut self, key: &str, value: &str) -> Self {
        self.headers.push((key.to_string(), value.to_string()));
        self
    }

    /// Writes a `top_level.txt` with these names.
    pub fn top_level<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.top_level = Some(names.into_iter().map(|n| n.as_ref().to_string()).collect());
        self
    }

    /// Makes `RECORD` carry a wrong SHA-256 for `path`.
    pub fn corrupt_record_hash(mut self, path: &str) -> Self {
        self.corrupt_hash.insert(path.to_string());
        self
    }

    /// Makes `RECORD` carry a wrong size (real size + 1) for `path`.
    pub fn wrong_record_size(mut self, path: &str) -> Self {
        self.wrong_size.insert(path.to_string());
        self
    }

    /// Replaces the `RECORD` hash field of `path` with `hash` verbatim (e.g. `md5=…` or empty).
    pub fn record_hash_raw(mut self, path: &str, hash: &str) -> Self {
        self.raw_hash.push((path.to_string(), hash.to_string()));
        self
    }

    /// Leaves `path` out of `RECORD`.
    pub fn omit_from_record(mut self, path: &str) -> Self {
        self.omit.insert(path.to_string());
        self
    }

    /// Adds a member named exactly `name` (e.g. `../evil.py`), not listed in `RECORD`.
    pub fn extra_member_raw(mut self, name: &str, contents: &str) -> Self {
        self.raw_members
            .push((name.to_string(), contents.as_bytes().to_vec()));
        self
    }

    /// Adds a member with an absolute name (listed in `RECORD` under the same name).
    pub fn absolute_member(mut self, name: &str) -> Self {
        self.absolute.push(name.to_string());
        self
    }

    /// Adds a symbolic-link member `path` → `target` (listed in `RECORD`).
    pub fn symlink_member(mut self, path: &str, target: &str) -> Self {
        self.symlinks.push((path.to_string(), target.to_string()));
        self
    }

    /// Leaves `RECORD` out of the archive entirely.
    pub fn without_record(mut self) -> Self {
        self.no_record = true;
        self
    }

    /// The `METADATA` text.
    fn metadata_text(&self) -> String {
        let mut s = format!(
            "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
            self.name, self.version
        );
        for (k, v) in &self.headers {
            s.push_str(&format!("{k}: {v}\n"));
        }
        for r in &self.requires {
            s.push_str(&format!("Requires-Dist: {r}\n"));
        }
        s
    }

    /// The `WHEEL` text.
    fn wheel_text(&self) -> String {
        let mut s = format!(
            "Wheel-Version: {}\nGenerator: pybundle-tests (0)\nRoot-Is-Purelib: {}\n",
            self.wheel_version, self.purelib
        );
        let parts: Vec<&str> = self.tag.splitn(3, '-').collect();
        if let [py, abi, plat] = parts.as_slice() {
            for p in py.split('.') {
                for a in abi.split('.') {
                    for pl in plat.split('.') {
                        s.push_str(&format!("Tag: {p}-{a}-{pl}\n"));
                    }
                }
            }
        }
        s
    }

    /// The `entry_points.txt` text, if any entry point was added.
    fn entry_points_text(&self) -> Option<String> {
        if self.entry_points.is_empty() {
            return None;
        }
        let mut groups: Vec<&str> = Vec::new();
        for (g, _, _) in &self.entry_points {
            if !groups.contains(&g.as_str()) {
                groups.push(g);
            }
        }
        let mut s = String::new();
        for g in groups {
            s.push_str(&format!("[{g}]\n"));
            for (_, n, v) in self.entry_points.iter().filter(|(eg, _, _)| eg == g) {
                s.push_str(&format!("{n} = {v}\n"));
            }
            s.push('\n');
        }
        Some(s)
    }

    /// Writes `{name}-{version}-{tag}.whl` into `dir` and returns its path. Panics on I/O
    /// errors (it is test code).
    pub fn build(&self, dir: &Path) -> PathBuf {
        let path = dir.join(self.file_name());
        let file = std::fs::File::create(&path).expect("create wheel file");
        let mut zip = zip::ZipWriter::new(file);
        let opts = |mode: u32| {
            SimpleFileOptions::default()
                .compression_method(CompressionMethod::Deflated)
                .unix_permissions(mode)
        };
        let mut record: Vec<(String, Vec<u8>)> = Vec::new();
        let dist_info = self.dist_info();

        let mut regular: Vec<Member> = self.members.clone();
        regular.push(Member {
            path: format!("{dist_info}/METADATA"),
            bytes: self.metadata_text().into_bytes(),
            mode: 0o644,
        });
        regular.push(Member {
            path: format!("{dist_info}/WHEEL"),
            bytes: self.wheel_text().into_bytes(),
            mode: 0o644,
        });
        if let Some(text) = self.entry_points_text() {
            regular.push(Member {
                path: format!("{dist_info}/entry_points.txt"),
                bytes: text.into_bytes(),
                mode: 0o644,
            });
        }
        if let Some(names) = &self.top_level {
            let mut text = names.join("\n");
            text.push('\n');
            regular.push(Member {
                path: format!("{dist_info}/top_level.txt"),
                bytes: text.into_bytes(),
                mode: 0o644,
            });
        }
        for m in &regular {
            zip.start_file(m.path.as_str(), opts(m.mode))
                .expect("start member");
            zip.write_all(&m.bytes).expect("write member");
            record.push((m.path.clone(), m.bytes.clone()));
        }
        for name in &self.absolute {
            let bytes = b"absolute\n".to_vec();
            zip.start_file(name.as_str(), opts(0o644))
                .expect("start absolute member");
            zip.write_all(&bytes).expect("write absolute member");
            record.push((name.clone(), bytes));
        }
        for (link, target) in &self.symlinks {
            zip.add_symlink(link.as_str(), target.as_str(), SimpleFileOptions::default())
                .expect("add symlink");
            record.push((link.clone(), target.as_bytes().to_vec()));
        }
        for (name, bytes) in &self.raw_members {
            zip.start_file(name.as_str(), opts(0o644))
                .expect("start raw member");
            zip.write_all(bytes).expect("write raw member");
        }
        if !self.no_record {
            let record_path = format!("{dist_info}/RECORD");
            let mut text = String::new();
            for (p, bytes) in &record {
                if self.omit.contains(p) {
                    continue;
                }
                let mut hash = if self.corrupt_hash.contains(p) {
                    record_hash(b"this is not the content")
                } else {
                    record_hash(bytes)
                };
                if let Some((_, raw)) = self.raw_hash.iter().find(|(rp, _)| rp == p) {
                    hash = raw.clone();
                }
                let mut size = bytes.len();
                if self.wrong_size.contains(p) {
                    size += 1;
                }
                text.push_str(&format!("{},{hash},{size}\n", csv_field(p)));
            }
            text.push_str(&format!("{record_path},,\n"));
            zip.start_file(record_path.as_str(), opts(0o644))
                .expect("start RECORD");
            zip.write_all(text.as_bytes()).expect("write RECORD");
        }
        zip.finish().expect("finish wheel");
        path
    }
}
