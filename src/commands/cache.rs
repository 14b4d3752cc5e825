//! `pybundle cache list | prune | clean`: inspect and trim the run-time extraction cache
//! (`<root>/v1/dists/<key>/`, written by `_pybundle/_extract.py` or `pybundle extract`).
//!
//! The root is `--root DIR`, else `PYBUNDLE_ROOT`, else `${XDG_CACHE_HOME:-~/.cache}/pybundle`
//! (the bootstrap's default; a root baked with `--root` at build time must be given explicitly).
//!
//! Guarantees (what "in use" means, and what a concurrent start sees):
//!
//! * **Last use.** The marker's mtime is the entry's last use: extraction writes it, and the
//!   bootstrap `utime`s it on a start that finds it older than one hour (the same moment it runs
//!   its periodic size check). The warm path therefore pays at most one extra syscall per entry
//!   per hour, and nothing otherwise.
//! * **prune** removes entries whose last use is older than `--older-than DAYS` (never younger
//!   than one hour, even with `--older-than 0`), except those a `--keep-bundle` needs and those
//!   in use. **clean** removes every entry except those in use.
//! * **In use** = a running process has a file of the entry mapped (every loaded extension
//!   module and shared library appears in `/proc/<pid>/maps`; native code is why entries are
//!   extracted at all). A process that runs only pure Python from an extracted entry, started
//!   longer ago than the threshold, is not seen: it keeps the modules it already imported and
//!   fails only on a later first import from that entry. Restart such services after a prune.
//! * **In progress.** `v1/tmp/` holds extractions in progress; prune and clean only remove tmp
//!   dirs older than one hour whose process (the pid in the name) is gone, or older than a day.
//!   A running bundle also keeps the marker of every entry it uses open (`_cache.hold`), so
//!   entries used for pure Python only are seen too.
//! * **Atomic removal.** An entry is removed only under a write lease on its marker
//!   (`fcntl(F_SETLEASE, F_WRLCK)`), which the kernel grants only while no process has the
//!   marker open: an entry a start has looked up is never removed. While the lease is held, a
//!   start that opens the marker waits until the entry is gone and then finds the marker
//!   unlinked (`st_nlink == 0`), which it treats as "not extracted". The entry is renamed into
//!   `v1/tmp/` and deleted, then the lease is dropped. After the rename prune reads the
//!   marker's mtime again: a start that recorded a use between the age check and the rename gets
//!   the entry renamed back. On a file system without leases (NFS) removal falls back to the
//!   rename alone, with the window between a start's look-up and its first import.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

use super::extract::rand_u32;
use crate::bundle::Bundle;
use crate::dirs::default_root;
use crate::layout::Mode;
use crate::layout::{DISTS_DIR, LAYOUT, MARKER, TMP_DIR};

/// Entries used within this window are never pruned (a start in flight is safe).
pub const MIN_AGE: Duration = Duration::from_secs(3600);
/// `v1/tmp/` entries younger than this may belong to a running extraction.
const TMP_GRACE: Duration = Duration::from_secs(3600);
/// `v1/tmp/` entries older than this are removed even if their pid is alive (pid reuse).
const TMP_MAX: Duration = Duration::from_secs(86400);

/// One entry of `v1/dists/`, or an environment of `v1/venvs/` (a `--venv` bundle's).
#[derive(Debug, Clone)]
pub struct Entry {
    /// The cache key (directory name).
    pub key: String,
    /// Its directory.
    pub path: PathBuf,
    /// Total bytes of its files.
    pub size: u64,
    /// Marker mtime; `None` for an incomplete entry (no marker).
    pub last_use: Option<SystemTime>,
    /// Pids of running processes with one of its files mapped.
    pub users: Vec<u32>,
    /// True for a `--venv` bundle's environment (`v1/venvs/`).
    pub venv: bool,
}

/// Returns, for each key under `dists`, the pids that have one of its files mapped or open (a
/// running bundle keeps its entries' markers open) (Linux; empty elsewhere or where `/proc` is
/// unreadable).
fn mapped_users(dists: &Path) -> BTreeMap<String, BTreeSet<u32>> {
    let mut users: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    let prefix = format!("{}/", dists.display());
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return users;
    };
    for proc_entry in procs.filter_map(Result::ok) {
        let Some(pid) = proc_entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let mut add = |line: &str| {
            if let Some(i) = line.find(&prefix) {
                let rest = &line[i + prefix.len()..];
                let key = rest.split('/').next().unwrap_or(rest);
                users.entry(key.to_string()).or_default().insert(pid);
            }
        };
        if let Ok(maps) = std::fs::read_to_string(proc_entry.path().join("maps")) {
            maps.lines().for_each(&mut add);
        }
        if let Ok(fds) = std::fs::read_dir(proc_entry.path().join("fd")) {
            for fd in fds.filter_map(Result::ok) {
                if let Ok(target) = std::fs::read_link(fd.path()) {
                    add(&target.to_string_lossy());
                }
            }
        }
    }
    users
}

/// What asking for a write lease on an entry's marker gave.
enum Lease {
    /// Granted: no process has the marker open, and one that opens it now waits until this is
    /// dropped.
    Held(
        #[expect(dead_code, reason = "held for its drop, which releases the lease")] std::fs::File,
    ),
    /// A process has the marker open: a bundle uses the entry.
    InUse,
    /// No marker, or a file system without leases: removal relies on the rename alone.
    Unavailable,
}

/// Asks for a write lease on `marker` (see the module documentation).
#[expect(
    unsafe_code,
    reason = "fcntl(F_SETLEASE) and signal(SIGIO) have no safe wrapper in std; both take plain \
              integers and a descriptor that `file` owns for the whole call"
)]
fn lease(marker: &Path) -> Lease {
    use std::os::fd::AsRawFd;
    let Ok(file) = std::fs::File::open(marker) else {
        return Lease::Unavailable;
    };
    // A start opening the marker makes the kernel send SIGIO to the lease holder, whose default
    // action ends the process: the lease is dropped by its owner instead, after the removal.
    // SAFETY: SIG_IGN installs no handler code; SIGIO is a valid signal number.
    unsafe { libc::signal(libc::SIGIO, libc::SIG_IGN) };
    // SAFETY: `file` is open for the duration of the call; F_SETLEASE takes an int argument.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_WRLCK) };
    if rc == 0 {
        return Lease::Held(file);
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EAGAIN | libc::EBUSY) => Lease::InUse,
        _ => Lease::Unavailable,
    }
}

fn dir_size(path: &Path) -> u64 {
    walkdir::WalkDir::new(path)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len())
        .sum()
}

/// Lists the entries of `root`: extracted distributions, then environments, each sorted by key.
pub fn entries(root: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for (dir, venv) in [(DISTS_DIR, false), (crate::layout::venv::VENVS_DIR, true)] {
        let mut part = entries_in(&root.join(LAYOUT).join(dir), venv)?;
        part.sort_by(|a, b| a.key.cmp(&b.key));
        out.extend(part);
    }
    Ok(out)
}

/// The entries of one directory of `v1/` (unsorted).
fn entries_in(dists: &Path, venv: bool) -> Result<Vec<Entry>> {
    if !dists.is_dir() {
        return Ok(Vec::new());
    }
    let users = mapped_users(dists);
    let mut out = Vec::new();
    for item in fs_err::read_dir(dists)? {
        let item = item?;
        let key = item.file_name().to_string_lossy().into_owned();
        let path = item.path();
        let last_use = std::fs::metadata(path.join(MARKER))
            .and_then(|m| m.modified())
            .ok();
        out.push(Entry {
            size: dir_size(&path),
            users: users
                .get(&key)
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default(),
            key,
            path,
            last_use,
            venv,
        });
    }
    Ok(out)
}

fn ago(t: Option<SystemTime>) -> String {
    let Some(t) = t else {
        return "incomplete".to_string();
    };
    let secs = SystemTime::now()
        .duration_since(t)
        .map_or(0, |d| d.as_secs());
    match secs {
        0..120 => "just now".to_string(),
        120..7200 => format!("{} min ago", secs / 60),
        7200..172_800 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86400),
    }
}

/// Returns the number and total bytes of the dirs in `v1/tmp/`: extractions in progress and
/// the leftovers of starts that were killed.
pub fn tmp_dirs(root: &Path) -> (usize, u64) {
    let Ok(items) = std::fs::read_dir(root.join(LAYOUT).join(TMP_DIR)) else {
        return (0, 0);
    };
    items
        .filter_map(Result::ok)
        .fold((0, 0), |(n, bytes), item| {
            (n + 1, bytes + dir_size(&item.path()))
        })
}

/// `pybundle cache list`.
pub fn list(root: Option<&Path>) -> Result<()> {
    let root = default_root(root)?;
    let all = entries(&root)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "cache root: {}", root.display())?;
    let (tmp_count, tmp_bytes) = tmp_dirs(&root);
    if tmp_count > 0 {
        writeln!(
            out,
            "{tmp_count} dirs in {LAYOUT}/{TMP_DIR}/ ({:.1} MB): extractions in progress or left by killed starts, removed once an hour old and their process gone (by a start, `cache prune` or `cache clean`)",
            tmp_bytes as f64 / 1e6
        )?;
    }
    if all.is_empty() {
        writeln!(out, "no entries")?;
        return Ok(());
    }
    let width = all.iter().map(|e| e.key.len()).max().unwrap_or(0);
    for e in &all {
        let users = if e.users.is_empty() {
            String::new()
        } else {
            format!(
                "  in use by pid {}",
                e.users
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let kind = if e.venv { "  (environment)" } else { "" };
        writeln!(
            out,
            "{:<width$}  {:>9}  last use {}{users}{kind}",
            e.key,
            format!("{:.1} MB", e.size as f64 / 1e6),
            ago(e.last_use)
        )?;
    }
    let total: u64 = all.iter().map(|e| e.size).sum();
    writeln!(out, "{} entries, {:.1} MB", all.len(), total as f64 / 1e6)?;
    Ok(())
}

/// What a prune or clean did.
#[derive(Debug, Default)]
pub struct PruneReport {
    /// Removed keys.
    pub removed: Vec<String>,
    /// Bytes freed.
    pub freed: u64,
    /// Keys kept because a running process uses them.
    pub in_use: Vec<String>,
    /// Keys kept because a start used them while they were being removed.
    pub raced: Vec<String>,
    /// Leftover tmp dirs removed.
    pub tmp_removed: usize,
}

/// Removes the entries of `root` not used for `older_than` (at least [`MIN_AGE`] unless
/// `clean`), not needed by `keep`, and not in use; see the module documentation.
pub fn prune(
    root: &Path,
    older_than: Duration,
    keep: &BTreeSet<String>,
    clean: bool,
) -> Result<PruneReport> {
    let threshold = if clean {
        Duration::ZERO
    } else {
        older_than.max(MIN_AGE)
    };
    let v1 = root.join(LAYOUT);
    let tmp = v1.join(TMP_DIR);
    let now = SystemTime::now();
    let mut report = PruneReport::default();
    for e in entries(root)? {
        if keep.contains(&e.key) {
            continue;
        }
        if !e.users.is_empty() {
            report.in_use.push(e.key);
            continue;
        }
        let age_of = |p: &Path| -> Option<Duration> {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .ok()
                .map(|t| now.duration_since(t).unwrap_or_default())
        };
        // An incomplete entry (no marker) is treated like a tmp dir: old enough, or leave it.
        let age = match e.last_use {
            Some(_) => age_of(&e.path.join(MARKER)),
            None => age_of(&e.path).filter(|a| *a >= TMP_GRACE),
        };
        let Some(age) = age else { continue };
        if age < threshold {
            continue;
        }
        let lease = lease(&e.path.join(MARKER));
        if matches!(lease, Lease::InUse) {
            report.in_use.push(e.key);
            continue;
        }
        let aside = tmp.join(format!(
            "{}.prune.{}.{:08x}",
            e.key,
            std::process::id(),
            rand_u32()
        ));
        if std::fs::rename(&e.path, &aside).is_err() {
            continue; // removed or replaced concurrently
        }
        if !clean
            && e.last_use.is_some()
            && age_of(&aside.join(MARKER)).is_none_or(|a| a < threshold)
        {
            // A start recorded a use between the check and the rename: give it back.
            if std::fs::rename(&aside, &e.path).is_ok() {
                report.raced.push(e.key);
                continue;
            }
        }
        fs_err::remove_dir_all(&aside)
            .with_context(|| format!("cannot remove `{}`", aside.display()))?;
        drop(lease); // a start waiting for the marker now finds it unlinked
        report.freed += e.size;
        report.removed.push(e.key);
    }
    report.tmp_removed = clean_tmp(&tmp, now);
    Ok(report)
}

/// Removes leftover `v1/tmp/` dirs (see the module documentation); returns how many.
fn clean_tmp(tmp: &Path, now: SystemTime) -> usize {
    let Ok(items) = std::fs::read_dir(tmp) else {
        return 0;
    };
    let mut removed = 0;
    for item in items.filter_map(Result::ok) {
        let path = item.path();
        let Some(age) = std::fs::symlink_metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .map(|t| now.duration_since(t).unwrap_or_default())
        else {
            continue;
        };
        if age < TMP_GRACE {
            continue;
        }
        let name = item.file_name().to_string_lossy().into_owned();
        let pid = name.rsplit('.').nth(1).and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if alive && age < TMP_MAX {
            continue;
        }
        if fs_err::remove_dir_all(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Returns the cache keys the bundles `files` extract.
fn keys_of(files: &[PathBuf]) -> Result<BTreeSet<String>> {
    let mut keys = BTreeSet::new();
    for file in files {
        let bundle = Bundle::open(file)?;
        keys.extend(
            bundle
                .manifest
                .distributions
                .iter()
                .filter(|d| d.mode == Mode::Extract)
                .filter_map(|d| d.key.clone()),
        );
    }
    Ok(keys)
}

fn print_report(root: &Path, report: &PruneReport) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for key in &report.removed {
        writeln!(out, "removed {key}")?;
    }
    for key in &report.in_use {
        writeln!(out, "kept    {key} (in use by a running process)")?;
    }
    for key in &report.raced {
        writeln!(out, "kept    {key} (a bundle started using it)")?;
    }
    writeln!(
        out,
        "{}: removed {} entries ({:.1} MB) and {} leftover tmp dirs",
        root.display(),
        report.removed.len(),
        report.freed as f64 / 1e6,
        report.tmp_removed
    )?;
    Ok(())
}

/// `pybundle cache prune`.
pub fn run_prune(root: Option<&Path>, days: u32, keep_bundles: &[PathBuf]) -> Result<()> {
    let root = default_root(root)?;
    let keep = keys_of(keep_bundles)?;
    let report = prune(
        &root,
        Duration::from_secs(u64::from(days) * 86400),
        &keep,
        false,
    )?;
    print_report(&root, &report)
}

/// `pybundle cache clean`.
pub fn run_clean(root: Option<&Path>) -> Result<()> {
    let root = default_root(root)?;
    let report = prune(&root, Duration::ZERO, &BTreeSet::new(), true)?;
    print_report(&root, &report)
}
