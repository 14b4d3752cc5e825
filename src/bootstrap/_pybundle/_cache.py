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

A damaged entry found by the check (missing file, wrong size, unreadable marker) is repaired
(re-extracted atomically, as with ``PYBUNDLE_FORCE_EXTRACT``) rather than imported; in a
read-only root it is skipped. Damage that appears between two checks is not detected; the
documented repair is ``PYBUNDLE_VERIFY=1`` (or ``PYBUNDLE_FORCE_EXTRACT=1``) for one run.
"""
import os
import sys

from . import LAYOUT, MARKER, fail, log, _safe

_CHUNK = 1 << 20


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
    import time

    t = time.perf_counter()
    why = check_entry(entry)
    log("verified %s in %.1f ms: %s" % (key, (time.perf_counter() - t) * 1000, why or "ok"))
    if why is None:
        return True
    sys.stderr.write(
        "pybundle: warning: cache entry %s is damaged (%s); %s\n"
        % (entry, why, "repairing it" if repairable else "not using it")
    )
    return False


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


def _extract_one(zf, archive, key, infos, dest, expected):
    """Extract ``infos`` (members under extract/<key>/, in zip order) into ``dest``."""
    import zlib
    import zipfile

    prefix = "extract/%s/" % key
    os.mkdir(dest, 0o755)
    made = {dest}
    listing = []
    total = 0
    for info in infos:
        rel = info.filename[len(prefix):]
        parts = _safe_parts(rel)
        if parts is None:
            if rel in ("", "/"):
                continue
            damaged(archive, "unsafe member name %r" % info.filename)
        target = os.path.join(dest, *parts)
        if info.filename.endswith("/"):
            if target not in made:
                os.makedirs(target, 0o755, exist_ok=True)
                made.add(target)
            continue
        parent = os.path.dirname(target)
        if parent not in made:
            os.makedirs(parent, 0o755, exist_ok=True)
            made.add(parent)
        unix = (info.external_attr >> 16) & 0o777
        mode = 0o755 if unix & 0o111 else 0o644
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as out:
            try:
                with zf.open(info) as src:
                    while True:
                        buf = src.read(_CHUNK)
                        if not buf:
                            break
                        out.write(buf)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as e:
                damaged(archive, "%s: %s" % (info.filename, e))
        listing.append((("/".join(parts)), info.file_size))
        total += info.file_size
    if expected is not None and (len(listing), total) != (expected[0], expected[1]):
        damaged(
            archive,
            "%s holds %d files / %d bytes, expected %d / %d"
            % (prefix, len(listing), total, expected[0], expected[1]),
        )
    lines = ["pybundle-complete 1 %d %d" % (len(listing), total)]
    lines.extend("%d %s" % (s, p) for p, s in listing)
    with open(os.path.join(dest, MARKER), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return len(listing)


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

    Keys in ``repair`` had a damaged entry in the writable root: it is replaced."""
    import time
    import zipfile

    t0 = time.perf_counter()
    root = _choose_root(rw, uid)
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
            sys.stderr.write("pybundle: warning: cache entry %s is damaged (%s); repairing it\n" % (target, why))
            repair = set(repair) | {key}
        todo.append(item)
    if not todo:
        return out
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        damaged(archive, str(e))
    with zf:
        wanted = {"extract/%s/" % item[0]: [] for item in todo}
        for info in zf.infolist():  # single pass, zip order
            name = info.filename
            i = name.find("/", 8)
            if name.startswith("extract/") and i > 0:
                bucket = wanted.get(name[: i + 1])
                if bucket is not None:
                    bucket.append(info)
        for item in todo:
            if not wanted["extract/%s/" % item[0]]:
                damaged(archive, "missing member extract/%s/" % item[0])
        for item in todo:
            key = item[0]
            infos = wanted["extract/%s/" % key]
            t = time.perf_counter()
            tmpdir = _private_name(tmp, key)
            try:
                n = _extract_one(zf, archive, key, infos, tmpdir, item[1:3] if len(item) >= 3 else None)
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
    for path in _LATER:
        _rmtree(path)
    del _LATER[:]
    log("cold path done in %.1f ms" % ((time.perf_counter() - t0) * 1000))
    return out
