"""A ``--venv`` bundle's start: find (or build, on the first start) its virtual environment in the
cache, then execute the environment's python on the entry point, in place of this process.

The ``__main__.py`` of such a bundle (it has ``VENV``) calls :func:`main` here instead of
``_pybundle.main`` (docs/DESIGN.md, "Virtual environments"); no other bundle carries this module.
"""
# Comments, not docstrings, below: a warm start of a venv bundle unmarshals this module.
#
# Layout: ``<root>/v1/venvs/<key>/`` is a complete environment, marked by ``MARKER`` (written
# last, like an extracted entry's), built in ``<root>/v1/tmp/<key>.<pid>.<random>/`` and renamed
# into place (``_extract._install``: the loser of a race uses the winner's). ``<key>`` is
# ``VENV`` (the bundle's distributions) + ``-`` + 8 hex of the running interpreter's path and
# version: the environment links to that interpreter. Roots: ``PYBUNDLE_ROOTS`` (read-only, used
# as they are), then the writable root, chosen and created by ``_cache``/``_extract``.
#
# The environment is what ``python -m venv --without-pip`` and ``pip install`` of every
# distribution would leave: ``pyvenv.cfg`` (home: the interpreter's directory), ``bin/python``
# linked to the interpreter (``python3``, ``python3.Y`` to ``python``), the distributions'
# files in ``lib/pythonX.Y/site-packages``, their ``data`` files under the prefix, ``scripts`` in
# ``bin/`` (``#!python`` rewritten to the environment's python) with the console and GUI scripts,
# headers in ``include/site/pythonX.Y/<name>/``, each ``RECORD`` listing the installed paths and
# ``INSTALLER``. The files are read from the site store (each distribution's `roots`, a source's
# bytecode attached); which of them go under the prefix comes from ``_pybundle/venv.json``.
import os
import sys

from . import LAYOUT, MARKER, TMP_DIR, damaged, fail, log

# --- the format (checked against `src/layout/venv.rs` by `bootstrap::tests`)
VENVS_DIR = "venvs"
VENV_INFO = "_pybundle/venv.json"
# --- end of the format
# `pybundle venv BUNDLE DIR`: write the environment to DIR (with bytecode when COMPILE_VAR is
# set), then exit. `pybundle extract BUNDLE --root DIR`: write it under the root DIR, then exit.
DEST_VAR = "PYBUNDLE_VENV_DEST"
COMPILE_VAR = "PYBUNDLE_VENV_COMPILE"
SEED_VAR = "PYBUNDLE_VENV_SEED"
INSTALLER = b"pybundle\n"


def key(g):
    import zlib

    ident = "%s\0%s\0%s" % (sys.executable, sys.version, sys.implementation.cache_tag)
    return "%s-%08x" % (g["VENV"], zlib.crc32(ident.encode("utf-8", "surrogateescape")))


# The marker of the environment a start runs in stays open across the exec (an inheritable
# descriptor) for the life of the process: `pybundle cache clean`/`prune` remove an environment
# only under a write lease on its marker, which the kernel grants only while nobody has it open.
# In a writable root the marker's mtime is the last use (touched at most once an hour), as for
# extracted entries.
_HELD = []


def _hold(marker, readonly):
    try:
        fd = os.open(marker, os.O_RDONLY)
    except OSError:
        return None
    st = os.fstat(fd)
    if st.st_nlink == 0:  # removed while this start waited for the lease
        os.close(fd)
        return None
    os.set_inheritable(fd, True)
    _HELD.append(fd)
    if not readonly:
        import time

        if time.time() - st.st_mtime > 3600:
            try:
                os.utime(marker)
            except OSError:
                pass
    return st


def _find(root, k, uid, readonly):
    from . import _cache

    v1 = os.path.join(root, LAYOUT)
    env = os.path.join(v1, VENVS_DIR, k)
    for d in (root, v1, None):
        if d is None:
            if _hold(os.path.join(env, MARKER), readonly) is None:
                return None
            d = env
        try:
            st = os.stat(d)
        except OSError:
            return None
        if not _cache.safe(st, uid, readonly):
            from . import _errors

            _errors.unsafe_dir(d, st, uid, readonly)
    return env


def main(g):
    # What `_pybundle.main` does first (environment defaults, the interpreter check), then `run`.
    from . import _T0, _check_python, _verbose

    if _verbose():
        import time

        _T0[0] = time.perf_counter()
    g.pop("_pybundle", None)
    archive = g["__loader__"].archive
    for k, v in g.get("ENV") or ():
        os.environ.setdefault(k, v)
    _check_python(g.get("PYTHON"), archive)
    if g.get("PREAMBLE") and DEST_VAR not in os.environ and SEED_VAR not in os.environ:
        from . import _run_preamble

        _run_preamble(g, archive)  # in this process: what it sets in os.environ is passed on
    run(g, archive)


def run(g, archive):
    dest, seed = os.environ.pop(DEST_VAR, None), os.environ.pop(SEED_VAR, None)
    compile_ = os.environ.pop(COMPILE_VAR, None) is not None
    k = key(g)
    if dest is not None:
        write_to(archive, os.path.abspath(dest), compile_)
        raise SystemExit(0)
    if seed is not None:
        env = _create(archive, k, os.path.abspath(seed), None, force=False, seed=True)
        sys.stdout.write(env + "\n")
        raise SystemExit(0)
    from . import _cache, _flag

    uid = _cache.uid()
    force = _flag("PYBUNDLE_FORCE_EXTRACT")
    env = None
    roots = _cache.roots(g, uid)  # resolved and checked from `/` down, once per start
    ro, rw, _ = roots
    if not force:
        for root in ro + ([rw] if rw else []):
            env = _find(root, k, uid, root != rw)
            if env is not None:
                break
    if env is None:
        env = _create(archive, k, roots, uid, force)
        _hold(os.path.join(env, MARKER), True)
    log("environment %s" % env)
    _exec(g, env)


class _Wanted(object):
    # What `_extract.choose_root` is asked to place: an environment holds native code (its
    # extension modules are mapped), so a `noexec` root is passed over.
    native = True

    def __init__(self, key):
        self.key = key


def _create(archive, k, roots, uid, force, seed=False):
    # `roots`: `_cache.roots` (read-only, writable, why not), or the seed root's path.
    import time

    from . import _extract

    t0 = time.perf_counter()
    if seed:
        root = roots
        for d in (root, os.path.join(root, LAYOUT)):
            if not os.path.isdir(d):
                os.mkdir(d, 0o755)
        mode = 0o755
    else:
        root = _extract.choose_root(archive, roots, uid, [_Wanted(k)])
        mode = 0o700
    v1 = os.path.join(root, LAYOUT)
    venvs, tmp = os.path.join(v1, VENVS_DIR), os.path.join(v1, TMP_DIR)
    for d in (venvs, tmp):
        if not os.path.isdir(d):
            os.mkdir(d, mode)
    if not seed:
        _extract._ensure_dir(venvs, uid)
        _extract.cleanup_tmp(tmp)
    target = os.path.join(venvs, k)
    if not force and os.path.exists(os.path.join(target, MARKER)):
        return target  # e.g. the fallback root holds it
    tmpdir = _extract._private_name(tmp, k)
    try:
        n = build(archive, tmpdir, target, True)
    except OSError as e:
        _extract._rmtree(tmpdir)
        fail("error: pybundle could not build its environment %s in %s: %s. fix: free some space "
             "or set PYBUNDLE_ROOT to another directory." % (k, tmp, e))
    except BaseException:
        _extract._rmtree(tmpdir)
        raise
    out = _extract._install(tmpdir, target, tmp, k, force)
    for path in _extract._LATER:
        _extract._rmtree(path)
    del _extract._LATER[:]
    log("built environment %s (%d files) in %.1f ms" % (k, n, (time.perf_counter() - t0) * 1000))
    return out


def write_to(archive, dest, compile_):
    # `pybundle venv`: DIR must not exist, or be empty; built beside it and renamed into place.
    if os.path.isdir(dest) and not os.path.islink(dest) and not os.listdir(dest):
        os.rmdir(dest)
    if os.path.lexists(dest):
        fail("error: `%s` exists and is not an empty directory; give a new one" % dest)
    parent = os.path.dirname(dest)
    tmpdir = os.path.join(parent, ".%s.%d.tmp" % (os.path.basename(dest), os.getpid()))
    from . import _extract

    try:
        build(archive, tmpdir, dest, compile_)
        os.rename(tmpdir, dest)
    except BaseException:
        _extract._rmtree(tmpdir)
        raise


# --------------------------------------------------------------------------------------------
# building an environment
# --------------------------------------------------------------------------------------------
def _scheme(rel, prefixes):
    for prefix, scheme in prefixes:
        if rel == prefix or (prefix.endswith("/") and rel.startswith(prefix)):
            return scheme
    return None


def shebang(python):
    # pip's rule: a plain `#!` line when the kernel can read it, else a `/bin/sh` trampoline.
    if len(python) + 3 <= 127 and " " not in python:
        return ("#!%s\n" % python).encode("utf-8")
    return ("#!/bin/sh\n'''exec' \"%s\" \"$0\" \"$@\"\n' '''\n" % python).encode("utf-8")


def console_script(head, module, attr):
    first = attr.split(".")[0]
    return head + (
        "# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom %s import %s\n"
        "if __name__ == \"__main__\":\n"
        "    sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n"
        "    sys.exit(%s())\n" % (module, first, attr)
    ).encode("utf-8")


def _digest(data):
    import base64
    import hashlib

    h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return "sha256=%s" % h


def _skeleton(dest, ver):
    base = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    site = os.path.join(dest, "lib", ver, "site-packages")
    os.makedirs(site, 0o755)
    for d in ("bin", "include"):
        os.mkdir(os.path.join(dest, d), 0o755)
    if sys.maxsize > 2 ** 32 and os.name == "posix" and sys.platform != "darwin":
        os.symlink("lib", os.path.join(dest, "lib64"))
    os.symlink(base, os.path.join(dest, "bin", "python"))
    for name in ("python3", "python%d.%d" % sys.version_info[:2]):
        os.symlink("python", os.path.join(dest, "bin", name))
    with open(os.path.join(dest, "pyvenv.cfg"), "w", encoding="utf-8") as f:
        f.write("home = %s\ninclude-system-site-packages = false\nversion = %d.%d.%d\n"
                "executable = %s\n" % ((os.path.dirname(base),) + sys.version_info[:3] + (base,)))
    return site


def build(archive, dest, final, compile_):
    """Write the environment of the bundle ``archive`` into ``dest``, which will be renamed to
    ``final`` (scripts name ``final/bin/python``). Returns the number of files written."""
    from . import _extract, _importer, _unpack

    entries = _importer.toc(archive)
    fd = os.open(archive, os.O_RDONLY)
    try:
        info = _read_info(archive, fd, entries)
        store = _importer.Store(archive, fd, entries)
        out = _Out(dest, final)
        jobs, total_bytes = _plan(archive, store, info, out.ver, compile_)
        dists = info["dists"]
        installed = [{} for _ in dists]  # per dist: store path -> (path in dest, new hash)

        def work(part):
            for i, rel, parts, scheme, path, r, _size in part:
                data = store.read(path, r) if rel == path else store.pyc(path, r)
                new_hash = None
                if scheme == "scripts" and data.startswith(b"#!python"):
                    data = out.head + data.split(b"\n", 1)[1] if b"\n" in data else out.head
                    new_hash = "%s,%d" % (_digest(data), len(data))
                mode = 0o755 if rel == path and r[1] & _importer.F_EXEC else 0o644
                if out.write(parts, data, mode):
                    installed[i][rel] = ("/".join(parts), new_hash)

        # As extraction does: two threads share the work when there is enough of it; each
        # file costs its size plus a file's.
        _unpack.share(work, [(j, j[6] + _unpack.FILE_COST) for j in jobs], total_bytes, 2)
        for i, d in enumerate(dists):
            extra = _console_scripts(out, d["scripts"])
            if d["dist_info"]:
                _record(out, d["dist_info"], installed[i], extra)
        out.listing.sort()
        with open(os.path.join(dest, MARKER), "w", encoding="utf-8") as f:
            f.write(_extract.marker_text(out.listing))
        return len(out.listing)
    finally:
        os.close(fd)


def _read_info(archive, fd, entries):
    # `_pybundle/venv.json`, read and checked as every member is.
    import json

    from . import _importer

    entry = entries.get(VENV_INFO)
    data, why = _importer.read_member(fd, entry) if entry else (None, "missing member")
    if why:
        damaged(archive, "%s: %s" % (VENV_INFO, why))
    return json.loads(data.decode("utf-8"))


class _Out(object):
    # The environment being written into `dest`: its skeleton, the shebang of its scripts, the
    # files written (`write`) and their list for the marker.
    def __init__(self, dest, final):
        self.dest, self.ver = dest, "python%d.%d" % sys.version_info[:2]
        self.site = _skeleton(dest, self.ver)
        self.head = shebang(os.path.join(final, "bin", "python"))
        self.made, self.listing = set(), []
        from ._unpack import write_fd

        self.write_fd = write_fd  # the cold path's writer (not imported by a warm start)

    def write(self, parts, data, mode):
        path = os.path.join(self.dest, *parts)
        parent = os.path.dirname(path)
        if parent not in self.made:
            os.makedirs(parent, 0o755, exist_ok=True)
            self.made.add(parent)
        try:
            out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            return False  # a file another distribution wrote: the first one wins
        try:
            self.write_fd(out, (data,))
        finally:
            os.close(out)
        self.listing.append(("/".join(parts), len(data)))
        return True


def _plan(archive, store, info, ver, compile_):
    # ([(dist index, path in the distribution, parts in dest, scheme, store path, its record,
    # size)], total bytes): every distribution's files in the store (its `roots`), a source's
    # attached bytecode as `__pycache__/X.<tag>.pyc`, each distribution's count and bytes
    # checked against venv.json. Bytecode is left out unless `compile_`.
    from . import _unpack
    from ._importer import F_BYTECODE

    tag = ".%s.pyc" % info["cache_tag"]
    jobs, total_bytes = [], 0
    for i, d in enumerate(info["dists"]):
        count = total = 0
        for path, r in _files(archive, store, d["roots"]):
            items = [(path, r[6])]
            if r[1] & F_BYTECODE:
                head, _, name = path.rpartition("/")
                items.append(((head + "/" if head else "") + "__pycache__/" + name[:-3] + tag, r[9]))
            for rel, size in items:
                parts = _unpack._safe_parts(rel)
                if parts is None:
                    damaged(archive, "unsafe path %s in the store" % rel)
                count += 1
                total += size
                scheme = _scheme(rel, d["prefixes"])
                if scheme is None:
                    if "__pycache__" in parts and not compile_:
                        continue
                    parts = ["lib", ver, "site-packages"] + parts
                elif scheme == "scripts":
                    parts = ["bin"] + parts[1:]
                elif scheme == "headers":
                    parts = ["include", "site", ver] + parts[1:]
                jobs.append((i, rel, parts, scheme, path, r, size))
        if (count, total) != (d["files"], d["size"]):
            damaged(archive, "the store holds %d files / %d bytes of %s, expected %d / %d"
                    % (count, total, d["name"], d["files"], d["size"]))
        total_bytes += total
    return jobs, total_bytes


def _files(archive, store, roots):
    # [(store path, record)] of every file under `roots` (directories end in `/`).
    from ._importer import KIND_DIR, KIND_FILE

    out, todo = [], list(reversed(roots))
    while todo:
        root = todo.pop()
        if not root.endswith("/"):
            r = store.rec(root)
            if r is None or r[0] != KIND_FILE:
                damaged(archive, "%s is missing from the store" % root)
            out.append((root, r))
            continue
        if not store.is_dir(root[:-1]):
            damaged(archive, "%s is missing from the store" % root)
        for name, r in reversed(store.children(root[:-1])):
            todo.append(root + name + ("/" if r[0] == KIND_DIR else ""))
    return out


def _console_scripts(out, scripts):
    # Writes the console and GUI scripts (over a `scripts` file of the same name, as pip does);
    # returns their RECORD rows [(path, "hash,size")].
    extra = []
    for script, module, attr in scripts:
        data = console_script(out.head, module, attr)
        if os.path.lexists(os.path.join(out.dest, "bin", script)):
            os.unlink(os.path.join(out.dest, "bin", script))
            out.listing[:] = [x for x in out.listing if x[0] != "bin/" + script]
        out.write(["bin", script], data, 0o755)
        extra.append(("bin/" + script, "%s,%d" % (_digest(data), len(data))))
    return extra


def _record(out, dist_info, installed, extra):
    # The installed RECORD: every file at its path relative to site-packages (`../../../bin/x`),
    # rewritten scripts and the generated ones with their new hashes, bytecode without one (the
    # spec allows it), INSTALLER, and RECORD itself without a hash.
    import csv
    import io

    rec_rel = dist_info + "/RECORD"
    if rec_rel not in installed:
        return
    dest, site = out.dest, out.site
    path = os.path.join(dest, *installed[rec_rel][0].split("/"))
    with open(path, "r", encoding="utf-8", newline="") as f:
        rows = {r[0]: r[1:] for r in csv.reader(f) if r}
    rel = lambda p: os.path.relpath(os.path.join(dest, p), site).replace(os.sep, "/")  # noqa: E731
    rows_out = []
    for inner, (where, new_hash) in sorted(installed.items()):
        if inner == rec_rel:
            continue
        fields = new_hash.split(",") if new_hash else rows.get(inner, ["", ""])
        rows_out.append([rel(where)] + list(fields[:2]))
    for where, fields in extra:
        rows_out.append([rel(where)] + fields.split(","))
    installer = dist_info + "/INSTALLER"
    if out.write(["lib", out.ver, "site-packages", dist_info, "INSTALLER"], INSTALLER, 0o644):
        rows_out.append([installer, _digest(INSTALLER), str(len(INSTALLER))])
    rows_out.append([rec_rel, "", ""])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows_out)
    data = buf.getvalue().encode("utf-8")
    with open(path, "wb") as f:
        f.write(data)
    out.listing[:] = [x if x[0] != installed[rec_rel][0] else (x[0], len(data)) for x in out.listing]


# --------------------------------------------------------------------------------------------
# the start: execute the environment's python
# --------------------------------------------------------------------------------------------
_FUNCTION = (
    "import sys\n"
    "if sys.path and sys.path[0] == '':\n"
    "    del sys.path[0]\n"
    "sys.argv[:2] = sys.argv[1:2]\n"
    "import importlib\n"
    "obj = importlib.import_module(%r)\n"
    "for a in %r.split('.'):\n"
    "    obj = getattr(obj, a)\n"
    "sys.exit(obj())\n"
)


def options():
    """The interpreter options this process was started with (``python -X utf8 -u app.pyz``),
    for the environment's python; those that variables set (``PYTHONUNBUFFERED``...) travel
    with the environment anyway."""
    f, env, out = sys.flags, os.environ, []
    if f.isolated:
        out.append("-I")
    elif f.ignore_environment:
        out.append("-E")
    if f.no_user_site and not f.isolated:
        out.append("-s")
    if f.optimize and (f.ignore_environment or not env.get("PYTHONOPTIMIZE")):
        out.append("-" + "O" * f.optimize)
    if f.dont_write_bytecode and (f.ignore_environment or not env.get("PYTHONDONTWRITEBYTECODE")):
        out.append("-B")
    unbuffered = getattr(sys.__stdout__, "write_through", False)  # -u leaves no flag
    if unbuffered and (f.ignore_environment or not env.get("PYTHONUNBUFFERED")):
        out.append("-u")
    if f.bytes_warning:
        out.append("-" + "b" * f.bytes_warning)
    if f.ignore_environment or not env.get("PYTHONWARNINGS"):
        for w in sys.warnoptions:
            out.extend(("-W", w))
    for k, v in getattr(sys, "_xoptions", {}).items():
        out.extend(("-X", k if v is True else "%s=%s" % (k, v)))
    return out


def command(g, env):
    """The argv that runs the bundle's entry in the environment ``env``."""
    from . import _resolve_entry

    kind, name, attr = _resolve_entry(g)
    py = os.path.join(env, "bin", "python")
    args = sys.argv[1:]
    if kind in ("executable", "wrapper"):
        return kind, [os.path.join(env, "bin", attr.rsplit("/", 1)[-1])] + args
    py = [py] + options()
    if kind == "function":
        return kind, py + ["-c", _FUNCTION % (name, attr), sys.argv[0]] + args
    if kind == "module":
        return kind, py + ["-m", name] + args
    if kind == "script":
        return kind, py + [os.path.join(env, "bin", attr.rsplit("/", 1)[-1])] + args
    return "interpreter", py + args


def _exec(g, env):
    kind, argv = command(g, env)
    log("exec %s (%s entry)" % (argv[0], kind))
    if kind in ("executable", "wrapper"):
        import _signal

        for name in ("SIGPIPE", "SIGXFSZ"):
            if hasattr(_signal, name):
                _signal.signal(getattr(_signal, name), _signal.SIG_DFL)
        if kind == "wrapper":  # its `python` is the environment's
            bin_dir = os.path.join(env, "bin")
            os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass
    try:
        os.execv(argv[0], argv)
    except OSError as e:
        fail("error: pybundle cannot run %s: %s. fix: run once with PYBUNDLE_FORCE_EXTRACT=1 to "
             "build the environment anew" % (argv[0], e.strerror or e))
