"""pybundle's Python package: it only finds the ``pybundle`` binary installed with it.

The wheel carries the Rust binary in its scripts (``<name>.data/scripts/pybundle``), which an
installer puts into the scripts directory of its install scheme: ``<venv>/bin`` (a venv, pipx
and ``uv tool`` venvs), ``~/.local/bin`` (``pip install --user``), ``<dir>/bin``
(``pip install --target <dir>``). ``python -m pybundle`` runs that binary (see ``__main__``).
Standard library only, Python 3.8 syntax.
"""

import csv
import os
import sys
import sysconfig

__all__ = ["find_pybundle_bin"]


def _exe_name():
    return "pybundle" + (sysconfig.get_config_var("EXE") or "")


def _from_record(site_dir, exe):
    """Returns the binary this distribution's RECORD lists, as installed, or None.

    RECORD paths are relative to the directory holding the ``.dist-info``, so this finds the
    script wherever the scheme put it (venv, --user, --prefix, --root).
    """
    try:
        names = os.listdir(site_dir)
    except OSError:
        return None
    for name in sorted(names):
        if not (name.startswith("pybundle-") and name.endswith(".dist-info")):
            continue
        try:
            with open(os.path.join(site_dir, name, "RECORD"), encoding="utf-8", newline="") as f:
                rows = list(csv.reader(f))
        except (OSError, csv.Error, UnicodeDecodeError):
            continue
        for row in rows:
            path = row[0] if row else ""
            if path.replace("\\", "/").rsplit("/", 1)[-1] != exe:
                continue
            candidate = os.path.normpath(os.path.join(site_dir, path))
            if os.path.isfile(candidate):
                return candidate
    return None


def _user_scripts():
    if sys.version_info >= (3, 10):
        scheme = sysconfig.get_preferred_scheme("user")
    elif os.name == "nt":
        scheme = "nt_user"
    elif sys.platform == "darwin" and getattr(sys, "_framework", None):
        scheme = "osx_framework_user"
    else:
        scheme = "posix_user"
    try:
        return sysconfig.get_path("scripts", scheme=scheme)
    except KeyError:
        return None


def candidates():
    """Returns the places the binary is looked for, in order, without duplicates."""
    exe = _exe_name()
    package_dir = os.path.dirname(os.path.abspath(__file__))
    site_dir = os.path.dirname(package_dir)
    found = []
    # `pip install --target DIR` puts scripts into DIR/bin, next to the package (its RECORD
    # paths are relative to a temporary directory, so they are not used for this layout).
    found.append(os.path.join(site_dir, "bin", exe))
    from_record = _from_record(site_dir, exe)
    if from_record:
        found.append(from_record)
    # The running interpreter's scripts directory (venv, pipx, uv tool), then the user's.
    found.append(os.path.join(sysconfig.get_path("scripts"), exe))
    user = _user_scripts()
    if user:
        found.append(os.path.join(user, exe))
    unique = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def find_pybundle_bin():
    """Returns the path of the ``pybundle`` binary installed with this package.

    Raises FileNotFoundError (naming every place looked at) when it is not there.
    """
    looked = candidates()
    for path in looked:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise FileNotFoundError(
        "the pybundle binary is not installed next to this package (looked for "
        + ", ".join("`%s`" % p for p in looked)
        + "); reinstall the pybundle wheel"
    )
