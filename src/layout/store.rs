//! The site store, defined once: every file of the zip-imported distributions in two stored
//! members of the bundle, `_pybundle/site.data` (the files' bytes, one after the other) and
//! `_pybundle/site.index` (a hash table over sorted records), so that the outer zip's central
//! directory lists a handful of entries whatever the number of files, and the run time finds a
//! path with a few `pread`s.
//!
//! `site.data` is the concatenation, in record order, of each file's stored bytes: its content
//! (raw deflate, or stored when deflate does not make it smaller), then, for a `.py` file with
//! bytecode, its `.pyc` (same rule). No headers, no padding.
//!
//! `site.index` (version 1, little-endian):
//!
//! - a header ([`HEADER_STRUCT`], [`HEADER_LEN`] bytes): [`MAGIC`], the slot count (a power of
//!   two, at least 8 and twice the records), the record count (files and directories, the root
//!   `""` included), the slots' offset (32), the size of `site.data`, and 8 reserved bytes;
//! - the slots ([`SLOT_STRUCT`]): (CRC-32 of the path, record offset in the index; 0 = empty),
//!   filled in record order from `hash & (nslots - 1)` with linear probing;
//! - the records ([`RECORD_STRUCT`] + path), sorted by path bytes: kind, [flags](FLAG_DEFLATED),
//!   path length, CRC-32 (a directory: its number of children), offset (a directory: of its
//!   children list in the index), stored size, size, then the bytecode's offset, stored size,
//!   size and CRC-32; every ancestor directory of a file has a record;
//! - per directory, in record order, the record offsets (u32) of its direct children, sorted by
//!   name.
//!
//! Offsets into `site.data` count from its first byte. The Python reader is
//! `_pybundle/_importer.py` (its `# --- site index format` block repeats these constants).
//! A leaf, like the rest of `layout`.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};

/// The store's file contents, a stored member of the bundle.
pub const DATA_MEMBER: &str = "_pybundle/site.data";
/// The store's index, a stored member of the bundle.
pub const INDEX_MEMBER: &str = "_pybundle/site.index";
/// The first four bytes of the index (format version 1).
pub const MAGIC: &[u8; 4] = b"PBI1";
/// The header's layout as Python's `struct` writes it.
pub const HEADER_STRUCT: &str = "<4sIIIQQ";
/// A slot's layout: (hash, record offset).
pub const SLOT_STRUCT: &str = "<II";
/// A record's layout, followed by its path.
pub const RECORD_STRUCT: &str = "<BBHIQIIQIII";
/// The header's size, and the offset of the slots.
pub const HEADER_LEN: usize = 32;
/// A slot's size.
pub const SLOT_LEN: usize = 8;
/// A record's size without its path.
pub const RECORD_LEN: usize = 44;
/// Record kind: a file.
pub const KIND_FILE: u8 = 0;
/// Record kind: a directory.
pub const KIND_DIR: u8 = 1;
/// File flag: the content is raw deflate.
pub const FLAG_DEFLATED: u8 = 1;
/// File flag: the record carries bytecode (the `.pyc` of this `.py`).
pub const FLAG_PYC: u8 = 2;
/// File flag: the bytecode is raw deflate.
pub const FLAG_PYC_DEFLATED: u8 = 4;
/// File flag: mode 0755 in the distribution.
pub const FLAG_EXECUTABLE: u8 = 8;

/// The store cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "`{path}` is {size} bytes, over the 4 GiB a file of a zip-imported distribution may have\nhint: leave the file out of the bundle, or make its distribution extracted"
    )]
    TooLarge { path: String, size: u64 },
    #[error("`{path}` has a path of {len} bytes, over the 65,535 the bundle's index can hold")]
    PathTooLong { path: String, len: usize },
    #[error("the site store's files must be added in sorted order, once each: `{path}`")]
    Order { path: String },
    #[error("the site index is damaged: {0}")]
    Damaged(String),
    #[error("`{path}` is damaged in the bundle ({what})")]
    Corrupt { path: String, what: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// One blob as it goes into `site.data`: content or bytecode, compressed or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The stored bytes.
    pub bytes: Vec<u8>,
    /// Whether `bytes` is raw deflate.
    pub deflated: bool,
    /// CRC-32 of the uncompressed bytes.
    pub crc: u32,
    /// Size of the uncompressed bytes.
    pub size: u64,
}

impl Stored {
    /// Returns `content` as stored at deflate `level` (0 stores): raw deflate when that is
    /// smaller, else the bytes themselves.
    pub fn new(content: Vec<u8>, level: u8) -> std::io::Result<Stored> {
        let crc = crc32fast::hash(&content);
        let size = content.len() as u64;
        if level > 0 && !content.is_empty() {
            let mut encoder = flate2::write::DeflateEncoder::new(
                Vec::with_capacity(content.len() / 2),
                flate2::Compression::new(u32::from(level.min(9))),
            );
            encoder.write_all(&content)?;
            let packed = encoder.finish()?;
            if packed.len() < content.len() {
                return Ok(Stored {
                    bytes: packed,
                    deflated: true,
                    crc,
                    size,
                });
            }
        }
        Ok(Stored {
            bytes: content,
            deflated: false,
            crc,
            size,
        })
    }
}

/// Where one file is in `site.data`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Blob {
    offset: u64,
    csize: u32,
    size: u32,
    crc: u32,
    deflated: bool,
}

#[derive(Debug, Clone)]
struct FileMeta {
    content: Blob,
    pyc: Option<Blob>,
    executable: bool,
}

/// Writes `site.data` to `out` file by file (in sorted path order) and builds `site.index`.
pub struct StoreWriter<W: Write> {
    out: W,
    written: u64,
    files: BTreeMap<String, FileMeta>,
    last: Option<String>,
}

impl<W: Write> StoreWriter<W> {
    /// Starts a store whose data goes to `out`.
    pub fn new(out: W) -> StoreWriter<W> {
        StoreWriter {
            out,
            written: 0,
            files: BTreeMap::new(),
            last: None,
        }
    }

    /// Appends the file `path` (relative to the site root, `/`-separated) with its content and
    /// the bytecode of this `.py`, if any. Paths must come in strictly increasing byte order.
    pub fn add(
        &mut self,
        path: &str,
        content: &Stored,
        pyc: Option<&Stored>,
        executable: bool,
    ) -> Result<(), StoreError> {
        if path.is_empty()
            || path.starts_with('/')
            || path.ends_with('/')
            || self.last.as_deref().is_some_and(|last| last >= path)
        {
            return Err(StoreError::Order {
                path: path.to_string(),
            });
        }
        if path.len() > usize::from(u16::MAX) {
            return Err(StoreError::PathTooLong {
                path: path.to_string(),
                len: path.len(),
            });
        }
        let content = self.blob(path, content)?;
        let pyc = pyc.map(|p| self.blob(path, p)).transpose()?;
        self.files.insert(
            path.to_string(),
            FileMeta {
                content,
                pyc,
                executable,
            },
        );
        self.last = Some(path.to_string());
        Ok(())
    }

    fn blob(&mut self, path: &str, stored: &Stored) -> Result<Blob, StoreError> {
        let too_large = || StoreError::TooLarge {
            path: path.to_string(),
            size: stored.size.max(stored.bytes.len() as u64),
        };
        let size = u32::try_from(stored.size).map_err(|_| too_large())?;
        let csize = u32::try_from(stored.bytes.len()).map_err(|_| too_large())?;
        let blob = Blob {
            offset: self.written,
            csize,
            size,
            crc: stored.crc,
            deflated: stored.deflated,
        };
        self.out.write_all(&stored.bytes)?;
        self.written += stored.bytes.len() as u64;
        Ok(blob)
    }

    /// Returns the data's writer, the bytes of `site.index` and the size of `site.data`.
    pub fn finish(self) -> Result<(W, Vec<u8>, u64), StoreError> {
        let index = build_index(&self.files, self.written)?;
        Ok((self.out, index, self.written))
    }
}

/// Returns the index of `files` (with every ancestor directory) over `data_size` bytes of data.
fn build_index(files: &BTreeMap<String, FileMeta>, data_size: u64) -> Result<Vec<u8>, StoreError> {
    // Every path with its record: `None` for a directory.
    let mut paths: BTreeMap<&str, Option<&FileMeta>> = BTreeMap::new();
    paths.insert("", None);
    for (path, meta) in files {
        let mut dir = path.as_str();
        while let Some((parent, _)) = dir.rsplit_once('/') {
            paths.entry(parent).or_insert(None);
            dir = parent;
        }
        paths.insert(path, Some(meta));
    }
    let overflow = |what: &str| StoreError::Damaged(format!("the index is too large ({what})"));
    let nrecords = u32::try_from(paths.len()).map_err(|_| overflow("records"))?;
    let nslots = (paths.len() * 2).next_power_of_two().max(8);
    // Record offsets, then children lists by parent.
    let mut offsets: BTreeMap<&str, u32> = BTreeMap::new();
    let mut at = HEADER_LEN + nslots * SLOT_LEN;
    for path in paths.keys() {
        offsets.insert(path, u32::try_from(at).map_err(|_| overflow("records"))?);
        at += RECORD_LEN + path.len();
    }
    let mut children: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for path in paths.keys().filter(|p| !p.is_empty()) {
        let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
        children.entry(parent).or_default().push(offsets[path]);
    }
    let mut list_at: BTreeMap<&str, u32> = BTreeMap::new();
    for (path, meta) in &paths {
        if meta.is_none() {
            list_at.insert(path, u32::try_from(at).map_err(|_| overflow("lists"))?);
            at += 4 * children.get(path).map_or(0, Vec::len);
        }
    }
    let mut out = Vec::with_capacity(at);
    out.extend_from_slice(MAGIC);
    for n in [nslots as u32, nrecords, HEADER_LEN as u32] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(&data_size.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    let mut slots = vec![(0u32, 0u32); nslots];
    for (path, &offset) in &offsets {
        let hash = crc32fast::hash(path.as_bytes());
        let mut i = hash as usize & (nslots - 1);
        while slots[i].1 != 0 {
            i = (i + 1) & (nslots - 1);
        }
        slots[i] = (hash, offset);
    }
    for (hash, offset) in slots {
        out.extend_from_slice(&hash.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
    }
    for (path, meta) in &paths {
        let record = match meta {
            Some(meta) => {
                let pyc = meta.pyc.unwrap_or_default();
                let flag = |on: bool, bit: u8| if on { bit } else { 0 };
                let flags = flag(meta.content.deflated, FLAG_DEFLATED)
                    | flag(meta.pyc.is_some(), FLAG_PYC)
                    | flag(pyc.deflated, FLAG_PYC_DEFLATED)
                    | flag(meta.executable, FLAG_EXECUTABLE);
                Record {
                    kind: KIND_FILE,
                    flags,
                    crc: meta.content.crc,
                    offset: meta.content.offset,
                    csize: meta.content.csize,
                    size: meta.content.size,
                    pyc_offset: pyc.offset,
                    pyc_csize: pyc.csize,
                    pyc_size: pyc.size,
                    pyc_crc: pyc.crc,
                }
            }
            None => Record {
                kind: KIND_DIR,
                crc: children.get(path).map_or(0, Vec::len) as u32,
                offset: u64::from(list_at[path]),
                ..Record::default()
            },
        };
        record.write(path, &mut out);
    }
    for (path, meta) in &paths {
        if meta.is_none() {
            for offset in children.get(path).into_iter().flatten() {
                out.extend_from_slice(&offset.to_le_bytes());
            }
        }
    }
    Ok(out)
}

/// One record of the index, without its path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Record {
    kind: u8,
    flags: u8,
    crc: u32,
    offset: u64,
    csize: u32,
    size: u32,
    pyc_offset: u64,
    pyc_csize: u32,
    pyc_size: u32,
    pyc_crc: u32,
}

impl Record {
    fn write(&self, path: &str, out: &mut Vec<u8>) {
        out.push(self.kind);
        out.push(self.flags);
        out.extend_from_slice(&(path.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.crc.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        for n in [self.csize, self.size] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(&self.pyc_offset.to_le_bytes());
        for n in [self.pyc_csize, self.pyc_size, self.pyc_crc] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(path.as_bytes());
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(bytes)
}

/// One record as the reader returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the site root (`""` for the root directory).
    pub path: String,
    /// Its offset in the index (how children lists name it).
    pub at: u32,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// The file's flags (0 for a directory).
    pub flags: u8,
    /// The file's size (a directory: its number of children).
    pub size: u64,
    record: Record,
}

impl Entry {
    /// Returns true if and only if the file carries the bytecode of this `.py`.
    pub fn has_pyc(&self) -> bool {
        !self.is_dir && self.flags & FLAG_PYC != 0
    }

    /// Returns true if and only if the file is executable.
    pub fn is_executable(&self) -> bool {
        self.flags & FLAG_EXECUTABLE != 0
    }

    /// Returns the bytecode's size, if the file has bytecode.
    pub fn pyc_size(&self) -> Option<u64> {
        self.has_pyc().then_some(u64::from(self.record.pyc_size))
    }
}

/// A site store opened for reading: the index in memory, the data read through `data`.
pub struct Store<R> {
    index: Vec<u8>,
    data: R,
    base: u64,
    nslots: usize,
    nrecords: usize,
    data_size: u64,
}

impl<R: Read + Seek> Store<R> {
    /// Opens the store of `index` whose data is `data_len` bytes at `base` in `data`.
    pub fn open(index: Vec<u8>, data: R, base: u64, data_len: u64) -> Result<Store<R>, StoreError> {
        let damaged = |what: &str| StoreError::Damaged(what.to_string());
        if index.len() < HEADER_LEN || &index[..4] != MAGIC {
            return Err(damaged("no `PBI1` header"));
        }
        let nslots = u32_at(&index, 4) as usize;
        let nrecords = u32_at(&index, 8) as usize;
        let data_size = u64_at(&index, 16);
        if !nslots.is_power_of_two()
            || nslots < 8
            || nslots < 2 * nrecords
            || u32_at(&index, 12) as usize != HEADER_LEN
            || HEADER_LEN + nslots * SLOT_LEN > index.len()
        {
            return Err(damaged("a header that does not fit the index"));
        }
        if data_size != data_len {
            return Err(StoreError::Damaged(format!(
                "it describes {data_size} bytes of data, the bundle holds {data_len}"
            )));
        }
        Ok(Store {
            index,
            data,
            base,
            nslots,
            nrecords,
            data_size,
        })
    }

    /// Returns the number of records (files and directories, the root included).
    pub fn len(&self) -> usize {
        self.nrecords
    }

    /// Returns true if and only if the store holds no file.
    pub fn is_empty(&self) -> bool {
        self.nrecords <= 1
    }

    /// Returns the size of `site.data`.
    pub fn data_size(&self) -> u64 {
        self.data_size
    }

    /// Returns the record at offset `at` of the index.
    pub fn entry_at(&self, at: u32) -> Result<Entry, StoreError> {
        let at_usize = at as usize;
        let b = &self.index;
        if at_usize < HEADER_LEN + self.nslots * SLOT_LEN || at_usize + RECORD_LEN > b.len() {
            return Err(StoreError::Damaged(format!(
                "a record offset {at} out of range"
            )));
        }
        let len = usize::from(u16_at(b, at_usize + 2));
        let start = at_usize + RECORD_LEN;
        let path = b
            .get(start..start + len)
            .and_then(|p| std::str::from_utf8(p).ok())
            .ok_or_else(|| StoreError::Damaged(format!("an unreadable path at {at}")))?;
        let record = Record {
            kind: b[at_usize],
            flags: b[at_usize + 1],
            crc: u32_at(b, at_usize + 4),
            offset: u64_at(b, at_usize + 8),
            csize: u32_at(b, at_usize + 16),
            size: u32_at(b, at_usize + 20),
            pyc_offset: u64_at(b, at_usize + 24),
            pyc_csize: u32_at(b, at_usize + 32),
            pyc_size: u32_at(b, at_usize + 36),
            pyc_crc: u32_at(b, at_usize + 40),
        };
        let is_dir = record.kind == KIND_DIR;
        Ok(Entry {
            path: path.to_string(),
            at,
            is_dir,
            flags: if is_dir { 0 } else { record.flags },
            size: if is_dir {
                u64::from(record.crc)
            } else {
                u64::from(record.size)
            },
            record,
        })
    }

    /// Returns the record of `path`, if any (a hash lookup, as the run time does it).
    pub fn lookup(&self, path: &str) -> Result<Option<Entry>, StoreError> {
        let hash = crc32fast::hash(path.as_bytes());
        let mask = self.nslots - 1;
        let mut i = hash as usize & mask;
        for _ in 0..self.nslots {
            let slot = HEADER_LEN + i * SLOT_LEN;
            let (h, at) = (u32_at(&self.index, slot), u32_at(&self.index, slot + 4));
            if at == 0 {
                return Ok(None);
            }
            if h == hash {
                let entry = self.entry_at(at)?;
                if entry.path == path {
                    return Ok(Some(entry));
                }
            }
            i = (i + 1) & mask;
        }
        Ok(None)
    }

    /// Returns every record, in record order (sorted paths, the root first).
    pub fn entries(&self) -> Result<Vec<Entry>, StoreError> {
        let mut at = (HEADER_LEN + self.nslots * SLOT_LEN) as u32;
        let mut out = Vec::with_capacity(self.nrecords);
        for _ in 0..self.nrecords {
            let entry = self.entry_at(at)?;
            at += (RECORD_LEN + entry.path.len()) as u32;
            out.push(entry);
        }
        Ok(out)
    }

    /// Returns the direct children of the directory `dir`, sorted by name.
    pub fn children(&self, dir: &Entry) -> Result<Vec<Entry>, StoreError> {
        if !dir.is_dir {
            return Ok(Vec::new());
        }
        let start = usize::try_from(dir.record.offset).unwrap_or(usize::MAX);
        let count = dir.record.crc as usize;
        let end = start.saturating_add(count * 4);
        if end > self.index.len() {
            return Err(StoreError::Damaged(format!(
                "the children of `{}` out of range",
                dir.path
            )));
        }
        (start..end)
            .step_by(4)
            .map(|at| self.entry_at(u32_at(&self.index, at)))
            .collect()
    }

    /// Returns the content of the file `entry`, CRC-32 checked.
    pub fn read(&mut self, entry: &Entry) -> Result<Vec<u8>, StoreError> {
        let r = entry.record;
        self.blob(
            &entry.path,
            r.offset,
            r.csize,
            r.size,
            r.crc,
            entry.flags & FLAG_DEFLATED != 0,
        )
    }

    /// Returns the bytecode attached to the file `entry` (`None` without), CRC-32 checked.
    pub fn read_pyc(&mut self, entry: &Entry) -> Result<Option<Vec<u8>>, StoreError> {
        if !entry.has_pyc() {
            return Ok(None);
        }
        let r = entry.record;
        let path = match entry.path.strip_suffix(".py") {
            Some(stem) => format!("{stem}.pyc"),
            None => format!("{}.pyc", entry.path),
        };
        self.blob(
            &path,
            r.pyc_offset,
            r.pyc_csize,
            r.pyc_size,
            r.pyc_crc,
            entry.flags & FLAG_PYC_DEFLATED != 0,
        )
        .map(Some)
    }

    fn blob(
        &mut self,
        path: &str,
        offset: u64,
        csize: u32,
        size: u32,
        crc: u32,
        deflated: bool,
    ) -> Result<Vec<u8>, StoreError> {
        let corrupt = |what: String| StoreError::Corrupt {
            path: path.to_string(),
            what,
        };
        if offset.saturating_add(u64::from(csize)) > self.data_size {
            return Err(corrupt("its data lies past the end of the store".into()));
        }
        self.data.seek(SeekFrom::Start(self.base + offset))?;
        let mut stored = vec![0u8; csize as usize];
        self.data.read_exact(&mut stored)?;
        let content = if deflated {
            let mut out = Vec::with_capacity(size as usize);
            flate2::read::DeflateDecoder::new(stored.as_slice())
                .take(u64::from(size) + 1)
                .read_to_end(&mut out)
                .map_err(|e| corrupt(format!("cannot inflate: {e}")))?;
            out
        } else {
            stored
        };
        if content.len() != size as usize {
            return Err(corrupt(format!(
                "{} bytes instead of {size}",
                content.len()
            )));
        }
        let actual = crc32fast::hash(&content);
        if actual != crc {
            return Err(corrupt(format!("CRC-32 {actual:08x} instead of {crc:08x}")));
        }
        Ok(content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// (path, content, bytecode)
    type File<'a> = (&'a str, &'a [u8], Option<&'a [u8]>);

    fn build(files: &[File<'_>], level: u8) -> (Vec<u8>, Vec<u8>) {
        let mut writer = StoreWriter::new(Vec::new());
        for (path, content, pyc) in files {
            let content = Stored::new(content.to_vec(), level).unwrap();
            let pyc = pyc.map(|p| Stored::new(p.to_vec(), level).unwrap());
            writer
                .add(path, &content, pyc.as_ref(), path.ends_with(".sh"))
                .unwrap();
        }
        let (data, index, size) = writer.finish().unwrap();
        assert_eq!(size, data.len() as u64);
        (data, index)
    }

    fn open(data: Vec<u8>, index: Vec<u8>) -> Store<Cursor<Vec<u8>>> {
        // The data sits behind a few bytes, as behind a local file header in the bundle.
        let len = data.len() as u64;
        let mut padded = b"HEADER".to_vec();
        padded.extend(data);
        Store::open(index, Cursor::new(padded), 6, len).unwrap()
    }

    #[test]
    fn round_trip() {
        let big = b"import os\n".repeat(500);
        let (data, index) = build(
            &[
                ("a.py", b"x = 1\n", Some(b"PYC-a")),
                ("pkg/__init__.py", b"", Some(b"PYC-init")),
                ("pkg/big.py", &big, None),
                ("pkg/sub/data.bin", b"\x00\x01\x02", None),
                ("pkg/tool.sh", b"#!/bin/sh\n", None),
                ("zz/ns/mod.py", b"y = 2\n", None),
            ],
            6,
        );
        assert_eq!(&index[..4], MAGIC);
        let mut store = open(data, index);
        let paths: Vec<String> = store
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(
            paths,
            [
                "",
                "a.py",
                "pkg",
                "pkg/__init__.py",
                "pkg/big.py",
                "pkg/sub",
                "pkg/sub/data.bin",
                "pkg/tool.sh",
                "zz",
                "zz/ns",
                "zz/ns/mod.py"
            ]
        );
        let big_entry = store.lookup("pkg/big.py").unwrap().unwrap();
        assert_eq!(big_entry.flags & FLAG_DEFLATED, FLAG_DEFLATED);
        assert_eq!(store.read(&big_entry).unwrap(), big);
        assert_eq!(store.read_pyc(&big_entry).unwrap(), None);
        let a = store.lookup("a.py").unwrap().unwrap();
        assert_eq!(store.read(&a).unwrap(), b"x = 1\n");
        assert_eq!(store.read_pyc(&a).unwrap().unwrap(), b"PYC-a");
        assert!(
            store
                .lookup("pkg/tool.sh")
                .unwrap()
                .unwrap()
                .is_executable()
        );
        assert!(!a.is_executable());
        let root = store.lookup("").unwrap().unwrap();
        let names: Vec<String> = store
            .children(&root)
            .unwrap()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(names, ["a.py", "pkg", "zz"]);
        let pkg = store.lookup("pkg").unwrap().unwrap();
        assert!(pkg.is_dir);
        let names: Vec<String> = store
            .children(&pkg)
            .unwrap()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(
            names,
            ["pkg/__init__.py", "pkg/big.py", "pkg/sub", "pkg/tool.sh"]
        );
        assert!(store.lookup("zz/ns").unwrap().unwrap().is_dir);
        for missing in ["pkg/", "b.py", "pkg/sub/data", "/a.py", "zz/ns/mod.pyc"] {
            assert_eq!(store.lookup(missing).unwrap(), None, "{missing}");
        }
    }

    #[test]
    fn the_same_files_give_the_same_bytes() {
        let files: &[File<'_>] = &[("a.py", b"1", Some(b"2")), ("b/c.txt", b"3", None)];
        assert_eq!(build(files, 6), build(files, 6));
        // Level 0 stores everything.
        let (data, _) = build(files, 0);
        assert_eq!(data, b"123");
    }

    #[test]
    fn the_empty_store_has_the_root_only() {
        let (data, index) = build(&[], 6);
        assert!(data.is_empty());
        assert_eq!(index.len(), HEADER_LEN + 8 * SLOT_LEN + RECORD_LEN);
        let store = open(data, index);
        assert_eq!(store.len(), 1);
        assert!(store.is_empty());
        let root = store.lookup("").unwrap().unwrap();
        assert!(root.is_dir);
        assert_eq!(store.children(&root).unwrap(), Vec::new());
        assert_eq!(store.lookup("x").unwrap(), None);
    }

    /// Finds `n` names whose CRC-32 falls in slot `slot` of `nslots`.
    fn colliding(n: usize, slot: u32, nslots: u32) -> Vec<String> {
        (0..)
            .map(|i| format!("m{i}.py"))
            .filter(|p| crc32fast::hash(p.as_bytes()) & (nslots - 1) == slot)
            .take(n)
            .collect()
    }

    #[test]
    fn lookups_probe_past_collisions_and_wrap_around() {
        // Three files + root = 4 records: 8 slots. All three files hash to the last slot, so
        // two of them wrap around to slots 0, 1 (or further when the root is there).
        let mut names = colliding(3, 7, 8);
        names.sort();
        let files: Vec<File<'_>> = names
            .iter()
            .map(|n| (n.as_str(), n.as_bytes(), None))
            .collect();
        let (data, index) = build(&files, 6);
        assert_eq!(u32_at(&index, 4), 8);
        let slots: Vec<u32> = (0..8).map(|i| u32_at(&index, 32 + i * 8 + 4)).collect();
        assert!(slots[7] != 0 && slots[0] != 0, "{slots:?}");
        let mut store = open(data, index);
        for name in &names {
            let entry = store.lookup(name).unwrap().expect(name);
            assert_eq!(store.read(&entry).unwrap(), name.as_bytes());
        }
        // A missing name with the same home slot probes to an empty slot.
        let other = colliding(4, 7, 8).pop().unwrap();
        assert_eq!(store.lookup(&other).unwrap(), None);
    }

    #[test]
    fn a_file_over_4_gib_is_refused() {
        let mut writer = StoreWriter::new(std::io::sink());
        let fake = Stored {
            bytes: Vec::new(),
            deflated: true,
            crc: 0,
            size: u64::from(u32::MAX) + 1,
        };
        let err = writer.add("huge.bin", &fake, None, false).unwrap_err();
        assert!(matches!(err, StoreError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("`huge.bin`"), "{err}");
    }

    #[test]
    fn paths_out_of_order_are_refused() {
        let mut writer = StoreWriter::new(Vec::new());
        let s = Stored::new(b"x".to_vec(), 0).unwrap();
        writer.add("b.py", &s, None, false).unwrap();
        assert!(writer.add("a.py", &s, None, false).is_err());
        assert!(writer.add("b.py", &s, None, false).is_err());
    }

    #[test]
    fn damage_is_caught() {
        let (mut data, index) = build(&[("a.py", b"hello world", None)], 0);
        data[3] ^= 1;
        let mut store = open(data, index.clone());
        let a = store.lookup("a.py").unwrap().unwrap();
        let err = store.read(&a).unwrap_err();
        assert!(err.to_string().contains("`a.py` is damaged"), "{err}");
        // A truncated data member does not open.
        assert!(Store::open(index, Cursor::new(vec![0u8; 4]), 0, 4).is_err());
    }
}
