"""Code from the bundle as the interpreter would have made it: at its optimisation level (-O,
-OO, PYTHONOPTIMIZE) as from a venv, with the paths of its files in every code object (the store,
extracted entries and their bytecode pack, ``_pybundle`` itself, also after a rename), so that
tracebacks show the path and the line."""
import os
import subprocess
import sys
import textwrap
import time
import unittest

from .helpers import BOOTSTRAP, BundleTest, pyc

KEY = "extdist-1.0-0123456789abcdef"
# The same module, in the store (storemod), extracted (extmod) and in a plain directory (venv).
MOD = textwrap.dedent('''\
    """the module's docstring"""


    def asserts():
        try:
            assert False, "asserted"
        except AssertionError:
            return "raised"
        return "skipped"


    def boom():
        raise ValueError("boom-" + __name__)  # the line a traceback shows


    def report():
        return "debug=%s assert=%s doc=%r" % (__debug__, asserts(), __doc__)
''')
APP = textwrap.dedent('''\
    import inspect, linecache, os, sys
    import extmod, storemod


    def main():
        import _pybundle

        for m in (storemod, extmod):
            print("%s %s" % (m.__name__, m.report()))
            f = inspect.getsourcefile(m.boom)
            print("%s-co=%s" % (m.__name__, m.boom.__code__.co_filename))
            print("%s-src=%s exists=%s" % (m.__name__, f, os.path.exists(f)))
            line = m.boom.__code__.co_firstlineno + 1
            print("%s-line=%s" % (m.__name__, linecache.getline(m.__file__, line, m.__dict__).strip()))
        print("bootstrap-doc=%s" % (_pybundle.log.__doc__ is not None))
        print("bootstrap-co=%s" % _pybundle.main.__code__.co_filename)
        if sys.argv[1:] == ["boom-store"]:
            storemod.boom()
        if sys.argv[1:] == ["boom-ext"]:
            extmod.boom()
        if sys.argv[1:] == ["child"]:  # a PYBUNDLE_EXTEND_PYTHONPATH child
            import subprocess

            code = ("import _pybundle._child as c, storemod; print(c.install.__code__.co_filename); "
                    "print('child-doc=%s' % (c.install.__doc__ is not None))")
            subprocess.check_call([sys.executable, "-c", code])
            subprocess.check_call([sys.executable, "-OO", "-c", code])
''')


def _venv_report(flags, env=None):
    """What the module says from a plain directory on sys.path (a venv's site-packages)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "plainmod.py"), "w") as f:
            f.write(MOD)
        out = subprocess.run([sys.executable] + flags + ["-c", "import plainmod; print(plainmod.report())"],
                             cwd=d, env=env, stdout=subprocess.PIPE, universal_newlines=True, check=True)
        return out.stdout.strip()


class OptimizeTest(BundleTest):
    def setUp(self):
        super().setUp()
        tag = sys.implementation.cache_tag
        # the entry's bytecode as pybundle ships it: level 0, compiled under its relative path
        self.build(site={"app.py": APP, "storemod.py": MOD}, bootstrap_pyc=True, extract={KEY: {
            "extmod.py": MOD, "__pycache__/extmod.%s.pyc" % tag: pyc(MOD.encode(), "extmod.py")}})
        self.site = os.path.join(self.root, "v1", "dists", KEY, "site-packages")

    def run_with(self, flags, *args, **env):
        return self.run_bundle(*args, cmd=[sys.executable] + flags + [self.bundle], env=env)

    def test_levels_behave_as_from_a_venv(self):
        base = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        for flags, env in (([], {}), (["-O"], {}), (["-OO"], {}), ([], {"PYTHONOPTIMIZE": "2"})):
            want = _venv_report(flags, dict(base, **env))
            for run in range(2):  # the first start (extracts, compiles) and a warm one
                out = self.assertOk(self.run_with(flags, **env)).stdout
                for mod in ("storemod", "extmod"):
                    self.assertIn("%s %s\n" % (mod, want), out, (flags, env, run))
                level = 2 if "-OO" in flags or env else 1 if flags else 0
                self.assertIn("bootstrap-doc=%s" % (level < 2), out, (flags, env))
        self.assertIn("debug=False assert=skipped doc=None", _venv_report(["-OO"]))

    def test_store_levels_are_kept_in_the_cache(self):
        dists = os.path.join(self.root, "v1", "dists")
        self.assertOk(self.run_with(["-O"], PYTHONDONTWRITEBYTECODE="1"))  # as a venv: nothing
        self.assertEqual([d for d in os.listdir(dists) if ".opt" in d], [])
        for flags, level in ((["-O"], 1), (["-OO"], 2)):
            self.assertOk(self.run_with(flags))
            opt = [d for d in os.listdir(dists) if ".opt%d-" % level in d]
            self.assertEqual(len(opt), 1, os.listdir(dists))
            entry = os.path.join(dists, opt[0])
            self.assertEqual(sorted(os.listdir(entry)), [".pybundle-complete", "app.pyc", "storemod.pyc"])
            marker = os.path.join(entry, ".pybundle-complete")
            self.set_old(marker)  # its last use is recorded (hourly), for `cache prune`
            self.assertOk(self.run_with(flags))
            self.assertLess(time.time() - os.stat(marker).st_mtime, 600)
            # the next start reads it: a file headed for another source is compiled anew
            with open(os.path.join(entry, "storemod.pyc"), "r+b") as f:
                f.seek(12)
                f.write(b"\0\0\0\0")
            out = self.assertOk(self.run_with(flags)).stdout
            self.assertIn("storemod " + _venv_report(flags), out)
            with open(os.path.join(entry, "storemod.pyc"), "rb") as f:
                self.assertNotEqual(f.read()[12:16], b"\0\0\0\0")  # rewritten
        # a root that cannot be made (under a file; root could write anywhere): compiled in
        # memory, same semantics
        afile = os.path.join(self.tmp, "afile")
        open(afile, "w").close()
        p = self.assertOk(self.run_with(["-OO"], PYBUNDLE_ROOT=os.path.join(afile, "root"), PYBUNDLE_VERBOSE="1"))
        self.assertIn("storemod " + _venv_report(["-OO"]), p.stdout)
        self.assertIn("no cache for the store's level 2 bytecode", p.stderr)

    def test_code_objects_name_their_files(self):
        out = self.assertOk(self.run_with([])).stdout
        store = self.bundle + "/site-packages/storemod.py"
        ext = os.path.join(self.site, "extmod.py")
        self.assertIn("storemod-co=%s\n" % store, out)
        self.assertIn("extmod-co=%s\n" % ext, out)  # served from the pack: its real path
        # a zipimport user gets the path inside the bundle; an extracted file exists
        self.assertIn("storemod-src=%s exists=False" % store, out)
        self.assertIn("extmod-src=%s exists=True" % ext, out)
        for mod in ("storemod", "extmod"):
            self.assertIn('%s-line=raise ValueError("boom-" + __name__)' % mod, out)
        self.assertIn("bootstrap-co=%s/_pybundle/__init__.py\n" % self.bundle, out)

    def test_tracebacks_show_path_and_line(self):
        for flags in ([], ["-O"]):
            for arg, path in (("boom-store", self.bundle + "/site-packages/storemod.py"),
                              ("boom-ext", os.path.join(self.site, "extmod.py"))):
                p = self.run_with(flags, arg)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn('File "%s", line 13, in boom\n    raise ValueError' % path, p.stderr)
                self.assertIn('File "%s/_pybundle/__init__.py", line ' % self.bundle, p.stderr)

    def test_renamed_bundle(self):
        self.assertOk(self.run_with([]))
        renamed = os.path.join(self.tmp, "app-1.2.pyz")
        os.rename(self.bundle, renamed)
        p = self.run_bundle("boom-store", cmd=[sys.executable, renamed])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn('File "%s/site-packages/storemod.py", line 13, in boom\n' % renamed, p.stderr)
        self.assertIn('File "%s/_pybundle/__init__.py", line ' % renamed, p.stderr)
        self.assertNotIn("app.pyz", p.stderr)
        self.assertIn("bootstrap-co=%s/_pybundle/__init__.py\n" % renamed, p.stdout)
        child = self.run_bundle("child", cmd=[sys.executable, renamed],
                                env={"PYBUNDLE_EXTEND_PYTHONPATH": "1"})
        self.assertOk(child)
        lines = child.stdout.splitlines()
        self.assertEqual(lines.count("%s/_pybundle/_child.py" % renamed), 2, child.stdout)
        self.assertIn("child-doc=True", lines)  # level 0
        self.assertIn("child-doc=False", lines)  # -OO: compiled from the source, as the start does


class BootstrapLevelTest(unittest.TestCase):
    def test_no_asserts_in_the_bootstrap(self):
        """Under -O the guard serves ``_pybundle``'s level-0 bytecode (only -OO recompiles it, for
        its docstrings): right only while the package has no assert and no ``__debug__``."""
        import ast

        for d, _dirs, files in os.walk(BOOTSTRAP):
            for name in files:
                if name.endswith(".py"):
                    with open(os.path.join(d, name), encoding="utf-8") as f:
                        tree = ast.parse(f.read())
                    for node in ast.walk(tree):
                        self.assertNotIsInstance(node, ast.Assert, "%s:%s" % (name, getattr(node, "lineno", 0)))
                        if isinstance(node, ast.Name):
                            self.assertNotEqual(node.id, "__debug__", "%s:%s" % (name, node.lineno))


if __name__ == "__main__":
    unittest.main()
