"""Extraction cache (cold path; imported only when an entry must be extracted or verified).

Cache roots
-----------
* Read-only roots: ``PYBUNDLE_ROOTS=dir1:dir2`` (``os.pathsep``-separated) are consulted first,
  in order. An entry there is used as it is, never written to (no extraction, no last-use
  update), if it is complete. Such a root (and its ``v1`` dir and the entry) must be owned by
  the current user or by root and must not be writable by group/others.
* The writable root is the first of: ``PYBUNDLE_ROOT``, the ``ROOT`` baked into the bundle at
  build time, ``${XDG_CACHE_HOME:-~/.cache}/pybundle``. It is created with mode 0700; it and
  its ``v1`` dir must be owned by the current uid and not group/other-writable, else the run
  stops with an error naming the directory, its owner and mode, and the fix.
* If the writable root cannot be created or written (read-only or missing HOME, a path under
  a regular file, ...), the run falls back to ``$TMPDIR/pybundle-<uid>`` (``/tmp`` when TMPDIR
  is unset; created 0700, ownership checked) with one warning line on stderr, or fails
  clearly if that is unusable too.

Layout: ``<root>/v1/dists/<key>/`` (complete entries, each with the marker file
``.pybundle-complete``) and ``<root>/v1/tmp/`` (extractions in progress).

Atomicity and concurrency
-------------------------
No lock. Each process extracts into ``v1/tmp/<key>.<pid>.<random>/``, writes the marker last
and ``os.rename``s the directory to ``v1/dists/<key>``. If the target exists and is complete,
another process won: the private copy is removed and the winner's is used. A target without
a marker is moved aside and replaced. ``PYBUNDLE_FORCE_EXTRACT=1`` extracts anew and swaps it
in (rename old aside, rename new in, remove old). Leftover tmp dirs older than one hour whose
process is gone are removed opportunistically on this (cold) path.

Integrity
---------
The marker's first line is ``pybundle-complete 1 <file count> <total bytes>``; it is followed
by one ``<size> <relative path>`` line per file. The warm path stats only the marker (plus the
ownership checks of root, ``v1`` and the entry). A full check (one ``os.stat`` per listed file,
comparing sizes) costs, measured on the build machine for 1500 files in 60 directories with a
warm dentry cache, 6.8-7.3 ms (vs 0.007 ms for the single marker stat; CPython itself starts
in roughly 20-100 ms). That is too much to pay on every start for tools that start often, so
the full check runs:

* when the marker's mtime is older than one hour -- the same moment the last use is recorded
  for ``pybundle cache prune`` (``os.utime`` on the marker), so it costs at most one full check
  per entry per hour of use;
* on every start with ``PYBUNDLE_VERIFY=1``.

Every other start that uses an entry checks its native files only (extension modules, shared
libraries, executables: the sixth field of its ``EXTRACT`` item lists them with their sizes,
so there is no directory walk): one ``os.stat`` each, about 0.1 ms for numpy's entry. A tmp
cleaner deletes old files one by one, leaving directories and the marker; a missing extension
module would otherwise make a library run its pure-Python fallback, silently.

A damaged entry found by either check (missing file, wrong size, unreadable marker) is repaired
(re-extracted atomically, as with ``PYBUNDLE_FORCE_EXTRACT``) rather than imported; if the
writable root cannot be written the run stops with an error naming the file (``_repair_root``);
in a read-only root (``PYBUNDLE_ROOTS``) the entry is skipped and the writable root serves it.
Damage to other files that appears between two full checks is not detected; the documented
repair is ``PYBUNDLE_VERIFY=1`` (or ``PYBUNDLE_FORCE_EXTRACT=1``) for one run.
"""
import os
import sys

from . import LAYOUT, MARKER, PYC_PACK, fail, log, read_member, _safe

# Below this many bytes one thread extracts; above it two share the work.
_PARALLEL_BYTES = 4 << 20
# The cost of one file (open, write, close) in bytes of inflated data, for balancing.
_FILE_COST = 64 << 10


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------
def _owner(uid):
    try:
        import pwd

        return "%s (uid %d)" % (pwd.getpwuid(uid).pw_name, uid)
    except Exception:
        return "uid %d" % uid


def unsafe_dir(path, st, uid, readonly=False):
    who = "you or root" if readonly else "you"
    fail(
        "error: refusing to use the pybundle cache directory %s: it is owned by %s and has mode "
        "%04o, but it must be owned by %s (uid %d) and not writable by group or others. fix: "
        "`chmod 700 %s` (and `chown` it to yourself), or set PYBUNDLE_ROOT to a private directory."
        % (path, _owner(st.st_uid), st.st_mode & 0o7777, who, uid, path)
    )


def damaged(archive, why):
    fail("error: the bundle `%s` is damaged (%s); rebuild it or copy it again" % (archive, why))


# --------------------------------------------------------------------------------------------
# verification
# --------------------------------------------------------------------------------------------
def read_marker(entry):
    with open(os.path.join(entry, MARKER), "r", encoding="utf-8") as f:
        lines = f.read().split("\n")
    head = lines[0].split()
    if len(head) != 4 or head[0] != "pybundle-complete":
        raise ValueError("bad marker header")
    count, size = int(head[2]), int(head[3])
    files = []
    for line in lines[1:]:
        if line:
            s, _, p = line.partition(" ")
            files.append((p, int(s)))
    if len(files) != count or sum(s for _, s in files) != size:
        raise ValueError("marker file list does not match its totals")
    return count, size, files


def check_entry(entry):
    """Return None if every file listed in the marker exists with its size, else a reason."""
    try:
        _count, _size, files = read_marker(entry)
    except (OSError, ValueError) as e:
        return "unreadable marker: %s" % e
    st = os.stat
    join = os.path.join
    for p, size in files:
        try:
            if st(join(entry, p)).st_size != size:
                return "wrong size: %s" % p
        except OSError:
            return "missing file: %s" % p
    return None


def verify_entry(entry, key, repairable=False):
    """Check every file of ``entry`` (see ``check_entry``); None if it is intact, else the
    reason, after a warning."""
    import time

    t = time.perf_counter()
    why = check_entry(entry)
    log("verified %s in %.1f ms: %s" % (key, (time.perf_counter() - t) * 1000, why or "ok"))
    if why is not None:
        report_damage(entry, why, repairable)
    return why


def report_damage(entry, why, repairable):
    sys.stderr.write(
        "pybundle: warning: cache entry %s is damaged (%s); %s\n"
        % (entry, why, "repairing it" if repairable else "not using it")
    )


def _repair_root(rw, uid, repair):
    """The writable root ``rw``, ready for the repair of the damaged entries ``repair`` ({key:
    (entry, why)}); a root that cannot be written stops the run with an error naming the file.
    A missing entry falls back to the temporary root (``_choose_root``), a damaged one does not:
    the entry is there, so the root was filled once (pre-seeded, then made read-only, say) and
    a copy in a temporary root would hide that it is broken, and be extracted anew on every
    start of a fresh container."""
    try:
        return _prepare_root(rw, uid)
    except OSError as e:
        key = sorted(repair)[0]
        entry, why = repair[key]
        fail(
            "error: the pybundle cache entry %s is damaged (%s) and cannot be repaired: its root "
            "%s cannot be written (%s). fix: make %s writable, or set PYBUNDLE_ROOT to a "
            "writable directory; for a read-only copy, pre-seed it with `pybundle extract` and "
            "list it in PYBUNDLE_ROOTS."
            % (entry, why, rw, e.strerror or e, rw)
        )


# --------------------------------------------------------------------------------------------
# roots
# --------------------------------------------------------------------------------------------
def _ensure_dir(path, uid, mode=0o700, nofollow=False):
    """Create ``path`` (mode 0700) if needed and check ownership/mode. OSError if unusable.

    ``nofollow``: refuse a symlink (for the fallback root in a shared temp dir)."""
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        pass
    st = os.lstat(path) if nofollow else os.stat(path)
    import stat

    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(20, "not a directory", path)
    if not _safe(st, uid):
        unsafe_dir(path, st, uid)
    return path


def _prepare_root(root, uid, shared_parent=False):
    """Create root, v1, v1/dists and v1/tmp; check them; probe writability. Raises OSError."""
    parent = os.path.dirname(root)
    if parent and not os.path.isdir(parent):
        if shared_parent:
            raise FileNotFoundError(2, "no such directory", parent)
        os.makedirs(parent, 0o755)
    _ensure_dir(root, uid, nofollow=shared_parent)
    v1 = _ensure_dir(os.path.join(root, LAYOUT), uid)
    _ensure_dir(os.path.join(v1, "dists"), uid)
    tmp = _ensure_dir(os.path.join(v1, "tmp"), uid)
    if not os.access(tmp, os.W_OK | os.X_OK):
        raise PermissionError(13, "not writable", tmp)
    return root


def _fallback_root(uid):
    base = os.environ.get("TMPDIR") or "/tmp"
    return os.path.join(base, "pybundle-%s" % (uid if uid is not None else "user"))


def _choose_root(rw, uid):
    reason = None
    if rw is not None:
        try:
            return _prepare_root(rw, uid)
        except OSError as e:
            reason = e.strerror or str(e)
    else:
        reason = "no home directory"
    fb = _fallback_root(uid)
    try:
        _prepare_root(fb, uid, shared_parent=True)
    except OSError as e:
        fail(
            "error: pybundle cannot create its cache directory: %s: %s; fallback %s: %s. "
            "fix: set PYBUNDLE_ROOT to a writable private directory."
            % (rw or "~/.cache/pybundle", reason, fb, e.strerror or e)
        )
    sys.stderr.write(
        "pybundle: warning: cannot use the cache directory %s (%s); using %s instead "
        "(set PYBUNDLE_ROOT to choose another)\n" % (rw or "~/.cache/pybundle", reason, fb)
    )
    return fb


def _cleanup_tmp(tmp):
    import time

    now = time.time()
    try:
        names = os.listdir(tmp)
    except OSError:
        return
    for name in names:
        path = os.path.join(tmp, name)
        try:
            if now - os.lstat(path).st_mtime < 3600:
                continue
        except OSError:
            continue
        parts = name.rsplit(".", 2)
        alive = False
        if len(parts) == 3 and parts[1].isdigit():
            try:
                os.kill(int(parts[1]), 0)
                alive = True
            except ProcessLookupError:
                alive = False
            except (OSError, ValueError):
                alive = True
            try:
                if now - os.lstat(path).st_mtime > 86400:
                    alive = False  # pid reused or a stuck process: a day is long enough
            except OSError:
                continue
        if not alive:
            _rmtree(path)
            log("removed leftover %s" % path)


def _rmtree(path):
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _private_name(tmp, key, tag=""):
    return os.path.join(tmp, "%s%s.%d.%s" % (key, tag, os.getpid(), os.urandom(4).hex()))


# --------------------------------------------------------------------------------------------
# extraction
# --------------------------------------------------------------------------------------------
def _safe_parts(rel):
    if not rel or "\x00" in rel or "\n" in rel or "\\" in rel or rel.startswith("/"):
        return None
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts) or ":" in parts[0]:
        return None
    return parts


def _toc(archive):
    """The bundle's directory as zipimport read it: {name: (path, compress, data_size,
    file_size, file_offset, time, date, crc)}, offsets from the start of the file. Falls back to
    reading the central directory with zipimport when it is not cached (it always is: zipimport
    read it to run ``__main__.py``)."""
    import zipimport

    cache = zipimport._zip_directory_cache
    for k in (archive, os.path.abspath(archive)):
        toc = cache.get(k)
        if toc:
            return toc
    try:
        zipimport.zipimporter(archive)
    except (zipimport.ZipImportError, OSError) as e:
        damaged(archive, str(e))
    return cache.get(archive) or cache.get(os.path.abspath(archive)) or {}


def _read_member(fd, archive, name, entry):
    """The bytes of one member (see ``read_member``); a damaged one stops the run."""
    data, why = read_member(fd, entry)
    if data is None:
        damaged(archive, "%s: %s" % (name, why))
    return data


def _inner_members(fd, archive, name, entry):
    """The members of the stored inner archive ``name`` (an extracted distribution's files):
    [(path, entry, mode)], ``entry`` in zipimport's toc format with offsets in the bundle."""
    import struct

    _path, compress, data_size, file_size, offset, _t, _d, _crc = entry
    head = os.pread(fd, 30, offset)
    if compress != 0 or data_size != file_size or len(head) != 30 or head[:4] != b"PK\x03\x04":
        damaged(archive, "%s: not a stored archive" % name)
    base = offset + 30 + int.from_bytes(head[26:28], "little") + int.from_bytes(head[28:30], "little")
    end = os.pread(fd, 22, base + data_size - 22)  # written without a comment
    if len(end) != 22 or end[:4] != b"PK\x05\x06":
        damaged(archive, "%s: no end of central directory" % name)
    count, cd_size, cd_offset = struct.unpack("<10xHII", end[:20])[0:3]
    if count == 0xFFFF or cd_offset == 0xFFFFFFFF:  # Zip64: locator, then the record
        loc = os.pread(fd, 20, base + data_size - 42)
        if loc[:4] != b"PK\x06\x07":
            damaged(archive, "%s: no Zip64 locator" % name)
        rec = os.pread(fd, 56, base + struct.unpack("<Q", loc[8:16])[0])
        if rec[:4] != b"PK\x06\x06":
            damaged(archive, "%s: no Zip64 end record" % name)
        count, cd_size, cd_offset = struct.unpack("<QQQ", rec[32:56])
    cd = os.pread(fd, cd_size, base + cd_offset)
    if len(cd) != cd_size:
        damaged(archive, "%s: truncated central directory" % name)
    out = []
    pos = 0
    for _ in range(count):
        if cd[pos:pos + 4] != b"PK\x01\x02":
            damaged(archive, "%s: bad central directory" % name)
        (method, time_, date, crc, csize, usize, n_len, x_len, c_len, attr,
         local) = struct.unpack("<10xHHHIIIHHH4xII", cd[pos:pos + 46])
        member = cd[pos + 46:pos + 46 + n_len].decode("utf-8")
        extra = cd[pos + 46 + n_len:pos + 46 + n_len + x_len]
        pos += 46 + n_len + x_len + c_len
        if 0xFFFFFFFF in (usize, csize, local):  # Zip64 extra field
            values = []
            i = 0
            while i + 4 <= len(extra):
                tag, size = struct.unpack("<HH", extra[i:i + 4])
                if tag == 1:
                    values = list(struct.unpack("<%dQ" % (size // 8), extra[i + 4:i + 4 + size]))
                i += 4 + size
            if usize == 0xFFFFFFFF:
                usize = values.pop(0)
            if csize == 0xFFFFFFFF:
                csize = values.pop(0)
            if local == 0xFFFFFFFF:
                local = values.pop(0)
        mode = 0o755 if (attr >> 16) & 0o111 else 0o644
        out.append((member, (name, method, csize, usize, base + local, time_, date, crc), mode))
    return out


_INNER = {}


def read_inner(archive, key, rel):
    """The bytes of file ``rel`` of extracted distribution ``key`` from the bundle, without
    extracting it (metadata of entries not extracted yet); None if there is no such file."""
    members = _INNER.get(key)
    fd = os.open(archive, os.O_RDONLY)
    try:
        if members is None:
            name = "extract/%s.zip" % key
            entry = _toc(archive).get(name)
            if entry is None:
                damaged(archive, "missing member %s" % name)
            members = _INNER[key] = {m[0]: m[1] for m in _inner_members(fd, archive, name, entry)}
        entry = members.get(rel)
        if entry is None:
            return None
        return _read_member(fd, archive, "extract/%s/%s" % (key, rel), entry)
    finally:
        os.close(fd)


def pack_index(paths, numbers):
    """The tail of a PYC_PACK: the source paths joined by newlines (UTF-8), then (offset, size)
    of each as little-endian u64, then the path count and the byte length of the paths (u64).
    ``pybundle extract`` writes the same bytes (src/extract.rs)."""
    blob = "\n".join(paths).encode("utf-8")
    nums = b"".join(n.to_bytes(8, "little") for n in numbers)
    return [blob, nums, len(paths).to_bytes(8, "little"), len(blob).to_bytes(8, "little")]


def _extract_one(fd, archive, key, members, dest, expected):
    """Extract ``members`` ((path, toc entry, mode), see ``_inner_members``) into ``dest``.

    Members are read with ``os.pread`` (offsets from zipimport's directory of the bundle and the
    inner archive's own; no zipfile), inflated with zlib and checked against their CRC-32. The
    bytecode (``__pycache__/*.<cache_tag>.pyc``) goes into one file, ``PYC_PACK``, with an index
    at its end (see ``_pybundle._pack_loader``): creating a file is the main cost of an
    extraction, and this halves their number. Two threads share the work when there is enough of
    it: zlib and file writes release the GIL."""
    prefix = "extract/%s/" % key
    os.mkdir(dest, 0o755)
    made = {dest}
    tag = ".%s.pyc" % sys.implementation.cache_tag
    files, pycs = [], []
    count = total = 0
    for rel, entry, mode in members:
        name = prefix + rel
        parts = _safe_parts(rel)
        if parts is None:
            if rel in ("", "/"):
                continue
            damaged(archive, "unsafe member name %r" % name)
        target = os.path.join(dest, *parts)
        if rel.endswith("/"):
            if target not in made:
                os.makedirs(target, 0o755, exist_ok=True)
                made.add(target)
            continue
        count += 1
        total += entry[3]
        if len(parts) >= 2 and parts[-2] == "__pycache__" and parts[-1].endswith(tag):
            source = "/".join(parts[:-2] + [parts[-1][: -len(tag)] + ".py"])
            pycs.append((name, entry, source))
            continue
        parent = os.path.dirname(target)
        if parent not in made:
            os.makedirs(parent, 0o755, exist_ok=True)
            made.add(parent)
        files.append((name, entry, target, mode, "/".join(parts)))
    if expected is not None and (count, total) != (expected[0], expected[1]):
        damaged(
            archive,
            "%s holds %d files / %d bytes, expected %d / %d"
            % (prefix, count, total, expected[0], expected[1]),
        )

    listing = []

    def write(path, chunks, mode):
        out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            for data in chunks:
                view = memoryview(data)
                while view:
                    view = view[os.write(out, view):]
        finally:
            os.close(out)

    def write_pack():
        chunks, paths, numbers, offset = [], [], [], 0
        for name, entry, source in pycs:
            data = _read_member(fd, archive, name, entry)
            paths.append(source)
            numbers.extend((offset, len(data)))
            chunks.append(data)
            offset += len(data)
        chunks.extend(pack_index(paths, numbers))
        write(os.path.join(dest, PYC_PACK), chunks, 0o644)
        listing.append((PYC_PACK, offset + sum(len(c) for c in chunks[len(pycs):])))

    def work(part):
        for job in part:
            if job is None:
                write_pack()
                continue
            name, entry, target, mode, rel = job
            write(target, (_read_member(fd, archive, name, entry),), mode)
            listing.append((rel, entry[3]))

    jobs = [(j, j[1][3] + _FILE_COST) for j in files]
    if pycs:
        jobs.append((None, sum(p[1][3] for p in pycs) + _FILE_COST))
    if total >= _PARALLEL_BYTES and len(jobs) > 1:
        import threading

        # largest first, dealt to the lighter of two lists
        parts, loads = ([], []), [0, 0]
        for job, weight in sorted(jobs, key=lambda j: -j[1]):
            i = 0 if loads[0] <= loads[1] else 1
            parts[i].append(job)
            loads[i] += weight
        errors = []

        def run(part):
            try:
                work(part)
            except BaseException as e:  # re-raised in the main thread
                errors.append(e)

        t = threading.Thread(target=run, args=(parts[1],))
        t.start()
        run(parts[0])
        t.join()
        if errors:
            raise errors[0]
    else:
        work([j for j, _ in jobs])
    listing.sort()
    lines = ["pybundle-complete 1 %d %d" % (len(listing), sum(s for _, s in listing))]
    lines.extend("%d %s" % (s, p) for p, s in listing)
    with open(os.path.join(dest, MARKER), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return count


def _install(tmpdir, target, tmp, key, force):
    """Atomically move the complete ``tmpdir`` to ``target``. Returns the dir to use."""
    for _attempt in range(5):
        if force and os.path.isdir(target):
            aside = _private_name(tmp, key, ".old")
            try:
                os.rename(target, aside)
            except OSError:
                pass
            else:
                _rmtree_later(aside)
        try:
            os.rename(tmpdir, target)
            return target
        except OSError:
            if os.path.exists(os.path.join(target, MARKER)) and not force:
                log("another process extracted %s first; using it" % key)
                _rmtree(tmpdir)
                return target
            if force:
                continue
            # incomplete target (no marker): move it aside and try again
            aside = _private_name(tmp, key, ".stale")
            try:
                os.rename(target, aside)
                _rmtree_later(aside)
                log("replaced incomplete cache entry %s" % target)
            except OSError:
                pass
    fail("error: pybundle could not install the cache entry %s; try again" % target)


_LATER = []


def _rmtree_later(path):
    _LATER.append(path)


def extract_missing(archive, rw, missing, force, uid, repair=()):
    """Extract every (key, count, size) in ``missing``; return {key: dir}.

    Keys in ``repair`` ({key: (entry, why)}) had a damaged entry in the writable root: it is
    replaced, or the run stops when that root cannot be written."""
    import time

    t0 = time.perf_counter()
    root = _repair_root(rw, uid, repair) if repair else _choose_root(rw, uid)
    v1 = os.path.join(root, LAYOUT)
    dists = os.path.join(v1, "dists")
    tmp = os.path.join(v1, "tmp")
    _cleanup_tmp(tmp)
    out = {}
    todo = []
    for item in missing:
        key = item[0]
        target = os.path.join(dists, key)
        if not force and key not in repair and os.path.exists(os.path.join(target, MARKER)):
            # e.g. the fallback root already holds it
            why = check_entry(target)
            if why is None:
                st = os.stat(target)
                if not _safe(st, uid):
                    unsafe_dir(target, st, uid)
                out[key] = target
                log("cache hit %s" % target)
                continue
            report_damage(target, why, True)
            repair = dict(repair)
            repair[key] = (target, why)
        todo.append(item)
    if not todo:
        return out
    toc = _toc(archive)
    for item in todo:
        if "extract/%s.zip" % item[0] not in toc:
            damaged(archive, "missing member extract/%s.zip" % item[0])
    try:
        fd = os.open(archive, os.O_RDONLY)
    except OSError as e:
        damaged(archive, str(e))
    try:
        for item in todo:
            key = item[0]
            t = time.perf_counter()
            members = _inner_members(fd, archive, "extract/%s.zip" % key, toc["extract/%s.zip" % key])
            tmpdir = _private_name(tmp, key)
            try:
                n = _extract_one(fd, archive, key, members, tmpdir,
                                 item[1:3] if len(item) >= 3 else None)
            except OSError as e:
                _rmtree(tmpdir)
                fail("error: pybundle could not extract %s into %s: %s. fix: free some space or "
                     "set PYBUNDLE_ROOT to another directory." % (key, tmp, e))
            except BaseException:
                _rmtree(tmpdir)
                raise
            target = _install(tmpdir, os.path.join(dists, key), tmp, key, force or key in repair)
            out[key] = target
            log("extracted %s (%d files) in %.1f ms" % (key, n, (time.perf_counter() - t) * 1000))
    finally:
        os.close(fd)
    for path in _LATER:
        _rmtree(path)
    del _LATER[:]
    log("cold path done in %.1f ms" % ((time.perf_counter() - t0) * 1000))
    return out
