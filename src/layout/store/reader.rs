//! The site store's reader: the index in memory, the data read (and CRC-32 checked) through any
//! `Read + Seek` positioned on the bundle.

use std::io::{Read, Seek, SeekFrom};

use super::{
    FLAG_DEFLATED, FLAG_EXECUTABLE, FLAG_PYC, FLAG_PYC_DEFLATED, HEADER_LEN, KIND_DIR, MAGIC,
    RECORD_LEN, Record, SLOT_LEN, StoreError,
};

pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
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

    /// Returns where the stored bytes of the file `entry` are in the reader given to
    /// [`Store::open`]: (offset, stored size).
    pub fn stored_range(&self, entry: &Entry) -> (u64, u64) {
        (
            self.base + entry.record.offset,
            u64::from(entry.record.csize),
        )
    }

    /// Returns where the stored bytecode of the file `entry` is (see [`Store::stored_range`]),
    /// if it has bytecode.
    pub fn pyc_range(&self, entry: &Entry) -> Option<(u64, u64)> {
        entry.has_pyc().then(|| {
            (
                self.base + entry.record.pyc_offset,
                u64::from(entry.record.pyc_csize),
            )
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

    /// Checks the hash table against the records: every used slot holds the CRC-32 of the path
    /// of the record it points to, there are as many used slots as records, and every record is
    /// found by [`Store::lookup`] (a damaged slot makes a lookup miss rather than fail).
    pub fn check_slots(&self) -> Result<(), StoreError> {
        let mut used = 0usize;
        for i in 0..self.nslots {
            let slot = HEADER_LEN + i * SLOT_LEN;
            let (h, at) = (u32_at(&self.index, slot), u32_at(&self.index, slot + 4));
            if at == 0 {
                continue;
            }
            used += 1;
            let entry = self.entry_at(at)?;
            if crc32fast::hash(entry.path.as_bytes()) != h {
                return Err(StoreError::Damaged(format!(
                    "slot {i} does not hold the hash of `{}`",
                    entry.path
                )));
            }
        }
        if used != self.nrecords {
            return Err(StoreError::Damaged(format!(
                "{used} slots in use for {} records",
                self.nrecords
            )));
        }
        for entry in self.entries()? {
            if self.lookup(&entry.path)?.is_none_or(|e| e.at != entry.at) {
                return Err(StoreError::Damaged(format!(
                    "a lookup does not find `{}`",
                    entry.path
                )));
            }
        }
        Ok(())
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
            // `size` is only declared: the buffer grows past 16 MiB as the data proves it
            let mut out = Vec::with_capacity((size as usize).min(16 << 20));
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
