"""Build pybundle bundles in Python (no Rust) and run them in a fresh environment."""
import io
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import struct
import unittest
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BOOTSTRAP = os.path.join(REPO, "src", "bootstrap", "_pybundle")
with open(os.path.join(REPO, "src", "bootstrap", "guard.py"), encoding="utf-8") as _f:
    GUARD = _f.read()  # the end of every generated __main__.py (src/bootstrap/mod.rs)


def current_python(**overrides):
    d = {
        "implementation": sys.implementation.name,
        "version": tuple(sys.version_info[:2]),
        "cache_tag": sys.implementation.cache_tag,
        "requires_python": None,
        "native": False,
        "platform": __import__("sysconfig").get_platform(),
        "sys_platform": sys.platform,
        "machine": os.uname().machine,
        "multiarch": getattr(sys.implementation, "_multiarch", None),
    }
    d.update(overrides)
    return d


def _bytes(v):
    return v.encode("utf-8") if isinstance(v, str) else v


def pyc(source, dfile):
    """An unchecked-hash ``.pyc`` of ``source`` compiled at level 0 under the name ``dfile``, as
    pybundle compiles: whatever the optimisation level of the interpreter that runs this."""
    import importlib.util
    import marshal

    code = compile(source, dfile, "exec", dont_inherit=True, optimize=0)
    return importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little") + b"\0" * 8 + marshal.dumps(code)


def _squeeze(data):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    z = c.compress(data) + c.flush()
    return (z, True) if len(z) < len(data) else (data, False)


def write_store(files, bytecode=True):
    """(site.data, site.index) of the store format (docs/DESIGN.md, `_importer`'s format block)
    for ``files`` {path: bytes}: a test-only writer. With ``bytecode``, each ``X.py`` that
    compiles gets its ``.pyc`` attached."""
    from importlib.util import MAGIC_NUMBER

    dirs = {""}
    for path in files:
        parts = path.split("/")
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
    paths = sorted(set(files) | dirs, key=lambda p: p.encode())
    offsets = {}  # path -> record offset in the index
    nslots = 8
    while nslots < 2 * len(paths):
        nslots *= 2
    pos = 32 + 8 * nslots
    for p in paths:
        offsets[p] = pos
        pos += 44 + len(p.encode())
    children = {d: [] for d in dirs}
    for p in paths:
        if p:
            children[p.rpartition("/")[0]].append(p)
    lists, data, records = {}, [], []
    for d in paths:
        if d in dirs:
            lists[d] = pos
            pos += 4 * len(children[d])
    size = 0
    for p in paths:
        b = p.encode()
        if p in dirs:
            records.append(struct.pack("<BBHIQIIQIII", 1, 0, len(b), len(children[p]), lists[p], 0, 0, 0, 0, 0, 0) + b)
            continue
        content = files[p]
        body, deflated = _squeeze(content)
        flags, off = (1 if deflated else 0), size
        data.append(body)
        size += len(body)
        pyc = b""
        if bytecode and p.endswith(".py"):
            try:
                code = compile(content, p, "exec", dont_inherit=True, optimize=0)
                pyc = MAGIC_NUMBER + b"\0" * 12 + __import__("marshal").dumps(code)
            except SyntaxError:
                pass
        pyc_off = pyc_c = 0
        if pyc:
            pbody, pdef = _squeeze(pyc)
            flags |= 2 | (4 if pdef else 0)
            pyc_off, pyc_c = size, len(pbody)
            data.append(pbody)
            size += len(pbody)
        records.append(struct.pack("<BBHIQIIQIII", 0, flags, len(b), zlib.crc32(content), off, len(body),
                                   len(content), pyc_off, pyc_c, len(pyc), zlib.crc32(pyc)) + b)
    slots = [(0, 0)] * nslots
    for p in paths:
        h = zlib.crc32(p.encode())
        i = h & (nslots - 1)
        while slots[i][1]:
            i = (i + 1) & (nslots - 1)
        slots[i] = (h, offsets[p])
    index = [struct.pack("<4sIIIQQ", b"PBI1", nslots, len(paths), 32, size, 0)]
    index += [struct.pack("<II", *s) for s in slots] + records
    for d in paths:
        if d in dirs:
            index.append(struct.pack("<%dI" % len(children[d]), *[offsets[c] for c in children[d]]))
    return b"".join(data), b"".join(index)


def build_bundle(path, entry=("function", "app", "main"), site=None, extract=None, pth=(),
                 python=None, preamble=None, env=(), root=None, inherit=False, main_extra="",
                 lazy=None, dists=None, natives=None, bytecode=True, units=None, stored=(),
                 bootstrap_pyc=False, parts=None):
    """Write a bundle at ``path``.

    lazy: {key: (top-level names, dist-info dir or None)}: those entries are extracted on first
    import of one of the names. dists: the DISTS literal (omitted when None).

    site: {relpath: text|bytes} at the root (zip-safe distributions), in the store
    (``_pybundle/site.data``, ``site.index``); with ``bytecode`` each ``.py`` gets a ``.pyc``.
    extract: {key: {relpath: text|bytes|(text|bytes, mode)}} under extract/<key>/, in order.
    natives: {key: [relpath]}: the entry's native files (the sixth EXTRACT field, with sizes).
    units: {key: unit directory}: entries that are one package subtree of a distribution (the
    seventh EXTRACT field); their ``lazy`` names hold the one dotted trigger.
    stored: relpaths of ``extract`` files stored in their inner zip, not deflated (as pybundle
    stores large native libraries).
    bootstrap_pyc: ship ``_pybundle``'s bytecode as pybundle does (compiled under the bundle's
    build-time name, ``app.pyz/_pybundle/<file>``), which zipimport loads before the source.
    parts: {key: [directory]}: subpackages of the entry written on their first import (the ninth
    EXTRACT field; the item's counts and natives then leave them out).
    """
    site = site or {}
    extract = extract or {}
    lazy = lazy or {}
    natives = natives or {}
    units = units or {}
    parts = parts or {}
    ext_lit = []
    for key, files in extract.items():
        sizes = {}
        for rel, v in files.items():
            sizes[rel] = len(_bytes(v[0] if isinstance(v, tuple) else v))

        def part_of(rel):
            return next((d for d in parts.get(key, ()) if rel.startswith(d + "/")), None)

        core = [rel for rel in sizes if part_of(rel) is None]
        triggers, dist_info = lazy.get(key, ((), None))
        item = (key, len(core), sum(sizes[r] for r in core), tuple(triggers), dist_info)
        if key in natives or key in units or key in parts:
            item += (tuple((rel, sizes[rel]) for rel in natives.get(key, ()) if part_of(rel) is None),)
        if key in units or key in parts:
            item += (units.get(key),)
        if key in parts:
            item += ((), tuple(
                (d, len([r for r in sizes if part_of(r) == d]), sum(sizes[r] for r in sizes if part_of(r) == d),
                 tuple((r, sizes[r]) for r in natives.get(key, ()) if part_of(r) == d))
                for d in parts[key]))
        ext_lit.append(item)
    main = textwrap.dedent(
        """\
        # Generated by pybundle tests. Data only: the logic lives in _pybundle.
        BUILD_ID = "0" * 64
        ENTRY = {entry!r}
        PYTHON = {python!r}
        EXTRACT = {extract!r}
        PTH = {pth!r}
        PREAMBLE = {preamble!r}
        ENV = {env!r}
        ROOT = {root!r}
        INHERIT_PATH = {inherit!r}
        {dists}{extra}{guard}import _pybundle
        _pybundle.main(globals())
        """
    ).format(guard=GUARD, entry=tuple(entry) if entry else entry, python=python or current_python(),
             extract=tuple(ext_lit), pth=tuple(pth), preamble=preamble is not None,
             env=tuple(env), root=root, inherit=inherit, extra=main_extra,
             dists="" if dists is None else "DISTS = %r\n" % (tuple(dists),))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(("#!%s\n" % sys.executable).encode())
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("__main__.py", main)
            for name in sorted(os.listdir(BOOTSTRAP)) + ["child/sitecustomize.py"]:
                if name.endswith(".py"):
                    zf.write(os.path.join(BOOTSTRAP, name), "_pybundle/" + name)
                    if bootstrap_pyc:
                        with open(os.path.join(BOOTSTRAP, name), "rb") as src:
                            zf.writestr("_pybundle/" + name + "c", pyc(src.read(), "app.pyz/_pybundle/" + name))
            if preamble is not None:
                zf.writestr("_pybundle/preamble.py", preamble)
            data, index = write_store({rel: _bytes(v) for rel, v in site.items()}, bytecode)
            for name, blob in (("_pybundle/site.data", data), ("_pybundle/site.index", index)):
                info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED
                zf.writestr(info, blob)
            for key, files in extract.items():
                # like pybundle: the entry's files in a stored inner zip, extract/<key>.zip
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as inner:
                    for rel, v in files.items():
                        mode = 0o644
                        if isinstance(v, tuple):
                            v, mode = v
                        info = zipfile.ZipInfo(rel, (2020, 1, 1, 0, 0, 0))
                        info.external_attr = (0o100000 | mode) << 16
                        info.compress_type = zipfile.ZIP_STORED if rel in stored else zipfile.ZIP_DEFLATED
                        inner.writestr(info, _bytes(v))
                info = zipfile.ZipInfo("extract/%s.zip" % key, (2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED
                zf.writestr(info, buf.getvalue())
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)
    return path


class BundleTest(unittest.TestCase):
    """Gives each test a temp dir with a fresh HOME and PYBUNDLE_ROOT."""

    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="pybundle-test-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.home = os.path.join(self.tmp, "home")
        os.mkdir(self.home)
        self.root = os.path.join(self.tmp, "root")
        self.bundle = os.path.join(self.tmp, "app.pyz")

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYBUNDLE_", "PYTHON")) and k not in ("XDG_CACHE_HOME", "TMPDIR", "XDG_RUNTIME_DIR")}
        env["HOME"] = self.home
        env["PYBUNDLE_ROOT"] = self.root
        env["TMPDIR"] = os.path.join(self.tmp, "tmpdir")
        os.makedirs(env["TMPDIR"], exist_ok=True)
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def build(self, **kw):
        return build_bundle(kw.pop("path", self.bundle), **kw)

    def run_bundle(self, *args, **kw):
        env = self.env(**kw.pop("env", {}))
        cmd = kw.pop("cmd", None) or [kw.pop("bundle", self.bundle)]
        p = subprocess.run(cmd + list(args), env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True,
                           input=kw.pop("input", None), cwd=kw.pop("cwd", self.tmp), timeout=60)
        return p

    def assertOk(self, p):
        self.assertEqual(p.returncode, 0, "rc=%s\nstdout:\n%s\nstderr:\n%s" % (p.returncode, p.stdout, p.stderr))
        return p

    def dists(self, root=None):
        d = os.path.join(root or self.root, "v1", "dists")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def set_old(self, path, age=7200):
        t = time.time() - age
        os.utime(path, (t, t))
