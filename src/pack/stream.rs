//! The bundle's bytes, written in one pass in path order: the shebang line, then a zip of a
//! handful of members (`__main__.py`, the run-time package, the manifest, the site store's
//! `_pybundle/site.data` and `_pybundle/site.index`, one `extract/<key>.zip` per extracted
//! distribution).
//!
//! Memory stays bounded: the store's files are read and compressed in parallel batches
//! ([`writer::batches`], at most 32 MiB of input or one larger file, each thread reusing one
//! compressor) and appended before the next batch is read; an inner archive is written member by
//! member to an unnamed temporary file next to the output and copied in. What grows
//! with the bundle is the list of files, the site index and the manifest (a few hundred bytes a
//! file).

use std::collections::{BTreeMap, HashMap};
use std::io::{Seek, Write};
use std::path::Path;

use anyhow::Context;
use rayon::prelude::*;

use super::writer::{self, EntryStyle, Member, Source};
use crate::layout::EXTRACT_DIR;
use crate::layout::store::{DATA_MEMBER, INDEX_MEMBER, StoreWriter, Stored};

/// One file of the site store: a file of a zip-imported distribution, with the bytecode of this
/// `.py` if any.
#[derive(Debug)]
pub struct StoreFile {
    /// Path relative to the site root.
    pub path: String,
    /// Content.
    pub source: Source,
    /// Mode 0755.
    pub executable: bool,
    /// The `.pyc` of this `.py`.
    pub pyc: Option<Source>,
    /// Bytes of content and bytecode (from the hashing pass), to size the batches.
    pub size: u64,
}

/// What the bundle holds, laid out.
#[derive(Debug, Default)]
pub struct Payload {
    /// Members of the outer zip besides the store and the inner archives, by path.
    pub outer: BTreeMap<String, Member>,
    /// The store's files, sorted by path.
    pub store: Vec<StoreFile>,
    /// Per extracted distribution (cache key), its files (path inside the entry, sorted) with
    /// their sizes.
    pub inner: BTreeMap<String, Vec<(Member, u64)>>,
}

impl Payload {
    /// Adds the compiled bytecode `pyc` (the logical `X.pyc`) to the store file `X.py`, or as a
    /// file of its own when there is no such source. `store` must be sorted and complete.
    pub fn attach_bytecode(&mut self, pycs: Vec<(String, Source, u64)>) {
        let by_path: HashMap<String, usize> = self
            .store
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.clone(), i))
            .collect();
        let mut orphans = Vec::new();
        for (path, source, size) in pycs {
            let py = path
                .strip_suffix(".pyc")
                .map(|stem| format!("{stem}.py"))
                .and_then(|py| by_path.get(&py).copied());
            match py {
                Some(i) if self.store[i].pyc.is_none() => {
                    self.store[i].pyc = Some(source);
                    self.store[i].size += size;
                }
                _ => orphans.push(StoreFile {
                    path,
                    source,
                    executable: false,
                    pyc: None,
                    size,
                }),
            }
        }
        if !orphans.is_empty() {
            self.store.extend(orphans);
            self.store.sort_by(|a, b| a.path.cmp(&b.path));
        }
    }
}

enum Outer {
    Member(Member),
    Data,
    Index,
    Inner(String),
}

/// Writes `#!shebang` and the zip of `payload` to `file`; inner archives go through temporary
/// files in `temp_dir`.
pub fn write_bundle(
    file: &mut std::fs::File,
    shebang: &str,
    payload: Payload,
    style: EntryStyle,
    temp_dir: &Path,
) -> anyhow::Result<()> {
    file.write_all(format!("#!{shebang}\n").as_bytes())?;
    let Payload {
        outer,
        store,
        mut inner,
    } = payload;
    let mut names: BTreeMap<String, Outer> = outer
        .into_iter()
        .map(|(path, member)| (path, Outer::Member(member)))
        .collect();
    names.insert(DATA_MEMBER.to_string(), Outer::Data);
    names.insert(INDEX_MEMBER.to_string(), Outer::Index);
    for key in inner.keys() {
        names.insert(
            format!("{EXTRACT_DIR}/{key}.zip"),
            Outer::Inner(key.clone()),
        );
    }
    let stored = EntryStyle { level: 0, ..style }.options(false);
    let mut store = Some(store);
    let mut index = None;
    writer::write_zip(file, |zip| {
        for (name, item) in names {
            match item {
                Outer::Member(member) => {
                    // `__main__.py` is stored: a flipped bit then changes one character, which
                    // its guard's read-back catches unless it lands in the guard's own code (a
                    // deflated one would come out garbled, a syntax error before the guard runs).
                    let member_style = if name == crate::layout::MAIN_PATH {
                        EntryStyle { level: 0, ..style }
                    } else {
                        style
                    };
                    let prepared = writer::prepare_one(member, member_style)?;
                    zip.add_prepared_file(prepared.into_file())?;
                }
                Outer::Data => {
                    zip.start_file(name.as_str(), stored)?;
                    let files = store.take().unwrap_or_default();
                    index = Some(write_store(&mut *zip, files, style.level)?);
                }
                Outer::Index => {
                    let bytes = index
                        .take()
                        .context("the site index comes after its data")?;
                    zip.start_file(name.as_str(), stored)?;
                    zip.write_all(&bytes)?;
                }
                Outer::Inner(key) => {
                    let members = inner.remove(&key).unwrap_or_default();
                    let mut temp = inner_archive(members, style, temp_dir)
                        .with_context(|| format!("cannot write the inner archive `{name}`"))?;
                    zip.start_file(name.as_str(), stored)?;
                    std::io::copy(&mut temp, zip)?;
                }
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// Writes the store's data for `files` (sorted) to `out`, compressing a batch at a time in
/// parallel, and returns the bytes of its index.
fn write_store<W: Write>(out: W, files: Vec<StoreFile>, level: u8) -> anyhow::Result<Vec<u8>> {
    let mut store = StoreWriter::new(out);
    for batch in writer::batches(files, |f| f.size) {
        let compressed: Vec<std::io::Result<(Stored, Option<Stored>)>> = batch
            .par_iter()
            .map(|f| {
                let content = Stored::new(f.source.read_all()?, level)?;
                let pyc = match &f.pyc {
                    Some(pyc) => Some(Stored::new(pyc.read_all()?, level)?),
                    None => None,
                };
                Ok((content, pyc))
            })
            .collect();
        for (file, result) in batch.iter().zip(compressed) {
            let (content, pyc) = result?;
            store.add(&file.path, &content, pyc.as_ref(), file.executable)?;
        }
    }
    let (_, index, _) = store.finish()?;
    Ok(index)
}

/// Returns an unnamed temporary file in `dir` holding the zip of `members` (sorted), rewound.
/// Written one member after the other through the `zip` crate's writer, which reuses one deflate
/// state for every entry: memory stays constant (per-member compressors in parallel fragmented the
/// heap, 600 MB for the 8,800 files of azure-cli).
fn inner_archive(
    members: Vec<(Member, u64)>,
    style: EntryStyle,
    dir: &Path,
) -> anyhow::Result<std::fs::File> {
    let mut temp = tempfile::tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in `{}`", dir.display()))?;
    let mut buf = vec![0u8; writer::FEED_CHUNK];
    writer::write_zip(&mut temp, |zip| {
        for (member, size) in members {
            let options = inner_member_style(style, &member, size).options(member.executable);
            zip.start_file(member.path.as_str(), options)?;
            let mut reader = member.source.open()?;
            writer::feed_in_pieces(&mut reader, &mut buf, &mut |piece| zip.write_all(piece))?;
        }
        Ok(())
    })?;
    temp.rewind()?;
    Ok(temp)
}

/// Native libraries of at least this many bytes are stored in their inner archive, not deflated.
/// A first start then has the kernel copy them (`os.sendfile` from the bundle at the member's
/// offset, `_pybundle._zip.copy`) instead of inflating them on one core: numpy's 24.8 MB OpenBLAS
/// took 0.18-0.23 s to inflate, alone longer than the rest of its extraction on a second thread,
/// and is copied and checked (CRC-32) in about 20 ms. The price is their size in the bundle
/// (numpy's: 7.5 MB deflated, 24.8 MB stored); smaller libraries stay deflated.
pub const STORED_NATIVE_BYTES: u64 = 16 << 20;

/// Returns `style`, or `style` at level 0 (stored) for a native library of at least
/// [`STORED_NATIVE_BYTES`].
fn inner_member_style(style: EntryStyle, member: &Member, size: u64) -> EntryStyle {
    if size >= STORED_NATIVE_BYTES && crate::analyze::is_native_file(&member.path) {
        EntryStyle { level: 0, ..style }
    } else {
        style
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(path: &str) -> Member {
        Member {
            path: path.to_string(),
            source: Source::Bytes(Vec::new()),
            executable: false,
        }
    }

    #[test]
    fn large_native_libraries_are_stored_the_rest_deflated() {
        let style = EntryStyle {
            level: 6,
            mtime: zip::DateTime::default(),
        };
        let level = |path: &str, size: u64| inner_member_style(style, &member(path), size).level;
        assert_eq!(level("numpy.libs/libopenblas-1.so", STORED_NATIVE_BYTES), 0);
        assert_eq!(
            level("pkg/_core.cpython-311-x86_64-linux-gnu.so", 30 << 20),
            0
        );
        assert_eq!(
            level(
                "pkg/_core.cpython-311-x86_64-linux-gnu.so",
                STORED_NATIVE_BYTES - 1
            ),
            6
        );
        assert_eq!(level("pkg/data.bin", 30 << 20), 6);
    }
}
