"""``python -m pybundle`` (python/pybundle): finds the binary installed with the package in each
install layout and runs it with argv and exit status intact."""
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import unittest

from .helpers import REPO

PACKAGE = os.path.join(REPO, "python", "pybundle")
FAKE_BINARY = "#!/bin/sh\necho \"fake pybundle: $*\"\nexit 7\n"


def write_binary(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(FAKE_BINARY)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@unittest.skipUnless(os.name == "posix", "the launcher execs on POSIX")
class LauncherTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pybundle-launcher-")
        self.addCleanup(shutil.rmtree, self.tmp)

    def site(self, rel):
        site = os.path.join(self.tmp, rel)
        shutil.copytree(PACKAGE, os.path.join(site, "pybundle"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        return site

    def run_module(self, site, *args):
        env = dict(os.environ)
        env["PYTHONPATH"] = site
        # The user scheme must not find a real installation of this machine.
        env["PYTHONUSERBASE"] = os.path.join(self.tmp, "userbase")
        return subprocess.run([sys.executable, "-m", "pybundle"] + list(args), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True)

    def test_target_layout(self):
        # pip install --target DIR: DIR/pybundle and DIR/bin/pybundle.
        site = self.site("target")
        write_binary(os.path.join(site, "bin", "pybundle"))
        out = self.run_module(site, "--version", "a b")
        self.assertEqual(out.returncode, 7, out.stderr)
        self.assertEqual(out.stdout, "fake pybundle: --version a b\n")

    def test_record_layout(self):
        # A scheme whose scripts directory is elsewhere: the RECORD says where.
        site = self.site(os.path.join("prefix", "lib", "site-packages"))
        write_binary(os.path.join(self.tmp, "prefix", "bin", "pybundle"))
        info = os.path.join(site, "pybundle-0.1.0.dist-info")
        os.makedirs(info)
        with open(os.path.join(info, "RECORD"), "w") as f:
            f.write("pybundle/__init__.py,sha256=x,1\n"
                    "../../bin/pybundle,sha256=y,2\n"
                    "pybundle-0.1.0.dist-info/RECORD,,\n")
        out = self.run_module(site, "info", "x.pyz")
        self.assertEqual(out.returncode, 7, out.stderr)
        self.assertEqual(out.stdout, "fake pybundle: info x.pyz\n")

    def test_user_scheme(self):
        site = self.site("user-site")
        userbase = os.path.join(self.tmp, "userbase")
        env_vars = {"userbase": userbase, "base": userbase}
        scheme = ("posix_user" if sys.version_info < (3, 10)
                  else sysconfig.get_preferred_scheme("user"))
        scripts = sysconfig.get_path("scripts", scheme=scheme, vars=env_vars)
        write_binary(os.path.join(scripts, "pybundle"))
        out = self.run_module(site, "-V")
        self.assertEqual(out.returncode, 7, out.stderr)

    def test_missing_binary_is_a_clear_error(self):
        if os.path.isfile(os.path.join(sysconfig.get_path("scripts"), "pybundle")):
            self.skipTest("this interpreter has pybundle installed")
        site = self.site("nothing")
        out = self.run_module(site, "--version")
        self.assertEqual(out.returncode, 1)
        self.assertTrue(out.stderr.startswith("error: the pybundle binary is not installed"),
                        out.stderr)
        self.assertIn("reinstall the pybundle wheel", out.stderr)
        self.assertEqual(out.stdout, "")


if __name__ == "__main__":
    unittest.main()
