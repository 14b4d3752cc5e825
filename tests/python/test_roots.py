"""Where a start extracts: the order of the writable roots, `noexec` mounts, a failure inside a
lazy import, one warning per start, and roots pinned against other users (issues 20 and 21)."""
import os
import shutil
import subprocess
import sys
import textwrap
import unittest
from unittest import mock

from .helpers import BOOTSTRAP, BundleTest
from .test_cache import NATIVE_APP, NATIVE_EXTRACT, NATIVE_KEY, NATIVES

sys.path.insert(0, os.path.dirname(BOOTSTRAP))
from _pybundle import _cache, _extract  # noqa: E402  (the package under test, from the source tree)

OTHER_UID = 54321  # a user that owns nothing here: tests chown to it (they run as root)


class _Item(object):
    def __init__(self, key, native):
        self.key, self.native = key, native


def _statvfs_noexec(noexec_dirs):
    real = os.statvfs

    def fake(path):
        st = real(path)
        if any(path == d or path.startswith(d + "/") for d in noexec_dirs):
            return os.statvfs_result((st.f_bsize, st.f_frsize, st.f_blocks, st.f_bfree, st.f_bavail,
                                      st.f_files, st.f_ffree, st.f_favail, st.f_flag | 8,
                                      st.f_namemax))
        return st
    return fake


class ChooseRootTest(unittest.TestCase):
    """``_extract.choose_root`` with ``statvfs`` faked: runs anywhere, as any user."""

    def setUp(self):
        self.tmp = os.path.realpath(__import__("tempfile").mkdtemp(prefix="pybundle-roots-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        _extract._CHOSEN.clear()
        self.addCleanup(_extract._CHOSEN.clear)
        del _extract._WARNED[:]
        self.addCleanup(_extract._WARNED.clear)
        env = {"TMPDIR": os.path.join(self.tmp, "t"), "XDG_RUNTIME_DIR": os.path.join(self.tmp, "run")}
        os.mkdir(env["TMPDIR"], 0o700)
        os.mkdir(env["XDG_RUNTIME_DIR"], 0o700)
        patcher = mock.patch.dict(os.environ, env)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.rw = os.path.join(self.tmp, "rw")
        self.uid = os.getuid()

    def choose(self, items, noexec_dirs):
        roots = ((), self.rw, None)
        with mock.patch.object(os, "statvfs", _statvfs_noexec(noexec_dirs)), \
                mock.patch("sys.stderr") as err:
            root = _extract.choose_root("/x/app.pyz", roots, self.uid, items)
        return root, "".join(c.args[0] for c in err.write.call_args_list)

    def test_noexec_is_seen(self):
        with mock.patch.object(os, "statvfs", _statvfs_noexec([self.tmp])):
            self.assertTrue(_extract.noexec(self.tmp))
        self.assertFalse(_extract.noexec(self.tmp))

    def test_order_and_noexec(self):
        run = os.path.join(self.tmp, "run", "pybundle")
        self.assertEqual(_extract.candidates(self.rw, self.uid), [
            (self.rw, False), (run, True),
            (os.path.join(self.tmp, "t", "pybundle-%d" % self.uid), True),
            ("/dev/shm/pybundle-%d" % self.uid, True)])
        # native code: the noexec writable root is passed over, with one warning that says why
        root, err = self.choose([_Item("k", (("a.so", 1),))], [self.rw])
        self.assertEqual(root, run)
        self.assertEqual(err, "pybundle: warning: cannot use the cache directory %s (on a noexec "
                              "mount); using %s instead (set PYBUNDLE_ROOT to choose another)\n"
                         % (self.rw, run))
        # pure Python runs from a noexec mount: no reason to move
        _extract._CHOSEN.clear()
        del _extract._WARNED[:]
        root, err = self.choose([_Item("k", ())], [self.rw])
        self.assertEqual((root, err), (self.rw, ""))

    def test_one_warning_per_start(self):
        self.choose([_Item("k", (("a.so", 1),))], [self.rw])
        for _ in range(3):
            root, err = self.choose([_Item("k2", (("b.so", 1),))], [self.rw])
            self.assertEqual(err, "")

    def test_python_shims_avoid_noexec_mounts(self):
        """The `python` shims of wrapper entries are run: they go where programs may run."""
        import _pybundle._launch as launch
        _cache._ROOTS[:] = []
        self.addCleanup(_cache._ROOTS.clear)
        with mock.patch.dict(os.environ, {"PYBUNDLE_ROOT": self.rw}), \
                mock.patch.object(os, "statvfs", _statvfs_noexec([self.rw])):
            d = launch.python_shims({}, "/x/app.pyz")
        self.assertTrue(d.startswith(os.path.join(self.tmp, "run", "pybundle", "v1", "shims")), d)
        self.assertTrue(os.path.isfile(os.path.join(d, "python")))

    def test_nowhere_is_one_paragraph(self):
        items = [_Item("k", (("a.so", 1),))]
        with self.assertRaises(SystemExit), mock.patch.object(_extract, "candidates", lambda rw, uid: [
                (self.rw, False), (os.path.join(self.tmp, "t", "p"), True),
                (os.path.join(self.tmp, "missing", "p"), True)]):
            with mock.patch.object(os, "statvfs", _statvfs_noexec([self.tmp])), \
                    mock.patch("sys.stderr") as err:
                _extract.choose_root("/x/app.pyz", ((), self.rw, None), self.uid, items)
        text = "".join(c.args[0] for c in err.write.call_args_list)
        self.assertEqual(text.count("\n"), 1, text)
        self.assertIn("error: pybundle has no directory to extract k into: read-only roots: none "
                      "(PYBUNDLE_ROOTS is not set); writable roots tried: %s (on a noexec mount); "
                      "%s/t/p (on a noexec mount); %s/missing/p (missing). fix: " % (self.rw, self.tmp, self.tmp), text)
        for fix in ("`pybundle extract app.pyz --root /opt/pybundle`", "--tmpfs /tmp:exec", "set PYBUNDLE_ROOT"):
            self.assertIn(fix, text)


def _can_mount():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return "needs root and unshare(1) to mount a noexec tmpfs"
    p = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o noexec none /mnt"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    return None if p.returncode == 0 else "cannot mount a tmpfs: %s" % p.stdout.strip()


_NO_MOUNT = _can_mount()
if _NO_MOUNT:
    print("skipping the noexec mount tests: %s" % _NO_MOUNT, file=sys.stderr)

LAZY_APP = textwrap.dedent('''\
    import os, sys
    def main():
        try:
            import natdist
            print("imported %s" % natdist.__file__)
        except ImportError as e:
            print("ImportError: %s" % e)
        if "uncaught" in sys.argv:
            import natdist
''')


@unittest.skipIf(_NO_MOUNT, _NO_MOUNT)
class NoexecMountTest(BundleTest):
    """Real `noexec` tmpfs mounts, in a private mount namespace (``unshare -m``), so that
    /dev/shm can be made unusable too without touching the machine's."""

    def setUp(self):
        super().setUp()
        self.noexec = os.path.join(self.tmp, "noexec")
        os.mkdir(self.noexec)
        self.build(site={"app.py": NATIVE_APP}, extract=NATIVE_EXTRACT, natives=NATIVES)

    def run_ns(self, *args, shm_noexec=False, **env):
        script = "mount -t tmpfs -o noexec,mode=755 none %s" % self.noexec
        if shm_noexec:
            script += " && mount -t tmpfs -o noexec none /dev/shm"
        cmd = ["unshare", "-m", "sh", "-c", script + ' && exec "$0" "$@"', self.bundle] + list(args)
        return self.run_bundle(cmd=cmd, env=env)

    def test_noexec_root_passed_over(self):
        root = os.path.join(self.noexec, "root")
        p = self.assertOk(self.run_ns(PYBUNDLE_ROOT=root))
        fb = os.path.join(self.tmp, "tmpdir", "pybundle-%d" % os.getuid())
        self.assertIn("dir=%s" % os.path.join(fb, "v1", "dists", NATIVE_KEY, "site-packages", "natdist"), p.stdout)
        self.assertEqual(p.stderr, "pybundle: warning: cannot use the cache directory %s (on a "
                                   "noexec mount); using %s instead (set PYBUNDLE_ROOT to choose "
                                   "another)\n" % (root, fb))

    def test_nowhere_to_extract(self):
        p = self.run_ns(shm_noexec=True, PYBUNDLE_ROOT=os.path.join(self.noexec, "root"),
                        TMPDIR=self.noexec, XDG_RUNTIME_DIR=os.path.join(self.noexec, "run"))
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertEqual(p.stderr.count("\n"), 1, p.stderr)
        uid = os.getuid()
        self.assertIn("error: pybundle has no directory to extract %s into: read-only roots: none "
                      "(PYBUNDLE_ROOTS is not set); writable roots tried: %s/root (on a noexec "
                      "mount); %s/run/pybundle (missing); %s/pybundle-%d (on a noexec mount); "
                      "/dev/shm/pybundle-%d (on a noexec mount). fix: "
                      % (NATIVE_KEY, self.noexec, self.noexec, self.noexec, uid, uid), p.stderr)

    def test_lazy_import_fails_with_import_error(self):
        self.build(site={"app.py": LAZY_APP}, extract=NATIVE_EXTRACT, natives=NATIVES,
                   lazy={NATIVE_KEY: (("natdist",), None)})
        env = dict(shm_noexec=True, PYBUNDLE_ROOT=os.path.join(self.noexec, "root"),
                   TMPDIR=self.noexec)
        p = self.run_ns(**env)
        self.assertEqual(p.returncode, 0, p.stderr)  # the application caught it, not silently
        self.assertEqual(p.stderr.count("\n"), 1, p.stderr)
        self.assertTrue(p.stderr.startswith("error: pybundle has no directory to extract"), p.stderr)
        self.assertTrue(p.stdout.startswith("ImportError: error: pybundle has no directory to "
                                            "extract %s into" % NATIVE_KEY), p.stdout)
        self.assertIn("--tmpfs /tmp:exec", p.stdout)
        # uncaught: the paragraph alone, no traceback, exit status 1
        p = self.run_ns("uncaught", **env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stderr.count("\n"), 1, p.stderr)
        self.assertTrue(p.stderr.startswith("error: pybundle has no directory to extract"), p.stderr)

    def test_root_on_a_read_only_mount_is_not_checked_in_full(self):
        """Nothing can have written to a read-only mount: however old the entry, a start checks
        its native files only (and does not try to record the use)."""
        from .test_cache import APP, EXTRACT, KEY
        self.build(site={"app.py": APP}, extract=EXTRACT)
        self.assertOk(self.run_bundle())
        entry = os.path.join(self.root, "v1", "dists", KEY)
        marker = os.path.join(entry, ".pybundle-complete")
        self.set_old(marker)
        before = os.stat(marker).st_mtime
        os.unlink(os.path.join(entry, "site-packages", "dist1data", "thing.txt"))  # not a native file
        ro = "mount --bind %s %s && mount -o remount,bind,ro %s" % ((self.root,) * 3)
        cmd = ["unshare", "-m", "sh", "-c", ro + ' && exec "$0" "$@"', self.bundle]
        p = self.run_bundle(cmd=cmd, env={"PYBUNDLE_VERBOSE": "1"})
        self.assertNotIn("verified", p.stderr)
        self.assertIn("cache hit %s" % entry, p.stderr)
        self.assertEqual(before, os.stat(marker).st_mtime)
        # on a writable mount the same entry gets the full check, and is repaired
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_VERBOSE": "1"}))
        self.assertIn("verified %s" % KEY, p.stderr)
        self.assertIn("(missing file: site-packages/dist1data/thing.txt); repairing it", p.stderr)

    def test_pure_entries_stay(self):
        self.build(site={"app.py": NATIVE_APP}, extract=NATIVE_EXTRACT)  # no native files listed
        root = os.path.join(self.noexec, "root")
        p = self.assertOk(self.run_ns(PYBUNDLE_ROOT=root))
        self.assertEqual(p.stderr, "")
        self.assertIn("dir=%s" % os.path.join(root, "v1", "dists", NATIVE_KEY, "site-packages", "natdist"), p.stdout)


TWO = dict(NATIVE_EXTRACT)
TWO["second-1.0-0123456789abcdef"] = {"second.py": "X = 2\n"}
TWO_APP = NATIVE_APP.replace("import natdist", "import natdist, second")


class WarningsTest(BundleTest):
    def test_one_fallback_warning_per_start(self):
        self.build(site={"app.py": TWO_APP}, extract=TWO, natives=NATIVES,
                   lazy={"second-1.0-0123456789abcdef": (("second",), None)})
        blocker = os.path.join(self.tmp, "file")
        open(blocker, "w").close()
        for _ in range(2):  # first start (extracts) and a later one (finds them in the fallback)
            p = self.assertOk(self.run_bundle(env={"PYBUNDLE_ROOT": os.path.join(blocker, "root")}))
            self.assertEqual(p.stderr.count("\n"), 1, p.stderr)
            self.assertIn("warning: cannot use the cache directory", p.stderr)


class LeftoversTest(BundleTest):
    def test_warm_start_removes_old_leftovers(self):
        """Crash leftovers in v1/tmp go on a warm start too, at the hourly check (issue 21)."""
        from .test_cache import APP, EXTRACT, KEY
        self.build(site={"app.py": APP}, extract=EXTRACT)
        self.assertOk(self.run_bundle())
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        old = os.path.join(self.root, "v1", "tmp", "%s.%d.abcd1234" % (KEY, dead.pid))
        os.makedirs(os.path.join(old, "x"))
        self.set_old(old)
        self.assertOk(self.run_bundle())  # marker fresh: the warm path lists nothing
        self.assertTrue(os.path.exists(old))
        self.set_old(os.path.join(self.root, "v1", "dists", KEY, ".pybundle-complete"))
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_VERBOSE": "1"}))
        self.assertNotIn("pybundle: extracted", p.stderr)
        self.assertFalse(os.path.exists(old))


class PinTest(BundleTest):
    """Roots are resolved once and checked from `/` down (issue 21, item 1)."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root to make files owned by another user")
        self.build(site={"app.py": NATIVE_APP}, extract=NATIVE_EXTRACT, natives=NATIVES)

    def test_link_of_another_user_refused(self):
        real = os.path.join(self.tmp, "real")
        os.mkdir(real, 0o700)
        link = os.path.join(self.tmp, "link")
        os.symlink(real, link)
        os.lchown(link, OTHER_UID, OTHER_UID)
        for var in ("PYBUNDLE_ROOT", "PYBUNDLE_ROOTS"):
            p = self.run_bundle(env={var: link})
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertEqual(p.stderr.count("\n"), 1, p.stderr)
            self.assertIn("refusing to use the pybundle cache directory %s: it is or passes through "
                          "%s, a link owned by uid %d" % (link, link, OTHER_UID), p.stderr)
        # a link of our own is followed, and the resolved path is used
        os.lchown(link, 0, 0)
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_ROOT": link}))
        self.assertIn("dir=%s/v1/dists/" % real, p.stdout)

    def test_directory_of_another_user_refused(self):
        theirs = os.path.join(self.tmp, "theirs")
        os.mkdir(theirs, 0o755)
        os.chown(theirs, OTHER_UID, OTHER_UID)
        p = self.run_bundle(env={"PYBUNDLE_ROOT": os.path.join(theirs, "root")})
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("passes through %s, a directory owned by uid %d with mode 0755"
                      % (theirs, OTHER_UID), p.stderr)
        self.assertFalse(os.path.exists(os.path.join(theirs, "root")))
        # group-writable, even if ours
        os.chown(theirs, 0, 0)
        os.chmod(theirs, 0o775)
        p = self.run_bundle(env={"PYBUNDLE_ROOT": os.path.join(theirs, "root")})
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("passes through %s, a directory owned by" % theirs, p.stderr)
        # sticky and world-writable (like /tmp) is fine as a parent of our own directory
        os.chmod(theirs, 0o1777)
        self.assertOk(self.run_bundle(env={"PYBUNDLE_ROOT": os.path.join(theirs, "root")}))

    def test_swapped_link_changes_nothing(self):
        """The root is resolved once: a link swapped while the program runs moves nothing."""
        app = textwrap.dedent('''\
            import os
            def main():
                import natdist
                os.replace(os.environ["SWAP"], os.environ["LINK"])
                import second
                print("natdist=%s" % natdist.__file__)
                print("second=%s" % second.__file__)
        ''')
        self.build(site={"app.py": app}, extract=TWO, natives=NATIVES,
                   lazy={NATIVE_KEY: (("natdist",), None),
                         "second-1.0-0123456789abcdef": (("second",), None)})
        a, b = os.path.join(self.tmp, "a"), os.path.join(self.tmp, "b")
        os.mkdir(a, 0o700)
        os.mkdir(b, 0o700)
        link, swap = os.path.join(self.tmp, "link"), os.path.join(self.tmp, "swap")
        os.symlink(a, link)
        os.symlink(b, swap)
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_ROOT": link, "SWAP": swap, "LINK": link}))
        self.assertIn("natdist=%s/v1/dists/%s/site-packages/natdist/__init__.py" % (a, NATIVE_KEY), p.stdout)
        self.assertIn("second=%s/v1/dists/second-1.0-0123456789abcdef/site-packages/second.py" % a, p.stdout)
        self.assertEqual(os.readlink(link), b)
        self.assertEqual(os.listdir(b), [])

    def test_cache_left_by_root_gets_a_hint_the_user_can_follow(self):
        """A user refused a root-owned cache in their home is not told to chown it."""
        if not shutil.which("setpriv") or not os.access("/usr/bin/python3", os.X_OK):
            self.skipTest("needs setpriv and /usr/bin/python3 to run as another user")
        os.chmod(self.tmp, 0o755)
        os.chmod(self.bundle, 0o755)
        os.chown(self.home, OTHER_UID, OTHER_UID)
        cache = os.path.join(self.home, ".cache", "pybundle")
        os.makedirs(cache, 0o700)  # made by a run as root
        cmd = ["setpriv", "--reuid=%d" % OTHER_UID, "--regid=%d" % OTHER_UID, "--clear-groups",
               "/usr/bin/python3", self.bundle]
        p = self.run_bundle(cmd=cmd, env={"PYBUNDLE_ROOT": None})
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stderr.count("\n"), 1, p.stderr)
        self.assertIn("refusing to use the pybundle cache directory %s: it is owned by root" % cache,
                      p.stderr)
        self.assertIn("fix: have %s removed by its owner or an administrator (`sudo rm -r %s`"
                      % (cache, cache), p.stderr)
        self.assertNotIn("chown", p.stderr)

    def test_home_of_another_user(self):
        """Root running with a user's HOME does not leave a root-owned cache there."""
        os.chown(self.home, OTHER_UID, OTHER_UID)
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_ROOT": None}))
        fb = os.path.join(self.tmp, "tmpdir", "pybundle-%d" % os.getuid())
        self.assertIn("dir=%s/v1/dists/" % fb, p.stdout)
        self.assertEqual(os.listdir(self.home), [])
        self.assertIn("%s/.cache/pybundle (%s is owned by uid %d); using %s instead"
                      % (self.home, self.home, OTHER_UID, fb), p.stderr)


if __name__ == "__main__":
    unittest.main()
