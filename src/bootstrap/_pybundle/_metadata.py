"""importlib.metadata for the distributions imported from the bundle.

Imported only when something asks ``importlib.metadata`` for distributions (never on a start that
does not). The zip-safe distributions are in the bundle's store (``_importer``), which the stdlib
finder cannot read: this finder reads the few metadata files it is asked for from the store and
lists the distributions from the ``DISTS`` literal of ``__main__.py`` (or, without one, from the
store's root directory).

The bundle's own ``sys.path`` entry is ``<bundle>/site-packages/`` (trailing slash), on which the
stdlib metadata finder fails fast.
"""
import importlib.metadata as _md
import os
import re


def _normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


class BundleDistribution(_md.Distribution):
    """A distribution whose ``.dist-info`` directory is inside the bundle."""

    def __init__(self, store, dist_info):
        self._store = store
        self._dist_info = dist_info

    def read_text(self, filename):
        try:
            data = self._store.read("%s/%s" % (self._dist_info, filename))
        except OSError:
            return None
        return data.decode("utf-8")

    def locate_file(self, path):
        from ._resources import Traversable

        return Traversable(self._store, "").joinpath(str(path))

    def __repr__(self):
        return "<BundleDistribution %s in %s>" % (self._dist_info, self._store.archive)


class PendingDistribution(_md.Distribution):
    """A distribution extracted on first import that has not been imported yet: its metadata
    comes from the bundle (``<name>.dist-info`` in ``extract/<key>.zip``, read by ``_zip``);
    asking for one of its files on disk extracts it first."""

    def __init__(self, archive, key, dist_info, lazy):
        self._archive, self._key, self._dist_info, self._lazy = archive, key, dist_info, lazy

    def read_text(self, filename):
        from . import _zip

        data = _zip.read_inner(self._archive, self._key, "%s/%s" % (self._dist_info, filename))
        return None if data is None else data.decode("utf-8")

    def locate_file(self, path):
        import pathlib

        self._lazy.mount([self._key])
        from . import SITE_DIR

        suffix = os.sep + self._key + os.sep + SITE_DIR
        where = next((d for d in self._lazy.own if d.endswith(suffix)), None)
        return pathlib.Path(where) / str(path)

    def __repr__(self):
        return "<PendingDistribution %s in %s>" % (self._dist_info, self._archive)


def find(archive, entry, dists, context, lazy=None):
    """Yield the bundle's distributions that ``context`` (name, path) asks for."""
    path = getattr(context, "path", None)
    if path is not None and entry not in path:
        return
    name = getattr(context, "name", None)
    wanted = _normalize(name) if name else None
    from ._importer import store_of

    store = store_of(archive)
    for normalized, dist_info in dists if store is not None else ():
        if wanted is None or wanted == normalized:
            yield BundleDistribution(store, dist_info)
    if lazy is None:
        return
    for item in list(lazy.pending.values()):  # mounted ones are found on sys.path
        dist_info = item.dist_info
        if dist_info and (wanted is None or wanted == _normalize(dist_info.split("-")[0])):
            yield PendingDistribution(archive, item.key, dist_info, lazy)
