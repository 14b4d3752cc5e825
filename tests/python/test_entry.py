import os
import signal
import subprocess
import sys
import textwrap
import zipfile

from .helpers import BundleTest, current_python

APP = textwrap.dedent('''\
    import os
    import sys

    def main():
        print("argv=%r" % (sys.argv,))
        return int(os.environ.get("APP_RC", "0")) or None

    def fails():
        raise RuntimeError("boom-line-marker")

    class K:
        @staticmethod
        def go():
            print("dotted attr")
            return 0

    def other():
        print("other entry")

    def show_main():
        import __main__
        names = sorted(k for k in vars(__main__) if not k.startswith("__"))
        print("main-names=%s" % ",".join(names))
        print("file=%s" % __file__)
        print("zipfile-loaded=%s" % ("zipfile" in sys.modules))

    def env():
        print("FOO=%s BAZ=%s PRE=%s" % (os.environ.get("FOO"), os.environ.get("BAZ"), os.environ.get("PRE")))

    def wait_signal():
        import signal, time
        def on_term(signum, frame):
            os.write(1, b"got-term\\n")  # not print(): the signal may arrive inside print("ready")
            sys.exit(7)
        signal.signal(signal.SIGTERM, on_term)
        print("ready", flush=True)
        time.sleep(30)
        print("not reached")

    def wait_int():
        import time
        print("ready", flush=True)
        time.sleep(30)
''')

MOD_MAIN = textwrap.dedent('''\
    import sys
    print("module-main name=%s argv-rest=%r is-main=%s" % (
        __name__, sys.argv[1:], sys.modules["__main__"].__dict__.get("MARK") == 1))
    MARK = 1
    print("is-main-now=%s" % (sys.modules["__main__"].__dict__.get("MARK") == 1))
''')


class FunctionEntryTest(BundleTest):
    def setUp(self):
        super().setUp()
        self.site = {"app.py": APP, "mypkg/__init__.py": "", "mypkg/__main__.py": MOD_MAIN}

    def test_argv_and_exit_codes(self):
        self.build(site=self.site)
        p = self.assertOk(self.run_bundle("a", "--b", "c d"))
        self.assertIn("argv=[%r, 'a', '--b', 'c d']" % self.bundle, p.stdout)
        self.assertEqual(p.stderr, "")
        p = self.run_bundle("x", env={"APP_RC": "3"})
        self.assertEqual(p.returncode, 3, p.stderr)

    def test_uncaught_exception_traceback_has_source(self):
        self.build(site=self.site, entry=("function", "app", "fails"))
        p = self.run_bundle()
        self.assertEqual(p.returncode, 1)
        self.assertIn("Traceback (most recent call last)", p.stderr)
        self.assertIn(".pyz/site-packages/app.py", p.stderr)
        self.assertIn('raise RuntimeError("boom-line-marker")', p.stderr)
        self.assertIn("RuntimeError: boom-line-marker", p.stderr)

    def test_thread_traceback_has_source(self):
        # Before 3.13 threading's default hook printed through the C printer, which cannot
        # read source lines from the zip; the main thread's showed them (see _errors.thread_excepthook).
        app = textwrap.dedent('''\
            import threading

            def boom():
                raise RuntimeError("thread-boom-marker")

            def main():
                t = threading.Thread(target=boom, name="worker-1")
                t.start()
                t.join()
                print("joined")
        ''')
        for preamble in (None, "import threading\n"):  # threading imported before the entry
            self.build(site={"app.py": app}, preamble=preamble)
            p = self.assertOk(self.run_bundle())
            self.assertIn("joined", p.stdout)
            self.assertIn("Exception in thread worker-1:", p.stderr)
            self.assertIn(".pyz/site-packages/app.py\", line 4, in boom", p.stderr)
            self.assertIn('raise RuntimeError("thread-boom-marker")', p.stderr)
            self.assertIn("RuntimeError: thread-boom-marker", p.stderr)

    def test_dotted_attr(self):
        self.build(site=self.site, entry=("function", "app", "K.go"))
        self.assertIn("dotted attr", self.assertOk(self.run_bundle()).stdout)

    def test_module_entry(self):
        self.build(site=self.site, entry=("module", "mypkg", None))
        p = self.assertOk(self.run_bundle("x", "y"))
        self.assertIn("module-main name=__main__ argv-rest=['x', 'y']", p.stdout)
        self.assertIn("is-main-now=True", p.stdout)

    def test_entry_point_override(self):
        self.build(site=self.site)
        p = self.assertOk(self.run_bundle(env={"PYBUNDLE_ENTRY_POINT": "app:other"}))
        self.assertIn("other entry", p.stdout)
        p = self.assertOk(self.run_bundle("z", env={"PYBUNDLE_ENTRY_POINT": "mypkg"}))
        self.assertIn("module-main name=__main__ argv-rest=['z']", p.stdout)

    def test_main_globals_clean_and_zip_import(self):
        self.build(site=self.site, entry=("function", "app", "show_main"))
        p = self.assertOk(self.run_bundle(cmd=[sys.executable, "-S", self.bundle]))
        self.assertIn("main-names=BUILD_ID,ENTRY,ENV,EXTRACT,INHERIT_PATH,PREAMBLE,PTH,PYTHON,ROOT\n", p.stdout)
        self.assertIn("file=%s/site-packages/app.py" % self.bundle, p.stdout)
        self.assertIn(".pyz", p.stdout)
        self.assertIn("zipfile-loaded=False", p.stdout)

    def test_env_defaults_and_preamble(self):
        self.build(site=self.site, entry=("function", "app", "env"), env=(("FOO", "bar"), ("BAZ", "default")),
                   preamble="import os\nos.environ['PRE'] = __name__\n")
        p = self.assertOk(self.run_bundle(env={"BAZ": "preset"}))
        self.assertIn("FOO=bar BAZ=preset PRE=__pybundle_preamble__", p.stdout)

    def _signal_run(self, entry, sig):
        self.build(site=self.site, entry=("function", "app", entry))
        p = subprocess.Popen([self.bundle], env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True)
        try:
            self.assertEqual(p.stdout.readline().strip(), "ready")
            p.send_signal(sig)
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        return p.returncode, out, err

    def test_sigterm_handler_reached(self):
        rc, out, err = self._signal_run("wait_signal", signal.SIGTERM)
        self.assertEqual(rc, 7, err)
        self.assertIn("got-term", out)

    def test_sigint_is_keyboard_interrupt(self):
        rc, out, err = self._signal_run("wait_int", signal.SIGINT)
        # like `python script.py`: traceback, then death by SIGINT (a plain zipapp exits 1)
        self.assertEqual(rc, -signal.SIGINT, err)
        self.assertIn("KeyboardInterrupt", err)


class ZipIntegrityTest(BundleTest):
    def test_flipped_byte_in_zipped_module_is_an_error(self):
        src = "def main():\n    print('damaged module ran')\n" + "X = 'padding'\n" * 200
        self.build(site={"app.py": APP, "dmg.py": src}, entry=("function", "dmg", "main"), bytecode=False)
        p = self.run_bundle()
        self.assertOk(p)
        # flip a byte in the middle of dmg.py's stored content in the store (site.data)
        import struct

        with zipfile.ZipFile(self.bundle) as zf:
            data_info, index = zf.getinfo("_pybundle/site.data"), zf.read("_pybundle/site.index")
        with open(self.bundle, "rb") as f:
            data = bytearray(f.read())
        rec = index.index(b"dmg.py") - 44  # the record is 44 bytes, then the path
        offset, csize = struct.unpack("<QI", index[rec + 8:rec + 20])
        h = data_info.header_offset
        start = h + 30 + int.from_bytes(data[h + 26:h + 28], "little") + int.from_bytes(data[h + 28:h + 30], "little")
        data[start + offset + csize // 2] ^= 0x10
        with open(self.bundle, "wb") as f:
            f.write(bytes(data))
        p = self.run_bundle()
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertNotIn("damaged module ran", p.stdout)
        self.assertIn("is damaged (dmg.py: ", p.stderr)
        self.assertIn("rebuild it or copy it again", p.stderr)
        self.assertNotIn("Traceback", p.stderr)


class InterpreterCheckTest(BundleTest):
    SITE = {"app.py": APP}

    def test_native_version_mismatch(self):
        other = (3, 7) if sys.version_info[:2] != (3, 7) else (3, 9)
        self.build(site=self.SITE, python=current_python(native=True, version=other))
        p = self.run_bundle()
        self.assertEqual(p.returncode, 1)
        self.assertNotIn("Traceback", p.stderr)
        self.assertNotIn("argv=", p.stdout)
        self.assertIn("error: this bundle was built for CPython %d.%d" % other, p.stderr)
        self.assertIn("contains native code", p.stderr)
        self.assertIn("cannot run on CPython %d.%d.%d at %s" % (sys.version_info[:3] + (sys.executable,)), p.stderr)
        self.assertIn("python%d.%d app.pyz" % other, p.stderr)
        self.assertIn("--python python%d.%d" % sys.version_info[:2], p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1)

    def test_native_platform_mismatch(self):
        self.build(site=self.SITE, python=current_python(native=True, machine="sparc64", platform="linux-sparc64"))
        p = self.run_bundle()
        self.assertEqual(p.returncode, 1)
        self.assertIn("(linux-sparc64)", p.stderr)

    def test_native_match_runs(self):
        self.build(site=self.SITE, python=current_python(native=True))
        self.assertOk(self.run_bundle())

    def test_requires_python(self):
        self.build(site=self.SITE, python=current_python(requires_python=">=3.8, <4"))
        self.assertOk(self.run_bundle())
        self.build(site=self.SITE, python=current_python(requires_python=">=4.0"))
        p = self.run_bundle()
        self.assertEqual(p.returncode, 1)
        self.assertIn("requires Python >=4.0", p.stderr)
        self.assertNotIn("Traceback", p.stderr)
        self.build(site=self.SITE, python=current_python(requires_python="!=%d.%d.*" % sys.version_info[:2]))
        self.assertEqual(self.run_bundle().returncode, 1)
