"""Subpackages of an extracted entry that are written on their first import (imported only for
an entry that has them).

The builder leaves some subpackages of a distribution extracted whole out of what a first start
writes (``Item.parts``: scipy's ``stats``, ``optimize``… when nothing outside them reaches
their files by path, see src/analyze/parts.rs). The entry is complete without them; each is
written into it when it is first imported: ``_cache``'s path hook gives the package directory
holding them this module's :class:`Finder`, which writes a pending subpackage
(``_extract.extract_part``) before it looks for it, so its ``__file__`` and ``__path__`` are the
entry's, as if it had been there from the start. An entry that has one already (this start's,
another process's, ``pybundle extract``'s) is used after its native files pass the stat check
every start makes of an entry's natives; a damaged one is written anew.

``pkgutil.iter_modules`` of the package lists the pending ones too. Before a spawn, and for
children that inherit ``PYTHONPATH``, :func:`complete` writes every pending one: those
interpreters import with the host's finders.
"""
import os
import sys

from . import _LAZY, SITE_DIR
from . import _cache

_ext = sys.modules["_frozen_importlib_external"]
_LOCK = []
_PKGUTIL = []


def _lock():
    if not _LOCK:
        import _thread

        _LOCK.append(_thread.RLock())
    return _LOCK[0]


class Finder(_ext.FileFinder):
    """The finder of a package directory of an entry that holds pending subpackages."""

    def find_spec(self, fullname, target=None):
        pending = _cache.PART_DIRS.get(self.path)
        if pending and fullname.rpartition(".")[2] in pending:
            write(self.path, fullname.rpartition(".")[2])
            self.invalidate_caches()
        return _ext.FileFinder.find_spec(self, fullname, target)


def write(path, name):
    """Make the pending subpackage ``name`` of the package directory ``path`` ready on disk."""
    with _lock():  # our own lock, as _LazyExtract's: one writer per process
        pending = _cache.PART_DIRS.get(path)
        info = pending.pop(name, None) if pending else None
        if info is None:
            return
        archive, entry, key, part = info
        target = os.path.join(entry, SITE_DIR, *part[0].split("/"))
        why = None
        if os.path.isdir(target):
            why = _cache.native_damage(entry, part[3]) if part[3] else None
            if why is None:
                return
        from . import _extract

        replace = why is not None
        if replace:
            _extract.report_damage(target, why, True)

        _LAZY[0] += 1  # an error raises ImportError here, as in a lazy mount
        try:
            _extract.extract_part(archive, entry, key, part, replace)
        except BaseException:
            pending[name] = info
            raise
        finally:
            _LAZY[0] -= 1


def ready(entry, parts):
    """True if every subpackage ``parts`` of ``entry`` is written, its native files intact (an
    entry in a read-only root, which nothing can complete)."""
    for part in parts:
        if not os.path.isdir(os.path.join(entry, SITE_DIR, *part[0].split("/"))):
            return False
        if part[3] and _cache.native_damage(entry, part[3]) is not None:
            return False
    return True


def complete():
    """Write every pending subpackage of the entries in use."""
    for path in sorted(_cache.PART_DIRS):
        for name in sorted(_cache.PART_DIRS.get(path) or ()):
            write(path, name)
        finder = sys.path_importer_cache.get(path)
        if finder is not None:
            finder.invalidate_caches()


def register_pkgutil(pkgutil):
    """Make ``pkgutil.iter_modules`` of a package directory with pending subpackages list them
    (once per process)."""
    if _PKGUTIL:
        return
    _PKGUTIL.append(pkgutil)
    listed = pkgutil._iter_file_finder_modules

    def iter_modules(importer, prefix=""):
        seen = set()
        for name, ispkg in listed(importer, prefix):
            seen.add(name)
            yield name, ispkg
        for name in sorted(_cache.PART_DIRS.get(importer.path) or ()):
            if prefix + name not in seen:
                yield prefix + name, True

    pkgutil.iter_importer_modules.register(Finder, iter_modules)
