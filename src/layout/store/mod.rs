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

mod reader;

use std::collections::BTreeMap;
use std::io::Write;

pub use reader::{Entry, Store};

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
            let packed = deflate(&content, u32::from(level.min(9)))?;
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

thread_local! {
    /// One raw-deflate compressor per thread, reset for every file: a fresh one allocates a few
    /// hundred KiB, and allocating one per file while the small outputs stay alive fragments the
    /// heap (memory grew with the number of files).
    static DEFLATE: std::cell::RefCell<Option<(u32, flate2::Compress)>> =
        const { std::cell::RefCell::new(None) };
}

/// Returns `content` as raw deflate at `level`.
fn deflate(content: &[u8], level: u32) -> std::io::Result<Vec<u8>> {
    use flate2::{Compress, Compression, FlushCompress, Status};
    DEFLATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            *slot = Some((level, Compress::new(Compression::new(level), false)));
        }
        let (_, compress) = slot.as_mut().expect("just set");
        compress.reset();
        let mut out = Vec::with_capacity(content.len() / 2 + 64);
        loop {
            let consumed = usize::try_from(compress.total_in()).unwrap_or(usize::MAX);
            let rest = content.get(consumed..).unwrap_or_default();
            match compress
                .compress_vec(rest, &mut out, FlushCompress::Finish)
                .map_err(std::io::Error::other)?
            {
                Status::StreamEnd => return Ok(out),
                Status::Ok | Status::BufError => out.reserve(out.capacity().max(4096)),
            }
        }
    })
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
    let paths = with_directories(files);
    let layout = IndexLayout::new(&paths)?;
    let mut out = Vec::with_capacity(layout.len);
    out.extend_from_slice(MAGIC);
    for n in [layout.nslots as u32, layout.nrecords, HEADER_LEN as u32] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(&data_size.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    for (hash, offset) in hash_slots(&layout.offsets, layout.nslots) {
        out.extend_from_slice(&hash.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
    }
    for (path, meta) in &paths {
        let record = match meta {
            Some(meta) => Record::file(meta),
            None => Record {
                kind: KIND_DIR,
                crc: layout.children.get(path).map_or(0, Vec::len) as u32,
                offset: u64::from(layout.list_at[path]),
                ..Record::default()
            },
        };
        record.write(path, &mut out);
    }
    for (path, meta) in &paths {
        if meta.is_none() {
            for offset in layout.children.get(path).into_iter().flatten() {
                out.extend_from_slice(&offset.to_le_bytes());
            }
        }
    }
    Ok(out)
}

/// Returns every path of `files` with its record, plus every ancestor directory (the root `""`
/// included) with `None`.
fn with_directories(files: &BTreeMap<String, FileMeta>) -> BTreeMap<&str, Option<&FileMeta>> {
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
    paths
}

/// Where each part of the index goes: the header, the hash slots, the records, then the
/// children lists of the directories.
struct IndexLayout<'p> {
    /// The number of hash slots (a power of two, at least twice the records).
    nslots: usize,
    /// The number of records.
    nrecords: u32,
    /// The offset of each path's record.
    offsets: BTreeMap<&'p str, u32>,
    /// The record offsets of each directory's children, in path order.
    children: BTreeMap<&'p str, Vec<u32>>,
    /// The offset of each directory's children list.
    list_at: BTreeMap<&'p str, u32>,
    /// The length of the whole index.
    len: usize,
}

impl<'p> IndexLayout<'p> {
    fn new(paths: &BTreeMap<&'p str, Option<&FileMeta>>) -> Result<Self, StoreError> {
        let overflow = |what: &str| StoreError::Damaged(format!("the index is too large ({what})"));
        let nrecords = u32::try_from(paths.len()).map_err(|_| overflow("records"))?;
        let nslots = (paths.len() * 2).next_power_of_two().max(8);
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
        for (path, meta) in paths {
            if meta.is_none() {
                list_at.insert(path, u32::try_from(at).map_err(|_| overflow("lists"))?);
                at += 4 * children.get(path).map_or(0, Vec::len);
            }
        }
        Ok(IndexLayout {
            nslots,
            nrecords,
            offsets,
            children,
            list_at,
            len: at,
        })
    }
}

/// Returns the open-addressing hash table of `offsets` (crc32 of the path, linear probing):
/// `(hash, record offset)` per slot, `(0, 0)` for an empty one.
fn hash_slots(offsets: &BTreeMap<&str, u32>, nslots: usize) -> Vec<(u32, u32)> {
    let mut slots = vec![(0u32, 0u32); nslots];
    for (path, &offset) in offsets {
        let hash = crc32fast::hash(path.as_bytes());
        let mut i = hash as usize & (nslots - 1);
        while slots[i].1 != 0 {
            i = (i + 1) & (nslots - 1);
        }
        slots[i] = (hash, offset);
    }
    slots
}

/// One record of the index, without its path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) kind: u8,
    pub(crate) flags: u8,
    pub(crate) crc: u32,
    pub(crate) offset: u64,
    pub(crate) csize: u32,
    pub(crate) size: u32,
    pub(crate) pyc_offset: u64,
    pub(crate) pyc_csize: u32,
    pub(crate) pyc_size: u32,
    pub(crate) pyc_crc: u32,
}

impl Record {
    /// Returns the record of a file: its content's blob and flags, and its bytecode's blob.
    fn file(meta: &FileMeta) -> Record {
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

    pub(crate) fn write(&self, path: &str, out: &mut Vec<u8>) {
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

#[cfg(test)]
mod tests {
    use super::reader::u32_at;
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
