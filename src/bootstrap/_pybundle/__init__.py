"""pybundle run-time bootstrap: the warm path (``__main__.py`` calls :func:`main`)."""
# The rest is comments, not docstrings: this module is unmarshalled on every start.
#
# ``__main__.py`` holds only data literals (docs/DESIGN.md). This module holds all a start with
# a filled extraction cache needs, and it is the only module of the package every start imports
# with ``_importer`` (the finder and loader of the zip-safe distributions, the member reader,
# the metadata finder; each further module costs a zip member and an unmarshal); at top level
# it imports only ``sys`` and ``os``. The others are imported on the path that needs them: ``_cache`` (the extraction
# cache as a start reads it: roots, lookup, the pack format; when an extracted distribution
# is first needed), ``_extract`` (creating roots, the marker, checking and writing entries),
# ``_zip`` (the bundle's directory, inner archives), ``_metadata`` (importlib.metadata),
# ``_errors`` (mismatch messages, PEP 440, KeyboardInterrupt, unsafe cache directories, the
# thread traceback hook), ``_interp`` (interpreter mode), ``_pth`` (.pth files) and ``_launch``
# (scripts as entries, run in process or executed from the cache with a ``python`` shim on PATH;
# multi-call commands).
#
# main(): 1. ``ENV`` defaults; 2. interpreter check (every bundle member zipimport reads, this
# package included, is checked against its CRC-32 by the guard of ``__main__.py``); 3. cache
# lookup / extraction of the ``EXTRACT`` items not extracted on first import; 4. ``sys.path``
# isolation: ``[stdlib..., bundle, extracted dirs..., .pth additions, PYTHONPATH entries, host
# entries (only with inherit)]``; 5. ``PTH``;
# 6. ``PYBUNDLE_EXTEND_PYTHONPATH``; 7. preamble; 8. entry.
#
# Environment variables read at run time: PYBUNDLE_ROOT, PYBUNDLE_ROOTS, PYBUNDLE_FORCE_EXTRACT,
# PYBUNDLE_VERIFY, PYBUNDLE_VERBOSE, PYBUNDLE_INHERIT_PATH, PYBUNDLE_EXTEND_PYTHONPATH,
# PYBUNDLE_ENTRY_POINT, PYBUNDLE_INTERPRETER (and PYBUNDLE_PYTHON_SHIM, set by ``_launch``'s
# ``python`` shim, removed at once).
import os
import sys

# --- bundle format: the Python side's only definitions (checked against the Rust side by
# --- `src/bootstrap/mod.rs`, test `layout_constants_match_rust`)
# Archive directory of the extracted distributions: `extract/<key>.zip` in the bundle.
EXTRACT_DIR = "extract"
# The user's preamble in the bundle (only with --preamble).
PREAMBLE = "_pybundle/preamble.py"
# Layout version directory under a cache root: `<root>/v1/`.
LAYOUT = "v1"
# Complete entries (`<root>/v1/dists/<key>/`) and extractions in progress (`<root>/v1/tmp/`).
DISTS_DIR = "dists"
TMP_DIR = "tmp"
# The marker file of a complete entry, and the first words of its first line.
MARKER = ".pybundle-complete"
MARKER_HEADER = "pybundle-complete 1"
# The bytecode of an extracted entry, in one file (format in `_cache`).
PYC_PACK = ".pybundle-pyc"
# The directory of an entry that holds its files (the marker and the pack are beside it): code
# runs from `<entry>/site-packages/`, as it would from a venv.
SITE_DIR = "site-packages"
# Beside them, the listing and the pack of each subpackage written on its first import
# (`<entry>/.pybundle-parts/scipy.stats.list`, `.pyc`; see `_parts`).
PARTS_DIR = ".pybundle-parts"
# --- end of the bundle format

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


_LAZY = [0]  # lazy mounts in progress (``_LazyExtract.mount``)


def fail(msg, code=1):
    """Print a one-paragraph error and exit, without a traceback; inside a lazy import, raise
    ImportError with the paragraph instead (``_errors.StartError``)."""
    if _LAZY[0]:
        from . import _errors

        _errors.raise_start_error(msg)
    sys.stderr.write(msg.rstrip("\n") + "\n")
    sys.stderr.flush()
    raise SystemExit(code)


def damaged(archive, why):
    fail("error: the bundle `%s` is damaged (%s); rebuild it or copy it again" % (archive, why))


class Item(object):
    """One ``EXTRACT`` item of ``__main__.py`` by name: cache key, file members and their bytes
    (None in the oldest bundles), top-level names whose first import extracts the entry (empty:
    extracted at start), its ``.dist-info`` directory and its native files as (path, size), which
    every start that uses the entry checks (``_cache.native_damage``; empty in older bundles),
    for a distribution extracted in part, the directory of its unit (``names`` then holds the
    one dotted module whose import extracts it), and for one extracted whole, its test suites
    left in the site store (directories, imported from there: ``_importer.Units.add_tests``)
    and its subpackages written on their first import as (directory, files, bytes, native
    files), which ``files``, ``size`` and ``native`` leave out (``_parts``) (docs/DESIGN.md)."""

    __slots__ = ("key", "files", "size", "names", "dist_info", "native", "unit", "tests", "parts")

    def __init__(self, key, files=None, size=None, names=(), dist_info=None, native=(), unit=None,
                 tests=(), parts=(), *_later):
        self.key, self.files, self.size = key, files, size
        self.names, self.dist_info = tuple(names or ()), dist_info
        self.native, self.unit, self.tests = native or (), unit, tests or ()
        self.parts = parts or ()


# --- interpreter check
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
    """Compare the running platform with the build platform without importing sysconfig (the
    cheap fields ``sys_platform``, ``machine``, ``multiarch``; ``platform`` in old bundles)."""
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


# --- sys.path
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


# --- extracted distributions
# Imports that mount every pending distribution extracted whole first: pkg_resources scans
# sys.path for distributions (a unit's metadata is in the store). multiprocessing's spawn and
# forkserver children get the parent's sys.path, not its finders: ``spawn.get_preparation_data``
# mounts everything first (see _child.wrap_preparation).
_MOUNT_ALL = ("pkg_resources",)


class _LazyExtract(object):
    """Extracts what needs a real directory when it is first imported.

    ``EXTRACT`` items with names are not extracted at start: this finder sits just before
    ``PathFinder`` on ``sys.meta_path``. A distribution extracted whole has top-level names:
    when one is imported, the entry is looked up in the cache (extracted on a miss), its
    directory goes on ``sys.path`` behind the bundle's own entries and this returns None, so
    that ``PathFinder`` finds the module there. A unit (one package subtree of a distribution
    whose other files run from the store) has one dotted trigger: when it is imported, the
    entry is resolved the same way and the module is found in the entry's copy of its parent
    directory (``_importer.Units``), so its ``__file__`` and ``__path__`` are real. A start
    that imports none of them pays nothing (nor imports ``_cache``). Until an entry is mounted
    the metadata finder serves its metadata from the bundle."""

    def __init__(self, g, archive, own, items, units=None):
        import _thread
        from . import _importer

        self.g, self.archive, self.own = g, archive, own
        # Our own lock, not the global import lock: a thread that holds a module's import lock
        # and waits for the global one would deadlock with a mount importing that module.
        self.lock = _thread.RLock()
        self.pending = {}
        self.names = {}  # top-level name -> keys of distributions extracted whole
        self.triggers = {}  # dotted module -> keys of units
        self.units = units or _importer.Units()
        for item in items:
            self.pending[item.key] = item
            table = self.triggers if item.unit else self.names
            for name in item.names:
                table.setdefault(name, []).append(item.key)

    def find_spec(self, fullname, path=None, target=None):
        keys = self.triggers.get(fullname)
        if keys is not None:
            self.mount(keys)
        if fullname in self.units.where:
            return self.units.find_spec(fullname, path, target)
        keys = self.names.get(fullname.partition(".")[0])
        if keys is not None:
            self.mount(keys)
        elif fullname in _MOUNT_ALL and self.pending:
            self.mount([k for k, item in self.pending.items() if not item.unit])
        return None

    def invalidate_caches(self):
        pass

    def mount_all(self):
        """Mount every pending entry, write their subpackages and export the units to children
        (before a spawn)."""
        self.mount(list(self.pending))
        self.units.export()
        _complete_parts()

    def mount(self, keys):
        """Extract (or find in the cache) the pending entries ``keys`` and make them importable."""
        with self.lock:  # one mount at a time, whichever thread imports
            items = [self.pending[k] for k in keys if k in self.pending]
            if not items:
                return
            from . import _cache

            _LAZY[0] += 1
            try:
                dirs = _cache.resolve(self.g, self.archive, items)
            finally:
                _LAZY[0] -= 1
            for item in items:
                del self.pending[item.key]
            self.names = {n: ks for n, ks in self.names.items() if any(k in self.pending for k in ks)}
            self.triggers = {n: ks for n, ks in self.triggers.items()
                             if any(k in self.pending for k in ks)}
            pos = 0
            for i, p in enumerate(sys.path):
                if p in self.own:
                    pos = i + 1
            for item, d in zip(items, dirs):
                if item.unit:
                    self.units.add(item.names[0], d)
                    continue
                if d not in sys.path:
                    sys.path.insert(pos, d)
                    pos += 1
                self.own.append(d)
            # Stays on sys.meta_path even with nothing pending: removing itself here would make
            # the import system, iterating that list, skip the next finder (PathFinder).
            log("mounted %s" % ", ".join(item.key for item in items))


def _complete_parts():
    """Write the subpackages not written yet of every entry in use (``_parts.complete``)."""
    cache = sys.modules.get(__name__ + "._cache")
    if cache is not None and cache.PART_DIRS:
        from . import _parts

        _parts.complete()


def _setup_path(g, archive, extract_dirs_list, extract, inherit, lazy=(), fd=None):
    from . import _importer

    # Absolute and normalised: 3.8 keeps a relative sys.path[0], later versions join the working
    # directory to `./app.pyz` as is; `Path(__file__).parent` of a module must match the hook.
    zip_archive = os.path.abspath(archive)
    if zip_archive != archive:
        try:
            import zipimport

            cache = zipimport._zip_directory_cache
            if archive in cache and zip_archive not in cache:
                cache[zip_archive] = cache[archive]
        except Exception:
            pass
    zip_sp = zip_archive
    store = _importer.open_store(zip_archive, fd) if fd is not None else None
    if store is not None:  # the zip-safe distributions: `<bundle>/site-packages/` is its root
        store.g = g  # its cache root (bytecode at -O, _cache.optimized_code)
        _importer.install(store)
    pythonpath, stdlib, host = _split_path(archive)
    dists = g.get("DISTS")
    # The bundle's own entry is `<bundle>/site-packages/`: the store's root (or, in a bundle
    # without a store but with DISTS, zipimport's `<bundle>/`), and importlib.metadata asks our
    # finder (see _metadata) instead of parsing the whole zip. Children (PYTHONPATH) get the
    # hook's directory first.
    entry = zip_archive + "/" if dists is not None or store is not None else zip_archive
    if store is not None:
        entry = store.root + "/"
    # Units extracted at start are found through the finder, not sys.path.
    units = _importer.Units()
    whole = []
    for item, d in zip(extract, extract_dirs_list):
        if item.unit:
            units.add(item.names[0], d)
        else:
            whole.append(d)
    for item in list(extract) + list(lazy):
        if item.tests and store is not None:
            units.add_tests(item.tests, store.root)
    sys.path[:] = stdlib + [entry] + whole
    own = [zip_sp] + whole
    if store is not None:
        own[:1] = [zip_sp + "/_pybundle/child", zip_sp, entry]
    finder = None
    if lazy or units.where:
        finder = _LazyExtract(g, archive, [entry] + whole, lazy, units)
        _importer.before_path_finder(finder)
        _importer.BEFORE_SPAWN.append(finder.mount_all)
        if units.where and _flag("PYBUNDLE_EXTEND_PYTHONPATH"):
            units.export()
    if dists is None and store is not None:  # a bundle without DISTS: the store's listing
        from . import _child

        dists = _child.dists(store)
    if dists is not None:
        sys.meta_path.append(_importer.MetadataFinder(zip_archive, entry, dists, finder))
    if not inherit:
        _scrub_modules(host)
    log("zip-safe distributions from the bundle; %d extracted dir(s), %d on first import; %s host "
        "site dirs (%d)" % (len(extract_dirs_list), len(lazy), "inheriting" if inherit else "dropped",
                            len(host)))
    pth = g.get("PTH") or ()
    extract_dirs = {}
    for item, d in zip(extract, extract_dirs_list):
        extract_dirs[item.key] = d
    added = []
    if pth:
        from . import _pth

        added = _pth.process(g, archive, zip_sp, extract_dirs, pth)
    for p in pythonpath:
        if p not in sys.path:
            sys.path.append(p)
    if inherit:
        for p in host:
            if p not in sys.path:
                sys.path.append(p)
    return own + added


# --- entry
def _excepthook(etype, value, tb):
    # Before 3.13 the C traceback printer reads source lines from the file system only, so code
    # imported from the zip showed none; traceback's linecache asks the module's __loader__.
    try:
        import traceback

        traceback.print_exception(etype, value, tb)
    except BaseException:
        sys.__excepthook__(etype, value, tb)


def _thread_excepthook(args):
    from . import _errors

    _errors.thread_excepthook(args, _THREAD_HOOK[0])


_THREAD_HOOK = [None]  # ``_thread._excepthook`` before ``_install_excepthook`` replaced it


def _install_excepthook():
    if sys.version_info >= (3, 13):
        return
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _excepthook
    # Threads' default hook prints through the same C printer: ``threading`` copies
    # ``_thread._excepthook`` when first imported, so replace it at the source (built in and
    # loaded: this imports nothing), and in ``threading`` if it was imported already.
    import _thread

    default = getattr(_thread, "_excepthook", None)
    if default is not None and _THREAD_HOOK[0] is None:
        _THREAD_HOOK[0], _thread._excepthook = default, _thread_excepthook
        t = sys.modules.get("threading")
        if t is not None and getattr(t, "excepthook", None) is default:
            t.excepthook = _thread_excepthook


def _exit_sigint():
    from . import _errors

    _errors.exit_sigint()


# Set by the `python` that a wrapper entry finds on PATH (see _launch): run as the interpreter.
# Removed at once, so that what the interpreter runs does not inherit it.
PYTHON_SHIM_VAR = "PYBUNDLE_PYTHON_SHIM"


def _resolve_entry(g):
    ep = os.environ.get("PYBUNDLE_ENTRY_POINT")
    shim = os.environ.pop(PYTHON_SHIM_VAR, None)
    if shim or _flag("PYBUNDLE_INTERPRETER"):
        return ("interpreter", None, None)
    if ep:
        if ":" in ep:
            mod, attr = ep.split(":", 1)
            return ("function", mod.strip(), attr.strip())
        return ("module", ep.strip(), None)
    if g.get("COMMANDS"):
        from . import _launch

        return _launch.command_entry(g)
    entry = g.get("ENTRY")
    if not entry:
        return ("interpreter", None, None)
    return tuple(entry)


def _run_preamble(g, archive):
    name = archive + "/" + PREAMBLE
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
    g.pop("_pybundle_guard", None)
    # The descriptor the guard of `__main__.py` opened (src/bootstrap/guard.py): every member
    # zipimport reads from here on, and the store, are read through it, CRC-32 checked.
    fd = g.pop("_PYBUNDLE_FD", None)
    archive = g["__loader__"].archive

    for k, v in g.get("ENV") or ():
        os.environ.setdefault(k, v)

    _check_python(g.get("PYTHON"), archive)

    extract = [Item(*item) for item in g.get("EXTRACT") or ()]
    lazy = ()
    if not _flag("PYBUNDLE_EXTEND_PYTHONPATH"):  # children need every directory now
        lazy = [item for item in extract if item.names]
        extract = [item for item in extract if not item.names]
    extract_dirs = []
    if extract:
        from . import _cache

        extract_dirs = _cache.resolve(g, archive, extract)

    inherit = bool(g.get("INHERIT_PATH")) or _flag("PYBUNDLE_INHERIT_PATH")
    additions = _setup_path(g, archive, extract_dirs, extract, inherit, lazy, fd)

    if _flag("PYBUNDLE_EXTEND_PYTHONPATH"):
        _complete_parts()  # children import with the host's finders: every file on disk
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
    elif kind in ("script", "executable", "wrapper"):
        from . import _launch

        _launch.run(g, archive, kind, name, attr, dict(zip([item.key for item in extract], extract_dirs)))
    else:
        fail("error: the bundle `%s` has an unknown entry kind %r; rebuild it" % (archive, kind))
