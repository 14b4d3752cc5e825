"""Each module of the run-time package, in this process, plus which of them a start imports."""
import importlib
import io
import os
import shutil
import sys
import tempfile
import textwrap
import unittest
import zipfile
import zipimport
import zlib
from unittest import mock

from .helpers import BOOTSTRAP, BundleTest

sys.path.insert(0, os.path.dirname(BOOTSTRAP))
import _pybundle  # noqa: E402  (the package under test, from the source tree)
from _pybundle import _cache, _errors, _extract, _importer, _zip  # noqa: E402

MODULES = sorted(n[:-3] for n in os.listdir(BOOTSTRAP) if n.endswith(".py"))


class EveryModuleTest(unittest.TestCase):
    def test_every_module_imports_on_this_python(self):
        # the subprocess tests reach each module only on its own path; this catches syntax that
        # a supported Python rejects in any of them
        for name in MODULES:
            full = "_pybundle" if name == "__init__" else "_pybundle." + name
            self.assertEqual(importlib.import_module(full).__name__, full)


def source(module):
    with open(os.path.join(BOOTSTRAP, module + ".py"), encoding="utf-8") as f:
        return f.read()


class LayoutTest(unittest.TestCase):
    def test_one_definition_of_each_name(self):
        names = ("EXTRACT_DIR", "PREAMBLE", "LAYOUT", "DISTS_DIR", "TMP_DIR", "MARKER",
                 "MARKER_HEADER", "PYC_PACK")
        for name in MODULES:
            text = source(name)
            for const in names:
                defined = ("\n%s = " % const) in text
                self.assertEqual(defined, name == "__init__", "%s in %s.py" % (const, name))
        for literal in ('"v1"', '".pybundle-complete"', '".pybundle-pyc"', '"pybundle-complete'):
            holders = [n for n in MODULES if literal in source(n)]
            self.assertEqual(holders, ["__init__"], literal)


class ItemTest(unittest.TestCase):
    def test_fields_by_name(self):
        item = _pybundle.Item("k-1.0-00", 3, 100, ("k", "k2"), "k-1.0.dist-info")
        self.assertEqual((item.key, item.files, item.size, item.names, item.dist_info),
                         ("k-1.0-00", 3, 100, ("k", "k2"), "k-1.0.dist-info"))

    def test_older_and_newer_items(self):
        old = _pybundle.Item(*("k", 3, 100))
        self.assertEqual((old.names, old.dist_info), ((), None))
        self.assertIsNone(_pybundle.Item("k").size)
        newer = _pybundle.Item("k", 1, 2, ["n"], None, "a field added later")
        self.assertEqual(newer.names, ("n",))


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pybundle-unit-")
        self.addCleanup(shutil.rmtree, self.tmp, True)


class PackTest(TempDirTest):
    def write_pack(self, pycs):
        chunks, paths, numbers, offset = [], [], [], 0
        for path, data in pycs:
            paths.append(path)
            numbers.extend((offset, len(data)))
            chunks.append(data)
            offset += len(data)
        path = os.path.join(self.tmp, _pybundle.PYC_PACK)
        with open(path, "wb") as f:
            f.write(b"".join(chunks + _cache.pack_tail(paths, numbers)))
        return path

    def test_bytes_are_the_documented_format(self):
        # the `.pyc` contents, the paths joined by "\n", (offset, size) u64 LE each, then the
        # count and the joined length: what `pybundle extract` writes too (src/commands/extract.rs)
        path = self.write_pack([("a.py", b"AAA"), ("p/b.py", b"BB")])
        with open(path, "rb") as f:
            data = f.read()
        u64 = lambda n: n.to_bytes(8, "little")  # noqa: E731
        self.assertEqual(data, b"AAABB" + b"a.py\np/b.py" + u64(0) + u64(3) + u64(3) + u64(2)
                         + u64(2) + u64(11))

    def test_index_round_trip(self):
        self.write_pack([("a.py", b"AAA"), ("p/b.py", b"BB")])
        pack = _cache._pack(os.path.join(self.tmp, _pybundle.SITE_DIR))  # the pack is beside it
        self.addCleanup(os.close, pack[0])
        self.assertEqual(pack[1], {"a.py": (0, 3), "p/b.py": (3, 2)})
        self.assertEqual(os.pread(pack[0], 2, 3), b"BB")

    def test_empty_and_damaged_packs(self):
        self.write_pack([])
        fd = os.open(os.path.join(self.tmp, _pybundle.PYC_PACK), os.O_RDONLY)
        self.addCleanup(os.close, fd)
        self.assertEqual(_cache.read_pack_index(fd), {})
        bad = os.path.join(self.tmp, "bad")
        os.mkdir(bad)
        with open(os.path.join(bad, _pybundle.PYC_PACK), "wb") as f:
            f.write(b"\xff" * 40)
        self.assertIsNone(_cache._pack(os.path.join(bad, _pybundle.SITE_DIR)))
        self.assertIsNone(_cache._pack(os.path.join(self.tmp, "no-such-entry", _pybundle.SITE_DIR)))


class MarkerTest(TempDirTest):
    def test_round_trip_and_check(self):
        listing = [("a.py", 3), ("d/b.txt", 0)]
        with open(os.path.join(self.tmp, "a.py"), "w") as f:
            f.write("abc")
        os.mkdir(os.path.join(self.tmp, "d"))
        open(os.path.join(self.tmp, "d", "b.txt"), "w").close()
        text = _extract.marker_text(listing)
        self.assertEqual(text, "pybundle-complete 1 2 3\n3 a.py\n0 d/b.txt\n")
        with open(os.path.join(self.tmp, _pybundle.MARKER), "w") as f:
            f.write(text)
        self.assertEqual(_extract.read_marker(self.tmp), (2, 3, listing))
        self.assertIsNone(_extract.check_entry(self.tmp))
        with open(os.path.join(self.tmp, "a.py"), "a") as f:
            f.write("d")
        self.assertEqual(_extract.check_entry(self.tmp), "wrong size: a.py")
        os.unlink(os.path.join(self.tmp, "d", "b.txt"))
        os.unlink(os.path.join(self.tmp, "a.py"))
        self.assertEqual(_extract.check_entry(self.tmp), "missing file: a.py")

    def test_bad_markers(self):
        for text in ("something else 1 0 0\n", "pybundle-complete 1 2 3\n3 a.py\n"):
            with open(os.path.join(self.tmp, _pybundle.MARKER), "w") as f:
                f.write(text)
            self.assertRaises(ValueError, _extract.read_marker, self.tmp)
            self.assertTrue(_extract.check_entry(self.tmp).startswith("unreadable marker"))


class RootsTest(unittest.TestCase):
    def test_writable_root_order(self):
        env = {"PYBUNDLE_ROOT": "/r1", "XDG_CACHE_HOME": "/x"}
        with mock.patch.dict(os.environ, env):
            self.assertEqual(_cache.writable_root({"ROOT": "/baked"}), ("/r1", True))
        with mock.patch.dict(os.environ, {"XDG_CACHE_HOME": "/x"}):
            os.environ.pop("PYBUNDLE_ROOT", None)
            self.assertEqual(_cache.writable_root({"ROOT": "/baked"}), ("/baked", True))
            self.assertEqual(_cache.writable_root({}), ("/x/pybundle", False))

    def test_readonly_roots(self):
        with mock.patch.dict(os.environ, {"PYBUNDLE_ROOTS": os.pathsep.join(["/a", "", "/b"])}):
            self.assertEqual(_cache.readonly_roots(), ["/a", "/b"])

    def test_safe(self):
        st = os.stat_result((0o40700, 0, 0, 0, 1000, 0, 0, 0, 0, 0))
        self.assertTrue(_cache.safe(st, 1000))
        self.assertFalse(_cache.safe(st, 1001))
        wide = os.stat_result((0o40770, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        self.assertFalse(_cache.safe(wide, 1000, allow_root_owner=True))
        root = os.stat_result((0o40755, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        self.assertTrue(_cache.safe(root, 1000, allow_root_owner=True))


class ZipTest(TempDirTest):
    def setUp(self):
        super().setUp()
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("pkg/__init__.py", "X = 1\n" * 50)
            info = zipfile.ZipInfo("bin/tool")
            info.external_attr = (0o100755) << 16
            z.writestr(info, "#!/bin/sh\n")
            z.writestr("pkg/", "")
        self.bundle = os.path.join(self.tmp, "b.zip")
        with zipfile.ZipFile(self.bundle, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("__main__.py", "pass\n")
            z.writestr(zipfile.ZipInfo("extract/k-1.zip"), inner.getvalue())  # stored
        zipimport.zipimporter(self.bundle)  # fills zipimport's directory cache, as a start does
        self.fd = os.open(self.bundle, os.O_RDONLY)
        self.addCleanup(os.close, self.fd)

    def test_inner_members_and_read(self):
        name = _zip.inner_name("k-1")
        self.assertEqual(name, "extract/k-1.zip")
        members = _zip.inner_members(self.fd, self.bundle, name, _zip.toc(self.bundle)[name])
        self.assertEqual([(m[0], m[2]) for m in members],
                         [("pkg/__init__.py", 0o644), ("bin/tool", 0o755), ("pkg/", 0o755)])
        self.assertEqual(_zip.read(self.fd, self.bundle, "x", members[0][1]), b"X = 1\n" * 50)
        self.assertEqual(_zip.read_inner(self.bundle, "k-1", "bin/tool"), b"#!/bin/sh\n")
        self.assertIsNone(_zip.read_inner(self.bundle, "k-1", "nope"))

    def test_member_reader_checks_crc(self):
        entry = _zip.toc(self.bundle)["__main__.py"]
        self.assertEqual(_importer.read_member(self.fd, entry), (b"pass\n", None))
        wrong = entry[:7] + ((entry[7] + 1) & 0xFFFFFFFF,)
        self.assertEqual(_importer.read_member(self.fd, wrong), (None, "CRC-32 mismatch"))
        moved = entry[:4] + (entry[4] + 1,) + entry[5:]
        self.assertEqual(_importer.read_member(self.fd, moved), (None, "bad local file header"))
        self.assertEqual(zlib.crc32(b"pass\n"), entry[7])

    def test_not_a_stored_archive_stops(self):
        entry = _zip.toc(self.bundle)["__main__.py"]
        with mock.patch("sys.stderr", new_callable=io.StringIO) as err:
            self.assertRaises(SystemExit, _zip.inner_members, self.fd, self.bundle, "__main__.py", entry)
        self.assertIn("is damaged (__main__.py: not a stored archive)", err.getvalue())


class InflateTest(unittest.TestCase):
    """Inflation stops one byte past the declared size: a bomb is damage, not a MemoryError."""

    def deflate(self, data):
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush()

    def test_exact_size(self):
        self.assertEqual(_importer.inflate(self.deflate(b"abc" * 100), 300), (b"abc" * 100, None))

    def test_a_bomb_stops_at_the_declared_size(self):
        bomb = self.deflate(b"\0" * (64 << 20))  # 64 MiB in about 64 KiB
        data, why = _importer.inflate(bomb, 210)
        self.assertIsNone(data)
        self.assertEqual(why, "inflates past its declared 210 bytes")

    def test_short_and_broken_streams(self):
        z = self.deflate(b"x" * 1000)
        self.assertEqual(_importer.inflate(z, 2000)[1], "inflates to 1000 bytes, not its declared 2000")
        self.assertIsNone(_importer.inflate(z[: len(z) // 2], 1000)[0])
        self.assertIsNone(_importer.inflate(b"\xff" * 16, 10)[0])


class ErrorsTest(unittest.TestCase):
    def test_specifiers(self):
        yes = [(">=3.8", "3.11.2"), ("~=3.10", "3.11.0"), ("==3.11.*", "3.11.7"), ("!=3.9.*", "3.11"),
               (">3.10,<4", "3.11"), ("<3.12", "3.11.9"), ("===3.11.0", "3.11.0")]
        no = [(">=3.12", "3.11.2"), ("~=3.10.1", "3.11.0"), ("==3.10.*", "3.11.7"), ("<3.11", "3.11.0rc1")]
        for spec, version in yes:
            self.assertTrue(_errors.specifier_contains(spec, version), (spec, version))
        for spec, version in no:
            self.assertFalse(_errors.specifier_contains(spec, version), (spec, version))
        self.assertTrue(_errors.specifier_contains(">=3.8", (3, 8, 0)))

    def test_bad_specifier_is_a_warning(self):
        with mock.patch("sys.stderr", new_callable=io.StringIO) as err:
            self.assertTrue(_errors.specifier_contains(">=three", "3.11"))
        self.assertIn("ignoring requires_python", err.getvalue())


MODULES_APP = textwrap.dedent('''\
    import sys
    def main():
        if "import" in sys.argv:
            import lazy1
        print("modules=%s" % ",".join(sorted(m for m in sys.modules if m.startswith("_pybundle"))))
''')


class WarmPathModulesTest(BundleTest):
    """Which modules of the package a start imports: each costs a zip member and an unmarshal.
    ``_importer`` (the store's finder and loader, the member reader) is on every start."""

    KEY = "lazy1-1.0-0123456789abcdef"
    EAGER = "eager-1.0-fedcba9876543210"

    def setUp(self):
        super().setUp()
        extract = {self.KEY: {"lazy1/__init__.py": "X = 1\n"}, self.EAGER: {"eager.py": "Y = 1\n"}}
        self.build(site={"app.py": MODULES_APP}, extract=extract, dists=(),
                   lazy={self.KEY: (("lazy1",), None)})

    def modules(self, *args):
        out = self.assertOk(self.run_bundle(*args)).stdout
        return [line.split("=", 1)[1] for line in out.splitlines() if line.startswith("modules=")][0]

    def test_pure_bundle_imports_only_the_package(self):
        self.build(site={"app.py": MODULES_APP}, dists=())
        self.assertEqual(self.modules(), "_pybundle,_pybundle._importer")

    def test_warm_starts(self):
        self.modules("import")  # fills the cache (cold path)
        warm = "_pybundle,_pybundle._cache,_pybundle._importer"
        self.assertEqual(self.modules(), warm)  # the eager entry
        self.assertEqual(self.modules("import"), warm)  # + a mount


if __name__ == "__main__":
    unittest.main()
