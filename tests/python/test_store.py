"""The bundle's importer (`_importer`) and resources (`_resources`): everything zipimport answered
for zip-safe code, now served from the store, checked in a real bundle on this Python."""
import importlib.util
import io
import marshal
import os
import shutil
import sys
import tempfile
import textwrap
import unittest
import zipfile
import zipimport
from unittest import mock

from .helpers import BOOTSTRAP, BundleTest, build_bundle

APP = textwrap.dedent('''\
    import importlib, importlib.util, inspect, os, pkgutil, runpy, sys, traceback
    B = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # <bundle>

    def say(k, v):
        print("%s=%r" % (k, v))

    def attrs():
        import pkg, pkg.sub
        say("file", pkg.__file__ == B + "/pkg/__init__.py")
        say("path", pkg.__path__ == [B + "/pkg"])
        say("origin", pkg.sub.__spec__.origin == B + "/pkg/sub.py" == pkg.sub.__file__)
        say("has_location", pkg.sub.__spec__.has_location)
        say("loader", pkg.sub.__loader__ is pkg.sub.__spec__.loader and pkg.sub.__loader__.is_package("pkg.sub") is False)
        say("find_spec", importlib.util.find_spec("pkg.helper").origin == B + "/pkg/helper.py")
        say("find_spec_missing", importlib.util.find_spec("pkg.nope"))
        say("relative", pkg.sub.H)
        pkg.sub.COUNT = 5
        say("reload", importlib.reload(pkg.sub).COUNT)
        say("getsource", "return 42" in inspect.getsource(pkg.sub.f))
        try:
            pkg.sub.boom()
        except ValueError:
            say("traceback", 'raise ValueError("boom line")' in traceback.format_exc())
        say("get_source", pkg.sub.__loader__.get_source("pkg.sub").splitlines()[0])
        import sourceless
        say("sourceless", (sourceless.V, sourceless.__file__ == B + "/sourceless.pyc"))
        import nsp.zpart, nsp.epart
        say("namespace", (nsp.zpart.V, nsp.epart.V, len(nsp.__path__)))
        import zlib_ok  # a module whose source has no bytecode attached (compiled now)
        say("compiled", zlib_ok.V)

    def resources():
        import pkg
        ld = pkg.__loader__
        say("get_data", ld.get_data(B + "/pkg/res.txt"))
        try:
            ld.get_data(B + "/pkg/nope.txt")
        except OSError as e:
            say("get_data_missing", type(e).__name__)
        say("pkgutil_get_data", pkgutil.get_data("pkg", "data/deep/x.bin"))
        say("iter_modules", sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)))
        say("walk", sorted(m.name for m in pkgutil.walk_packages([B + "/"]) if m.name.startswith("pkg")))
        import importlib.resources as ir
        say("read_text", ir.read_text("pkg", "res.txt"))
        with ir.open_binary("pkg", "res.txt") as f:
            say("open_binary", f.read())
        say("contents", sorted(ir.contents("pkg"))[:3])
        say("is_resource", (ir.is_resource("pkg", "res.txt"), ir.is_resource("pkg", "data")))
        # what importlib_resources asks a loader (the protocol), also on 3.8
        spec = importlib.util.find_spec("pkg")
        t = spec.loader.get_resource_reader("pkg").files()
        say("protocol", ((t / "data" / "deep" / "x.bin").read_bytes(), t.joinpath("data", "res.txt").is_file()))
        if hasattr(ir, "files"):
            root = ir.files("pkg")
            say("files", root.joinpath("res.txt").read_text())
            say("traverse", sorted(p.name for p in (root / "data").iterdir()))
            say("is_dir", ((root / "data").is_dir(), (root / "res.txt").is_file()))
            with ir.as_file(root / "data" / "res.txt") as p:
                say("as_file", open(p).read())
        else:
            for k in ("files", "traverse", "is_dir", "as_file"):
                say(k, "3.8")

    def metadata():
        import importlib.metadata as md
        say("version", md.version("demo"))
        eps = md.entry_points()
        group = eps.select(group="console_scripts") if hasattr(eps, "select") else eps.get("console_scripts", ())
        say("entry_points", sorted(ep.name for ep in group))
        say("locate", md.files("demo")[0].read_text() if md.files("demo") else None)

    def run_pkg():
        runpy.run_module("pkg", run_name="__main__", alter_sys=False)

    def child_f():
        import pkg.sub
        return pkg.sub.f()

    def children():
        import multiprocessing as mp
        for method in ("spawn", "forkserver"):
            with mp.get_context(method).Pool(1) as pool:
                say(method, pool.apply(child_f))

    def thread():
        import threading, pkg.sub
        t = threading.Thread(target=pkg.sub.boom)
        t.start()
        t.join()

    def pkg_resources():
        import pkg_resources as pr
        say("resource_string", pr.resource_string("pkg", "res.txt"))
        say("resource_exists", (pr.resource_exists("pkg", "res.txt"), pr.resource_exists("pkg", "nope")))
        say("resource_isdir", pr.resource_isdir("pkg", "data"))
        say("resource_listdir", sorted(pr.resource_listdir("pkg", "data")))
        with open(pr.resource_filename("pkg", "data/res.txt")) as f:
            say("resource_filename", f.read())
        say("dist", pr.get_distribution("demo").version)
        say("iter_entry_points", sorted(ep.name for ep in pr.iter_entry_points("console_scripts")))

    def main():
        globals()[sys.argv[1]]()
''')

SUB = textwrap.dedent('''\
    from .helper import H
    COUNT = 0


    def f():
        return 42


    def boom():
        raise ValueError("boom line")
''')

DIST = "demo-1.0.dist-info"
KEY = "nsdist-1.0-0000000000000000"


def sourceless():
    code = compile("V = 'no source'\n", "sourceless.py", "exec")
    return importlib.util.MAGIC_NUMBER + b"\0" * 12 + marshal.dumps(code)


SITE = {
    "app/__init__.py": "",
    "app/main.py": APP,
    "pkg/__init__.py": "from . import sub\nV = 1\n",
    "pkg/sub.py": SUB,
    "pkg/helper.py": "H = 'relative'\n",
    "pkg/__main__.py": "print('pkg-main', __name__)\n",
    "pkg/res.txt": "hello",
    "pkg/data/res.txt": "deep hello",
    "pkg/data/deep/x.bin": b"\x00\x01",
    "pkg/inner/__init__.py": "",
    "sourceless.pyc": sourceless(),
    "nsp/zpart.py": "V = 'zipped'\n",
    DIST + "/METADATA": "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
    DIST + "/entry_points.txt": "[console_scripts]\ndemo = pkg.sub:f\n",
    DIST + "/RECORD": "pkg/res.txt,,\n",
}


class StoreTest(BundleTest):
    def setUp(self):
        super().setUp()
        site = dict(SITE)
        site["zlib_ok.py"] = "V = 'compiled at run time'\n"
        self.build(site=site, entry=("function", "app.main", "main"),
                   extract={KEY: {"nsp/epart.py": "V = 'extracted'\n"}},
                   dists=(("demo", DIST),))

    def out(self, what, **kw):
        p = self.assertOk(self.run_bundle(what, **kw))
        return dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line), p

    def test_module_attributes_and_import_protocol(self):
        d, _p = self.out("attrs")
        for k in ("file", "path", "origin", "has_location", "loader", "getsource", "traceback"):
            self.assertEqual(d[k], "True", k)
        self.assertEqual(d["find_spec"], "True")
        self.assertEqual(d["find_spec_missing"], "None")
        self.assertEqual(d["relative"], "'relative'")
        self.assertEqual(d["reload"], "0")
        self.assertEqual(d["get_source"], "'from .helper import H'")
        self.assertEqual(d["sourceless"], "('no source', True)")
        self.assertEqual(d["namespace"], "('zipped', 'extracted', 2)")
        self.assertEqual(d["compiled"], "'compiled at run time'")

    def test_resources(self):
        d, _p = self.out("resources")
        self.assertEqual(d["get_data"], "b'hello'")
        self.assertEqual(d["get_data_missing"], "'FileNotFoundError'")
        self.assertEqual(d["pkgutil_get_data"], "b'\\x00\\x01'")
        self.assertEqual(d["iter_modules"], "['__main__', 'helper', 'inner', 'sub']")
        self.assertEqual(d["walk"], "['pkg', 'pkg.__main__', 'pkg.helper', 'pkg.inner', 'pkg.sub']")
        self.assertEqual(d["read_text"], "'hello'")
        self.assertEqual(d["open_binary"], "b'hello'")
        self.assertEqual(d["contents"], "['__init__.py', '__main__.py', 'data']")
        self.assertEqual(d["is_resource"], "(True, False)")
        self.assertEqual(d["protocol"], "(b'\\x00\\x01', True)")
        if sys.version_info >= (3, 9):
            self.assertEqual(d["files"], "'hello'")
            self.assertEqual(d["traverse"], "['deep', 'res.txt']")
            self.assertEqual(d["is_dir"], "(True, True)")
            self.assertEqual(d["as_file"], "'deep hello'")

    def test_metadata(self):
        d, _p = self.out("metadata")
        self.assertEqual(d["version"], "'1.0'")
        self.assertEqual(d["entry_points"], "['demo']")
        self.assertEqual(d["locate"], "'hello'")

    def test_runpy_package_main(self):
        _d, p = self.out("run_pkg")
        self.assertIn("pkg-main __main__", p.stdout)

    def test_multiprocessing_children(self):
        d, _p = self.out("children")
        self.assertEqual((d["spawn"], d["forkserver"]), ("42", "42"))

    def test_thread_traceback_has_source_lines(self):
        _d, p = self.out("thread")
        self.assertIn('raise ValueError("boom line")', p.stderr)

    def test_pkg_resources(self):
        try:
            import pkg_resources  # noqa: F401  (the host's, kept on sys.path by inherit)
        except ImportError:
            self.skipTest("no pkg_resources on this Python")
        self.build(site=SITE, entry=("function", "app.main", "main"), inherit=True, dists=(("demo", DIST),))
        d, _p = self.out("pkg_resources", env={"PYTHONWARNINGS": "ignore"})
        self.assertEqual(d["resource_string"], "b'hello'")
        self.assertEqual(d["resource_exists"], "(True, False)")
        self.assertEqual(d["resource_isdir"], "True")
        self.assertEqual(d["resource_listdir"], "['deep', 'res.txt']")
        self.assertEqual(d["resource_filename"], "'deep hello'")
        self.assertEqual(d["dist"], "'1.0'")
        self.assertIn("'demo'", d["iter_entry_points"])



sys.path.insert(0, os.path.dirname(BOOTSTRAP))
from _pybundle import _importer  # noqa: E402


class StoreReaderTest(unittest.TestCase):
    """The store reader in this process, against the test writer of `helpers`."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pybundle-store-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def store(self, site, mangle=None):
        path = os.path.join(self.tmp, "b%d.pyz" % len(os.listdir(self.tmp)))
        build_bundle(path, site=site)
        if mangle:
            with zipfile.ZipFile(path) as zf:
                info = zf.getinfo("_pybundle/site.index")
            with open(path, "r+b") as f:
                f.seek(info.header_offset + 26)
                head = f.read(4)
                start = info.header_offset + 30 + int.from_bytes(head[:2], "little") + int.from_bytes(head[2:], "little")
                mangle(f, start)
        zipimport.zipimporter(path)  # fills zipimport's directory cache, as a start does
        fd = os.open(path, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        return _importer.Store(path, fd, _importer.toc(path))

    def test_lookups_children_and_bytecode(self):
        site = {"m%04d.py" % i: "V = %d\n" % i for i in range(1500)}
        site.update({"pkg/__init__.py": "", "pkg/sub/deep.txt": "x" * 1000, "pkg/a.py": "A = 1\n"})
        st = self.store(site)
        for i in range(0, 1500, 7):
            self.assertEqual(st.read("m%04d.py" % i), b"V = %d\n" % i)
        self.assertIsNone(st.rec("m9999.py"))
        self.assertIsNone(st.rec("pkg/sub/deep"))
        self.assertTrue(st.is_dir("pkg/sub") and st.is_dir(""))
        self.assertEqual([n for n, _r in st.children("pkg")], ["__init__.py", "a.py", "sub"])
        self.assertEqual(len(st.children("")), 1501)
        r = st.rec("pkg/a.py")
        self.assertEqual(st.pyc("pkg/a.py", r)[:4], importlib.util.MAGIC_NUMBER)
        self.assertEqual(st.read("pkg/sub/deep.txt"), b"x" * 1000)  # deflated
        self.assertRaises(FileNotFoundError, st.read, "pkg/sub")
        self.assertEqual(st.rel(st.root + "/pkg/a.py"), "pkg/a.py")
        self.assertIsNone(st.rel("/elsewhere/pkg/a.py"))

    def test_field_ranges_are_the_record_struct(self):
        import struct

        self.assertEqual(struct.calcsize(_importer.RECORD), _importer._RECORD_SIZE)
        self.assertEqual(struct.calcsize(_importer.HEADER), _importer._HEADER_SIZE)
        for raw in (bytes(range(1, 45)), bytes(range(200, 244)) + b"path"):
            want = struct.unpack_from(_importer.RECORD, raw)
            self.assertEqual(want, tuple(_importer._u(raw, a, e) for a, e in _importer._FIELDS))
            self.assertEqual(want, _importer._fields(raw))

    def damaged(self, fn, *args):
        with mock.patch("sys.stderr", new_callable=io.StringIO) as err:
            self.assertRaises(SystemExit, fn, *args)
        return err.getvalue()

    def test_damaged_index_and_content(self):
        def magic(f, start):
            f.seek(start)
            f.write(b"XXXX")

        # the whole index is checked against its CRC-32 when the store is opened
        err = self.damaged(self.store, {"a.py": "V = 1\n"}, magic)
        self.assertIn("is damaged (_pybundle/site.index: CRC-32 mismatch)", err)
        st = self.store({"a.py": "V = 1\n"})
        r = st.rec("a.py")
        st.recs["a.py"] = r[:3] + ((r[3] + 1) & 0xFFFFFFFF,) + r[4:]  # a CRC-32 that does not match
        self.assertIn("is damaged (a.py: CRC-32 mismatch); rebuild it", self.damaged(st.read, "a.py"))


if __name__ == "__main__":
    unittest.main()
