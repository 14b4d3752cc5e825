"""Child processes that import the bundle's code without running the bundle.

``PYBUNDLE_EXTEND_PYTHONPATH`` children get ``<bundle>/_pybundle/child`` first on
``PYTHONPATH``: ``site`` imports its ``sitecustomize`` through zipimport, which calls
:func:`install` (the store's path hook and the metadata finder), then runs the next
``sitecustomize`` on ``sys.path`` (:func:`next_sitecustomize`), so a host's own still runs.
``multiprocessing`` spawn and forkserver children (and the resource tracker) run ``python -c
'from multiprocessing. ...'``: :func:`wrap_spawn`, called just after ``multiprocessing.util`` is
imported, prefixes those programs with the same install, and :func:`wrap_preparation` mounts
what is pending before a child gets the parent's ``sys.path``. Both kinds of children find the
units of distributions extracted in part through ``PYBUNDLE_UNITS``. Other subprocesses inherit
nothing.
"""
import os
import re
import sys


def install(archive):
    """Make the store of the bundle at ``archive`` importable in this process."""
    from . import _importer

    archive = os.path.abspath(archive)
    fd = os.open(archive, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    store = _importer.open_store(archive, fd)
    if store is None or store.fd != fd:
        os.close(fd)
    if store is None:
        return
    _importer.install(store)
    # site made `<bundle>/site-packages/` of PYTHONPATH absolute: the hook's entry is the path
    # with the slash, which importlib.metadata's finder passes over
    entry = store.root + "/"
    if store.root in sys.path and entry not in sys.path:
        sys.path[sys.path.index(store.root)] = entry
    if not any(isinstance(f, _importer.MetadataFinder) for f in sys.meta_path):
        sys.meta_path.append(_importer.MetadataFinder(archive, entry, dists(store)))
    units = _importer.Units.from_env()
    if units is not None and not any(isinstance(f, _importer.Units) for f in sys.meta_path):
        _importer.before_path_finder(units)


def dists(store):
    """(normalized name, ``.dist-info`` directory) of the distributions in the store."""
    return [(re.sub(r"[-_.]+", "-", name.split("-")[0]).lower(), name) for name in store.dist_infos()]


def next_sitecustomize(here):
    """Run the ``sitecustomize`` that ``site`` would have found without ``here``."""
    from importlib.machinery import PathFinder

    ours = sys.modules.pop("sitecustomize", None)
    here = here.rstrip("/")
    spec = PathFinder.find_spec("sitecustomize", [p for p in sys.path if p.rstrip("/") != here])
    if spec is None or spec.loader is None:
        if ours is not None:
            sys.modules["sitecustomize"] = ours
        return
    import importlib.util

    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


def prefix(archive):
    """The statement that installs the store of ``archive`` in a ``python -c`` child."""
    return ("import sys; sys.path.insert(0, %r); import _pybundle._child; "
            "_pybundle._child.install(%r); sys.path.remove(%r); " % (archive, archive, archive))


def wrap_spawn(util):
    """Wrap ``multiprocessing.util.spawnv_passfds`` (called just after its module is imported)."""
    from . import _importer

    orig = getattr(util, "spawnv_passfds", None)
    if orig is None or getattr(orig, "_pybundle", False) or not _importer._STORES:
        return
    archive = next(iter(_importer._STORES))

    def spawnv_passfds(path, args, passfds):
        args = list(args)
        if "-c" in args:
            i = args.index("-c") + 1
            if i < len(args) and args[i].startswith("from multiprocessing."):
                args[i] = prefix(archive) + args[i]
        return orig(path, args, passfds)

    spawnv_passfds._pybundle = True
    util.spawnv_passfds = spawnv_passfds


def wrap_preparation(spawn):
    """Wrap ``multiprocessing.spawn.get_preparation_data`` (called just after its module is
    imported): everything pending is mounted first, so the child's ``sys.path`` and units are
    complete."""
    from . import _importer

    orig = getattr(spawn, "get_preparation_data", None)
    if orig is None or getattr(orig, "_pybundle", False):
        return

    def get_preparation_data(name):
        for hook in _importer.BEFORE_SPAWN:
            hook()
        return orig(name)

    get_preparation_data._pybundle = True
    spawn.get_preparation_data = get_preparation_data
