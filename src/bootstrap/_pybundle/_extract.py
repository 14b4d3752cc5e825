"""Writing the extraction cache (cold path): creating the writable root or the fallback, the
marker's format, checking an entry in full and extracting a distribution into the cache. Imported on a cache
miss, and for the full check of an entry (at most once an hour per entry, see ``_cache``).

Atomicity and concurrency
-------------------------
No lock. Each process extracts into ``v1/tmp/<key>.<pid>.<random>/``, writes the marker last
and ``os.rename``s the directory to ``v1/dists/<key>``. If the target exists and is complete,
another process won: the private copy is removed and the winner's is used. A target without
a marker is moved aside and replaced. ``PYBUNDLE_FORCE_EXTRACT=1`` extracts anew and swaps it
in (rename old aside, rename new in, remove old). Leftover tmp dirs older than one hour whose
process is gone are removed opportunistically on this (cold) path.

Members are read straight from the bundle (``_zip``: offsets from zipimport's directory and
the inner archive's own; no zipfile). Where the roots are and the bytecode pack's format are
``_cache``'s.
"""
import os
import sys

from . import DISTS_DIR, EXTRACT_DIR, LAYOUT, MARKER, MARKER_HEADER, PARTS_DIR, PYC_PACK, SITE_DIR
from . import TMP_DIR
from . import damaged, fail, log
from . import _cache, _unpack

# --------------------------------------------------------------------------------------------
# roots: creating the writable one (its choice is `_cache.writable_root`) and the fallback
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
    if not _cache.safe(st, uid):
        from . import _errors

        _errors.unsafe_dir(path, st, uid)
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
    _ensure_dir(os.path.join(v1, DISTS_DIR), uid)
    tmp = _ensure_dir(os.path.join(v1, TMP_DIR), uid)
    if not os.access(tmp, os.W_OK | os.X_OK):
        raise PermissionError(13, "not writable", tmp)
    return root


def noexec(path):
    """True if ``path`` is on a ``noexec`` mount: the dynamic loader cannot map a shared library
    from there (``failed to map segment from shared object``), so native code extracted there
    would not load, or a library would quietly run its pure-Python fallback."""
    try:
        return bool(os.statvfs(path).f_flag & getattr(os, "ST_NOEXEC", 8))
    except (OSError, AttributeError):
        return False


def candidates(rw, uid):
    """The writable roots to try, in order, as (path, created by us in a shared directory):
    the writable root (``_cache.writable_root``), ``$XDG_RUNTIME_DIR/pybundle``,
    ``${TMPDIR:-/tmp}/pybundle-<uid>``, ``/dev/shm/pybundle-<uid>``."""
    me = uid if uid is not None else "user"
    out = [(rw, False)] if rw is not None else []
    run = os.environ.get("XDG_RUNTIME_DIR")
    if run and os.path.isabs(run):
        out.append((os.path.join(run, "pybundle"), True))
    out.append((os.path.join(os.environ.get("TMPDIR") or "/tmp", "pybundle-%s" % me), True))
    out.append(("/dev/shm/pybundle-%s" % me, True))
    seen, unique = set(), []
    for path, shared in out:
        if path not in seen:
            seen.add(path)
            unique.append((path, shared))
    return unique


_CHOSEN = {}  # native code or not -> the root extractions of this start go to
_WARNED = []  # the fallback warning was printed (once per start)


def choose_root(archive, roots, uid, items):
    """The root to extract ``items`` into: the first of :func:`candidates` that can be created
    and written and, when an item has native files, is not on a ``noexec`` mount. Any other
    than the writable root gets one warning line per start. Stops the run with one paragraph
    naming every candidate and why it was passed over when none is usable."""
    native = any(item.native for item in items)
    hit = _CHOSEN.get(native)
    if hit is not None:
        return hit
    ro, rw, rw_why = roots
    tried = []
    if rw is None:
        tried.append(rw_why or ("~/.cache/pybundle", "no home directory"))
    chosen = None
    for path, why in usable_roots(rw, uid, native):
        if why is None:
            chosen = path
            break
        tried.append((path, why))
    if chosen is None:
        from . import _errors

        fail(_errors.no_root(archive, ro, tried, [item.key for item in items]))
    _CHOSEN[native] = chosen
    if tried and not _WARNED:
        _WARNED.append(chosen)
        sys.stderr.write(
            "pybundle: warning: cannot use the cache directory %s; using %s instead (set "
            "PYBUNDLE_ROOT to choose another)\n"
            % ("; nor ".join("%s (%s)" % t for t in tried), chosen))
    return chosen


def usable_roots(rw, uid, native):
    """(path, None) for each of :func:`candidates` that is ready to be written (created,
    checked) and, when ``native``, not on a ``noexec`` mount; (path, why not) for the others."""
    for path, shared in candidates(rw, uid):
        if shared:
            real, bad = _cache.pin(path, uid)
            if bad is not None:
                from . import _errors

                yield path, "passes through %s, %s" % (bad[0], _errors.describe(bad[1]))
                continue
            path = real
        try:
            _prepare_root(path, uid, shared_parent=shared)
        except OSError as e:
            yield path, _reason(e)
            continue
        if native and noexec(path):
            yield path, "on a noexec mount"
            continue
        yield path, None


def _reason(e):
    if isinstance(e, FileNotFoundError):
        return "missing"
    if e.errno == 30:  # EROFS
        return "read-only file system"
    return e.strerror.lower() if e.strerror else str(e)


# --------------------------------------------------------------------------------------------
# the marker: the list of an entry's files, written last (`_cache` only stats it)
# --------------------------------------------------------------------------------------------
def marker_text(listing):
    """The marker of an entry whose files are ``listing`` ([(relative path, size)], sorted)."""
    lines = ["%s %d %d" % (MARKER_HEADER, len(listing), sum(s for _, s in listing))]
    lines.extend("%d %s" % (s, p) for p, s in listing)
    return "\n".join(lines) + "\n"


def read_marker(entry, name=MARKER):
    """(file count, total bytes, [(relative path, size)]) of ``entry``'s marker (or of the
    listing ``name`` in the same format, relative to ``entry``); raises OSError or ValueError."""
    with open(os.path.join(entry, name), "r", encoding="utf-8") as f:
        lines = f.read().split("\n")
    head = lines[0].split()
    if len(head) != 4 or head[0] != MARKER_HEADER.split()[0]:
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
    """Return None if every file listed in the marker, and in the listing of each subpackage
    written so far (``_parts``), exists with its size, else a reason."""
    try:
        _count, _size, files = read_marker(entry)
    except (OSError, ValueError) as e:
        return "unreadable marker: %s" % e
    try:
        listings = sorted(n for n in os.listdir(os.path.join(entry, PARTS_DIR)) if n.endswith(".list"))
    except OSError:
        listings = ()
    for name in listings:
        part = os.path.join(entry, SITE_DIR, *name[:-len(".list")].split("."))
        if os.path.isdir(part):
            try:
                files = files + read_marker(entry, PARTS_DIR + "/" + name)[2]
            except (OSError, ValueError) as e:
                return "unreadable listing %s: %s" % (name, e)
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
    reason (after a warning unless ``repairable``: the repair reports it, see ``repair_root``)."""
    import time

    t = time.perf_counter()
    why = check_entry(entry)
    log("verified %s in %.1f ms: %s" % (key, (time.perf_counter() - t) * 1000, why or "ok"))
    if why is not None and not repairable:
        report_damage(entry, why, False)
    return why


def report_damage(entry, why, repairable):
    sys.stderr.write(
        "pybundle: warning: cache entry %s is damaged (%s); %s\n"
        % (entry, why, "repairing it" if repairable else "not using it")
    )


def repair_root(rw, uid, repair):
    """The writable root ``rw``, ready for the repair of the damaged entries ``repair`` ({key:
    (entry, why)}); a root that cannot be written stops the run with an error naming the file.
    A missing entry falls back to the temporary root (``choose_root``), a damaged one does not:
    the entry is there, so the root was filled once (pre-seeded, then made read-only, say) and
    a copy in a temporary root would hide that it is broken, and be extracted anew on every
    start of a fresh container. The damage is reported here, once: as being repaired, or in the
    error that says why it cannot be."""
    try:
        _prepare_root(rw, uid)
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
    for key in sorted(repair):
        report_damage(repair[key][0], repair[key][1], True)
    return rw


# --------------------------------------------------------------------------------------------
# the temp dir
# --------------------------------------------------------------------------------------------
def cleanup_tmp(tmp):
    """Remove the crash leftovers in ``tmp`` (a root's ``v1/tmp``): dirs older than an hour whose
    process (the pid in the name) is gone, or older than a day."""
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
def _extract_one(fd, archive, key, members, dest, expected):
    """Extract ``members`` ((path, toc entry, mode), see ``_zip.inner_members``) into
    ``dest/site-packages`` (``SITE_DIR``; the marker and the pack go into ``dest``).

    Members are read with ``os.pread`` (offsets from zipimport's directory of the bundle and the
    inner archive's own; no zipfile), inflated with zlib and checked against their CRC-32; a
    stored one (a large native library, see ``STORED_NATIVE_BYTES`` on the Rust side) is copied
    by the kernel (``_zip.copy``); the writing is ``_unpack``'s. The bytecode
    (``__pycache__/*.<cache_tag>.pyc``) goes into one file, ``PYC_PACK``, with an index at its end (format in ``_cache``): creating a file is
    the main cost of an extraction, and this halves their number. Threads share the work when
    there is enough of it: zlib, copies and file writes release the GIL."""
    os.mkdir(dest, 0o755)
    # the files; the marker and the pack beside
    listing, count = _write_files(fd, archive, key, members, expected, os.path.join(dest, SITE_DIR))
    listing.sort()
    with open(os.path.join(dest, MARKER), "w", encoding="utf-8") as f:
        f.write(marker_text(listing))
    return count


def _write_files(fd, archive, key, members, expected, site, under=""):
    """Write ``members`` of ``key``'s inner archive, checked against ``expected`` (see
    ``_unpack.check_plan``), into the new directory ``site``, their paths with the directory
    ``under`` (``"scipy/stats/"``, or ``""``) taken off, and the pack of their bytecode beside
    ``site``. Return (the listing as (``site-packages/<path>``, size), the file count)."""
    prefix = "%s/%s/" % (EXTRACT_DIR, key)
    files, pycs, dirs, sizes = _unpack.plan(archive, prefix, members)
    _unpack.check_plan(archive, prefix + under, sizes, dirs, expected)
    # One pass, parents first (sorted order), one mkdir each: no exists checks, no retries.
    n = len(under)
    os.mkdir(site, 0o755)
    for d in sorted(dirs):
        if d.startswith(under) and len(d) > n:
            os.mkdir(os.path.join(site, *d[n:].split("/")), 0o755)
    files = [(name, entry, os.path.join(site, *rel[n:].split("/")), mode, SITE_DIR + "/" + rel)
             for name, entry, rel, mode in files]
    return _unpack.write_all(fd, archive, os.path.dirname(site), files, pycs), len(sizes)


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
                _cache.hold(target)
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


def extract_missing(archive, roots, missing, force, uid, repair=()):
    """Extract every item (``_pybundle.Item``) in ``missing``; return {key: dir}. ``roots`` is
    ``_cache.roots``'s (read-only roots, writable root, why there is none).

    Keys in ``repair`` ({key: (entry, why)}) had a damaged entry in the writable root: it is
    replaced, or the run stops when that root cannot be written."""
    import time

    t0 = time.perf_counter()
    if repair:
        root = repair_root(roots[1], uid, repair)
    else:
        root = choose_root(archive, roots, uid, missing)
    v1 = os.path.join(root, LAYOUT)
    dists = os.path.join(v1, DISTS_DIR)
    tmp = os.path.join(v1, TMP_DIR)
    cleanup_tmp(tmp)
    out, todo, repair = _found(dists, missing, force, uid, repair)
    if not todo:
        return out
    _extract_todo(archive, todo, dists, tmp, force, repair, out)
    for path in _LATER:
        _rmtree(path)
    del _LATER[:]
    log("cold path done in %.1f ms" % ((time.perf_counter() - t0) * 1000))
    return out


def _found(dists, missing, force, uid, repair):
    """({key: dir} of the items of ``missing`` already complete in ``dists`` (e.g. the
    fallback root holds them), the items to extract, ``repair`` with the damaged ones found
    here added (they are reported as being repaired))."""
    out, todo = {}, []
    for item in missing:
        key = item.key
        target = os.path.join(dists, key)
        if force or key in repair or not os.path.exists(os.path.join(target, MARKER)):
            todo.append(item)
            continue
        why = check_entry(target)
        if why is not None:
            report_damage(target, why, True)
            repair = dict(repair)
            repair[key] = (target, why)
            todo.append(item)
            continue
        st = os.stat(target)
        if not _cache.safe(st, uid):
            from . import _errors

            _errors.unsafe_dir(target, st, uid)
        if _cache.hold(target) is None:  # removed just now: extract it
            todo.append(item)
            continue
        out[key] = target
        log("cache hit %s" % target)
    return out, todo, repair


def _extract_todo(archive, todo, dists, tmp, force, repair, out):
    """Extract the items ``todo`` from ``archive`` into private directories of ``tmp`` and
    rename each to ``dists/<key>`` (``_install``); record each one's directory in ``out``."""
    import time

    from . import _zip

    toc = _zip.toc(archive)
    for item in todo:
        if _zip.inner_name(item.key) not in toc:
            damaged(archive, "missing member %s" % _zip.inner_name(item.key))
    try:
        fd = os.open(archive, os.O_RDONLY)
    except OSError as e:
        damaged(archive, str(e))
    try:
        for item in todo:
            key = item.key
            t = time.perf_counter()
            name = _zip.inner_name(key)
            members = _zip.inner_members(fd, archive, name, toc[name])
            if item.parts:  # written on their first import (`extract_part`)
                later = tuple(p[0] + "/" for p in item.parts)
                members = [m for m in members if not m[0].startswith(later)]
            tmpdir = _private_name(tmp, key)
            expected = (item.files, item.size, item.native) if item.size is not None else None
            try:
                n = _extract_one(fd, archive, key, members, tmpdir, expected)
            except OSError as e:
                _rmtree(tmpdir)
                fail("error: pybundle could not extract %s into %s: %s. fix: free some space or "
                     "set PYBUNDLE_ROOT to another directory." % (key, tmp, e))
            except BaseException:
                _rmtree(tmpdir)
                raise
            _cache.hold(tmpdir)  # the marker's inode follows the rename: held from the start
            out[key] = _install(tmpdir, os.path.join(dists, key), tmp, key, force or key in repair)
            log("extracted %s (%d files) in %.1f ms" % (key, n, (time.perf_counter() - t) * 1000))
    finally:
        os.close(fd)


def extract_part(archive, entry, key, part, replace=False):
    """Write the subpackage ``part`` (an ``Item.parts`` tuple: directory, files, bytes, native
    files) of the complete entry ``entry`` (``<root>/v1/dists/<key>``) from its inner archive,
    as ``_parts`` asks on its first import. Its files go to a private directory of the root's
    ``v1/tmp``; its pack and listing (marker format) go to ``PARTS_DIR``; the rename of the
    directory into ``site-packages`` comes last and makes it complete: a process that loses the
    race uses the winner's. ``replace``: a damaged copy is there, moved aside first."""
    import time

    t = time.perf_counter()
    d = part[0]
    target = os.path.join(entry, SITE_DIR, *d.split("/"))
    tmp = os.path.join(os.path.dirname(os.path.dirname(entry)), TMP_DIR)
    fd, members = _inner(archive, key)
    members = [m for m in members if m[0].startswith(d + "/")]
    tmpdir = _private_name(tmp, key, "." + d.replace("/", "."))
    try:
        os.mkdir(tmpdir, 0o700)
        files = os.path.join(tmpdir, "files")
        listing, _ = _write_files(fd, archive, key, members, part[1:], files, d + "/")
        pack = "%s/%s.pyc" % (PARTS_DIR, d.replace("/", "."))
        listing = sorted((pack, size) if rel == PYC_PACK else (rel, size) for rel, size in listing)
        _commit_part(tmpdir, target, entry, d, listing, tmp, key, replace)
    except OSError as e:
        fail("error: pybundle could not write %s of %s into %s: %s. fix: free some space or "
             "set PYBUNDLE_ROOT to another directory." % (d, key, entry, e))
    finally:
        _rmtree(tmpdir)
    log("extracted %s of %s (%d files) in %.1f ms"
        % (d, key, len(listing), (time.perf_counter() - t) * 1000))


_INNER = {}  # (bundle, key) -> (descriptor, members): parsed once for all of an entry's parts


def _inner(archive, key):
    """(an open descriptor of ``archive``, the members of ``key``'s inner archive), parsed on
    the first call and kept for the next parts of the entry."""
    from . import _zip

    hit = _INNER.get((archive, key))
    if hit is None:
        toc = _zip.toc(archive)
        inner = _zip.inner_name(key)
        if inner not in toc:
            damaged(archive, "missing member %s" % inner)
        try:
            fd = os.open(archive, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as e:
            damaged(archive, str(e))
        hit = _INNER[(archive, key)] = (fd, _zip.inner_members(fd, archive, inner, toc[inner]))
    return hit


def _commit_part(tmpdir, target, entry, d, listing, tmp, key, replace):
    """Move the part written in ``tmpdir`` into ``entry``: pack and listing first (each
    renamed over any earlier copy: same bytes), then the directory."""
    meta = os.path.join(entry, PARTS_DIR)
    try:
        os.mkdir(meta, 0o755)
    except FileExistsError:
        pass
    name = d.replace("/", ".")
    if any(rel.startswith(PARTS_DIR + "/") for rel, _ in listing):
        os.rename(os.path.join(tmpdir, PYC_PACK), os.path.join(meta, name + ".pyc"))
    with open(os.path.join(tmpdir, "list"), "w", encoding="utf-8") as f:
        f.write(marker_text(listing))
    os.rename(os.path.join(tmpdir, "list"), os.path.join(meta, name + ".list"))
    if replace and os.path.isdir(target):
        aside = _private_name(tmp, key, ".old")
        os.rename(target, aside)
        _rmtree(aside)
    try:
        os.rename(os.path.join(tmpdir, "files"), target)
    except OSError:
        if not os.path.isdir(target):
            raise
        log("another process wrote %s of %s first; using it" % (d, key))
