import os
import stat
import subprocess
import sys
import textwrap
import time

from .helpers import BundleTest

KEY = "dist1-1.0-0123456789abcdef"
APP = textwrap.dedent('''\
    import os, sys
    def main():
        import dist1mod
        print("dist1=%s" % dist1mod.__file__)
        here = os.path.dirname(dist1mod.__file__)
        with open(os.path.join(here, "dist1data", "thing.txt")) as f:
            print("data=%s" % f.read())
        print("exec=%s" % os.access(os.path.join(here, "bin", "tool"), os.X_OK))
        print("zipfile-loaded=%s" % ("zipfile" in sys.modules))
''')
EXTRACT = {KEY: {"dist1mod.py": "X = 1\n", "dist1data/thing.txt": "payload",
                 "bin/tool": ("#!/bin/sh\necho hi\n", 0o755)}}


class CacheTest(BundleTest):
    def setUp(self):
        super().setUp()
        self.build(site={"app.py": APP}, extract=EXTRACT)
        self.entry = os.path.join(self.root, "v1", "dists", KEY)

    def test_extract_then_reuse(self):
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_VERBOSE": "1"}))
        self.assertIn("dist1=%s/site-packages/dist1mod.py" % self.entry, p.stdout)
        self.assertIn("data=payload", p.stdout)
        self.assertIn("exec=True", p.stdout)
        self.assertIn("pybundle: extracted %s (3 files)" % KEY, p.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(self.root).st_mode), 0o700)
        self.assertEqual(os.listdir(os.path.join(self.root, "v1", "tmp")), [])
        ino = os.stat(os.path.join(self.entry, "site-packages", "dist1mod.py")).st_ino
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_VERBOSE": "1"}, cmd=[sys.executable, "-S", self.bundle]))
        self.assertIn("cache hit", p.stderr)
        self.assertNotIn("pybundle: extracted", p.stderr)
        self.assertIn("zipfile-loaded=False", p.stdout)
        self.assertEqual(ino, os.stat(os.path.join(self.entry, "site-packages", "dist1mod.py")).st_ino)

    def test_force_extract_replaces(self):
        self.assertOk(self.run_bundle())
        ino = os.stat(os.path.join(self.entry, "site-packages", "dist1mod.py")).st_ino
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_FORCE_EXTRACT": "1", "PYBUNDLE_VERBOSE": "1"}))
        self.assertIn("extracted", p.stderr)
        self.assertNotEqual(ino, os.stat(os.path.join(self.entry, "site-packages", "dist1mod.py")).st_ino)
        self.assertEqual(self.dists(), [KEY])
        self.assertEqual(os.listdir(os.path.join(self.root, "v1", "tmp")), [])

    def test_concurrent_first_starts(self):
        env = self.env()
        procs = [subprocess.Popen([self.bundle], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  universal_newlines=True) for _ in range(8)]
        for p in procs:
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
            self.assertIn("data=payload", out)
        self.assertEqual(self.dists(), [KEY])
        self.assertEqual(os.listdir(os.path.join(self.root, "v1", "tmp")), [])
        self.assertTrue(os.path.exists(os.path.join(self.entry, ".pybundle-complete")))

    def test_stale_dir_without_marker_replaced(self):
        os.makedirs(os.path.join(self.entry, "junk"), 0o700)
        os.makedirs(os.path.join(self.entry, "site-packages"), 0o700)
        os.chmod(self.root, 0o700)
        with open(os.path.join(self.entry, "site-packages", "dist1mod.py"), "w") as f:
            f.write("X = 'stale'\n")
        p = self.assertOk(self.run_bundle())
        self.assertIn("dist1=%s/site-packages/dist1mod.py" % self.entry, p.stdout)
        self.assertTrue(os.path.exists(os.path.join(self.entry, ".pybundle-complete")))
        self.assertFalse(os.path.exists(os.path.join(self.entry, "junk")))
        self.assertEqual(os.listdir(os.path.join(self.root, "v1", "tmp")), [])

    def test_damaged_entry_repaired(self):
        self.assertOk(self.run_bundle())
        os.unlink(os.path.join(self.entry, "site-packages", "dist1data", "thing.txt"))
        # within the hour, only the marker is checked: PYBUNDLE_VERIFY=1 forces the full check
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_VERIFY": "1"}))
        self.assertIn("damaged (missing file: site-packages/dist1data/thing.txt); repairing", p.stderr)
        self.assertIn("data=payload", p.stdout)
        # a marker older than one hour triggers the full check and records the last use
        with open(os.path.join(self.entry, "site-packages", "dist1mod.py"), "a") as f:
            f.write("# grown\n")
        marker = os.path.join(self.entry, ".pybundle-complete")
        self.set_old(marker)
        p = self.assertOk(self.run_bundle())
        self.assertIn("wrong size: site-packages/dist1mod.py", p.stderr)
        self.assertGreater(os.stat(marker).st_mtime, time.time() - 600)
        p = self.assertOk(self.run_bundle())
        self.assertEqual(p.stderr, "")

    def test_last_use_recorded(self):
        self.assertOk(self.run_bundle())
        marker = os.path.join(self.entry, ".pybundle-complete")
        self.set_old(marker)
        self.assertOk(self.run_bundle())
        self.assertGreater(os.stat(marker).st_mtime, time.time() - 600)

    def test_unsafe_root_refused(self):
        os.mkdir(self.root)
        os.chmod(self.root, 0o777)
        p = self.run_bundle()
        self.assertEqual(p.returncode, 1)
        self.assertIn("refusing to use the pybundle cache directory %s" % self.root, p.stderr)
        self.assertIn("mode 0777", p.stderr)
        self.assertIn("chmod 700 %s" % self.root, p.stderr)
        self.assertNotIn("Traceback", p.stderr)
        # also on the warm path
        os.chmod(self.root, 0o700)
        self.assertOk(self.run_bundle())
        os.chmod(os.path.join(self.root, "v1"), 0o757)
        p = self.run_bundle()
        self.assertEqual(p.returncode, 1)
        self.assertIn("refusing", p.stderr)

    def test_unwritable_root_falls_back(self):
        blocker = os.path.join(self.tmp, "file")
        open(blocker, "w").close()
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_ROOT": os.path.join(blocker, "root")}))
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn("warning: cannot use the cache directory", lines[0])
        fb = os.path.join(self.tmp, "tmpdir", "pybundle-%d" % os.getuid())
        self.assertIn(fb, lines[0])
        self.assertIn("dist1=%s/v1/dists/%s/site-packages/dist1mod.py" % (fb, KEY), p.stdout)
        self.assertEqual(stat.S_IMODE(os.stat(fb).st_mode), 0o700)
        # nonexistent HOME, no PYBUNDLE_ROOT: same fallback
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_ROOT": None, "HOME": os.path.join(self.tmp, "nohome")}))
        self.assertIn(fb, p.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "nohome")))

    def test_default_root_under_home(self):
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_ROOT": None}))
        self.assertIn(os.path.join(self.home, ".cache", "pybundle", "v1", "dists", KEY), p.stdout)
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_ROOT": None, "XDG_CACHE_HOME": os.path.join(self.tmp, "xdg")}))
        self.assertIn(os.path.join(self.tmp, "xdg", "pybundle", "v1", "dists", KEY), p.stdout)

    def test_readonly_roots(self):
        seed = os.path.join(self.tmp, "seed")
        self.assertOk(self.run_bundle(env={"PYBUNDLE_ROOT": seed}))
        marker = os.path.join(seed, "v1", "dists", KEY, ".pybundle-complete")
        self.set_old(marker)
        before = os.stat(marker).st_mtime
        other = os.path.join(self.tmp, "other")
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_ROOT": other, "PYBUNDLE_ROOTS": os.pathsep.join([os.path.join(self.tmp, "missing"), seed])}))
        self.assertIn("dist1=%s/v1/dists/%s/site-packages/dist1mod.py" % (seed, KEY), p.stdout)
        self.assertFalse(os.path.exists(other))
        self.assertEqual(before, os.stat(marker).st_mtime)
        # nothing writes to a read-only root: however old its entry, a start does not check
        # every file of it (only its native files), unless asked to
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_ROOT": other, "PYBUNDLE_ROOTS": seed,
                                               "PYBUNDLE_VERBOSE": "1"}))
        self.assertNotIn("verified", p.stderr)
        self.assertIn("cache hit %s in read-only root %s" % (KEY, seed), p.stderr)
        # a damaged read-only entry is skipped, the writable root is used
        os.unlink(os.path.join(seed, "v1", "dists", KEY, "site-packages", "dist1mod.py"))
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_ROOT": other, "PYBUNDLE_ROOTS": seed,
                                               "PYBUNDLE_VERIFY": "1"}))
        self.assertIn("dist1=%s/v1/dists/%s/site-packages/dist1mod.py" % (other, KEY), p.stdout)
        # an unsafe read-only root is refused
        os.chmod(seed, 0o777)
        p = self.run_bundle(env={"PYBUNDLE_ROOT": other, "PYBUNDLE_ROOTS": seed})
        self.assertEqual(p.returncode, 1)
        self.assertIn("refusing", p.stderr)

    def test_leftover_tmp_cleaned(self):
        tmpd = os.path.join(self.root, "v1", "tmp")
        os.makedirs(tmpd)
        for d in (self.root, os.path.join(self.root, "v1")):
            os.chmod(d, 0o700)
        # a pid that is certainly dead
        p = subprocess.Popen([sys.executable, "-c", "pass"])
        p.wait()
        old = os.path.join(tmpd, "%s.%d.abcd1234" % (KEY, p.pid))
        fresh = os.path.join(tmpd, "%s.%d.ffff0000" % (KEY, p.pid))
        os.makedirs(os.path.join(old, "x"))
        os.makedirs(fresh)
        self.set_old(old)
        self.assertOk(self.run_bundle())
        self.assertFalse(os.path.exists(old))
        self.assertTrue(os.path.exists(fresh))


NATIVE_KEY = "natdist-1.0-0123456789abcdef"
NATIVE_APP = textwrap.dedent('''\
    import os
    def main():
        import natdist
        here = os.path.dirname(natdist.__file__)
        with open(os.path.join(here, "_native.so"), "rb") as f:
            print("native=%s" % f.read().decode())
        print("dir=%s" % here)
''')
NATIVE_EXTRACT = {NATIVE_KEY: {"natdist/__init__.py": "", "natdist/_native.so": "ELF-not-really",
                               "natdist/data.txt": "payload",
                               "bin/natdist-tool": ("#!/bin/sh\necho hi\n", 0o755)}}
NATIVES = {NATIVE_KEY: ["bin/natdist-tool", "natdist/_native.so"]}


class NativeCheckTest(BundleTest):
    """Every start checks the native files of the entries it uses (existence and size), not
    only the hourly full check: a tmp cleaner deletes files one by one, keeping the marker."""

    def setUp(self):
        super().setUp()
        self.build(site={"app.py": NATIVE_APP}, extract=NATIVE_EXTRACT, natives=NATIVES)
        self.entry = os.path.join(self.root, "v1", "dists", NATIVE_KEY)
        self.so = os.path.join(self.entry, "site-packages", "natdist", "_native.so")

    def test_missing_native_file_repaired(self):
        self.assertOk(self.run_bundle())
        for damage in ("delete", "truncate", "delete-exe"):
            if damage == "delete":
                os.unlink(self.so)
                why = "missing file: natdist/_native.so"
            elif damage == "truncate":
                with open(self.so, "r+b") as f:
                    f.truncate(3)
                why = "wrong size: natdist/_native.so"
            else:
                os.unlink(os.path.join(self.entry, "site-packages", "bin", "natdist-tool"))
                why = "missing file: bin/natdist-tool"
            p = self.assertOk(self.run_bundle())  # marker fresh: no full check
            self.assertIn("native=ELF-not-really", p.stdout)
            self.assertEqual(
                p.stderr,
                "pybundle: warning: cache entry %s is damaged (%s); repairing it\n" % (self.entry, why))
            p = self.assertOk(self.run_bundle())
            self.assertEqual(p.stderr, "", damage)
        self.assertEqual(self.dists(), [NATIVE_KEY])
        self.assertEqual(os.listdir(os.path.join(self.root, "v1", "tmp")), [])
        # a data file is left to the hourly full check (documented)
        os.unlink(os.path.join(self.entry, "site-packages", "natdist", "data.txt"))
        p = self.assertOk(self.run_bundle())
        self.assertEqual(p.stderr, "")

    def test_lazy_mount_checks_too(self):
        self.build(site={"app.py": NATIVE_APP}, extract=NATIVE_EXTRACT, natives=NATIVES,
                   lazy={NATIVE_KEY: (("natdist",), None)})
        self.assertOk(self.run_bundle())
        os.unlink(self.so)
        p = self.assertOk(self.run_bundle())
        self.assertIn("native=ELF-not-really", p.stdout)
        self.assertIn("(missing file: natdist/_native.so); repairing it", p.stderr)

    def test_unwritable_root_stops_naming_the_file(self):
        self.assertOk(self.run_bundle())
        os.unlink(self.so)
        # A root the repair cannot write into. Tests may run as root, which ignores modes: a
        # `v1/tmp` that is not a directory fails for everyone.
        tmp = os.path.join(self.root, "v1", "tmp")
        os.rmdir(tmp)
        open(tmp, "w").close()
        p = self.run_bundle()
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stdout, "")
        err = p.stderr.splitlines()
        # one message: not "repairing it" first, then "cannot be repaired"
        self.assertEqual(len(err), 1, p.stderr)
        self.assertNotIn("repairing it", p.stderr)
        self.assertTrue(err[0].startswith(
            "error: the pybundle cache entry %s is damaged (missing file: natdist/_native.so) and "
            "cannot be repaired: its root %s cannot be written (" % (self.entry, self.root)), err[0])
        self.assertIn("set PYBUNDLE_ROOT to a writable directory", err[0])
        self.assertNotIn("Traceback", p.stderr)
        self.assertFalse(os.path.exists(self.so))

    def test_readonly_root_entry_skipped(self):
        seed = os.path.join(self.tmp, "seed")
        self.assertOk(self.run_bundle(env={"PYBUNDLE_ROOT": seed}))
        seeded = os.path.join(seed, "v1", "dists", NATIVE_KEY)
        os.unlink(os.path.join(seeded, "site-packages", "natdist", "_native.so"))
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_ROOTS": seed}))
        self.assertIn("dir=%s" % os.path.join(self.entry, "site-packages", "natdist"), p.stdout)
        self.assertIn("cache entry %s is damaged (missing file: natdist/_native.so); not using it"
                      % seeded, p.stderr)

    def test_old_bundles_without_the_list(self):
        self.build(site={"app.py": NATIVE_APP}, extract=NATIVE_EXTRACT)
        self.assertOk(self.run_bundle())
        os.unlink(self.so)
        p = self.run_bundle()
        self.assertEqual(p.returncode, 1)  # not checked: the app fails to open it
        self.assertIn("FileNotFoundError", p.stderr)


class DamagedBundleTest(BundleTest):
    def test_corrupt_member(self):
        big = "".join("line %d %s\n" % (i, "x" * (i % 50)) for i in range(3000))
        self.build(site={"app.py": APP}, extract={KEY: {"dist1mod.py": "X = 1\n", "dist1data/thing.txt": big}})
        with open(self.bundle, "r+b") as f:
            data = f.read()
            i = data.index(b"dist1data/thing.txt")  # local header name inside extract/<key>.zip
            f.seek(i + 200)
            f.write(b"\x00" * 64)
        p = self.run_bundle()
        self.assertEqual(p.returncode, 1)
        self.assertIn("error: the bundle `%s` is damaged (" % self.bundle, p.stderr)
        self.assertIn("rebuild it or copy it again", p.stderr)
        self.assertNotIn("Traceback", p.stderr)
        self.assertEqual(self.dists(), [])
        self.assertEqual(os.listdir(os.path.join(self.root, "v1", "tmp")), [])

    def test_stored_member_is_copied_and_checked(self):
        # a stored member of the inner archive (a large native library) is copied by the
        # kernel; its CRC-32 is still checked: a flipped byte in its data is damage
        blob = bytes(range(256)) * 1024  # 256 KiB, over the copy threshold
        files = dict(EXTRACT[KEY], **{"dist1data/lib.so": blob})
        self.build(site={"app.py": APP}, extract={KEY: files}, stored={"dist1data/lib.so"})
        self.assertOk(self.run_bundle())
        [entry] = self.dists()
        site = os.path.join(self.root, "v1", "dists", entry, "site-packages")
        with open(os.path.join(site, "dist1data", "lib.so"), "rb") as f:
            self.assertEqual(f.read(), blob)
        self.build(site={"app.py": APP}, extract={KEY: files}, stored={"dist1data/lib.so"})
        with open(self.bundle, "r+b") as f:
            data = f.read()
            f.seek(data.index(blob[:4096]) + 100_000)
            f.write(b"\xff")
        root = self.root = os.path.join(self.tmp, "root2")
        p = self.run_bundle()
        self.assertEqual(p.returncode, 1)
        self.assertIn("dist1data/lib.so: CRC-32 mismatch", p.stderr)
        self.assertNotIn("Traceback", p.stderr)
        self.assertEqual(os.listdir(os.path.join(root, "v1", "dists")), [])
        self.assertEqual(os.listdir(os.path.join(root, "v1", "tmp")), [])

    def test_truncated(self):
        self.build(site={"app.py": APP}, extract=EXTRACT)
        size = os.path.getsize(self.bundle)
        with open(self.bundle, "r+b") as f:
            f.truncate(size // 2)
        p = self.run_bundle()
        self.assertNotEqual(p.returncode, 0)
        self.assertNotIn("Traceback", p.stderr)

    def test_missing_member_and_bad_totals(self):
        self.build(site={"app.py": APP}, extract=EXTRACT,
                   main_extra="EXTRACT = EXTRACT + (('gone-1.0-ffff', 1, 1),)\n")
        p = self.run_bundle()
        self.assertEqual(p.returncode, 1)
        self.assertIn("is damaged (missing member extract/gone-1.0-ffff.zip)", p.stderr)
        self.assertEqual(self.dists(), [])
        self.build(site={"app.py": APP}, extract=EXTRACT,
                   main_extra="EXTRACT = ((EXTRACT[0][0], 99, EXTRACT[0][2]),)\n")
        p = self.run_bundle()
        self.assertEqual(p.returncode, 1)
        self.assertIn("expected 99", p.stderr)

    def test_path_traversal_rejected(self):
        self.build(site={"app.py": APP}, extract={KEY: {"dist1mod.py": "X=1\n", "../../../../evil.py": "bad"}})
        p = self.run_bundle()
        self.assertEqual(p.returncode, 1)
        self.assertIn("unsafe member name", p.stderr)
        for dirpath, _dirs, files in os.walk(self.tmp):
            self.assertNotIn("evil.py", files, dirpath)


def _pyc(source):
    """An unchecked-hash .pyc of ``source`` for the running interpreter."""
    import importlib.util
    import marshal

    code = compile(source, "packed.py", "exec")
    return importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little") + b"\0" * 8 + marshal.dumps(code)


PACK_KEY = "packed-1.0-0123456789abcdef"
PACK_APP = textwrap.dedent('''\
    import os, sys
    def main():
        import packed, packed.sub
        print("packed=%s sub=%s" % (packed.WHERE, packed.sub.WHERE))
        here = os.path.dirname(packed.__file__)
        print("pycache=%s" % os.path.exists(os.path.join(here, "__pycache__")))
        print("file=%s" % packed.__file__)
''')


class PycPackTest(BundleTest):
    def test_bytecode_comes_from_the_pack(self):
        tag = sys.implementation.cache_tag
        # The .pyc says something the source does not: the run proves which one was used.
        self.build(site={"app.py": PACK_APP}, extract={PACK_KEY: {
            "packed/__init__.py": "WHERE = 'source'\n",
            "packed/__pycache__/__init__.%s.pyc" % tag: _pyc("WHERE = 'pack'\n"),
            "packed/sub.py": "WHERE = 'source'\n",  # no .pyc: compiled from the source
        }})
        p = self.assertOk(self.run_bundle(env={"PYTHONDONTWRITEBYTECODE": "1"}))
        self.assertIn("packed=pack sub=source", p.stdout)
        self.assertIn("pycache=False", p.stdout)
        entry = os.path.join(self.root, "v1", "dists", PACK_KEY)
        self.assertIn("file=%s" % os.path.join(entry, "site-packages", "packed", "__init__.py"), p.stdout)
        self.assertEqual(sorted(os.listdir(entry)), sorted([".pybundle-complete", ".pybundle-pyc", "site-packages"]))
        with open(os.path.join(entry, ".pybundle-complete")) as f:
            marker = f.read()
        self.assertIn(" .pybundle-pyc\n", marker)
        # warm start, and a full verification of the entry (the pack is listed by size)
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_VERIFY": "1", "PYBUNDLE_VERBOSE": "1"}))
        self.assertIn("packed=pack sub=source", p.stdout)
        self.assertIn("verified %s" % PACK_KEY, p.stderr)
        self.assertIn(": ok", p.stderr)

    def test_damaged_pack_falls_back_to_the_source(self):
        tag = sys.implementation.cache_tag
        self.build(site={"app.py": PACK_APP}, extract={PACK_KEY: {
            "packed/__init__.py": "WHERE = 'source'\n",
            "packed/__pycache__/__init__.%s.pyc" % tag: _pyc("WHERE = 'pack'\n"),
            "packed/sub.py": "WHERE = 'source'\n",
        }})
        self.assertOk(self.run_bundle())
        pack = os.path.join(self.root, "v1", "dists", PACK_KEY, ".pybundle-pyc")
        with open(pack, "r+b") as f:
            f.seek(17)  # inside the marshalled code, header intact
            f.write(b"\xff\xff\xff\xff")
        p = self.assertOk(self.run_bundle(env={"PYTHONDONTWRITEBYTECODE": "1"}))
        self.assertIn("packed=source sub=source", p.stdout)

