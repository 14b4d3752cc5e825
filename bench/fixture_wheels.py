"""Writes the fixture application's three wheels into a directory, the way the Rust test helper
`tests/common::build_fixture_wheels` does: `puredep` (pure), `spam` (a C extension compiled with
gcc, Root-Is-Purelib false) and `myapp` (console scripts, package data, depends on both).

Usage: python fixture_wheels.py OUT_DIR  (run it with the interpreter the bundles target)
"""
import base64
import hashlib
import os
import subprocess
import sys
import sysconfig
import tempfile
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fixture(rel):
    with open(os.path.join(REPO, "fixtures", rel), "rb") as f:
        return f.read()


def record_hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def wheel(out, name, version, tag, files, purelib=True, requires=(), scripts=()):
    stem = "%s-%s" % (name, version)
    info = stem + ".dist-info"
    members = list(files)
    meta = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)
    meta += "".join("Requires-Dist: %s\n" % r for r in requires)
    members.append((info + "/METADATA", meta.encode()))
    py, abi, plat = tag.split("-", 2)
    text = "Wheel-Version: 1.0\nGenerator: pybundle-tests (0)\nRoot-Is-Purelib: %s\n" % (
        "true" if purelib else "false"
    )
    text += "Tag: %s-%s-%s\n" % (py, abi, plat)
    members.append((info + "/WHEEL", text.encode()))
    if scripts:
        eps = "[console_scripts]\n" + "".join("%s = %s\n" % s for s in scripts) + "\n"
        members.append((info + "/entry_points.txt", eps.encode()))
    record = "".join("%s,%s,%d\n" % (p, record_hash(b), len(b)) for p, b in members)
    record += info + "/RECORD,,\n"
    members.append((info + "/RECORD", record.encode()))
    path = os.path.join(out, "%s-%s.whl" % (stem, tag))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for p, b in members:
            zi = zipfile.ZipInfo(p, (1980, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, b)


def main():
    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    include = sysconfig.get_paths()["include"]
    v = "%d%d" % sys.version_info[:2]
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    with tempfile.TemporaryDirectory() as tmp:
        so = os.path.join(tmp, "_speedups" + suffix)
        subprocess.check_call(
            ["gcc", "-shared", "-fPIC", "-O1", "-o", so,
             os.path.join(REPO, "fixtures/native/spam/spam.c"), "-I" + include]
        )
        with open(so, "rb") as f:
            so_bytes = f.read()
    wheel(out, "puredep", "1.2.0", "py3-none-any",
          [("puredep/__init__.py", fixture("projects/puredep/puredep/__init__.py"))])
    wheel(out, "spam", "0.1.0", "cp%s-cp%s-%s" % (v, v, plat),
          [("spam/__init__.py", fixture("native/spam/__init__.py")),
           ("spam/_speedups" + suffix, so_bytes)], purelib=False)
    app = "projects/myapp/myapp/"
    wheel(out, "myapp", "1.0.0", "py3-none-any",
          [("myapp/__init__.py", fixture(app + "__init__.py")),
           ("myapp/__main__.py", fixture(app + "__main__.py")),
           ("myapp/main.py", fixture(app + "main.py")),
           ("myapp/data/__init__.py", b""),
           ("myapp/data/greeting.txt", fixture(app + "data/greeting.txt"))],
          requires=("puredep>=1", "spam"),
          scripts=(("myapp", "myapp.main:main"), ("myapp-tool", "myapp.main:Tool.run")))


if __name__ == "__main__":
    main()
