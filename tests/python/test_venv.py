"""``_pybundle._venv``: which store paths go under the prefix, the scripts it writes, the
key, and the command a start executes (the ``-c`` program of a function entry, on every CPython).

See: #22
"""
import os
import subprocess
import sys
import tempfile
import unittest

from .helpers import BOOTSTRAP


def _load_venv():
    sys.path.insert(0, os.path.dirname(BOOTSTRAP))
    try:
        import _pybundle._venv as venv
    finally:
        sys.path.pop(0)
    return venv


venv = _load_venv()


class SchemeTest(unittest.TestCase):
    def test_prefixes_pick_the_scheme(self):
        prefixes = [["bin/", "scripts"], ["include/", "headers"], ["share/", "data"],
                    ["top.txt", "data"]]
        self.assertEqual(venv._scheme("bin/tool", prefixes), "scripts")
        self.assertEqual(venv._scheme("share/jupyter/x.json", prefixes), "data")
        self.assertEqual(venv._scheme("include/Foo/foo.h", prefixes), "headers")
        self.assertEqual(venv._scheme("top.txt", prefixes), "data")
        self.assertIsNone(venv._scheme("top.txt.bak", prefixes))
        self.assertIsNone(venv._scheme("binary/x.py", prefixes))
        self.assertIsNone(venv._scheme("pkg/__init__.py", prefixes))


class ScriptTest(unittest.TestCase):
    def test_shebang_is_plain_or_a_trampoline(self):
        self.assertEqual(venv.shebang("/opt/app/bin/python"), b"#!/opt/app/bin/python\n")
        for odd in ("/opt/my app/bin/python", "/" + "x" * 130 + "/bin/python"):
            head = venv.shebang(odd).decode()
            self.assertTrue(head.startswith("#!/bin/sh\n'''exec' \"%s\" \"$0\" \"$@\"\n" % odd), head)

    def test_console_script_calls_a_dotted_attribute(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "mod.py"), "w") as f:
                f.write("import sys\nclass Cli:\n    @staticmethod\n    def run():\n"
                        "        print('argv0', sys.argv[0]); return 4\n")
            script = os.path.join(d, "tool-script.pyw")
            with open(script, "wb") as f:
                f.write(venv.console_script(venv.shebang(sys.executable), "mod", "Cli.run"))
            p = subprocess.run([sys.executable, script], cwd=d, stdout=subprocess.PIPE,
                               universal_newlines=True, env=dict(os.environ, PYTHONPATH=d))
            self.assertEqual(p.returncode, 4)
            self.assertEqual(p.stdout, "argv0 %s\n" % os.path.join(d, "tool"))


class CommandTest(unittest.TestCase):
    def setUp(self):
        self.saved = dict(os.environ), list(sys.argv)
        for k in ("PYBUNDLE_ENTRY_POINT", "PYBUNDLE_INTERPRETER", "PYBUNDLE_PYTHON_SHIM"):
            os.environ.pop(k, None)
        sys.argv[:] = ["/b/app.pyz", "x", "y z"]

    def tearDown(self):
        os.environ.clear()
        os.environ.update(self.saved[0])
        sys.argv[:] = self.saved[1]

    def test_each_entry_kind(self):
        py = "/env/bin/python"
        g = {"ENTRY": ("module", "tool", None)}
        self.assertEqual(venv.command(g, "/env"), ("module", [py, "-m", "tool", "x", "y z"]))
        g = {"ENTRY": ("script", "extract/k", "bin/t")}
        self.assertEqual(venv.command(g, "/env"), ("script", [py, "/env/bin/t", "x", "y z"]))
        g = {"ENTRY": ("executable", "extract/k", "bin/t")}
        self.assertEqual(venv.command(g, "/env"), ("executable", ["/env/bin/t", "x", "y z"]))
        g = {"ENTRY": None}
        self.assertEqual(venv.command(g, "/env"), ("interpreter", [py, "x", "y z"]))
        kind, argv = venv.command({"ENTRY": ("function", "m", "f")}, "/env")
        self.assertEqual((kind, argv[:2], argv[3:]), ("function", [py, "-c"], ["/b/app.pyz", "x", "y z"]))

    def test_the_environment_overrides_the_entry(self):
        g = {"ENTRY": ("module", "tool", None)}
        os.environ["PYBUNDLE_INTERPRETER"] = "1"
        self.assertEqual(venv.command(g, "/env")[0], "interpreter")
        del os.environ["PYBUNDLE_INTERPRETER"]
        os.environ["PYBUNDLE_ENTRY_POINT"] = "other"
        self.assertEqual(venv.command(g, "/env")[1][:3], ["/env/bin/python", "-m", "other"])

    def test_the_function_program_runs_with_the_bundle_as_argv0(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "entrymod.py"), "w") as f:
                f.write("import sys\nclass O:\n    @staticmethod\n    def main():\n"
                        "        print(sys.argv, '' in sys.path)\n        return 5\n")
            _, argv = venv.command({"ENTRY": ("function", "entrymod", "O.main")}, "/env")
            argv[0] = sys.executable
            p = subprocess.run(argv, cwd=d, stdout=subprocess.PIPE, universal_newlines=True,
                               env=dict(os.environ, PYTHONPATH=d))
            self.assertEqual(p.returncode, 5)
            self.assertEqual(p.stdout, "['/b/app.pyz', 'x', 'y z'] False\n")

    def test_the_key_names_the_interpreter(self):
        a = venv.key({"VENV": "app-0123456789abcdef"})
        self.assertRegex(a, r"^app-0123456789abcdef-[0-9a-f]{8}$")
        exe = sys.executable
        try:
            sys.executable = "/other/python3"
            self.assertNotEqual(venv.key({"VENV": "app-0123456789abcdef"}), a)
        finally:
            sys.executable = exe


class OptionsTest(unittest.TestCase):
    def test_interpreter_options_travel_to_the_environment(self):
        program = ("import sys; sys.path.insert(0, %r); import _pybundle._venv as v; print(v.options())"
                   % os.path.dirname(BOOTSTRAP))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        p = subprocess.run([sys.executable, "-X", "utf8", "-u", "-W", "error::DeprecationWarning",
                            "-O", "-c", program], stdout=subprocess.PIPE, universal_newlines=True,
                           env=env)
        self.assertEqual(p.stdout.strip(), repr(["-O", "-u", "-W", "error::DeprecationWarning",
                                                 "-X", "utf8"]))
        p = subprocess.run([sys.executable, "-c", program], stdout=subprocess.PIPE,
                           universal_newlines=True, env=dict(env, PYTHONUNBUFFERED="1"))
        self.assertEqual(p.stdout.strip(), "[]")
