"""The extraction cache as a start reads it: where the roots are, finding a complete entry (a
stat of its marker), and the ``.pybundle-pyc`` bytecode pack (format, reader, writer) with the
path hook that serves an entry's bytecode from it.

Imported the first time a start needs an extracted distribution; a start that needs none never
imports it. Creating roots, the marker's format, checking and writing entries are ``_extract``'s
(cold path).
"""
# The rules below are comments, not docstrings: this module is on the warm path, and a
# docstring is unmarshalled on every start.
#
# Cache roots
# -----------
# * Read-only roots: ``PYBUNDLE_ROOTS=dir1:dir2`` (``os.pathsep``-separated) are consulted first,
#   in order. An entry there is used as it is, never written to (no extraction, no last-use
#   update), if it is complete, its subpackages (``_parts``) included. Such a root (and its
#   ``v1`` dir and the entry) must be owned by the current user or by root and must not be
#   writable by group/others.
# * The writable root is the first of: ``PYBUNDLE_ROOT``, the ``ROOT`` baked into the bundle at
#   build time, ``${XDG_CACHE_HOME:-~/.cache}/pybundle``. It is created with mode 0700; it and
#   its ``v1`` dir must be owned by the current uid and not group/other-writable, else the run
#   stops with an error naming the directory, its owner and mode, and the fix.
# * Every root is resolved once per start (``pin``): each directory and link from ``/`` down is
#   checked, and the resolved path is used for the rest of the run.
# * To extract, the first usable of ``_extract.candidates`` is taken: the writable root,
#   ``$XDG_RUNTIME_DIR/pybundle``, ``${TMPDIR:-/tmp}/pybundle-<uid>``, ``/dev/shm/pybundle-<uid>``
#   (created 0700, ownership checked); one that cannot be created or written, or that is on a
#   ``noexec`` mount when an entry has native files, is passed over with one warning line per
#   start; with none left the run stops with one paragraph (``_extract.choose_root``).
#
# Layout: ``<root>/v1/dists/<key>/`` (complete entries, each with the marker file
# ``.pybundle-complete`` and the pack beside the files' ``site-packages/``) and ``<root>/v1/tmp/``
# (extractions in progress).
#
# Integrity
# ---------
# The marker's first line is ``pybundle-complete 1 <file count> <total bytes>``; it is followed
# by one ``<size> <relative path>`` line per file (a subpackage written on its first import has
# its own listing, see ``_parts``). The warm path stats only the marker (plus the ownership checks
# of root, ``v1`` and the entry). A full check (one ``os.stat`` per listed file) costs 6.8-7.3 ms
# for 1500 files in 60 directories with a warm dentry cache (0.007 ms for the marker's stat):
# too much for every start of a tool that starts often, so the full check runs:
#
# * when the marker's mtime is older than one hour, in the writable root -- the same moment the
#   last use is recorded for ``pybundle cache prune`` (``os.utime`` on the marker) and crash
#   leftovers in ``v1/tmp`` are removed, so it costs at most one full check per entry per hour
#   of use; never in a read-only root (``PYBUNDLE_ROOTS``, or a root on a read-only mount):
#   nothing can have written there since it was filled;
# * on every start with ``PYBUNDLE_VERIFY=1``.
#
# Every other start that uses an entry checks its native files only (the sixth field of its
# ``EXTRACT`` item lists them with their sizes): one ``os.stat`` each, about 0.1 ms for numpy. A
# tmp cleaner deletes old files one by one, leaving directories and the marker; a missing
# extension module would otherwise make a library run its pure-Python fallback, silently.
#
# A damaged entry found by either check (missing file, wrong size, unreadable marker) is repaired
# (re-extracted atomically, as with ``PYBUNDLE_FORCE_EXTRACT``, with one warning) rather than
# imported; if the writable root cannot be written the run stops with one error naming the file
# (``_extract.repair_root``); in a read-only root (``PYBUNDLE_ROOTS``) the entry is skipped and
# the writable root serves it. Damage to other files that appears between two full checks is not
# detected; the documented repair is ``PYBUNDLE_VERIFY=1`` (or ``PYBUNDLE_FORCE_EXTRACT=1``) for
# one run.
import os
import sys

from . import DISTS_DIR, LAYOUT, MARKER, PARTS_DIR, PYC_PACK, SITE_DIR, TMP_DIR, _flag, log

# A marker older than this is checked in full and touched (last use for `pybundle cache prune`).
_STALE_SECONDS = 3600


# --------------------------------------------------------------------------------------------
# roots
# --------------------------------------------------------------------------------------------
def uid():
    try:
        return os.getuid()
    except AttributeError:  # pragma: no cover - Windows
        return None


def safe(st, uid, allow_root_owner=False):
    """True if a directory with stat ``st`` is ours (or root's, when allowed) and not writable
    by group or others."""
    if uid is None:
        return True
    if st.st_uid != uid and not (allow_root_owner and st.st_uid == 0):
        return False
    return (st.st_mode & 0o022) == 0


def writable_root(g):
    """The writable cache root: PYBUNDLE_ROOT, else the baked ROOT, else the XDG cache dir, as
    (path, explicit). The path is None when none can even be formed (e.g. no home directory)."""
    root = os.environ.get("PYBUNDLE_ROOT") or g.get("ROOT")
    if root:
        return os.path.abspath(os.path.expanduser(root)), True
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "pybundle"), False
    home = os.path.expanduser("~")
    if not home or home == "~" or not os.path.isabs(home) or not os.path.isdir(home):
        return None, False
    return os.path.join(home, ".cache", "pybundle"), False


def readonly_roots():
    v = os.environ.get("PYBUNDLE_ROOTS", "")
    return [os.path.abspath(os.path.expanduser(p)) for p in v.split(os.pathsep) if p]


# Root pinning: a root is resolved once per start and every later path is built on the resolved
# one, so a link swapped while the program runs changes nothing. Resolving checks every component
# from `/` down, as ssh's StrictModes checks ~/.ssh: each directory and each link on the way is
# owned by us or root and not writable by group or others; a sticky directory (/tmp) may be
# writable when another component follows it (its owner check is the next component's).
def pin(path, me):
    """(``path`` resolved, None), or (None, (component, stat)) naming the first component another
    user could change. Components that do not exist yet are kept (their creator checks them)."""
    if me is None:  # pragma: no cover - Windows
        return path, None
    todo = path.split("/")[::-1]
    cur, links = "", 0
    lstat = os.lstat
    st = lstat("/")
    if st.st_uid not in (me, 0) or st.st_mode & 0o022:
        return None, ("/", st)
    while todo:
        name = todo.pop()
        if name in ("", "."):
            continue
        if name == "..":
            cur = cur.rpartition("/")[0]
            continue
        nxt = cur + "/" + name
        try:
            st = lstat(nxt)
        except OSError:  # missing, or under a file: whoever creates it will fail or check it
            rest = [n for n in todo[::-1] if n not in ("", ".")]
            if ".." in rest:
                return None, (nxt, None)
            return "/".join([nxt] + rest), None
        if st.st_uid not in (me, 0):
            return None, (nxt, st)
        if st.st_mode & 0o170000 == 0o120000:  # a link of ours or root's: follow it
            links += 1
            if links > 40:
                return None, (nxt, None)
            target = os.readlink(nxt)
            if target.startswith("/"):
                cur = ""
            todo.extend(target.split("/")[::-1])
            continue
        if st.st_mode & 0o022 and not (st.st_mode & 0o1000 and any(n not in ("", ".") for n in todo)):
            return None, (nxt, st)
        cur = nxt
    return cur or "/", None


_ROOTS = []


def roots(g, me):
    """(read-only roots, writable root or None, (its path, why) when it is None), resolved and checked
    (:func:`pin`) once per start. A root another user controls stops the run, except the
    default root under a home owned by another user (root running with a user's HOME): a cache
    there would be root's, refused to its user, so the fallback serves instead."""
    if _ROOTS:
        return _ROOTS[0]
    ro = []
    for p in readonly_roots():
        real, bad = pin(p, me)
        if bad is not None:
            from . import _errors

            _errors.unsafe_path(p, bad, me)
        ro.append(real)
    rw, explicit = writable_root(g)
    why = None if rw is not None else ("~/.cache/pybundle", "no home directory")
    if rw is not None:
        real, bad = pin(rw, me)
        if bad is None:
            rw = real
        elif not explicit and bad[1] is not None and bad[1].st_uid not in (me, 0):
            from . import _errors

            why = (rw, "%s is owned by %s" % (bad[0], _errors.owner(bad[1].st_uid)))
            rw = None
        else:
            from . import _errors

            _errors.unsafe_path(rw, bad, me)
    _ROOTS.append((ro, rw, why))
    return _ROOTS[0]


# --------------------------------------------------------------------------------------------
# lookup (warm path: a few stats per entry, no zipfile)
# --------------------------------------------------------------------------------------------
def _lookup(root, key, uid, readonly, checked):
    """Return (entry_dir, marker_stat) if ``root`` holds a complete, safe entry for ``key``.

    Unsafe directories (wrong owner, group/other-writable) are a hard error. ``checked``
    memoizes the root and v1 checks across entries."""
    v1 = os.path.join(root, LAYOUT)
    if root not in checked:
        for d in (root, v1):
            try:
                st = os.stat(d)
            except OSError:
                checked[root] = False
                return None
            if not safe(st, uid, readonly):
                from . import _errors

                _errors.unsafe_dir(d, st, uid, readonly)
        checked[root] = True
    if not checked[root]:
        return None
    entry = os.path.join(v1, DISTS_DIR, key)
    mst = hold(entry)
    if mst is None:
        return None
    est = os.stat(entry)
    if not safe(est, uid, readonly):
        from . import _errors

        _errors.unsafe_dir(entry, est, uid, readonly)
    return entry, mst


# Entries in use: a start keeps its entries' markers open until it ends (one descriptor each,
# closed on exec). `pybundle cache clean`/`prune` remove an entry only under a write lease on its
# marker, which the kernel grants only while nobody has the file open; an `open` during the
# lease waits until the entry is gone, and then finds its marker unlinked (``st_nlink == 0``).
# So a start holds a complete entry for as long as it runs, or none (src/commands/cache.rs).
_HELD = []


def hold(entry):
    """The stat of ``entry``'s marker, which stays open for the rest of the run, or None if the
    entry is not complete (no marker, or removed while this start waited for it)."""
    try:
        fd = os.open(entry + "/" + MARKER, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    st = os.fstat(fd)
    if st.st_nlink == 0:
        os.close(fd)
        return None
    _HELD.append(fd)
    return st


def native_damage(entry, natives):
    """None if every native file of ``entry`` exists with its size, else the reason, worded as
    ``_extract.check_entry`` words it. ``natives`` is ``Item.native``: the entry's extension
    modules, shared libraries and executables as (path, size), listed by the builder, so this
    costs one ``os.stat`` per file and no directory walk. A tmp cleaner deletes old files one by
    one and leaves the marker: without this check the start would import a library's pure-Python
    fallback instead of its missing extension, or fail far from the cause."""
    st = os.stat
    prefix = entry + os.sep + SITE_DIR + os.sep
    for rel, size in natives:
        try:
            if st(prefix + rel).st_size != size:
                return "wrong size: %s" % rel
        except OSError:
            return "missing file: %s" % rel
    return None


def _damage(entry, key, natives, full, repairable):
    """None if the entry is usable, else the reason: the full check (``_extract.verify_entry``)
    when ``full``, else the native files' (:func:`native_damage`). The damage is reported here
    for an entry that will not be repaired; a repair reports it once it knows it can write."""
    if full:
        from . import _extract

        return _extract.verify_entry(entry, key, repairable)
    if not natives:
        return None
    why = native_damage(entry, natives)
    if why is not None and not repairable:
        from . import _extract

        _extract.report_damage(entry, why, False)
    return why


def _readonly_mount(path):
    """True if ``path`` is on a read-only mount (nothing can have changed it since it was
    checked): one ``statvfs``."""
    try:
        return bool(os.statvfs(path).f_flag & getattr(os, "ST_RDONLY", 1))
    except (OSError, AttributeError):
        return False


def resolve(g, archive, items):
    """The directory of each of ``items`` (``_pybundle.Item``), in order: a complete entry in a
    read-only root, else in the writable root, else extracted now (``_extract``). Their modules'
    bytecode is then served from their packs (:func:`use_packs`)."""
    import time

    me = uid()
    force = _flag("PYBUNDLE_FORCE_EXTRACT")
    verify_all = _flag("PYBUNDLE_VERIFY")
    now = time.time()
    ro, rw, rw_why = roots(g, me)
    checked = {}
    dirs = {}
    missing = []
    repair = {}  # key: (entry, why) of damaged entries in the writable root
    for item in items:
        key = item.key
        found = None
        if not force:
            for root in ro:
                hit = _lookup(root, key, me, True, checked)
                if hit is None:
                    continue
                # Nothing writes to a read-only root: its natives' stat check on every start,
                # the full check only when asked (PYBUNDLE_VERIFY), whatever the entry's age.
                if _damage(hit[0], key, item.native, verify_all, False) is not None:
                    continue
                if item.parts and not _parts_ready(hit[0], item.parts):
                    continue  # nothing can write the parts it lacks there
                found = hit[0]
                log("cache hit %s in read-only root %s" % (key, root))
                break
            if found is None and rw is not None:
                hit = _lookup(rw, key, me, False, checked)
                if hit is not None:
                    stale = now - hit[1].st_mtime > _STALE_SECONDS
                    if stale and _readonly_mount(hit[0]):
                        stale = False  # a writable root mounted read-only: as above
                    why = _damage(hit[0], key, item.native, verify_all or stale, True)
                    if why is not None:
                        repair[key] = (hit[0], why)
                        hit = None
                    if hit is not None and stale:
                        try:  # record last use for `pybundle cache prune`
                            os.utime(os.path.join(hit[0], MARKER))
                        except FileNotFoundError:  # pruned meanwhile: extract anew
                            hit = None
                        except OSError:
                            pass
                        from . import _extract

                        # crash leftovers: at most once an hour per entry, like the full check
                        _extract.cleanup_tmp(os.path.join(rw, LAYOUT, TMP_DIR))
                    if hit is not None:
                        found = hit[0]
                        log("cache hit %s" % found)
        if found is None:
            missing.append(item)
        else:
            dirs[key] = found
    if missing:
        from . import _extract

        dirs.update(_extract.extract_missing(archive, (ro, rw, rw_why), missing, force, me, repair))
    found = [dirs[item.key] + os.sep + SITE_DIR for item in items]
    use_packs(found)
    for item, d in zip(items, found):
        if item.parts:
            _ENTRY_PARTS[d] = [p[0] + "/" for p in item.parts]
            for part in item.parts:
                parent, _, name = part[0].rpartition("/")
                PART_DIRS.setdefault(d + os.sep + parent.replace("/", os.sep), {})[name] = (
                    archive, dirs[item.key], item.key, part)
    if PART_DIRS and "pkgutil" in sys.modules:
        from . import _importer

        _importer.after_pkgutil(sys.modules["pkgutil"])
    return found


def _parts_ready(entry, parts):
    from . import _parts

    return _parts.ready(entry, parts)


# --------------------------------------------------------------------------------------------
# the bytecode pack: one file per entry instead of __pycache__ files
# --------------------------------------------------------------------------------------------
# Format (`pybundle extract` writes the same bytes, src/commands/extract.rs): the `.pyc` contents one
# after the other, then the source paths joined by "\n" (UTF-8), then (offset, size) of each as
# little-endian u64, then the path count and the byte length of the joined paths (u64 each).
def pack_tail(paths, numbers):
    """The bytes that follow the ``.pyc`` contents in a pack: ``numbers`` is the flat list of
    (offset, size) of each of ``paths`` (source paths, ``pkg/mod.py``)."""
    blob = "\n".join(paths).encode("utf-8")
    nums = b"".join(n.to_bytes(8, "little") for n in numbers)
    return [blob, nums, len(paths).to_bytes(8, "little"), len(blob).to_bytes(8, "little")]


def read_pack_index(fd):
    """{source path: (offset, size)} from the tail of the pack open at ``fd``; raises (OSError,
    ValueError, TypeError, ...) if it is not a pack."""
    size = os.fstat(fd).st_size
    tail = os.pread(fd, 16, size - 16)
    count, length = int.from_bytes(tail[:8], "little"), int.from_bytes(tail[8:], "little")
    start = size - 16 - 16 * count - length
    head = os.pread(fd, length + 16 * count, start)
    paths = head[:length].decode("utf-8").split("\n") if count else []
    nums = memoryview(head)[length:]
    if sys.byteorder == "little":
        nums = nums.cast("Q")
    else:  # pragma: no cover
        import struct

        nums = struct.unpack("<%dQ" % (2 * count), nums)
    if len(paths) != count or len(nums) != 2 * count:
        raise ValueError("bad pack index")
    return dict(zip(paths, zip(nums[0::2], nums[1::2])))


_PACKS = {}
_ENTRY_FINDERS = []
# `_parts`: package dir -> {name: (archive, entry, key, part)}; entry -> dirs ("scipy/stats/")
PART_DIRS = {}
_ENTRY_PARTS = {}


def _pack(entry, rel=None):
    """(fd, {source path: (offset, size)}) of the pack beside ``entry`` (``<entry>/site-packages``)
    or of its subpackage holding ``rel`` (``_parts``), or None (none, or a damaged one)."""
    part = None
    for d in _ENTRY_PARTS.get(entry, ()) if rel is not None else ():
        if rel.startswith(d):
            part = d
            break
    try:
        return _PACKS[entry, part]
    except KeyError:
        pass
    name = PYC_PACK if part is None else PARTS_DIR + "/" + part[:-1].replace("/", ".") + ".pyc"
    pack = None
    try:
        fd = os.open(os.path.join(os.path.dirname(entry), name), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        fd = None
    if fd is not None:
        try:
            pack = (fd, read_pack_index(fd))
        except Exception:
            os.close(fd)
            pack = None
    _PACKS[entry, part] = pack
    return pack


def _entry_path_hook(path):
    """Path hook for the directories of extracted entries: a regular FileFinder whose source
    loader takes the bytecode from the entry's pack."""
    for entry, loader in _ENTRY_FINDERS:
        if path == entry or path.startswith(entry + os.sep):
            ext = sys.modules["_frozen_importlib_external"]
            import _imp

            cls = ext.FileFinder
            if path in PART_DIRS:
                from . import _parts

                cls = _parts.Finder
            return cls(
                path,
                (ext.ExtensionFileLoader, _imp.extension_suffixes()),
                (loader, ext.SOURCE_SUFFIXES),
                (ext.SourcelessFileLoader, ext.BYTECODE_SUFFIXES),
            )
    raise ImportError("not a pybundle cache entry")


def use_packs(dirs):
    """Serve the bytecode of the extracted entries ``dirs`` from their packs. The packs hold
    level 0's bytecode: under ``-O``/``-OO`` the source loader compiles at the interpreter's
    level and keeps the result in the entry's ``__pycache__`` (a venv's first ``-O`` run does
    the same), or in memory only where the entry cannot be written."""
    if not dirs:
        return
    ext = sys.modules["_frozen_importlib_external"]
    magic = ext.MAGIC_NUMBER
    from _imp import _fix_co_filename

    def make(entry):
        class _PackLoader(ext.SourceFileLoader):
            def get_code(self, fullname):
                rel = self.path[len(entry) + 1:].replace(os.sep, "/")
                pack = None if sys.flags.optimize else _pack(entry, rel)
                if pack is not None:
                    hit = pack[1].get(rel)
                    if hit is not None:
                        data = os.pread(pack[0], hit[1], hit[0])
                        if len(data) == hit[1] and data[:4] == magic:
                            import marshal

                            try:
                                code = marshal.loads(memoryview(data)[16:])
                            except Exception:  # marshal raises many kinds on garbage
                                code = None  # a damaged pack: compile the source instead
                            if code is not None:  # compiled as `pkg/mod.py`: its real path
                                _fix_co_filename(code, self.path)
                                return code
                return ext.SourceFileLoader.get_code(self, fullname)

        return _PackLoader

    for d in dirs:
        _ENTRY_FINDERS.append((d, make(d)))
    if _entry_path_hook not in sys.path_hooks:
        sys.path_hooks.insert(0, _entry_path_hook)



# --------------------------------------------------------------------------------------------
# the store's bytecode at the interpreter's optimisation level (-O, -OO)
# --------------------------------------------------------------------------------------------
# The store holds level 0's bytecode (as pip writes a venv's). Under -O/-OO a module of the
# store is compiled from its source once and kept in an entry of the writable root,
# `dists/<cache tag>.opt<N>-<index CRC-32><index size>/` (created with its marker, so that
# `pybundle cache` lists, prunes and cleans it like the others; its last use recorded at most
# hourly, as theirs), one file per module (its store
# path with "/" as "%"), headed like a .pyc whose last 8 bytes are the source's CRC-32 and size,
# checked on every read. Where no root can be written, modules are compiled in memory; with
# PYTHONDONTWRITEBYTECODE (-B) nothing is written, as a venv writes nothing.
_OPT = {}


def _opt_entry(store, level):
    """The directory of the store's entry at ``level``, created if needed, or None."""
    key = (store.archive, level)
    if key not in _OPT:
        _OPT[key] = None
        try:
            from . import _extract

            me = uid()
            rw = roots(getattr(store, "g", None) or {}, me)[1]
            if rw is None:
                return None
            _extract._prepare_root(rw, me)
            name = "%s.opt%d-%08x%08x" % (sys.implementation.cache_tag, level, store.crc,
                                           store.index_size & 0xFFFFFFFF)
            entry = os.path.join(rw, LAYOUT, DISTS_DIR, name)
            if not os.path.exists(os.path.join(entry, MARKER)):
                if sys.dont_write_bytecode:
                    return None
                tmp = _extract._private_name(os.path.join(rw, LAYOUT, TMP_DIR), name)
                os.mkdir(tmp, 0o700)
                with open(os.path.join(tmp, MARKER), "w", encoding="utf-8") as f:
                    f.write(_extract.marker_text([]))
                try:
                    os.rename(tmp, entry)
                except OSError:  # another start made it first
                    _extract._rmtree(tmp)
            marker = os.path.join(entry, MARKER)
            if safe(os.stat(entry), me) and os.path.exists(marker):
                _OPT[key] = entry
                import time

                if time.time() - os.stat(marker).st_mtime > _STALE_SECONDS:
                    os.utime(marker)  # its last use, for `pybundle cache prune`
        except (OSError, SystemExit, ImportError) as e:
            log("no cache for the store's level %d bytecode: %s" % (level, e))
    return _OPT[key]


def optimized_code(store, rel, r, path):
    """The code of the store's source ``rel`` (record ``r``) at the interpreter's optimisation
    level, named ``path``: from the store's entry at that level, else compiled (and kept)."""
    import marshal
    from _imp import _fix_co_filename

    ext = sys.modules["_frozen_importlib_external"]
    head = ext.MAGIC_NUMBER + bytes(4) + r[3].to_bytes(4, "little") + (r[6] & 0xFFFFFFFF).to_bytes(4, "little")
    entry = _opt_entry(store, sys.flags.optimize)
    file = os.path.join(entry, rel.replace("/", "%") + "c") if entry else None
    try:
        with open(file, "rb") as f:
            data = f.read()
        if data[:16] == head:
            code = marshal.loads(memoryview(data)[16:])
            _fix_co_filename(code, path)  # the bundle may have moved since
            return code
    except Exception:  # no file (or none to look for), or garbage: compile
        pass
    code = compile(store.read(rel, r), path, "exec", dont_inherit=True)
    if file is not None and not sys.dont_write_bytecode:
        tmp = "%s.%d.tmp" % (file, os.getpid())
        try:
            with open(tmp, "wb") as f:
                f.write(head + marshal.dumps(code))
            os.replace(tmp, file)
        except OSError:
            pass
    return code
