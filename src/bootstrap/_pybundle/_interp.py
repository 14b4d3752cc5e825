"""Interpreter mode: the bundle behaves like ``python`` with the bundle's packages importable.

Supported command lines (after the bundle path)::

    (nothing)          interactive REPL if stdin is a terminal, else read the program from stdin
    -c CMD [args...]   sys.argv == ['-c', args...]
    -m MOD [args...]   runpy.run_module(MOD, run_name='__main__', alter_sys=True)
    -  [args...]       read the program from stdin, sys.argv == ['-', args...]
    SCRIPT [args...]   runpy.run_path(SCRIPT, run_name='__main__'), sys.argv == [SCRIPT, args...]

Like ``python``, the script's directory (for ``SCRIPT``) or ``''`` (the current directory, for
the other forms) is put in front of ``sys.path``; the rest of ``sys.path`` is the bundle's.
"""
import os
import sys


def _usage(msg):
    sys.stderr.write("%s\nusage: BUNDLE [-c cmd | -m mod | file | -] [arg] ...\n" % msg)
    raise SystemExit(2)


def _fresh_main():
    import types

    mod = types.ModuleType("__main__")
    mod.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = mod
    return mod


def _install_excepthook():
    from . import _install_excepthook as hook

    hook()


def _exec_source(source, filename, argv):
    sys.argv[:] = argv
    sys.path.insert(0, "")
    _install_excepthook()
    mod = _fresh_main()
    code = compile(source, filename, "exec")
    exec(code, mod.__dict__)


def _repl():
    sys.argv[:] = [""]
    sys.path.insert(0, "")
    mod = _fresh_main()
    hook = getattr(sys, "__interactivehook__", None)
    if hook is not None:
        try:
            hook()  # readline, tab completion and history, like the plain interpreter
        except Exception as e:
            sys.stderr.write("pybundle: warning: interactive hook failed: %s\n" % e)
    else:
        try:
            import readline  # noqa: F401
        except ImportError:
            pass
    startup = os.environ.get("PYTHONSTARTUP")
    if startup and os.path.isfile(startup) and not sys.flags.ignore_environment:
        with open(startup, "rb") as f:
            exec(compile(f.read(), startup, "exec"), mod.__dict__)
    import code

    banner = 'Python %s on %s\nType "help", "copyright", "credits" or "license" for more information.' % (
        sys.version,
        sys.platform,
    )
    try:
        code.interact(banner=banner, local=mod.__dict__, exitmsg="")
    except TypeError:  # pragma: no cover
        code.interact(banner=banner, local=mod.__dict__)


def run(archive):
    args = sys.argv[1:]
    if not args:
        if sys.stdin is not None and sys.stdin.isatty():
            return _repl()
        return _exec_source(sys.stdin.read(), "<stdin>", [""])
    first = args[0]
    if first == "-c" or (first.startswith("-c") and len(first) > 2):
        if first == "-c":
            if len(args) < 2:
                _usage("Argument expected for the -c option")
            cmd, rest = args[1], args[2:]
        else:
            cmd, rest = first[2:], args[1:]
        return _exec_source(cmd + "\n", "<string>", ["-c"] + rest)
    if first == "-m" or (first.startswith("-m") and len(first) > 2):
        if first == "-m":
            if len(args) < 2:
                _usage("Argument expected for the -m option")
            name, rest = args[1], args[2:]
        else:
            name, rest = first[2:], args[1:]
        import runpy

        sys.argv[:] = ["-m"] + rest
        sys.path.insert(0, os.getcwd())
        _install_excepthook()
        runpy.run_module(name, run_name="__main__", alter_sys=True)
        return
    if first == "-":
        return _exec_source(sys.stdin.read(), "<stdin>", ["-"] + args[1:])
    if first == "--":
        args = args[1:]
        if not args:
            return _repl()
        first = args[0]
    elif first.startswith("-"):
        _usage("Unknown option: %s (interpreter mode supports -c, -m and -)" % first)
    import runpy

    sys.argv[:] = args
    path = os.path.abspath(first)
    if os.path.isfile(path) and not _is_zip(path):
        sys.path.insert(0, os.path.dirname(path))
    _install_excepthook()
    runpy.run_path(first, run_name="__main__")


def _is_zip(path):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 65557))
            return b"PK\x05\x06" in f.read()
    except OSError:
        return False
