"""Distributions extracted in part: one package subtree (a unit) on disk, the rest in the store."""
import os
import textwrap

from .helpers import BundleTest

SUB = "pkg-1.0-0123456789abcdef"
MAIN = "pm-2.0-fedcba9876543210"
APP = textwrap.dedent('''\
    import os, subprocess, sys
    def child_data():
        import pkg.sub
        return pkg.sub.DATA
    def main():
        cmd = sys.argv[1:] or ["none"]
        root = os.environ["PYBUNDLE_ROOT"]
        dists = os.path.join(root, "v1", "dists")
        import pkg, pkg.other, pm, pm.core
        print("store=%s %s" % (pkg.other.V, pm.core.V))
        if "list" in cmd:
            import pkgutil
            print("listed=%s" % sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)))
            import importlib.metadata as md
            print("version=%s" % md.version("pkg"))
        if "sub" in cmd:
            import pkg.sub, pkg.sub.mod
            print("sub=%s" % pkg.sub.__file__)
            print("data=%s" % pkg.sub.DATA)
            print("mod=%s" % pkg.sub.mod.__file__)
            print("parent=%s" % pkg.__file__)
        if "main" in cmd:
            import runpy
            runpy.run_module("pm.__main__", run_name="__main__")
        if "spawn" in cmd:
            import multiprocessing as mp
            with mp.get_context("spawn").Pool(1) as pool:
                print("spawn=%s" % pool.apply(child_data))
        if "child" in cmd:
            out = subprocess.run([sys.executable, "-c", "import pkg.sub; print(pkg.sub.DATA)"],
                                 stdout=subprocess.PIPE, universal_newlines=True)
            print("child=%s" % out.stdout.strip())
        print("after=%s" % (sorted(os.listdir(dists)) if os.path.isdir(dists) else []))
''')
SITE = {
    "app.py": APP,
    "pkg/__init__.py": "",
    "pkg/other.py": "V = 'other'\n",
    # the unit's `__init__.py` stays in the store for listings; never imported from there
    "pkg/sub/__init__.py": "raise ImportError('imported from the store')\n",
    "pkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n",
    "pkg-1.0.dist-info/RECORD": "",
    "pm/__init__.py": "",
    "pm/core.py": "V = 'core'\n",
}
EXTRACT = {
    SUB: {
        "pkg/sub/__init__.py": "import os\nHERE = os.path.dirname(__file__)\n"
                               "DATA = open(os.path.join(HERE, 'data.txt')).read()\n",
        "pkg/sub/data.txt": "payload",
        "pkg/sub/mod.py": "",
    },
    MAIN: {
        "pm/__init__.py": "",
        "pm/core.py": "V = 'core'\n",
        "pm/__main__.py": "import os\nprint('siblings=%s' % sorted(\n"
                          "    f for f in os.listdir(os.path.dirname(__file__)) if f.endswith('.py')))\n",
    },
}
LAZY = {SUB: (("pkg.sub",), None), MAIN: (("pm.__main__",), None)}
UNITS = {SUB: "pkg/sub", MAIN: "pm"}


class UnitTest(BundleTest):
    def setUp(self):
        super().setUp()
        self.build(site=SITE, extract=EXTRACT, lazy=LAZY, units=UNITS,
                   dists=(("pkg", "pkg-1.0.dist-info"),))
        self.dists_dir = os.path.join(self.root, "v1", "dists")

    def test_the_rest_runs_from_the_store_and_the_parent_lists_the_unit(self):
        p = self.assertOk(self.run_bundle("list"))
        self.assertIn("store=other core", p.stdout)
        self.assertIn("listed=['other', 'sub']", p.stdout)
        self.assertIn("version=1.0", p.stdout)
        self.assertIn("after=[]", p.stdout)

    def test_trigger_extracts_only_its_unit(self):
        p = self.assertOk(self.run_bundle("sub", env={"PYBUNDLE_VERBOSE": "1"}))
        entry = os.path.join(self.dists_dir, SUB)
        self.assertIn("sub=%s" % os.path.join(entry, "site-packages", "pkg", "sub", "__init__.py"), p.stdout)
        self.assertIn("mod=%s" % os.path.join(entry, "site-packages", "pkg", "sub", "mod.py"), p.stdout)
        self.assertIn("data=payload", p.stdout)
        self.assertNotIn("parent=%s" % entry, p.stdout)  # the parent package stays in the store
        self.assertIn("after=['%s']" % SUB, p.stdout)
        self.assertIn("mounted %s" % SUB, p.stderr)
        p = self.assertOk(self.run_bundle("sub", env={"PYBUNDLE_VERBOSE": "1"}))
        self.assertIn("cache hit", p.stderr)
        self.assertIn("data=payload", p.stdout)

    def test_module_trigger_extracts_on_python_m_only(self):
        p = self.assertOk(self.run_bundle("none"))
        self.assertIn("after=[]", p.stdout)  # `import pm` extracts nothing
        p = self.assertOk(self.run_bundle("main"))
        self.assertIn("siblings=['__init__.py', '__main__.py', 'core.py']", p.stdout)
        self.assertIn("after=['%s']" % MAIN, p.stdout)

    def test_spawn_children_find_units(self):
        p = self.assertOk(self.run_bundle("spawn"))
        self.assertIn("spawn=payload", p.stdout)

    def test_extend_pythonpath_children_find_units(self):
        p = self.assertOk(self.run_bundle("child", env={"PYBUNDLE_EXTEND_PYTHONPATH": "1"}))
        self.assertIn("child=payload", p.stdout)
        self.assertIn("after=['%s', '%s']" % (SUB, MAIN), p.stdout)
