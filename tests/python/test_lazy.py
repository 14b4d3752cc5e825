"""Entries extracted on first import (EXTRACT items with top-level names)."""
import os
import stat
import textwrap

from .helpers import BundleTest

KEY = "lazy1-1.0-0123456789abcdef"
NS_KEY = "nspart-2.0-fedcba9876543210"
APP = textwrap.dedent('''\
    import os, sys
    def child_import(name):
        return __import__(name).X
    def main():
        cmd = sys.argv[1:] or ["none"]
        root = os.environ["PYBUNDLE_ROOT"]
        print("before=%s" % os.path.isdir(os.path.join(root, "v1", "dists")))
        if "version" in cmd:
            import importlib.metadata as md
            print("version=%s" % md.version("lazy1"))
            print("after-metadata=%s" % os.path.isdir(os.path.join(root, "v1", "dists")))
        if "locate" in cmd:
            import importlib.metadata as md
            p = md.distribution("lazy1").locate_file("lazy1/data.txt")
            print("located=%s" % open(str(p)).read())
        if "import" in cmd:
            import lazy1
            print("lazy1=%s" % lazy1.__file__)
            print("data=%s" % open(os.path.join(os.path.dirname(lazy1.__file__), "data.txt")).read())
            print("exec=%s" % os.access(os.path.join(os.path.dirname(lazy1.__file__), "tool"), os.X_OK))
            own = [i for i, p in enumerate(sys.path) if p.endswith(".pyz/site-packages/")][0]
            print("path-offset=%d" % (sys.path.index(os.path.dirname(os.path.dirname(lazy1.__file__))) - own))
        if "ns" in cmd:
            import nsp.zipped, nsp.ondisk
            print("ns=%s %s" % (nsp.zipped.V, nsp.ondisk.V))
        if "threads" in cmd:
            import threading
            got = []
            ts = [threading.Thread(target=lambda n=n: got.append(__import__(n).__name__))
                  for n in ("lazy1", "nsp.ondisk", "lazy1")]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            print("threads=%s" % sorted(got))
        if "spawn" in cmd:
            import multiprocessing as mp
            ctx = mp.get_context("spawn")
            with ctx.Pool(1) as pool:
                print("spawn=%s" % pool.apply(child_import, ("lazy1",)))
        if "missing" in cmd:
            try:
                import lazy1.nope
            except ImportError as e:
                print("missing=%s" % e.name)
        print("after=%s" % sorted(os.listdir(os.path.join(root, "v1", "dists")))
              if os.path.isdir(os.path.join(root, "v1", "dists")) else "after=[]")
''')
EXTRACT = {
    KEY: {
        "lazy1/__init__.py": "X = 1\n",
        "lazy1/data.txt": "payload",
        "lazy1/tool": ("#!/bin/sh\necho hi\n", 0o755),
        "lazy1-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: lazy1\nVersion: 1.0\n",
        "lazy1-1.0.dist-info/RECORD": "",
    },
    NS_KEY: {"nsp/ondisk.py": "V = 'disk'\n"},
}
LAZY = {KEY: (("lazy1",), "lazy1-1.0.dist-info"), NS_KEY: (("nsp",), None)}
SITE = {"app.py": APP, "nsp/": "", "nsp/zipped.py": "V = 'zip'\n"}


class LazyTest(BundleTest):
    def setUp(self):
        super().setUp()
        self.build(site=SITE, extract=EXTRACT, lazy=LAZY, dists=())
        self.entry = os.path.join(self.root, "v1", "dists", KEY)

    def test_not_imported_not_extracted(self):
        p = self.assertOk(self.run_bundle("none", env={"PYBUNDLE_VERBOSE": "1"}))
        self.assertIn("before=False", p.stdout)
        self.assertIn("after=[]", p.stdout)
        self.assertIn("0 extracted dir(s), 2 on first import", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.root, "v1")))

    def test_first_import_extracts_then_cache_hit(self):
        p = self.assertOk(self.run_bundle("import", env={"PYBUNDLE_VERBOSE": "1"}))
        self.assertIn("lazy1=%s/site-packages/lazy1/__init__.py" % self.entry, p.stdout)
        self.assertIn("data=payload", p.stdout)
        self.assertIn("exec=True", p.stdout)
        self.assertIn("after=['%s']" % KEY, p.stdout)  # only the imported entry
        self.assertIn("mounted %s" % KEY, p.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.entry, "site-packages", "lazy1", "data.txt")).st_mode), 0o644)
        p = self.assertOk(self.run_bundle("import", env={"PYBUNDLE_VERBOSE": "1"}))
        self.assertIn("cache hit", p.stderr)
        self.assertNotIn("pybundle: extracted", p.stderr)
        self.assertIn("path-offset=1", p.stdout)  # right behind the bundle's own entry

    def test_metadata_without_extraction(self):
        p = self.assertOk(self.run_bundle("version"))
        self.assertIn("version=1.0", p.stdout)
        self.assertIn("after-metadata=False", p.stdout)

    def test_locate_file_extracts(self):
        p = self.assertOk(self.run_bundle("locate"))
        self.assertIn("located=payload", p.stdout)
        self.assertIn("after=['%s']" % KEY, p.stdout)

    def test_namespace_portions_zip_and_disk(self):
        p = self.assertOk(self.run_bundle("ns"))
        self.assertIn("ns=zip disk", p.stdout)
        self.assertIn("after=['%s']" % NS_KEY, p.stdout)

    def test_concurrent_first_imports(self):
        p = self.assertOk(self.run_bundle("threads"))
        self.assertIn("threads=['lazy1', 'lazy1', 'nsp']", p.stdout)
        self.assertIn("after=['%s', '%s']" % (KEY, NS_KEY), p.stdout)

    def test_spawned_children_find_pending_entries(self):
        # the parent never imports lazy1; a spawn child gets sys.path but not the finders
        p = self.assertOk(self.run_bundle("spawn"))
        self.assertIn("spawn=1", p.stdout)

    def test_missing_submodule_is_an_import_error(self):
        p = self.assertOk(self.run_bundle("missing"))
        self.assertIn("missing=lazy1.nope", p.stdout)

    def test_extend_pythonpath_extracts_everything_at_start(self):
        p = self.assertOk(self.run_bundle("none", env={"PYBUNDLE_EXTEND_PYTHONPATH": "1"}))
        self.assertIn("before=True", p.stdout)
        self.assertIn("after=['%s', '%s']" % (KEY, NS_KEY), p.stdout)
