"""Interpreter mismatch messages, a small PEP 440 specifier check, the exit on an unhandled
KeyboardInterrupt and the refusal of an unsafe cache directory (imported only on those paths).

``specifier_contains(spec, version)`` supports the operators ``>=, <=, >, <, ==, !=, ~=, ===``
and ``.*`` wildcards on release numbers (``==3.11.*``, ``!=3.9.*``). Like pip's
``requires_python`` check, the running interpreter is compared by its release number only
(``sys.version_info[:3]``), so a 3.13.0rc1 interpreter counts as 3.13.0.
"""
import os
import sys

from . import fail

_OPS = ("~=", "===", "==", "!=", "<=", ">=", "<", ">")
_PRE = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
_POST = ("post", "rev", "r")


class InvalidSpecifier(ValueError):
    pass


def _take_num(s, i):
    j = i
    while j < len(s) and s[j].isdigit():
        j += 1
    return (int(s[i:j]) if j > i else None), j


def _skip_sep(s, i):
    return i + 1 if i < len(s) and s[i] in "-_." else i


def _parse(v):
    """Parse a PEP 440 version into (epoch, release, pre, post, dev); no `re` (warm path)."""
    s = v.strip().lower()
    if s.startswith("v"):
        s = s[1:]
    s = s.split("+", 1)[0]
    epoch = 0
    if "!" in s:
        e, s = s.split("!", 1)
        if not e.isdigit():
            raise InvalidSpecifier("invalid version %r" % v)
        epoch = int(e)
    release = []
    i = 0
    while True:
        n, j = _take_num(s, i)
        if n is None:
            raise InvalidSpecifier("invalid version %r" % v)
        release.append(n)
        i = j
        if i + 1 < len(s) and s[i] == "." and s[i + 1].isdigit():
            i += 1
            continue
        break
    pre = post = dev = None
    k = _skip_sep(s, i)
    for word in sorted(_PRE, key=len, reverse=True):
        if s.startswith(word, k):
            n, i = _take_num(s, _skip_sep(s, k + len(word)))
            pre = (_PRE[word], n or 0)
            break
    if i < len(s) and s[i] == "-" and i + 1 < len(s) and s[i + 1].isdigit():
        post, i = _take_num(s, i + 1)
    else:
        k = _skip_sep(s, i)
        for word in _POST:
            if s.startswith(word, k):
                n, i = _take_num(s, _skip_sep(s, k + len(word)))
                post = n or 0
                break
    k = _skip_sep(s, i)
    if s.startswith("dev", k):
        n, i = _take_num(s, _skip_sep(s, k + 3))
        dev = n or 0
    if i != len(s):
        raise InvalidSpecifier("invalid version %r" % v)
    return epoch, tuple(release), pre, post, dev


def _key(parsed, width):
    epoch, release, pre, post, dev = parsed
    release = release + (0,) * (width - len(release))
    if pre is None and post is None and dev is not None:
        pre_k = (-1, 0)  # X.Y.devN sorts before X.Y.a0
    elif pre is None:
        pre_k = (3, 0)
    else:
        pre_k = pre
    post_k = -1 if post is None else post
    dev_k = float("inf") if dev is None else dev
    return (epoch, release, pre_k, post_k, dev_k)


def _is_pre(parsed):
    return parsed[2] is not None or parsed[4] is not None


def _clause(op, v, cur):
    if op == "===":
        return v == ".".join(str(x) for x in cur[1])
    if v.endswith(".*"):
        if op not in ("==", "!="):
            raise InvalidSpecifier("wildcard only allowed with == and !=")
        prefix = tuple(int(x) for x in v[:-2].split("."))
        rel = cur[1] + (0,) * max(0, len(prefix) - len(cur[1]))
        match = rel[: len(prefix)] == prefix
        return match if op == "==" else not match
    spec = _parse(v)
    width = max(len(spec[1]), len(cur[1]))
    ks, kc = _key(spec, width), _key(cur, width)
    if op == "==":
        return kc == ks
    if op == "!=":
        return kc != ks
    if op == ">=":
        return kc >= ks
    if op == "<=":
        return kc <= ks
    if op == ">":
        if kc <= ks:
            return False
        # >V excludes post releases of V unless V is one
        if spec[3] is None and cur[3] is not None and cur[1] == spec[1]:
            return False
        return True
    if op == "<":
        if kc >= ks:
            return False
        # <V excludes pre-releases of V unless V is one
        if not _is_pre(spec) and _is_pre(cur):
            w = max(len(spec[1]), len(cur[1]))
            if spec[1] + (0,) * (w - len(spec[1])) == cur[1] + (0,) * (w - len(cur[1])):
                return False
        return True
    if op == "~=":
        if len(spec[1]) < 2:
            raise InvalidSpecifier("~= needs at least two release segments")
        if kc < ks:
            return False
        prefix = spec[1][:-1]
        rel = cur[1] + (0,) * max(0, len(prefix) - len(cur[1]))
        return rel[: len(prefix)] == prefix
    raise InvalidSpecifier("unknown operator %r" % op)


def specifier_contains(spec, version):
    """True if ``version`` (a tuple of ints or a version string) satisfies ``spec``.

    An unparseable specifier is reported on stderr and treated as satisfied."""
    if isinstance(version, tuple):
        version = ".".join(str(x) for x in version)
    try:
        cur = _parse(version)
        for part in spec.split(","):
            if not part.strip():
                continue
            part = part.strip()
            for op in _OPS:
                if part.startswith(op):
                    break
            else:
                raise InvalidSpecifier("invalid clause %r" % part)
            ver = part[len(op):].strip()
            if not ver or " " in ver:
                raise InvalidSpecifier("invalid clause %r" % part)
            if not _clause(op, ver, cur):
                return False
        return True
    except (InvalidSpecifier, ValueError) as e:
        sys.stderr.write("pybundle: warning: ignoring requires_python %r: %s\n" % (spec, e))
        return True


def _impl_name(name):
    return {"cpython": "CPython", "pypy": "PyPy", "graalpy": "GraalPy"}.get(name, name or "Python")


def _build_platform(spec):
    return spec.get("platform") or "-".join(
        x for x in (spec.get("sys_platform"), spec.get("machine")) if x
    ) or "unknown platform"


def _running():
    v = sys.version_info
    ver = "%d.%d.%d" % (v[0], v[1], v[2])
    if v[3] != "final":
        ver += {"alpha": "a", "beta": "b", "candidate": "rc"}.get(v[3], v[3]) + str(v[4])
    return "%s %s" % (_impl_name(sys.implementation.name), ver)


def _current_platform():
    try:
        import sysconfig

        return sysconfig.get_platform()
    except Exception:
        return sys.platform


def native_mismatch(spec, archive):
    want = spec.get("version") or ()
    want_s = ".".join(str(x) for x in want)
    impl = _impl_name(spec.get("implementation"))
    bplat = _build_platform(spec)
    cur_plat = _current_platform()
    exe = sys.executable or "(unknown executable)"
    name = os.path.basename(archive)
    here = _running()
    if cur_plat != bplat:
        here += " (%s)" % cur_plat
    py = "python%s" % want_s if spec.get("implementation") in (None, "cpython") else "%s%s" % (
        spec.get("implementation"),
        want_s,
    )
    cur_py = "python%d.%d" % sys.version_info[:2]
    return (
        "error: this bundle was built for %s %s (%s) and contains native code; it cannot run on "
        "%s at %s. hint: run it with %s (e.g. `%s %s`) or rebuild it with --python %s"
        % (impl, want_s, bplat, here, exe, py, py, name, cur_py)
    )


def requires_mismatch(spec, archive):
    exe = sys.executable or "(unknown executable)"
    name = os.path.basename(archive)
    req = spec.get("requires_python")
    return (
        "error: this bundle requires Python %s; it cannot run on %s at %s. hint: run it with a "
        "Python that matches %s (e.g. `python3.X %s`) or rebuild it with a different --python"
        % (req, _running(), exe, req, name)
    )


def thread_excepthook(args, default):
    """``_pybundle._thread_excepthook``: threading's own pure-Python fallback hook, printing
    through the traceback module. ``threading.excepthook``'s default is ``_thread._excepthook``,
    written in C: before 3.13 it prints through the same C printer as ``sys.__excepthook__``
    (source lines from the file system only), so a thread's traceback lacked the lines the main
    thread's has. ``default`` is that C hook, the fallback if printing fails."""
    if args.exc_type is SystemExit:
        return
    try:
        stderr = sys.stderr
        if stderr is None:
            stderr = getattr(args.thread, "_stderr", None)
            if stderr is None:
                return
        import traceback

        if args.thread is not None:
            name = args.thread.name
        else:
            import _thread

            name = _thread.get_ident()
        stderr.write("Exception in thread %s:\n" % name)
        stderr.flush()
        traceback.print_exception(args.exc_type, args.exc_value, args.exc_traceback, file=stderr)
        stderr.flush()
    except BaseException:
        default(args)


def exit_sigint():
    """End like ``python script.py`` on an unhandled KeyboardInterrupt: traceback, atexit
    handlers, then death by SIGINT (exit status 130 in a shell). A zipapp run by CPython itself
    goes through runpy and would exit with status 1 instead. Called in the ``except`` block."""
    sys.excepthook(*sys.exc_info())
    try:
        import atexit

        atexit._run_exitfuncs()
    except BaseException:
        pass
    flush_std()
    try:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except (AttributeError, OSError, ValueError):
        pass
    os._exit(130)


def owner(uid):
    try:
        import pwd

        return "%s (uid %d)" % (pwd.getpwuid(uid).pw_name, uid)
    except Exception:
        return "uid %d" % uid


def unsafe_dir(path, st, uid, readonly=False):
    """Stop the run: the cache directory ``path`` (stat ``st``) is not ours or is writable by
    group or others."""
    who = "you or root" if readonly else "you"
    if st.st_uid == uid:
        fix = "`chmod 700 %s`" % path
    else:  # only its owner or root can change it: a hint the user can follow
        fix = "have %s removed by its owner or an administrator (`sudo rm -r %s`; a run as root " \
              "made it, say)" % (path, path)
    fail(
        "error: refusing to use the pybundle cache directory %s: it is owned by %s and has mode "
        "%04o, but it must be owned by %s (uid %d) and not writable by group or others. fix: "
        "%s, or set PYBUNDLE_ROOT to a private directory."
        % (path, owner(st.st_uid), st.st_mode & 0o7777, who, uid, fix)
    )


def describe(st):
    """What is wrong with a path component of stat ``st`` (see ``_cache.pin``)."""
    if st is None:
        return "a loop of links or a `..` after a missing directory"
    kind = "a link" if st.st_mode & 0o170000 == 0o120000 else "a directory"
    return "%s owned by %s with mode %04o" % (kind, owner(st.st_uid), st.st_mode & 0o7777)


def unsafe_path(root, bad, uid):
    """Stop the run: the cache root ``root`` is, or passes through, ``bad`` = (component, stat),
    a link or directory that another user could change (``_cache.pin``)."""
    comp, st = bad
    if st is not None and comp == root and st.st_mode & 0o170000 != 0o120000:
        unsafe_dir(comp, st, uid, True)
    fail(
        "error: refusing to use the pybundle cache directory %s: it is or passes through %s, %s, "
        "which another user could change to make this program load their code; every directory "
        "and link on the way must be owned by you (uid %d) or root and not writable by group or "
        "others (a sticky directory such as /tmp may be, as a parent only). fix: set "
        "PYBUNDLE_ROOT (or PYBUNDLE_ROOTS) to a directory you own, reached without such a link "
        "or directory." % (root, comp, describe(st), uid)
    )


def no_root(archive, ro, tried, keys):
    """The paragraph for a start that found no directory to extract ``keys`` into: ``ro`` the
    read-only roots searched, ``tried`` the writable candidates as (path, why not)."""
    name = os.path.basename(archive)
    seeded = ", ".join(ro) + " (no complete entry)" if ro else "none (PYBUNDLE_ROOTS is not set)"
    return (
        "error: pybundle has no directory to extract %s into: read-only roots: %s; writable "
        "roots tried: %s. fix: pre-seed the cache when building the image (`pybundle extract %s "
        "--root /opt/pybundle`, then PYBUNDLE_ROOTS=/opt/pybundle), or give it a writable "
        "directory where programs may run (`docker run --tmpfs /tmp:exec`), or set PYBUNDLE_ROOT "
        "to a writable directory on a mount without noexec."
        % (", ".join(keys), seeded, "; ".join("%s (%s)" % t for t in tried), name)
    )


class StartError(ImportError):
    """A start failure inside a lazy import (no cache directory, an extraction that failed, a
    damaged bundle): an ImportError, so that the application's own handling applies (a gunicorn
    worker whose application fails to import makes gunicorn exit instead of respawning it
    forever); its message is the one paragraph a failure at start prints."""


_PRINTED = set()


def raise_start_error(msg):
    """Print the paragraph ``msg`` and raise :class:`StartError` with it. Printed first, so that
    an application that catches ImportError and runs a pure-Python fallback does not do so
    silently; if nothing catches it, nothing more is printed (no traceback) and the exit status
    is 1, as for a failure at start."""
    msg = msg.rstrip("\n")
    if msg not in _PRINTED:  # once per start, however often the import is tried
        _PRINTED.add(msg)
        sys.stderr.write(msg + "\n")
        sys.stderr.flush()
    prev = sys.excepthook
    if getattr(prev, "__name__", "") != "_pybundle_start_error_hook":

        def hook(etype, value, tb):
            if not isinstance(value, StartError):
                prev(etype, value, tb)

        hook.__name__ = "_pybundle_start_error_hook"
        sys.excepthook = hook
    raise StartError(msg)


def flush_std():
    """Flushes stdout and stderr, ignoring a closed or broken stream: before the process ends
    or is replaced by another program (``os.execv``), so no buffered output is lost."""
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
