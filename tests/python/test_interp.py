import os
import sys

from .helpers import BundleTest

SITE = {"zmod.py": "VALUE = 'from-zip'\n", "tool/__init__.py": "", "tool/__main__.py":
        "import sys\nprint('tool-main', __name__, sys.argv[1:])\n"}


class InterpreterModeTest(BundleTest):
    def setUp(self):
        super().setUp()
        self.build(site=SITE, entry=("interpreter", None, None))

    def test_dash_c(self):
        p = self.assertOk(self.run_bundle("-c", "import sys, zmod; print(zmod.VALUE, sys.argv, __name__)", "a", "b"))
        self.assertIn("from-zip ['-c', 'a', 'b'] __main__", p.stdout)

    def test_dash_c_error_exit(self):
        p = self.run_bundle("-c", "import sys; sys.exit(5)")
        self.assertEqual(p.returncode, 5)

    def test_script(self):
        script = os.path.join(self.tmp, "s.py")
        with open(script, "w") as f:
            f.write("import sys, zmod\nprint('script', __name__, sys.argv, zmod.VALUE)\n")
        p = self.assertOk(self.run_bundle(script, "x"))
        self.assertIn("script __main__ [%r, 'x'] from-zip" % script, p.stdout)

    def test_stdin(self):
        p = self.assertOk(self.run_bundle("-", "q", input="import sys, zmod\nprint('stdin', sys.argv, zmod.VALUE)\n"))
        self.assertIn("stdin ['-', 'q'] from-zip", p.stdout)
        p = self.assertOk(self.run_bundle(input="import zmod\nprint('piped', zmod.VALUE)\n"))
        self.assertIn("piped from-zip", p.stdout)

    def test_dash_m(self):
        p = self.assertOk(self.run_bundle("-m", "tool", "z"))
        self.assertIn("tool-main __main__ ['z']", p.stdout)

    def test_interpreter_env_override(self):
        self.build(site=dict(SITE, **{"app.py": "def main():\n    print('app')\n"}))
        p = self.assertOk(self.run_bundle("-c", "print('interp')", env={"PYBUNDLE_INTERPRETER": "1"}))
        self.assertIn("interp", p.stdout)


class ReplTest(BundleTest):
    def test_interactive_repl(self):
        import pty
        import select
        import time

        self.build(site=SITE, entry=("interpreter", None, None))
        pid, fd = pty.fork()
        if pid == 0:  # child
            try:
                os.execve(self.bundle, [self.bundle], self.env(TERM="dumb"))
            finally:
                os._exit(127)
        out = b""

        def read_until(token, timeout=20):
            nonlocal out
            end = time.time() + timeout
            while token not in out and time.time() < end:
                r, _, _ = select.select([fd], [], [], 0.2)
                if r:
                    try:
                        out += os.read(fd, 4096)
                    except OSError:
                        break
            return token in out

        try:
            self.assertTrue(read_until(b">>> "), out)
            os.write(fd, b"import zmod; print('repl-' + zmod.VALUE, __name__)\n")
            self.assertTrue(read_until(b"repl-from-zip __main__"), out)
            os.write(fd, b"raise SystemExit(4)\n")
            read_until(b"\x00", timeout=5)
        finally:
            _, status = os.waitpid(pid, 0)
            os.close(fd)
        self.assertIn(b'Type "help", "copyright", "credits" or "license"', out)
        self.assertEqual(os.WEXITSTATUS(status), 4, out)
