# The bundle's own importer for the zip-safe distributions (docs/DESIGN.md "Bundle layout").
# Imported on every start; comments, not docstrings: this module is unmarshalled each time.
#
# Their files are one stored member, `_pybundle/site.data`, indexed by `_pybundle/site.index`
# (a hash table of CRC-32 of the path -> record, format below): a lookup is one pread of a few
# slots and one of the record, so a start reads nothing proportional to the bundle's size.
# zipimport keeps the outer zip's handful of members (this package; its reads are CRC-32 checked
# by the guard of `__main__.py`, src/bootstrap/guard.py). Also here: the bundle member reader
# (read_member: the store's and the inner archives' reads) and the metadata finder.
import os
import sys

# --- site index format (checked against src/layout/store/mod.rs by a Rust test)
DATA = "_pybundle/site.data"
INDEX = "_pybundle/site.index"
MAGIC = b"PBI1"
HEADER = "<4sIIIQQ"
SLOT = "<II"
RECORD = "<BBHIQIIQIII"
KIND_FILE = 0
KIND_DIR = 1
F_DEFLATED = 1
F_BYTECODE = 2
F_PYC_DEFLATED = 4
F_EXEC = 8
_HEADER_SIZE = 32
_SLOT_SIZE = 8
_RECORD_SIZE = 44
# --- end of the site index format
# RECORD's fields as (start, end) byte ranges: decoded with int.from_bytes, since importing
# struct costs a start 0.3-1 ms
_FIELDS = ((0, 1), (1, 2), (2, 4), (4, 8), (8, 16), (16, 20), (20, 24), (24, 32), (32, 36), (36, 40), (40, 44))
_PROBE = 8  # slots read at once (load factor <= 0.5: nearly every lookup ends in them)


def _damaged(archive, why):
    from . import damaged

    damaged(archive, why)


# --- bundle members: zipimport does not check CRC-32, so a flipped byte would run as damaged code
def read_member(fd, entry, name=None):
    # (data, None) for the bundle member with zipimport toc `entry` (path, compress, data_size,
    # file_size, offset, time, date, crc), read with os.pread, inflated (never past its declared
    # size), checked against its size and CRC-32; (None, reason) if it is damaged. With `name`
    # (bytes), the local header must hold that name (an inner archive's member: the name in its
    # directory and in its local header must agree, so that one flipped byte in either is
    # damage). zlib is loaded (zipimport used it).
    import zlib

    start, why = member_start(fd, entry, name)
    if why:
        return None, why
    _path, compress, data_size, file_size, _o, _t, _d, crc = entry
    try:
        if data_size > os.fstat(fd).st_size - start:  # pread allocates what it is asked for
            return None, "truncated"
        data = os.pread(fd, data_size, start)
        if len(data) != data_size:
            return None, "truncated"
        if compress == 8:
            data, why = inflate(data, file_size)
        elif compress != 0:
            why = "unsupported compression %d" % compress
    except OSError as e:
        return None, e
    if why is None and (len(data) != file_size or zlib.crc32(data) != crc):
        why = "CRC-32 mismatch"
    return (None, why) if why else (data, None)


def inflate(data, size):
    # (the raw deflate stream `data` inflated, None), or (None, reason) when it does not
    # inflate to exactly `size` bytes: never more than size + 1 bytes are produced.
    import zlib

    d = zlib.decompressobj(-15)
    try:
        out = d.decompress(data, size + 1)
    except zlib.error as e:
        return None, e
    if len(out) > size or d.unconsumed_tail:
        return None, "inflates past its declared %d bytes" % size
    if len(out) < size or not d.eof:
        return None, "inflates to %d bytes, not its declared %d" % (len(out), size)
    return out, None


def member_start(fd, entry, name=None):
    # (offset of the data of the member with toc `entry`, None), or (None, reason)
    n = 30 + (len(name) if name is not None else 0)
    try:
        head = os.pread(fd, n, entry[4])
    except OSError as e:
        return None, e
    if len(head) != n or head[:4] != b"PK\x03\x04":
        return None, "bad local file header"
    if name is not None and (int.from_bytes(head[26:28], "little") != len(name) or head[30:] != name):
        return None, "its name differs in the local header"
    return entry[4] + 30 + int.from_bytes(head[26:28], "little") + int.from_bytes(head[28:30], "little"), None


def toc(archive):
    # The bundle's directory as zipimport read it ({name: toc entry}; it read it to run
    # __main__.py), parsed now if it is not cached (children).
    import zipimport

    cache = zipimport._zip_directory_cache
    for k in (archive, os.path.abspath(archive)):
        found = cache.get(k)
        if found:
            return found
    try:
        zipimport.zipimporter(archive)
    except (zipimport.ZipImportError, OSError) as e:
        _damaged(archive, str(e))
    return cache.get(archive) or cache.get(os.path.abspath(archive)) or {}


# --- the store
def _u(b, start, end):
    return int.from_bytes(b[start:end], "little")


def _words(b):
    # `b` as u32 words
    if sys.byteorder != "little":
        return [_u(b, i, i + 4) for i in range(0, len(b), 4)]
    return memoryview(b).cast("I")


def _fields(raw):
    # RECORD's fields of `raw` (4-byte aligned from byte 4: read as u32 words where the
    # machine is little-endian, 3x faster than one int.from_bytes a field)
    if sys.byteorder != "little":
        return tuple([_u(raw, a, e) for a, e in _FIELDS])
    w = memoryview(raw)[:_RECORD_SIZE].cast("I")
    return (raw[0], raw[1], w[0] >> 16, w[1], w[2] | w[3] << 32, w[4], w[5], w[6] | w[7] << 32, w[8], w[9], w[10])


class Store(object):
    # site.data and site.index of one bundle, read with pread from one descriptor.
    def __init__(self, archive, fd, entries):
        from . import SITE_DIR

        self.archive, self.fd, self.recs = archive, fd, {}
        # Its files' paths: `<bundle>/site-packages/<path>` (a directory only the path hook
        # knows), as they would be installed.
        self.root = archive + "/" + SITE_DIR
        offs = []
        for name in (DATA, INDEX):
            entry = entries.get(name)
            start, why = member_start(fd, entry) if entry else (None, "missing member %s" % name)
            if why or entry[1] != 0:
                _damaged(archive, "%s: %s" % (name, why or "not stored"))
            offs.append((start, entry[3]))
        (self.data, size), (self.index, self.index_size) = offs
        # The whole index is read and CRC-32 checked once: a damaged slot, path or child list
        # would make a lookup miss silently (an import or a distribution's metadata gone, with no
        # error). About 0.35 ms per MB (some 10,000 files), and lookups then slice memory.
        self.idx, why = read_member(fd, entries[INDEX])
        self.crc = entries[INDEX][7]  # the store's identity (for its -O bytecode, see _cache)
        if why:
            _damaged(archive, "%s: %s" % (INDEX, why))
        head = self.idx[:_HEADER_SIZE]
        if len(head) != _HEADER_SIZE:
            _damaged(archive, "%s: truncated" % INDEX)
        magic, nslots, self.nrecords, self.slots, data_size = (
            head[:4], _u(head, 4, 8), _u(head, 8, 12), _u(head, 12, 16), _u(head, 16, 24))
        if (magic != MAGIC or nslots < 8 or nslots & (nslots - 1) or data_size != size
                or self.slots + _SLOT_SIZE * nslots > self.index_size):
            _damaged(archive, "%s: %s" % (INDEX, "unknown format" if magic != MAGIC else "size mismatch"))
        self.mask, self.data_size = nslots - 1, data_size

    def rec(self, path):
        # The record (kind, flags, path_len, crc, offset, csize, size, pyc_offset, pyc_csize,
        # pyc_size, pyc_crc, record offset) of `path` ("" is the root), or None.
        try:
            return self.recs[path]
        except KeyError:
            pass
        from zlib import crc32

        b = path.encode("utf-8")
        h = crc32(b)
        i = h & self.mask
        found = None
        left = self.mask + 1  # at most every slot once: a full table is a miss, not a hang
        while found is None:
            if left <= 0:
                found = ()
                break
            n = min(_PROBE, self.mask + 1 - i, left)
            left -= n
            at = self.slots + _SLOT_SIZE * i
            chunk = self.idx[at:at + _SLOT_SIZE * n]
            if len(chunk) != _SLOT_SIZE * n:
                _damaged(self.archive, "%s: truncated" % INDEX)
            w = _words(chunk)
            for j in range(0, 2 * n, 2):
                off = w[j + 1]
                if off == 0:
                    found = ()
                    break
                if w[j] == h:
                    r = self._read_rec(off, len(b))
                    if r is not None and r[1] == b:
                        found = r[0]
                        break
            i = (i + n) & self.mask
        self.recs[path] = found = found or None
        return found

    def _read_rec(self, off, plen):
        raw = self.idx[off:off + _RECORD_SIZE + plen]
        if len(raw) != _RECORD_SIZE + plen:
            _damaged(self.archive, "%s: truncated" % INDEX)
        r = _fields(raw)
        if r[2] != plen:
            return None
        if r[0] == KIND_FILE and (r[4] + r[5] > self.data_size or r[7] + r[8] > self.data_size):
            _damaged(self.archive, "%s: a record points past the data" % INDEX)
        return r + (off,), raw[_RECORD_SIZE:]

    def read(self, path, r=None):
        # The content of file `path`; FileNotFoundError if there is none.
        r = r or self.rec(path)
        if r is None or r[0] != KIND_FILE:
            raise FileNotFoundError(2, "No such file in the bundle", self.root + "/" + path)
        return self._bytes(path, r[4], r[5], r[6], r[3], r[1] & F_DEFLATED)

    def pyc(self, path, r):
        # The bytecode attached to source `path` (record `r`), or None.
        if not r[1] & F_BYTECODE:
            return None
        return self._bytes(path[:-3] + ".pyc", r[7], r[8], r[9], r[10], r[1] & F_PYC_DEFLATED)

    def _bytes(self, path, off, csize, size, crc, deflated):
        import zlib

        data = os.pread(self.fd, csize, self.data + off)
        why = None
        if len(data) != csize:
            why = "truncated"
        elif deflated:
            data, why = inflate(data, size)
        if why is None and (len(data) != size or zlib.crc32(data) != crc):
            why = "CRC-32 mismatch"
        if why is not None:
            _damaged(self.archive, "%s: %s" % (path, why))
        return data

    def is_dir(self, path):
        r = self.rec(path)
        return r is not None and r[0] == KIND_DIR

    def dist_infos(self):
        # The `.dist-info` directories at the store's root (its distributions), sorted.
        return [name for name, r in self.children("") if r[0] == KIND_DIR and name.endswith(".dist-info")]

    def children(self, path):
        # [(name, record)] of directory `path`, sorted by name; [] if it is not a directory.
        r = self.rec(path)
        if r is None or r[0] != KIND_DIR:
            return []
        if r[4] + 4 * r[3] > self.index_size:
            _damaged(self.archive, "%s: the children of %r lie past its end" % (INDEX, path))
        raw = self.idx[r[4]:r[4] + 4 * r[3]]
        if len(raw) != 4 * r[3]:
            _damaged(self.archive, "%s: truncated" % INDEX)
        out = []
        for off in _words(raw):
            head = self.idx[off:off + _RECORD_SIZE]
            child = self._read_rec(off, _u(head, 2, 4)) if len(head) == _RECORD_SIZE else None
            if child is None:
                _damaged(self.archive, "%s: truncated" % INDEX)
            full = child[1].decode("utf-8")
            self.recs.setdefault(full, child[0])
            out.append((full.rpartition("/")[2], child[0]))
        return out

    def rel(self, path):
        # `path` inside the store for `<bundle>/site-packages/path`, else None.
        p = os.fspath(path)
        a = self.root + "/"
        if p.startswith(a):
            return p[len(a):].rstrip("/")
        p = os.path.normpath(p).replace(os.sep, "/")  # `<bundle>/./pkg/../pkg/x`
        if p.startswith(a):
            return p[len(a):].rstrip("/")
        return None


_STORES = {}  # absolute bundle path -> Store


def open_store(archive, fd):
    # The store of the bundle at `archive` (absolute), None for a bundle without one.
    store = _STORES.get(archive)
    if store is None:
        entries = toc(archive)
        if INDEX not in entries:
            return None
        store = _STORES[archive] = Store(archive, fd, entries)
    return store


def store_of(archive):
    # The store of the running bundle `archive` (opened by the start), or None.
    return _STORES.get(os.path.abspath(archive))


def install(store):
    # Puts the path hook first on sys.path_hooks and the watch first on sys.meta_path (once) and
    # forgets cached finders of the store.
    if _hook not in sys.path_hooks:
        sys.path_hooks.insert(0, _hook)
        sys.meta_path.insert(0, _Watch())
    for p in list(sys.path_importer_cache):
        if isinstance(p, str) and p.startswith(store.root):
            del sys.path_importer_cache[p]


def _hook(path):
    if "/." in path or "//" in path:
        path = os.path.normpath(path)
    for store in _STORES.values():
        root = store.root
        if path.startswith(root) and path[len(root):len(root) + 1] in ("/", ""):
            rel = path[len(root) + 1:].rstrip("/")
            if rel == "" or store.is_dir(rel):
                return Finder(store, rel, path.rstrip("/") if rel else root + "/")
    raise ImportError("not a directory of a pybundle store", path=path)


# --- units: package subtrees of a distribution extracted to the cache, the rest in the store
UNITS_VAR = "PYBUNDLE_UNITS"  # trigger=directory pairs for children, os.pathsep-separated
BEFORE_SPAWN = []  # called before multiprocessing prepares a spawn or forkserver child


class Units(object):
    # Finds each mounted unit's trigger module in the cache's copy of its parent directory.
    def __init__(self, where=()):
        self.where = dict(where)

    def add(self, trigger, entry):
        # The trigger is found in the entry's copy of its parent package directory.
        parent = trigger.rpartition(".")[0]
        self.where[trigger] = entry + "/" + parent.replace(".", "/") if parent else entry

    def add_tests(self, dirs, root):
        # The test suites of a distribution extracted whole that stay in the store (rooted at
        # `root`) are found in the store's copy of their parent directory.
        for d in dirs:
            self.where[d.replace("/", ".")] = root + "/" + d.rpartition("/")[0]

    def export(self):
        # Children (PYBUNDLE_EXTEND_PYTHONPATH, multiprocessing spawn) read it back: from_env.
        os.environ[UNITS_VAR] = os.pathsep.join("%s=%s" % kv for kv in sorted(self.where.items()))

    @classmethod
    def from_env(cls):
        # The units a parent exported, or None.
        value = os.environ.get(UNITS_VAR)
        if not value:
            return None
        return cls(p.split("=", 1) for p in value.split(os.pathsep) if "=" in p)

    def find_spec(self, fullname, path=None, target=None):
        where = self.where.get(fullname)
        if where is None:
            return None
        from importlib.machinery import PathFinder

        return PathFinder.find_spec(fullname, [where])

    def invalidate_caches(self):
        pass


def before_path_finder(finder):
    pos = len(sys.meta_path)
    for i, f in enumerate(sys.meta_path):
        if getattr(f, "__name__", None) == "PathFinder":
            pos = i
            break
    sys.meta_path.insert(pos, finder)


# --- modules that learn about the store just after their import: pkg_resources (provider,
# finder, the bundle's distributions in its working set), multiprocessing.util (spawn and
# forkserver children install this importer first, see _child), multiprocessing.spawn (what is
# pending is mounted before a child is prepared)
_AFTER = {"pkg_resources": ("_resources", "register_pkg_resources"),
          "pkgutil": ("_importer", "after_pkgutil"),
          "multiprocessing.util": ("_child", "wrap_spawn"),
          "multiprocessing.spawn": ("_child", "wrap_preparation")}
if sys.version_info[:2] == (3, 9):  # its resources.files() asks no reader (see _resources)
    _AFTER["importlib._common"] = ("_resources", "fix_files_39")


def after_pkgutil(module):
    # Its listings name the subpackages of entries not written yet (_parts).
    cache = sys.modules.get(__package__ + "._cache")
    if cache is not None and cache.PART_DIRS:
        from . import _parts

        _parts.register_pkgutil(module)


class _Watch(object):
    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _AFTER:
            return None
        finders = sys.meta_path
        for f in finders[finders.index(self) + 1:] if self in finders else ():
            spec = getattr(f, "find_spec", lambda *a: None)(fullname, path, target)
            if spec is not None:
                if hasattr(spec.loader, "exec_module"):
                    spec.loader = _After(spec.loader)
                return spec
        return None

    def invalidate_caches(self):
        pass


class _After(object):
    # Runs the module, puts its own loader back, then calls the `_AFTER` function with it.
    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__spec__.loader = module.__loader__ = self.loader
        self.loader.exec_module(module)
        mod, func = _AFTER[module.__name__]
        getattr(__import__(__package__ + "." + mod, fromlist=[func]), func)(module)


# --- finder and loader
def _spec(name, loader, origin, locations=None):
    import _frozen_importlib_external as ext

    return ext.spec_from_file_location(name, origin, loader=loader, submodule_search_locations=locations)


class Finder(object):
    # The finder of one directory of the store (sys.path_importer_cache holds it per path).
    def __init__(self, store, rel, path):
        self.store, self.rel, self.path = store, rel, path

    def __repr__(self):
        return "<pybundle finder %r>" % self.path

    def find_spec(self, fullname, target=None):
        st = self.store
        base = self.rel + "/" if self.rel else ""
        base += fullname.rpartition(".")[2]
        where = st.root + "/" + base
        is_dir = st.is_dir(base)
        if is_dir:
            for init in ("/__init__.py", "/__init__.pyc"):
                r = st.rec(base + init)
                if r is not None and r[0] == KIND_FILE:
                    loader = Loader(st, fullname, base + init, True)
                    return _spec(fullname, loader, where + init, [where])
        for ext in (".py", ".pyc"):
            r = st.rec(base + ext)
            if r is not None and r[0] == KIND_FILE:
                return _spec(fullname, Loader(st, fullname, base + ext, False), where + ext)
        if is_dir:  # a namespace portion: PathFinder collects the locations
            import _frozen_importlib as bootstrap

            spec = bootstrap.ModuleSpec(fullname, None)
            spec.submodule_search_locations = [where]
            return spec
        return None

    def invalidate_caches(self):
        pass

    def iter_modules(self, prefix=""):
        # For pkgutil.iter_modules: (name, ispkg) of this directory, like its FileFinder version.
        seen = set()
        for name, r in self.store.children(self.rel):
            if r[0] == KIND_DIR:
                if not name.isidentifier() or "." in name:
                    continue
                sub = (self.rel + "/" if self.rel else "") + name
                if not any(self.store.rec(sub + i) for i in ("/__init__.py", "/__init__.pyc")):
                    continue
                mod, ispkg = name, True
            elif name.endswith(".py") or name.endswith(".pyc"):
                mod, ispkg = name.rpartition(".")[0], False
                if mod == "__init__" or not mod.isidentifier():
                    continue
            else:
                continue
            if mod not in seen:
                seen.add(mod)
                yield prefix + mod, ispkg


class Loader(object):
    # The loader of one module of the store (importlib.abc.InspectLoader and ResourceLoader by
    # duck typing), `rel` the path of its file.
    def __init__(self, store, fullname, rel, package):
        self.store, self.name, self.rel, self.package = store, fullname, rel, package
        self.path = store.root + "/" + rel

    def __repr__(self):
        return "<pybundle loader %r>" % self.path

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        code = self.get_code(module.__name__)
        import _frozen_importlib as bootstrap

        bootstrap._call_with_frames_removed(exec, code, module.__dict__)

    def load_module(self, fullname):
        import _frozen_importlib as bootstrap

        return bootstrap._load_module_shim(self, fullname)

    def get_code(self, fullname=None):
        import _frozen_importlib_external as ext
        import _imp
        import marshal

        st = self.store
        r = st.rec(self.rel)
        if sys.flags.optimize and not self.rel.endswith(".pyc"):  # the store holds level 0's
            from . import _cache

            return _cache.optimized_code(st, self.rel, r, self.path)
        pyc = st.read(self.rel, r) if self.rel.endswith(".pyc") else st.pyc(self.rel, r)
        if pyc is not None and pyc[:4] == ext.MAGIC_NUMBER and len(pyc) >= 16:
            code = marshal.loads(memoryview(pyc)[16:])
            _imp._fix_co_filename(code, self.path)
            return code
        if self.rel.endswith(".pyc"):
            raise ImportError("bad magic number in %r" % self.path, name=self.name, path=self.path)
        return compile(st.read(self.rel, r), self.path, "exec", dont_inherit=True)

    def get_source(self, fullname=None):
        if self.rel.endswith(".pyc"):
            return None
        from importlib.util import decode_source

        return decode_source(self.store.read(self.rel))

    def is_package(self, fullname=None):
        return self.package

    def get_filename(self, fullname=None):
        return self.path

    def get_data(self, path):
        rel = self.store.rel(path)
        if rel is None:  # like zipimport: only files of the bundle
            raise FileNotFoundError(2, "Not a file of the bundle", path)
        return self.store.read(rel)

    def get_resource_reader(self, fullname=None):
        from . import _resources  # a module's resources are those of its directory (3.12+)

        return _resources.Reader(self.store, self.rel.rpartition("/")[0])


# --- importlib.metadata
class MetadataFinder(object):
    # Finds the bundle's zipped distributions for importlib.metadata (imports nothing until asked).
    def __init__(self, archive, entry, dists, lazy=None):
        self.archive, self.entry, self.dists, self.lazy = archive, entry, dists, lazy

    def find_spec(self, *args, **kwargs):
        return None

    def invalidate_caches(self):
        pass

    def find_distributions(self, context=None):
        from . import _metadata

        return _metadata.find(self.archive, self.entry, self.dists, context, self.lazy)
