"""Scripts as entries, and multi-call bundles (imported only for those).

A script entry (``ENTRY``, or an item of ``COMMANDS``; see docs/DESIGN.md) is
``(kind, where, rel)``: ``where`` is ``""`` (the bundle's root) or ``"extract/<key>"`` (an extracted
distribution), ``rel`` is ``"bin/NAME"``. The builder chose the kind from the file's content:

* ``script``: Python source, run as ``__main__`` in this process with ``runpy.run_path``
  semantics: ``sys.argv[0]`` and ``__file__`` are the script's path (``<bundle>/bin/NAME`` in the
  zip, or the file in the cache), a ``sys.exit`` code is the exit status, and tracebacks show
  source lines (from the bundle's store through ``__loader__.get_source``, which ``linecache``
  asks).
  ``sys.executable`` is the ``python3.Y`` shim described below, and the shims come first on
  ``PATH``: azure-cli's ``az`` is such a script, and it runs ``os.execl(sys.executable,
  sys.executable, "-m", "azure.cli", ...)``, which must import the bundle's code. (When no cache
  directory can take the shims, the script runs with the real interpreter as ``sys.executable``.)
* ``executable``: a native program of an extracted distribution, run with ``os.execv``: the same
  PID (signals, PID 1 and the exit status are the program's own), argv (``argv[0]`` as the bundle
  was started), stdin/stdout/stderr and environment. Signals that Python ignores (SIGPIPE,
  SIGXFSZ) get their default action back first, as ``subprocess`` does for its children.
* ``wrapper``: a ``#!`` script of another interpreter (azure-cli's ``az`` is a bash script that
  runs ``python -m azure.cli "$@"``), executed the same way with a directory first on ``PATH``
  that holds ``python``, ``python3`` and ``python3.Y``: shell scripts that run this bundle with the
  interpreter running it, in interpreter mode (``PYBUNDLE_PYTHON_SHIM=1``, removed again at
  start). So the wrapper's ``python -m pkg`` imports the bundle's code with the bundle's own start
  (isolated ``sys.path``, cache, checks), not the host's. Leading interpreter options (``-u``,
  ``-E``, ``-W arg``, ``-X opt``, ``-V``...) go to the interpreter. The directory is
  ``<root>/v1/shims/<16 hex>/``, one per interpreter and bundle path, written once (temp dir +
  rename).

Multi-call (``COMMANDS``, a tuple of ``(name, kind, module_or_where, attr_or_rel)``): started as
a file named after a command (a link or copy: ``ln -s tools.pyz flake8``; the name is the last
component of ``sys.argv[0]``, which is the link's path, not its target, on every version), the
bundle runs that command. Under any other name it runs ``ENTRY`` when there is one; without one,
like busybox, it runs the command its first argument names (``tools.pyz flake8 x.py``, the
command then sees ``sys.argv[0] == "flake8"``), lists the commands for no argument, ``-h`` or
``--help`` (on stdout, exit 0; ``--list``: names only), and stops with status 127 for an
unknown name.
"""
import os
import sys

from . import LAYOUT, PYTHON_SHIM_VAR, fail, log


# --------------------------------------------------------------------------------------------
# multi-call
# --------------------------------------------------------------------------------------------
def command_entry(g):
    """The entry to run for how the bundle was started (see the module docstring)."""
    table = {}
    for item in g["COMMANDS"]:
        table.setdefault(item[0], tuple(item[1:]))
    started_as = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    hit = table.get(started_as)
    if hit is not None:
        log("multi-call command %s" % started_as)
        return hit
    entry = g.get("ENTRY")
    if entry and entry[0] != "interpreter":
        return tuple(entry)
    args = sys.argv[1:]
    if args and args[0] in table:
        del sys.argv[0]
        log("multi-call command %s (first argument)" % args[0])
        return table[args[0]]
    names = sorted(table)
    if args and args[0] == "--list":
        sys.stdout.write("".join(n + "\n" for n in names))
        raise SystemExit(0)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(_usage(started_as, names))
        raise SystemExit(0)
    sys.stderr.write("%s: `%s` is not one of its commands\n%s" % (started_as, args[0], _usage(started_as, names)))
    raise SystemExit(127)


def _usage(me, names):
    me = me or "BUNDLE"
    return (
        "usage: %s COMMAND [ARG]...\n"
        "   or: COMMAND [ARG]...  (through a link or copy of %s named COMMAND)\n"
        "commands:\n%s" % (me, me, "".join("  %s\n" % n for n in names))
    )


# --------------------------------------------------------------------------------------------
# scripts
# --------------------------------------------------------------------------------------------
def run(g, archive, kind, where, rel, dirs):
    """Run the script entry ``(kind, where, rel)``; ``dirs`` maps keys extracted at start to
    their directories (other keys are mounted now)."""
    path = None
    if where:
        key = where[len("extract/"):] if where.startswith("extract/") else where
        d = dirs.get(key) or _mount(key)
        if d is None:
            fail("error: the bundle `%s` names the unknown distribution %s for its entry `%s`; rebuild it"
                 % (archive, key, rel))
        path = os.path.join(d, *rel.split("/"))
    if kind == "script":
        _run_python(g, archive, rel, path)
        return
    if path is None:
        fail("error: the bundle `%s` would execute `%s` from inside the zip; rebuild it" % (archive, rel))
    _exec(g, archive, kind, path)


def _mount(key):
    from . import SITE_DIR, _LazyExtract

    for finder in sys.meta_path:
        if isinstance(finder, _LazyExtract):
            finder.mount([key])
            prefix = os.sep + key + os.sep + SITE_DIR
            for d in finder.own:
                if d.endswith(prefix):
                    return d
    return None


class _Source(object):
    """The ``__loader__`` of a script read from the zip: ``linecache`` asks it for the source."""

    def __init__(self, source):
        self.source = source

    def get_source(self, name):
        import io

        return io.TextIOWrapper(io.BytesIO(self.source), encoding=_encoding(self.source)).read()


def _encoding(source):
    """The PEP 263 encoding of ``source`` (bytes), as the compiler reads it."""
    import io
    import tokenize

    try:
        return tokenize.detect_encoding(io.BytesIO(source).readline)[0]
    except SyntaxError:
        return "utf-8"


def _run_python(g, archive, rel, path):
    from . import _exit_sigint, _install_excepthook

    if path is None:
        filename = archive + "/" + rel
        from ._importer import store_of

        source = store_of(archive).read(rel)  # a script of a zip-safe distribution
        loader = _Source(source)
    else:
        filename = path
        with open(path, "rb") as f:
            source = f.read()
        loader = None
    import types

    # What runpy.run_path(filename, run_name="__main__") sets up for a file (runpy would take a
    # path inside the zip for a directory to search for __main__).
    mod = types.ModuleType("__main__")
    mod.__dict__.update(
        __file__=filename,
        __cached__=None,
        __loader__=loader,
        __package__="",
        __spec__=None,
        __builtins__=__builtins__,
    )
    sys.modules["__main__"] = mod
    if sys.argv:
        sys.argv[0] = filename
    else:
        sys.argv.append(filename)
    # Children started as `sys.executable` or `python` (azure-cli's `az` execs
    # `sys.executable -m azure.cli`) run this bundle, as for a wrapper.
    shim = use_python_shims(g, archive, False)
    if shim is not None:
        sys.executable = shim
    log("running %s" % filename)
    _install_excepthook()
    code = compile(source, filename, "exec", dont_inherit=True)
    try:
        exec(code, mod.__dict__)
    except KeyboardInterrupt:
        _exit_sigint()


def _exec(g, archive, kind, path):
    if kind == "wrapper":
        use_python_shims(g, archive, True)
    import signal

    for name in ("SIGPIPE", "SIGXFSZ"):
        sig = getattr(signal, name, None)
        if sig is not None:
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
    argv = [sys.argv[0] if sys.argv and sys.argv[0] else path] + sys.argv[1:]
    log("executing %s" % path)
    from . import _errors

    _errors.flush_std()
    try:
        os.execv(path, argv)
    except OSError as e:
        import errno

        hint = ""
        if e.errno == errno.EACCES and not os.access(path, os.X_OK):
            hint = " hint: the file is not executable; rebuild the bundle with this pybundle."
        elif e.errno == errno.EACCES:
            hint = (" hint: the cache may be on a file system mounted noexec; set PYBUNDLE_ROOT to a "
                    "directory where programs may run.")
        elif e.errno == errno.ENOEXEC:
            hint = " hint: the program was built for another kind of machine."
        fail("error: cannot run `%s`, the entry of the bundle `%s`: %s.%s" % (path, archive, e.strerror or e, hint))


# --------------------------------------------------------------------------------------------
# the `python` of wrappers
# --------------------------------------------------------------------------------------------
_SHIM = r"""#!/bin/sh
# Written by pybundle: the `python` on PATH (and the `sys.executable`) of a bundle's entry script.
# It runs the bundle, in interpreter mode, with the interpreter that ran the bundle. Leading
# interpreter options (-u, -E, -W arg, -X opt, -V, ...) go to the interpreter, the rest to the
# bundle.
py=%(py)s
bundle=%(bundle)s
k=0
skip=0
for a in "$@"; do
  if [ "$skip" = 1 ]; then skip=0; k=$((k+1)); continue; fi
  case "$a" in
    -W|-X) skip=1; k=$((k+1)) ;;
    -W?*|-X?*|-V|-VV|--version) k=$((k+1)) ;;
    -[bBdEIOqsSuvR]|-[bBdEIOqsSuvR][bBdEIOqsSuvR]|-[bBdEIOqsSuvR][bBdEIOqsSuvR][bBdEIOqsSuvR]) k=$((k+1)) ;;
    *) break ;;
  esac
done
n=$#
i=0
for a in "$@"; do
  if [ "$i" -eq "$k" ]; then set -- "$@" "$bundle"; fi
  set -- "$@" "$a"
  i=$((i+1))
done
if [ "$i" -eq "$k" ]; then set -- "$@" "$bundle"; fi
shift "$n"
%(var)s=1 exec "$py" "$@"
"""


def _quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def shim_names():
    return ("python", "python3", "python%d.%d" % sys.version_info[:2])


def shim_text(py, bundle):
    return _SHIM % {"py": _quote(py), "bundle": _quote(bundle), "var": PYTHON_SHIM_VAR}


def _sha256(data):
    """sha256 hex of ``data`` without importing hashlib (5-15 ms with OpenSSL): the builtin
    module that hashlib itself falls back to."""
    try:
        from _sha2 import sha256  # 3.12+
    except ImportError:
        try:
            from _sha256 import sha256  # 3.8-3.11
        except ImportError:  # pragma: no cover - a build without the builtin hashes
            from hashlib import sha256
    return sha256(data).hexdigest()


def python_shims(g, archive):
    """The directory of ``python`` shims for this interpreter and bundle, written if missing;
    None when no cache root can take it."""
    from ._cache import uid as _uid, roots as _roots

    exe = sys.executable
    if not exe or not os.path.isabs(exe):
        return None
    bundle = os.path.realpath(archive)
    tag = _sha256(("%s\0%s" % (exe, bundle)).encode("utf-8", "surrogateescape"))[:16]
    names = shim_names()
    uid = _uid()
    rw = _roots(g, uid)[1]
    if rw is not None:
        d = os.path.join(rw, LAYOUT, "shims", tag)
        if os.path.isfile(os.path.join(d, names[-1])):
            return d
    from . import _extract

    for root, why in _extract.usable_roots(rw, uid, True):  # shims are run: no noexec mount
        if why is not None:
            log("cannot write python shims under %s: %s" % (root, why))
            continue
        try:
            v1 = os.path.join(root, LAYOUT)
            d = os.path.join(_extract._ensure_dir(os.path.join(v1, "shims"), uid), tag)
            if not os.path.isfile(os.path.join(d, names[-1])):
                _write_shims(os.path.join(v1, "tmp"), d, tag, names, shim_text(exe, bundle))
            return d
        except OSError as e:
            log("cannot write python shims under %s: %s" % (root, e))
    return None


def _write_shims(tmp, d, tag, names, text):
    from . import _extract

    work = _extract._private_name(tmp, "shims-" + tag)
    try:
        os.mkdir(work, 0o700)
        for name in names:
            fd = os.open(os.path.join(work, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o755)
            try:
                os.write(fd, text.encode("utf-8", "surrogateescape"))
            finally:
                os.close(fd)
        try:
            os.rename(work, d)
        except OSError:
            if not os.path.isfile(os.path.join(d, names[-1])):
                raise
            # another start wrote them first
    finally:
        _extract._rmtree(work)
    log("wrote python shims %s" % d)


def use_python_shims(g, archive, warn):
    """Put the ``python`` shims first on PATH; returns the ``python3.Y`` shim, or None (with a
    warning when ``warn``) when they cannot be written."""
    d = python_shims(g, archive)
    if d is None:
        if warn:
            sys.stderr.write("pybundle: warning: cannot write the `python` that the entry script "
                             "expects (no writable cache directory); it finds the host's\n")
        return None
    os.environ["PATH"] = d + os.pathsep + (os.environ.get("PATH") or os.defpath)
    return os.path.join(d, shim_names()[-1])
