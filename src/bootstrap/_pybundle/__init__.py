"""pybundle run-time bootstrap.

The generated ``__main__.py`` holds only data literals (see docs/DESIGN.md) and calls
``_pybundle.main(globals())``.  This module is the warm path: it imports nothing but ``sys``
and ``os`` (both loaded at interpreter start) at top level.  Everything heavier lives in
sibling modules that are imported only on the path that needs them:

* ``_cache``  -- extraction into the cache root (cold path), verification, repair, errors.
* ``_interp`` -- interpreter mode (``python``-like command line, REPL).
* ``_errors`` -- interpreter mismatch messages and the PEP 440 ``requires_python`` check.

Order of work in :func:`main`:

1. ``ENV`` defaults (``os.environ.setdefault``).
2. interpreter check (before any bundled code is imported), exit 1 with a message on mismatch;
   from then on every bundle member zipimport reads is checked against its CRC-32
   (``_guard_zip``: a damaged bundle stops with an error instead of running damaged code).
3. extraction / cache lookup of the ``EXTRACT`` entries (see ``_cache`` for the root rules).
4. ``sys.path`` isolation: ``[stdlib..., bundle, extracted dirs..., .pth additions,
   PYTHONPATH entries, inherited host entries (only with inherit)]``.  The zip-safe
   distributions sit at the root of the bundle (importlib.metadata finds ``.dist-info``
   only at a zip's root), so the bundle itself moves behind the stdlib.
5. ``.pth`` files listed in ``PTH``; 6. ``PYBUNDLE_EXTEND_PYTHONPATH``; 7. preamble; 8. entry.

Environment variables read at run time: PYBUNDLE_ROOT, PYBUNDLE_ROOTS, PYBUNDLE_FORCE_EXTRACT,
PYBUNDLE_VERIFY, PYBUNDLE_VERBOSE, PYBUNDLE_INHERIT_PATH, PYBUNDLE_EXTEND_PYTHONPATH,
PYBUNDLE_ENTRY_POINT, PYBUNDLE_INTERPRETER.
"""
import os
import sys

MARKER = ".pybundle-complete"
LAYOUT = "v1"
# The bytecode of an extracted entry, in one file (see _cache._extract_one and _PackLoader).
PYC_PACK = ".pybundle-pyc"

_T0 = [None]


def _flag(name):
    v = os.environ.get(name, "")
    return v not in ("", "0", "false", "False", "no")


def _verbose():
    return os.environ.get("PYBUNDLE_VERBOSE", "") not in ("", "0")


def log(msg):
    """One verbose line, with the milliseconds elapsed since the bootstrap started."""
    if not _verbose():
        return
    import time

    t0 = _T0[0]
    ms = (time.perf_counter() - t0) * 1000.0 if t0 is not None else 0.0
    sys.stderr.write("pybundle: %s [+%.1f ms]\n" % (msg, ms))
    sys.stderr.flush()


def fail(msg, code=1):
    """Print a one-paragraph error and exit, without a traceback."""
    sys.stderr.write(msg.rstrip("\n") + "\n")
    sys.stderr.flush()
    raise SystemExit(code)


# --------------------------------------------------------------------------------------------
# interpreter check
# --------------------------------------------------------------------------------------------
def _check_python(spec, archive):
    if not spec:
        return
    impl = spec.get("implementation")
    if spec.get("native"):
        ok = impl is None or sys.implementation.name == impl
        ver = spec.get("version")
        ok = ok and (ver is None or tuple(sys.version_info[:2]) == tuple(ver))
        if ok:
            ok = _platform_matches(spec)
        if not ok:
            from . import _errors

            fail(_errors.native_mismatch(spec, archive))
        return
    req = spec.get("requires_python")
    if req:
        from . import _errors

        if not _errors.specifier_contains(req, tuple(sys.version_info[:3])):
            fail(_errors.requires_mismatch(spec, archive))


def _platform_matches(spec):
    """Compare the running platform with the build platform without importing sysconfig.

    Uses the cheap fields ``sys_platform`` / ``machine`` / ``multiarch`` when the builder
    recorded them; falls back to ``sysconfig.get_platform()`` otherwise.
    """
    sp = spec.get("sys_platform")
    if sp is not None:
        if sys.platform != sp:
            return False
        machine = spec.get("machine")
        if machine:
            try:
                cur = os.uname().machine
            except AttributeError:  # pragma: no cover - Windows
                import platform

                cur = platform.machine()
            if cur.lower() != machine.lower():
                return False
        multiarch = spec.get("multiarch")
        cur_ma = getattr(sys.implementation, "_multiarch", None)
        if multiarch is not None and cur_ma is not None and multiarch != cur_ma:
            return False
        return True
    plat = spec.get("platform")
    if plat is None:
        return True
    import sysconfig

    return sysconfig.get_platform() == plat


# --------------------------------------------------------------------------------------------
# cache lookup (warm path: a few stats per entry, no zipfile)
# --------------------------------------------------------------------------------------------
def _uid():
    try:
        return os.getuid()
    except AttributeError:  # pragma: no cover - Windows
        return None


def _safe(st, uid, allow_root_owner=False):
    if uid is None:
        return True
    if st.st_uid != uid and not (allow_root_owner and st.st_uid == 0):
        return False
    return (st.st_mode & 0o022) == 0


def writable_root(g):
    """The writable cache root: PYBUNDLE_ROOT, else the baked ROOT, else the XDG cache dir.

    Returns None when no usable path can even be formed (e.g. no home directory)."""
    root = os.environ.get("PYBUNDLE_ROOT") or g.get("ROOT")
    if root:
        return os.path.abspath(os.path.expanduser(root))
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "pybundle")
    home = os.path.expanduser("~")
    if not home or home == "~" or not os.path.isabs(home) or not os.path.isdir(home):
        return None
    return os.path.join(home, ".cache", "pybundle")


def readonly_roots():
    v = os.environ.get("PYBUNDLE_ROOTS", "")
    return [os.path.abspath(os.path.expanduser(p)) for p in v.split(os.pathsep) if p]


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
            if not _safe(st, uid, readonly):
                from . import _cache

                _cache.unsafe_dir(d, st, uid, readonly)
        checked[root] = True
    if not checked[root]:
        return None
    entry = os.path.join(v1, "dists", key)
    try:
        mst = os.stat(os.path.join(entry, MARKER))
    except OSError:
        return None
    est = os.stat(entry)
    if not _safe(est, uid, readonly):
        from . import _cache

        _cache.unsafe_dir(entry, est, uid, readonly)
    return entry, mst


def native_damage(entry, natives):
    """None if every native file of ``entry`` exists with its size, else the reason, worded as
    ``_cache.check_entry`` words it. ``natives`` is the sixth field of an ``EXTRACT`` item: the
    entry's extension modules, shared libraries and executables as (path, size), listed by the
    builder, so this costs one ``os.stat`` per file and no directory walk. A tmp cleaner deletes
    old files one by one and leaves the marker: without this check the start would import a
    library's pure-Python fallback instead of its missing extension, or fail far from the cause."""
    st = os.stat
    prefix = entry + os.sep
    for rel, size in natives:
        try:
            if st(prefix + rel).st_size != size:
                return "wrong size: %s" % rel
        except OSError:
            return "missing file: %s" % rel
    return None


def _resolve_extract(g, archive, extract):
    """Map each EXTRACT key to a directory, extracting what is missing (cold path in _cache)."""
    import time

    uid = _uid()
    force = _flag("PYBUNDLE_FORCE_EXTRACT")
    verify_all = _flag("PYBUNDLE_VERIFY")
    now = time.time()
    ro = readonly_roots()
    rw = writable_root(g)
    checked = {}
    dirs = {}
    missing = []
    repair = {}  # key: (entry, why) of damaged entries in the writable root
    for item in extract:
        key = item[0]
        natives = item[5] if len(item) > 5 else ()
        found = None
        if not force:
            for root in ro:
                hit = _lookup(root, key, uid, True, checked)
                if hit is None:
                    continue
                if verify_all or now - hit[1].st_mtime > 3600:
                    from . import _cache

                    if _cache.verify_entry(hit[0], key) is not None:
                        continue
                elif natives:
                    why = native_damage(hit[0], natives)
                    if why is not None:
                        from . import _cache

                        _cache.report_damage(hit[0], why, False)
                        continue
                found = hit[0]
                log("cache hit %s in read-only root %s" % (key, root))
                break
            if found is None and rw is not None:
                hit = _lookup(rw, key, uid, False, checked)
                if hit is not None:
                    stale = now - hit[1].st_mtime > 3600
                    why = None
                    if verify_all or stale:
                        from . import _cache

                        why = _cache.verify_entry(hit[0], key, repairable=True)
                    elif natives:
                        why = native_damage(hit[0], natives)
                        if why is not None:
                            from . import _cache

                            _cache.report_damage(hit[0], why, True)
                    if why is not None:
                        repair[key] = (hit[0], why)
                        hit = None
                    if hit is not None:
                        if stale:
                            try:  # record last use for `pybundle cache prune`
                                os.utime(os.path.join(hit[0], MARKER))
                            except FileNotFoundError:  # pruned meanwhile: extract anew
                                hit = None
                            except OSError:
                                pass
                    if hit is not None:
                        found = hit[0]
                        log("cache hit %s" % found)
        if found is None:
            missing.append(item)
        else:
            dirs[key] = found
    if missing:
        from . import _cache

        dirs.update(_cache.extract_missing(archive, rw, missing, force, uid, repair))
    return [dirs[item[0]] for item in extract]


# --------------------------------------------------------------------------------------------
# sys.path
# --------------------------------------------------------------------------------------------
def _norm(p):
    return os.path.normcase(os.path.abspath(p)) if p else p


def _host_site_dirs():
    dirs = set()
    site = sys.modules.get("site")
    if site is not None:
        try:
            dirs.update(_norm(p) for p in site.getsitepackages())
        except Exception:
            pass
        try:
            dirs.add(_norm(site.getusersitepackages()))
        except Exception:
            pass
    return dirs


def _is_host_name(p):
    parts = p.replace("\\", "/").split("/")
    return "site-packages" in parts or "dist-packages" in parts


def _split_path(archive):
    """Split the current sys.path (after index 0) into (pythonpath, stdlib, host)."""
    prefixes = set()
    for attr in ("base_prefix", "base_exec_prefix", "prefix", "exec_prefix"):
        v = getattr(sys, attr, None)
        if v:
            prefixes.add(_norm(v))
    site_dirs = _host_site_dirs()
    entries = sys.path[1:]
    kinds = []
    for p in entries:
        n = _norm(p)
        if n in site_dirs or _is_host_name(n):
            kinds.append("host")
        elif any(n == pre or n.startswith(pre + os.sep) for pre in prefixes):
            kinds.append("stdlib")
        else:
            kinds.append("other")
    last_std = max([i for i, k in enumerate(kinds) if k == "stdlib"] or [-1])
    first_std = min([i for i, k in enumerate(kinds) if k == "stdlib"] or [len(kinds)])
    pythonpath, stdlib, host = [], [], []
    for i, (p, k) in enumerate(zip(entries, kinds)):
        if _norm(p) == _norm(archive):
            continue
        if k == "stdlib":
            stdlib.append(p)
        elif k == "host" or i > last_std:
            # site-packages, user site and whatever site/.pth files appended after the stdlib
            host.append(p)
        elif i < first_std:
            pythonpath.append(p)
        else:
            stdlib.append(p)
    return pythonpath, stdlib, host


def _scrub_modules(host):
    """Forget host modules imported by site (.pth imports, sitecustomize, nspkg modules)."""
    if not host:
        return
    pre = tuple(_norm(h) + os.sep for h in host)
    scrubbed = set()
    for name, mod in list(sys.modules.items()):
        f = getattr(mod, "__file__", None)
        if f:
            if _norm(f).startswith(pre):
                del sys.modules[name]
                scrubbed.add(name)
            continue
        path = getattr(mod, "__path__", None)
        if path is not None and not isinstance(path, str):
            try:
                ps = list(path)
            except Exception:
                continue
            if ps and all(_norm(p).startswith(pre) or _norm(p) + os.sep in pre for p in ps):
                del sys.modules[name]
                scrubbed.add(name)
    if scrubbed:
        kept = [f for f in sys.meta_path if type(f).__module__ not in scrubbed]
        if len(kept) != len(sys.meta_path):
            sys.meta_path[:] = kept


def _process_pth(g, archive, zip_sp, extract_dirs, pth):
    added = []
    loader = g.get("__loader__")
    for d, name in pth:
        if d == "":
            sitedir = zip_sp
            fullname = archive + "/" + name
            try:
                data = loader.get_data(fullname)
            except Exception as e:
                sys.stderr.write("pybundle: warning: cannot read %s: %s\n" % (fullname, e))
                continue
            in_zip = True
        else:
            key = d[len("extract/"):] if d.startswith("extract/") else d
            sitedir = extract_dirs.get(key)
            if sitedir is None:
                sys.stderr.write("pybundle: warning: .pth %s/%s: unknown directory\n" % (d, name))
                continue
            fullname = os.path.join(sitedir, name)
            try:
                with open(fullname, "rb") as f:
                    data = f.read()
            except OSError as e:
                sys.stderr.write("pybundle: warning: cannot read %s: %s\n" % (fullname, e))
                continue
            in_zip = False
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        for n, line in enumerate(text.splitlines(), 1):
            try:
                if not line.strip() or line.startswith("#"):
                    continue
                if line.startswith(("import ", "import\t")):
                    _exec_pth_line(line, sitedir, fullname)
                    continue
                line = line.rstrip()
                p = os.path.join(sitedir, line)
                if not in_zip:
                    p = os.path.abspath(p)
                if p not in sys.path and (in_zip or os.path.exists(p)):
                    sys.path.append(p)
                    added.append(p)
            except Exception as e:
                sys.stderr.write(
                    "pybundle: error processing line %d of %s: %s: %s (remainder of file ignored)\n"
                    % (n, fullname, type(e).__name__, e)
                )
                break
    return added


def _exec_pth_line(line, sitedir, fullname):
    # Like site.addpackage: `sitedir` is a local of the calling frame, so legacy
    # *-nspkg.pth lines using sys._getframe(1).f_locals['sitedir'] work.
    exec(compile(line, fullname, "exec"), {"__builtins__": __builtins__, "sitedir": sitedir})


class _MetadataFinder(object):
    """Finds the bundle's zipped distributions for importlib.metadata (imports nothing)."""

    def __init__(self, archive, entry, dists, lazy=None):
        self.archive, self.entry, self.dists, self.lazy = archive, entry, dists, lazy

    def find_spec(self, *args, **kwargs):
        return None

    def invalidate_caches(self):
        pass

    def find_distributions(self, context=None):
        from . import _metadata

        return _metadata.find(self.archive, self.entry, self.dists, context, self.lazy)


# --------------------------------------------------------------------------------------------
# bytecode of extracted entries: one pack file per entry instead of __pycache__ files
# --------------------------------------------------------------------------------------------
_PACKS = {}
_ENTRY_FINDERS = []


def _pack(entry):
    """(fd, {source path: (offset, size)}) of ``entry``'s PYC_PACK, or None (no pack: an entry
    written by ``pybundle extract`` has __pycache__ files instead)."""
    try:
        return _PACKS[entry]
    except KeyError:
        pass
    pack = None
    try:
        fd = os.open(os.path.join(entry, PYC_PACK), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        fd = None
    if fd is not None:
        try:  # the tail written by _cache.pack_index
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
            pack = (fd, dict(zip(paths, zip(nums[0::2], nums[1::2]))))
        except Exception:
            os.close(fd)
            pack = None
    _PACKS[entry] = pack
    return pack


def _entry_path_hook(path):
    """Path hook for the directories of extracted entries: a regular FileFinder whose source
    loader takes the bytecode from the entry's PYC_PACK."""
    for entry, loader in _ENTRY_FINDERS:
        if path == entry or path.startswith(entry + os.sep):
            ext = sys.modules["_frozen_importlib_external"]
            import _imp

            return ext.FileFinder(
                path,
                (ext.ExtensionFileLoader, _imp.extension_suffixes()),
                (loader, ext.SOURCE_SUFFIXES),
                (ext.SourcelessFileLoader, ext.BYTECODE_SUFFIXES),
            )
    raise ImportError("not a pybundle cache entry")


def _use_packs(dirs):
    """Serve the bytecode of the extracted entries ``dirs`` from their PYC_PACK files."""
    if not dirs:
        return
    ext = sys.modules["_frozen_importlib_external"]
    magic = ext.MAGIC_NUMBER

    def make(entry):
        class _PackLoader(ext.SourceFileLoader):
            def get_code(self, fullname):
                pack = _pack(entry)
                if pack is not None:
                    hit = pack[1].get(self.path[len(entry) + 1:].replace(os.sep, "/"))
                    if hit is not None:
                        data = os.pread(pack[0], hit[1], hit[0])
                        if len(data) == hit[1] and data[:4] == magic:
                            import marshal

                            try:
                                return marshal.loads(memoryview(data)[16:])
                            except Exception:  # marshal raises many kinds on garbage
                                pass  # a damaged pack: compile the source instead
                return ext.SourceFileLoader.get_code(self, fullname)

        return _PackLoader

    for d in dirs:
        _ENTRY_FINDERS.append((d, make(d)))
    if _entry_path_hook not in sys.path_hooks:
        sys.path_hooks.insert(0, _entry_path_hook)


# Imports after which every pending entry must be on sys.path: pkg_resources scans sys.path for
# distributions; multiprocessing's spawn and forkserver children get the parent's sys.path but
# none of its finders, so they would not find an entry the parent has not imported yet.
_MOUNT_ALL = ("pkg_resources", "multiprocessing")


class _LazyExtract(object):
    """Extracts a distribution that needs a real directory when it is first imported.

    ``EXTRACT`` items with top-level names (item[3]) are not extracted at start: this finder
    sits just before ``PathFinder`` on ``sys.meta_path`` and, when one of those names is
    imported, looks the entry up in the cache (extracting it on a miss), puts its directory on
    ``sys.path`` behind the bundle's own entries and returns None, so that ``PathFinder`` finds
    the module there as usual. A start that never imports such a distribution never pays for
    it. ``import pkg_resources`` and ``import multiprocessing`` mount every pending entry first
    (see ``_MOUNT_ALL``), as does ``PYBUNDLE_EXTEND_PYTHONPATH`` at start. Until an entry is mounted
    its metadata is served from the bundle by the metadata finder."""

    def __init__(self, g, archive, own, items):
        import _thread

        self.g, self.archive, self.own = g, archive, own
        # Our own lock, not the global import lock: a thread that holds a module's import lock
        # and waits for the global one would deadlock with a mount importing that module.
        self.lock = _thread.RLock()
        self.pending = {}
        self.names = {}
        for item in items:
            self.pending[item[0]] = item
            for name in item[3]:
                self.names.setdefault(name, []).append(item[0])

    def find_spec(self, fullname, path=None, target=None):
        keys = self.names.get(fullname.partition(".")[0])
        if keys is not None:
            self.mount(keys)
        elif fullname in _MOUNT_ALL and self.pending:
            self.mount(list(self.pending))
        return None

    def invalidate_caches(self):
        pass

    def mount(self, keys):
        """Extract (or find in the cache) the pending entries ``keys`` and add them to sys.path."""
        with self.lock:  # one mount at a time, whichever thread imports
            items = [self.pending[k] for k in keys if k in self.pending]
            if not items:
                return
            dirs = _resolve_extract(self.g, self.archive, items)
            for item in items:
                del self.pending[item[0]]
            self.names = {n: ks for n, ks in self.names.items() if any(k in self.pending for k in ks)}
            pos = 0
            for i, p in enumerate(sys.path):
                if p in self.own:
                    pos = i + 1
            _use_packs(dirs)
            for d in dirs:
                if d not in sys.path:
                    sys.path.insert(pos, d)
                    pos += 1
                self.own.append(d)
            # Stays on sys.meta_path even with nothing pending: removing itself here would make
            # the import system, iterating that list, skip the next finder (PathFinder).
            log("mounted %s" % ", ".join(item[0] for item in items))

    def dir_of(self, key):
        """The directory of entry ``key``, mounting it if needed."""
        self.mount([key])
        prefix = os.sep + key
        for d in self.own:
            if d.endswith(prefix):
                return d
        return None


def _setup_path(g, archive, extract_dirs_list, extract, inherit, lazy=()):
    zip_archive = archive
    if not os.path.isabs(archive):  # Python 3.8 keeps a relative sys.path[0]
        zip_archive = os.path.abspath(archive)
        try:
            import zipimport

            cache = zipimport._zip_directory_cache
            if archive in cache and zip_archive not in cache:
                cache[zip_archive] = cache[archive]
        except Exception:
            pass
    zip_sp = zip_archive
    pythonpath, stdlib, host = _split_path(archive)
    dists = g.get("DISTS")
    # With a DISTS list the bundle's own entry is `<bundle>/`: zipimport serves it from the
    # directory it already read, and importlib.metadata asks our finder (see _metadata) instead
    # of parsing the whole zip again. Children (PYTHONPATH) get the plain path.
    entry = zip_archive + "/" if dists is not None else zip_archive
    _use_packs(extract_dirs_list)
    sys.path[:] = stdlib + [entry] + list(extract_dirs_list)
    own = [zip_sp] + list(extract_dirs_list)
    finder = None
    if lazy:
        finder = _LazyExtract(g, archive, [entry] + list(extract_dirs_list), lazy)
        pos = len(sys.meta_path)
        for i, f in enumerate(sys.meta_path):
            if getattr(f, "__name__", None) == "PathFinder":
                pos = i
                break
        sys.meta_path.insert(pos, finder)
    if dists is not None:
        sys.meta_path.append(_MetadataFinder(zip_archive, entry, dists, finder))
    if not inherit:
        _scrub_modules(host)
    log("zip-safe distributions from the bundle; %d extracted dir(s), %d on first import; %s host "
        "site dirs (%d)" % (len(extract_dirs_list), len(lazy), "inheriting" if inherit else "dropped",
                            len(host)))
    pth = g.get("PTH") or ()
    extract_dirs = {}
    for item, d in zip(extract, extract_dirs_list):
        extract_dirs[item[0]] = d
    added = _process_pth(g, archive, zip_sp, extract_dirs, pth) if pth else []
    for p in pythonpath:
        if p not in sys.path:
            sys.path.append(p)
    if inherit:
        for p in host:
            if p not in sys.path:
                sys.path.append(p)
    return own + added


# --------------------------------------------------------------------------------------------
# zip integrity: zipimport does not check CRC-32, so a flipped byte would run as damaged code
# --------------------------------------------------------------------------------------------
def read_member(fd, entry):
    """(data, None) for the bundle member with zipimport toc ``entry`` (path, compress,
    data_size, file_size, offset, time, date, crc), read from ``fd`` with ``os.pread``, inflated
    and checked against its size and CRC-32; (None, reason) if it is damaged. zlib is loaded
    (zipimport used it for this very package). Shared by ``_guard_zip`` and extraction."""
    import zlib

    _path, compress, data_size, file_size, offset, _t, _d, crc = entry
    try:
        head = os.pread(fd, 30, offset)
        if len(head) != 30 or head[:4] != b"PK\x03\x04":
            return None, "bad local file header"
        start = offset + 30 + int.from_bytes(head[26:28], "little") + int.from_bytes(head[28:30], "little")
        data = os.pread(fd, data_size, start)
        if len(data) != data_size:
            return None, "truncated"
        if compress == 8:
            data = zlib.decompress(data, -15)
        elif compress != 0:
            return None, "unsupported compression %d" % compress
    except (OSError, zlib.error) as e:
        return None, e
    if len(data) != file_size or zlib.crc32(data) != crc:
        return None, "CRC-32 mismatch"
    return data, None


def _guard_zip(archive):
    """Serve zipimport's reads of bundle members from one open file, and check each CRC-32.

    Replaces ``zipimport._get_data`` (private, same signature and toc format on 3.8-3.13;
    left alone if it changes) for this bundle only. zipimport opens the archive anew for every
    module and resource it reads; this keeps one descriptor (opened now, while the working
    directory is the one the path is relative to; O_CLOEXEC) and reads with ``os.pread``, which
    also keeps reading the file this process started from if it is replaced on disk. Measured:
    300 modules imported from a bundle took 66-77 ms through zipimport's reader and 40-50 ms
    through this one (45-50 ms from a directory). zipimport does not check CRC-32, so a flipped
    byte would run as damaged code: this stops with an error instead. Members read before this
    runs (``__main__.py``, this package) are not covered."""
    import zipimport

    orig = getattr(zipimport, "_get_data", None)
    if orig is None or getattr(orig, "_pybundle", False):
        return
    ours = {archive, os.path.abspath(archive)}
    try:
        fd = os.open(archive, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        fd = None

    def _get_data(path, toc_entry):
        if path not in ours or fd is None or len(toc_entry) != 8:
            return orig(path, toc_entry)
        data, why = read_member(fd, toc_entry)
        if data is not None:
            return data
        name = toc_entry[0][len(path) + 1:]
        fail("error: the bundle `%s` is damaged (%s: %s); rebuild it or copy it again"
             % (path, name, why))

    _get_data._pybundle = True
    zipimport._get_data = _get_data


# --------------------------------------------------------------------------------------------
# entry
# --------------------------------------------------------------------------------------------
def _excepthook(etype, value, tb):
    # Before 3.13 the C traceback printer reads source lines from the file system only, so
    # code imported from the zip showed no source lines. The traceback module uses linecache,
    # which asks the module's __loader__ (zipimporter.get_source).
    try:
        import traceback

        traceback.print_exception(etype, value, tb)
    except BaseException:
        sys.__excepthook__(etype, value, tb)


def _thread_excepthook(args):
    # ``threading.excepthook``'s default is ``_thread._excepthook``, written in C: before 3.13 it
    # prints through the same C printer as ``sys.__excepthook__`` (source lines from the file
    # system only), so a thread's traceback lacked the lines the main thread's has. This is
    # threading's own pure-Python fallback hook, printing through the traceback module.
    if args.exc_type is SystemExit:
        return
    try:
        stderr = sys.stderr
        if stderr is None:
            stderr = getattr(args.thread, "_stderr", None)
            if stderr is None:
                return
        import traceback

        if args.thread is not None:
            name = args.thread.name
        else:
            import _thread

            name = _thread.get_ident()
        stderr.write("Exception in thread %s:\n" % name)
        stderr.flush()
        traceback.print_exception(args.exc_type, args.exc_value, args.exc_traceback, file=stderr)
        stderr.flush()
    except BaseException:
        _THREAD_HOOK[0](args)


# ``_thread._excepthook`` as it was before ``_install_excepthook`` replaced it.
_THREAD_HOOK = [None]


def _install_excepthook():
    if sys.version_info >= (3, 13):
        return
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _excepthook
    # ``threading`` copies ``_thread._excepthook`` when it is first imported (it usually is not
    # yet): replace it at the source, and in ``threading`` too if it was imported already.
    # ``_thread`` is built in and already loaded (importlib uses it): this imports nothing.
    import _thread

    default = getattr(_thread, "_excepthook", None)
    if default is None or _THREAD_HOOK[0] is not None:
        return
    _THREAD_HOOK[0] = default
    _thread._excepthook = _thread_excepthook
    threading = sys.modules.get("threading")
    if threading is not None and getattr(threading, "excepthook", None) is default:
        threading.excepthook = _thread_excepthook


def _exit_sigint():
    """End like ``python script.py`` on an unhandled KeyboardInterrupt: traceback, atexit
    handlers, then death by SIGINT (exit status 130 in a shell). A zipapp run by CPython itself
    goes through runpy and would exit with status 1 instead."""
    sys.excepthook(*sys.exc_info())
    try:
        import atexit

        atexit._run_exitfuncs()
    except BaseException:
        pass
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
    try:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except (AttributeError, OSError, ValueError):
        pass
    os._exit(130)


def _resolve_entry(g):
    ep = os.environ.get("PYBUNDLE_ENTRY_POINT")
    if _flag("PYBUNDLE_INTERPRETER"):
        return ("interpreter", None, None)
    if ep:
        if ":" in ep:
            mod, attr = ep.split(":", 1)
            return ("function", mod.strip(), attr.strip())
        return ("module", ep.strip(), None)
    entry = g.get("ENTRY")
    if not entry:
        return ("interpreter", None, None)
    return tuple(entry)


def _run_preamble(g, archive):
    name = archive + "/_pybundle/preamble.py"
    src = g["__loader__"].get_data(name)
    code = compile(src, name, "exec")
    ns = {"__name__": "__pybundle_preamble__", "__file__": name, "__builtins__": __builtins__}
    log("running preamble")
    exec(code, ns)


def main(g):
    if _verbose():
        import time

        _T0[0] = time.perf_counter()
    g.pop("_pybundle", None)
    archive = g["__loader__"].archive

    for k, v in g.get("ENV") or ():
        os.environ.setdefault(k, v)

    _check_python(g.get("PYTHON"), archive)
    _guard_zip(archive)

    extract = tuple(g.get("EXTRACT") or ())
    lazy = ()
    if not _flag("PYBUNDLE_EXTEND_PYTHONPATH"):  # children need every directory now
        lazy = tuple(item for item in extract if len(item) > 3 and item[3])
        if lazy:
            extract = tuple(item for item in extract if not (len(item) > 3 and item[3]))
    extract_dirs = _resolve_extract(g, archive, extract) if extract else []

    inherit = bool(g.get("INHERIT_PATH")) or _flag("PYBUNDLE_INHERIT_PATH")
    additions = _setup_path(g, archive, extract_dirs, extract, inherit, lazy)

    if _flag("PYBUNDLE_EXTEND_PYTHONPATH"):
        old = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(additions + ([old] if old else []))

    if g.get("PREAMBLE"):
        _run_preamble(g, archive)

    kind, name, attr = _resolve_entry(g)
    log("entry %s %s%s" % (kind, name or "", (":" + attr) if attr else ""))
    if kind == "function":
        _install_excepthook()
        try:
            __import__(name)
            obj = sys.modules[name]
            for part in attr.split("."):
                obj = getattr(obj, part)
            code = obj()
        except KeyboardInterrupt:
            _exit_sigint()
        sys.exit(code)
    elif kind == "module":
        _install_excepthook()
        import runpy

        try:
            runpy.run_module(name, run_name="__main__", alter_sys=True)
        except KeyboardInterrupt:
            _exit_sigint()
    elif kind == "interpreter":
        from . import _interp

        _interp.run(archive)
    else:
        fail("error: the bundle `%s` has an unknown entry kind %r; rebuild it" % (archive, kind))
