import os
import subprocess
import sys
import textwrap

from .helpers import BundleTest

KEY = "nsdist-2.0-00000000deadbeef"
NSPKG = ("import sys, types, os;p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('nsp',));"
         "ie = os.path.exists(os.path.join(p,'__init__.py'));"
         "m = not ie and sys.modules.setdefault('nsp', types.ModuleType('nsp'));"
         "mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)\n")

APP = textwrap.dedent('''\
    import os, sys
    def main():
        for name in sys.argv[1:]:
            try:
                __import__(name)
                mod = sys.modules[name]
                print("%s=%s" % (name, getattr(mod, "__file__", None)))
            except ImportError:
                print("%s=MISSING" % name)
        print("PATH=" + repr(sys.path))
        print("PTH_SITEDIR=%s" % os.environ.get("PTH_SITEDIR"))
        print("PYTHONPATH=%s" % os.environ.get("PYTHONPATH"))

    def child():
        import subprocess
        rc = subprocess.call([sys.executable, "-c", "import zmod, nsp.sub; print('child', zmod.V, nsp.sub.V)"])
        print("child-rc=%d" % rc)
''')


class PathTest(BundleTest):
    def setUp(self):
        super().setUp()
        self.build(
            site={"app.py": APP, "zmod.py": "V = 'zip'\n", "extra_in_zip/zextra.py": "V = 1\n",
                  "a.pth": "# comment\n\nextra_in_zip\nimport os; os.environ['PTH_SITEDIR'] = sitedir\n"},
            extract={KEY: {"nsp/sub.py": "V = 'ns'\n", "nsdist-2.0-nspkg.pth": NSPKG,
                           "b.pth": "more\nmissing_dir\n", "more/moremod.py": "V = 2\n"}},
            pth=(("", "a.pth"), ("extract/" + KEY, "nsdist-2.0-nspkg.pth"),
                 ("extract/" + KEY, "b.pth")),
        )
        self.entry = os.path.join(self.root, "v1", "dists", KEY, "site-packages")

    def _lines(self, out):
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def test_pth_processing_and_order(self):
        p = self.assertOk(self.run_bundle("zextra", "nsp.sub", "moremod", "zmod"))
        d = self._lines(p.stdout)
        self.assertEqual(d["zextra"], self.bundle + "/site-packages/extra_in_zip/zextra.py")
        self.assertEqual(d["nsp.sub"], os.path.join(self.entry, "nsp", "sub.py"))
        self.assertEqual(d["moremod"], os.path.join(self.entry, "more", "moremod.py"))
        self.assertEqual(d["PTH_SITEDIR"], self.bundle + "/site-packages")
        path = eval(d["PATH"])
        # The stdlib comes first, then the bundle, then the extracted distributions.
        i_sp = path.index(self.bundle + "/site-packages/")
        i_ex = path.index(self.entry)
        self.assertLess(i_sp, i_ex)
        self.assertGreater(i_sp, 0)
        self.assertTrue(all(p.startswith(sys.base_prefix) or p.startswith(sys.prefix) for p in path[:i_sp]), path)
        self.assertNotIn(os.path.join(self.entry, "missing_dir"), path)
        self.assertFalse(any("site-packages" in p and not p.startswith((self.bundle, self.root)) for p in path), path)

    def test_nspkg_line(self):
        p = self.assertOk(self.run_bundle("nsp.sub", "nsp", env={"PYBUNDLE_VERBOSE": "1"}))
        d = self._lines(p.stdout)
        self.assertEqual(os.path.dirname(d["nsp.sub"]), os.path.join(self.entry, "nsp"))
        # created by the legacy nspkg line (a plain module without __file__), not by the import system
        self.assertEqual(d["nsp"], "None")

    def test_extend_pythonpath(self):
        self.build(site={"app.py": APP, "zmod.py": "V = 'zip'\n"},
                   extract={KEY: {"nsp/__init__.py": "", "nsp/sub.py": "V = 'ns'\n"}},
                   entry=("function", "app", "child"))
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_EXTEND_PYTHONPATH": "1", "PYTHONPATH": "/prior"}))
        self.assertIn("child zip ns", p.stdout)
        self.assertIn("child-rc=0", p.stdout)
        p = self.assertOk(self.run_bundle())
        self.assertIn("child-rc=1", p.stdout)
        # the child's PYTHONPATH: the hook's directory, the bundle (zipimport), its store, the
        # extracted entries, the old PYTHONPATH, whose own sitecustomize still runs
        host = os.path.join(self.tmp, "host")
        os.makedirs(host)
        with open(os.path.join(host, "sitecustomize.py"), "w") as f:
            f.write("import os\nos.environ['HOST_SITECUSTOMIZE'] = 'ran'\n")
        self.build(site={"app.py": APP.replace("print('child'", "import os; print(os.environ.get('HOST_SITECUSTOMIZE'), 'child'"),
                         "zmod.py": "V = 'zip'\n"},
                   extract={KEY: {"nsp/__init__.py": "", "nsp/sub.py": "V = 'ns'\n"}},
                   entry=("function", "app", "child"))
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_EXTEND_PYTHONPATH": "1", "PYTHONPATH": host}))
        self.assertIn("ran child zip ns", p.stdout)

    def _user_site(self, env):
        out = subprocess.check_output([sys.executable, "-c", "import site; print(site.getusersitepackages())"],
                                      env=env, universal_newlines=True)
        return out.strip()

    def test_inherit_path(self):
        userbase = os.path.join(self.tmp, "userbase")
        env = {"PYTHONUSERBASE": userbase}
        usersite = self._user_site(self.env(**env))
        os.makedirs(usersite)
        hostextra = os.path.join(self.tmp, "hostextra")
        os.makedirs(hostextra)
        with open(os.path.join(usersite, "hostmod.py"), "w") as f:
            f.write("V = 'host'\n")
        with open(os.path.join(usersite, "zmod.py"), "w") as f:
            f.write("V = 'host-shadow'\n")
        with open(os.path.join(hostextra, "hostextramod.py"), "w") as f:
            f.write("V = 1\n")
        with open(os.path.join(usersite, "host.pth"), "w") as f:
            f.write(hostextra + "\nimport hostpthmod\n")
        with open(os.path.join(usersite, "hostpthmod.py"), "w") as f:
            f.write("")
        pypath = os.path.join(self.tmp, "pypath")
        os.makedirs(pypath)
        with open(os.path.join(pypath, "ppmod.py"), "w") as f:
            f.write("")
        # sanity: plain python sees the user site
        self.assertIn(usersite, subprocess.check_output(
            [sys.executable, "-c", "import sys; print(sys.path)"], env=self.env(**env), universal_newlines=True))
        p = self.assertOk(self.run_bundle("hostmod", "hostextramod", "ppmod", env=dict(env, PYTHONPATH=pypath)))
        d = self._lines(p.stdout)
        self.assertEqual(d["hostmod"], "MISSING")
        self.assertEqual(d["hostextramod"], "MISSING")
        self.assertEqual(d["ppmod"], os.path.join(pypath, "ppmod.py"))
        path = eval(d["PATH"])
        self.assertNotIn(usersite, path)
        self.assertGreater(path.index(pypath), path.index(self.bundle + "/site-packages/"))

        p = self.assertOk(self.run_bundle("hostmod", "hostextramod", "zmod",
                                          env=dict(env, PYBUNDLE_INHERIT_PATH="1")))
        d = self._lines(p.stdout)
        self.assertEqual(d["hostmod"], os.path.join(usersite, "hostmod.py"))
        self.assertEqual(d["hostextramod"], os.path.join(hostextra, "hostextramod.py"))
        self.assertEqual(d["zmod"], self.bundle + "/site-packages/zmod.py")  # bundle wins
        path = eval(d["PATH"])
        self.assertGreater(path.index(usersite), path.index(self.entry))

        # the baked INHERIT_PATH does the same
        self.build(site={"app.py": APP}, inherit=True)
        d = self._lines(self.assertOk(self.run_bundle("hostmod", env=env)).stdout)
        self.assertEqual(d["hostmod"], os.path.join(usersite, "hostmod.py"))
