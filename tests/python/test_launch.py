import os
import subprocess
import sys

from .helpers import BOOTSTRAP, BundleTest

SCRIPT = "#!/usr/bin/env python3\nimport sys\nprint('script', __name__, sys.argv, __file__)\nraise SystemExit(int(sys.argv[1]))\n"
BOOM = "import sys\n\nraise KeyError('from the script')\n"
SH = "#!/bin/sh\necho \"sh $$ $*\"\nexec python -E -X utf8 -m tool \"$@\"\n"
TOOL = {"tool/__init__.py": "", "tool/__main__.py":
        "import os, sys\nprint('tool', sys.argv[1:], sys.flags.ignore_environment, sys.flags.utf8_mode, "
        "os.environ.get('PYBUNDLE_PYTHON_SHIM'))\nsys.exit(6)\n"}


def _load_launch():
    """The _launch module, for its shim text (imported as part of a package like the bundle does)."""
    sys.path.insert(0, os.path.dirname(BOOTSTRAP))
    try:
        import _pybundle._launch as launch
    finally:
        sys.path.pop(0)
    return launch


class ScriptEntryTest(BundleTest):
    def test_script_in_zip(self):
        self.build(site={"bin/s": SCRIPT, "bin/boom": BOOM}, entry=("script", "", "bin/s"))
        p = self.run_bundle("3", "x")
        self.assertEqual(p.returncode, 3, p.stderr)
        name = self.bundle + "/bin/s"
        self.assertIn("script __main__ [%r, '3', 'x'] %s" % (name, name), p.stdout)
        self.build(site={"bin/s": SCRIPT, "bin/boom": BOOM}, entry=("script", "", "bin/boom"))
        p = self.run_bundle()
        self.assertEqual(p.returncode, 1)
        self.assertIn('File "%s/bin/boom", line 3, in <module>' % self.bundle, p.stderr)
        self.assertIn("    raise KeyError('from the script')", p.stderr)

    def test_script_of_a_lazy_entry(self):
        self.build(extract={"k1": {"bin/s": SCRIPT, "lazymod.py": ""}}, lazy={"k1": (("lazymod",), None)},
                   entry=("script", "extract/k1", "bin/s"))
        p = self.run_bundle("0")
        self.assertOk(p)
        path = os.path.join(self.root, "v1", "dists", "k1", "site-packages", "bin", "s")
        self.assertIn("script __main__ [%r, '0'] %s" % (path, path), p.stdout)

    def test_wrapper_gets_the_bundle_as_python(self):
        self.build(site=TOOL, extract={"k1": {"bin/w": (SH, 0o755)}}, entry=("wrapper", "extract/k1", "bin/w"))
        p = self.run_bundle("a", "b", env={"PATH": "/usr/bin:/bin"})
        self.assertEqual(p.returncode, 6, p.stderr)
        self.assertIn("sh ", p.stdout)
        self.assertIn("tool ['a', 'b'] 1 1 None", p.stdout)

    def test_executable_needs_the_execute_bit(self):
        self.build(extract={"k1": {"bin/x": "#!/bin/sh\nexit 0\n"}}, entry=("executable", "extract/k1", "bin/x"))
        p = self.run_bundle()
        self.assertEqual(p.returncode, 1)
        self.assertIn("error: cannot run `%s`" % os.path.join(self.root, "v1", "dists", "k1", "site-packages", "bin", "x"), p.stderr)


class ShimTest(BundleTest):
    def run_shim(self, *args):
        launch = _load_launch()
        fake = os.path.join(self.tmp, "fakepy")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\nfor a in \"$@\"; do printf '<%s>' \"$a\"; done\necho \" $PYBUNDLE_PYTHON_SHIM\"\n")
        os.chmod(fake, 0o755)
        shim = os.path.join(self.tmp, "python")
        with open(shim, "w") as f:
            f.write(launch.shim_text(fake, "/b dir/it's.pyz"))
        os.chmod(shim, 0o755)
        return subprocess.run([shim] + list(args), stdout=subprocess.PIPE, universal_newlines=True).stdout

    def test_interpreter_options_go_first(self):
        b = "</b dir/it's.pyz>"
        self.assertEqual(self.run_shim(), b + " 1\n")
        self.assertEqual(self.run_shim("-m", "x y", "-u"), b + "<-m><x y><-u> 1\n")
        self.assertEqual(self.run_shim("-u", "-E", "-c", "pass"), "<-u><-E>" + b + "<-c><pass> 1\n")
        self.assertEqual(self.run_shim("-W", "ignore", "-Xutf8", "-Es", "s.py", "-u"),
                         "<-W><ignore><-Xutf8><-Es>" + b + "<s.py><-u> 1\n")
        self.assertEqual(self.run_shim("-V"), "<-V>" + b + " 1\n")
        self.assertEqual(self.run_shim("--", "-u"), b + "<--><-u> 1\n")


class MulticallTest(BundleTest):
    COMMANDS = ('COMMANDS = (("hello", "function", "app", "hello"), ("bye", "function", "app", "bye"), '
                '("s", "script", "", "bin/s"))\n')
    SITE = {"app.py": "import sys\ndef hello():\n    print('hello', sys.argv)\n    return 2\n"
                      "def bye():\n    print('bye', sys.argv)\n", "bin/s": SCRIPT}

    def setUp(self):
        super().setUp()
        self.build(site=self.SITE, entry=("interpreter", None, None), main_extra=self.COMMANDS)

    def link(self, name):
        path = os.path.join(self.tmp, name)
        if not os.path.islink(path):
            os.symlink("app.pyz", path)
        return path

    def test_link_name_picks_the_command(self):
        p = self.run_bundle("x", bundle=self.link("hello"))
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("hello [%r, 'x']" % os.path.join(self.tmp, "hello"), p.stdout)
        p = self.assertOk(self.run_bundle(bundle=self.link("bye")))
        self.assertIn("bye [", p.stdout)
        p = self.run_bundle("4", bundle=self.link("s"))
        self.assertEqual(p.returncode, 4, p.stderr)

    def test_own_name(self):
        p = self.assertOk(self.run_bundle())
        self.assertEqual(p.stdout, "usage: app.pyz COMMAND [ARG]...\n   or: COMMAND [ARG]...  (through a link or copy "
                                   "of app.pyz named COMMAND)\ncommands:\n  bye\n  hello\n  s\n")
        self.assertEqual(self.assertOk(self.run_bundle("--help")).stdout, p.stdout)
        self.assertEqual(self.assertOk(self.run_bundle("--list")).stdout, "bye\nhello\ns\n")
        p = self.run_bundle("hello", "y")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("hello ['hello', 'y']", p.stdout)
        p = self.run_bundle("nope")
        self.assertEqual(p.returncode, 127)
        self.assertTrue(p.stderr.startswith("app.pyz: `nope` is not one of its commands\nusage:"), p.stderr)

    def test_default_entry_under_own_name_and_env_overrides(self):
        self.build(site=self.SITE, entry=("function", "app", "bye"), main_extra=self.COMMANDS)
        p = self.assertOk(self.run_bundle("hello"))
        self.assertIn("bye [", p.stdout)
        self.assertIn("'hello']", p.stdout)
        p = self.run_bundle(bundle=self.link("hello"), env={"PYBUNDLE_ENTRY_POINT": "app:bye"})
        self.assertIn("bye [", p.stdout)
        p = self.assertOk(self.run_bundle("-c", "print('interp')", bundle=self.link("hello"),
                                          env={"PYBUNDLE_INTERPRETER": "1"}))
        self.assertEqual(p.stdout, "interp\n")
