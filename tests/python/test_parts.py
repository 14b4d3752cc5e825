"""Subpackages of an extracted entry written on their first import (``_parts``)."""
import os
import subprocess
import sys
import textwrap

from .helpers import BundleTest

KEY = "pkg-1.0-0123456789abcdef"
APP = textwrap.dedent('''\
    import os, subprocess, sys
    def child_b():
        import pkg.b
        return pkg.b.DATA
    def main():
        cmd = sys.argv[1:]
        import pkg
        print("core=%s" % pkg.core.V)
        if "list" in cmd:
            import pkgutil
            print("listed=%s" % sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)))
        if "a" in cmd:
            import pkg.a
            print("a=%s %s" % (pkg.a.DATA, pkg.a.__file__))
        if "spawn" in cmd:
            import multiprocessing as mp
            with mp.get_context("spawn").Pool(1) as pool:
                print("spawn=%s" % pool.apply(child_b))
        if "child" in cmd:
            out = subprocess.run([sys.executable, "-c", "import pkg.b; print(pkg.b.DATA)"],
                                 stdout=subprocess.PIPE, universal_newlines=True)
            print("child=%s" % out.stdout.strip())
''')
FILES = {
    "pkg/__init__.py": "from . import core\n",
    "pkg/core.py": "V = 'core'\n",
    "pkg/a/__init__.py": "import os\nDATA = open(os.path.join(os.path.dirname(__file__), 'a.txt')).read()\n",
    "pkg/a/a.txt": "alpha",
    "pkg/b/__init__.py": "import os\nDATA = open(os.path.join(os.path.dirname(__file__), 'b.txt')).read()\n",
    "pkg/b/b.txt": "beta",
    "pkg/b/_native.so": "not loaded",
}


class Parts(BundleTest):
    def make(self):
        return self.build(site={"app.py": APP}, extract={KEY: FILES}, lazy={KEY: (("pkg",), None)},
                          natives={KEY: ["pkg/b/_native.so"]}, parts={KEY: ["pkg/a", "pkg/b"]})

    def written(self):
        site = os.path.join(self.root, "v1", "dists", KEY, "site-packages")
        out = []
        for d, _, names in os.walk(site):
            out += [os.path.relpath(os.path.join(d, n), site) for n in names if "__pycache__" not in d]
        return sorted(out)

    def test_each_is_written_on_its_first_import(self):
        self.make()
        p = self.run_bundle("list")
        self.assertOk(p)
        self.assertIn("core=core", p.stdout)
        self.assertIn("listed=['a', 'b', 'core']", p.stdout)
        self.assertEqual(self.written(), ["pkg/__init__.py", "pkg/core.py"])
        p = self.run_bundle("a")
        self.assertOk(p)
        site = os.path.join(self.root, "v1", "dists", KEY, "site-packages")
        self.assertIn("a=alpha %s" % os.path.join(site, "pkg", "a", "__init__.py"), p.stdout)
        self.assertNotIn("pkg/b/b.txt", self.written())
        self.assertTrue(os.path.isfile(os.path.join(self.root, "v1", "dists", KEY, ".pybundle-parts", "pkg.a.list")))
        self.assertEqual(os.listdir(os.path.join(self.root, "v1", "tmp")), [])

    def test_starts_that_race_all_succeed(self):
        b = self.make()
        procs = [subprocess.Popen([b, "a"], env=self.env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, universal_newlines=True) for _ in range(4)]
        for p in procs:
            out, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err)
            self.assertIn("a=alpha", out)
        self.assertIn("pkg/a/a.txt", self.written())
        self.assertEqual(os.listdir(os.path.join(self.root, "v1", "tmp")), [])

    def test_spawned_children_find_every_part(self):
        self.make()
        p = self.run_bundle("spawn")
        self.assertOk(p)
        self.assertIn("spawn=beta", p.stdout)

    def test_children_on_the_pythonpath_find_every_part(self):
        self.make()
        p = self.run_bundle("child", env={"PYBUNDLE_EXTEND_PYTHONPATH": "1"})
        self.assertOk(p)
        self.assertIn("child=beta", p.stdout)
