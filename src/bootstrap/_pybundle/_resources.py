"""Resources of the zip-safe distributions, served from the bundle's store (``_importer``).

Imported only when something asks for resources: ``importlib.resources`` (and the
``importlib_resources`` backport, which asks loaders the same way) gets a resource reader
(:class:`Reader`: the 3.8 ``ResourceReader`` methods and ``files()``) whose ``files()`` is a
:class:`Traversable` over the store; ``pkg_resources``, once imported, gets a provider for the
store's loaders, a distribution finder and a namespace handler for its finders, and the bundle's
distributions in its master working set (:func:`register_pkg_resources`).
"""
import io
import os


class Traversable(object):
    """A file or directory of the store (``importlib.resources.abc.Traversable``)."""

    def __init__(self, store, rel):
        self.store, self.rel = store, rel

    def __repr__(self):
        return "<pybundle resource %r>" % str(self)

    def __str__(self):
        return self.store.root + "/" + self.rel

    def __eq__(self, other):
        return isinstance(other, Traversable) and (self.store, self.rel) == (other.store, other.rel)

    def __hash__(self):
        return hash((self.store.archive, self.rel))

    @property
    def name(self):
        return self.rel.rpartition("/")[2]

    def _rec(self):
        return self.store.rec(self.rel)

    def is_dir(self):
        return self.store.is_dir(self.rel)

    def is_file(self):
        from ._importer import KIND_FILE

        r = self._rec()
        return r is not None and r[0] == KIND_FILE

    def exists(self):
        return self._rec() is not None

    def iterdir(self):
        if not self.is_dir():
            raise NotADirectoryError(20, "Not a directory in the bundle", str(self))
        return iter([self.joinpath(name) for name, _r in self.store.children(self.rel)])

    def joinpath(self, *descendants):
        rel = self.rel
        for d in descendants:
            for part in str(d).replace("\\", "/").split("/"):
                if part in ("", "."):
                    continue
                if part == "..":
                    rel = rel.rpartition("/")[0]
                else:
                    rel = rel + "/" + part if rel else part
        return Traversable(self.store, rel)

    __truediv__ = joinpath

    def read_bytes(self):
        return self.store.read(self.rel)

    def read_text(self, encoding=None, errors=None):
        with self.open("r", encoding=encoding, errors=errors) as f:
            return f.read()

    def open(self, mode="r", *args, **kwargs):
        if mode not in ("r", "rb", "rt"):
            raise ValueError("resources of a bundle are read only: mode %r" % mode)
        raw = io.BytesIO(self.read_bytes())
        if mode == "rb":
            return raw
        if args:
            kwargs.setdefault("encoding", args[0])
        kwargs.setdefault("encoding", "utf-8")
        return io.TextIOWrapper(raw, **kwargs)


class Reader(object):
    """The resource reader of a package directory ``rel`` of the store."""

    def __init__(self, store, rel):
        self.store, self.rel = store, rel

    def files(self):
        return Traversable(self.store, self.rel)

    def open_resource(self, resource):
        try:
            return self.files().joinpath(resource).open("rb")
        except FileNotFoundError:
            raise FileNotFoundError(2, "No resource in the bundle", resource)

    def resource_path(self, resource):
        raise FileNotFoundError(2, "Resources of a bundle have no file system path", resource)

    def is_resource(self, name):
        return self.files().joinpath(name).is_file()

    def contents(self):
        return iter([name for name, _r in self.store.children(self.rel)])


def fix_files_39(common):
    """3.9's ``importlib.resources.files()`` makes a ``zipfile.Path`` of ``loader.archive`` or a
    ``pathlib.Path`` of the package's directory, never asking the loader's reader: ask ours."""
    from ._importer import Loader

    orig = common.from_package

    def from_package(package):
        loader = getattr(package.__spec__, "loader", None)
        if isinstance(loader, Loader):
            return loader.get_resource_reader(package.__spec__.name).files()
        return orig(package)

    common.from_package = from_package


# --- pkg_resources
def register_pkg_resources(pkg_resources):
    """Teach ``pkg_resources`` the store (called just after it is imported)."""
    from . import _importer

    pkg_resources.register_loader_type(_importer.Loader, _provider_class(pkg_resources))
    pkg_resources.register_finder(_importer.Finder, _find_distributions)
    pkg_resources.register_namespace_handler(_importer.Finder, pkg_resources.file_ns_handler)
    ws = getattr(pkg_resources, "working_set", None)
    if ws is None:
        return
    import sys

    for entry in list(sys.path):
        importer = sys.path_importer_cache.get(entry)
        if isinstance(importer, _importer.Finder) and not importer.rel:
            for dist in _find_distributions(importer, entry):
                if dist.key not in ws.by_key:
                    ws.add(dist, entry)


_PROVIDER = []


def _provider_class(pkg_resources):
    if _PROVIDER:
        return _PROVIDER[0]

    class StoreProvider(pkg_resources.NullProvider):
        """Resources and metadata of a module or a ``.dist-info`` directory of the store."""

        def __init__(self, module):
            pkg_resources.NullProvider.__init__(self, module)
            self.store = self.loader.store

        def _rel(self, path):
            rel = self.store.rel(path)
            return "\0" if rel is None else rel

        def _has(self, path):
            return self.store.rec(self._rel(path)) is not None

        def _isdir(self, path):
            return self.store.is_dir(self._rel(path))

        def _listdir(self, path):
            return [name for name, _r in self.store.children(self._rel(path))]

        def _get(self, path):
            return self.store.read(self._rel(path))

        def get_resource_filename(self, manager, resource_name):
            # Resources have no file in the bundle: written once to a temporary directory.
            return _materialize(self.store, self._rel(self._fn(self.module_path, resource_name)))

    _PROVIDER.append(StoreProvider)
    return StoreProvider


_TMP = []


def _materialize(store, rel):
    import tempfile

    if not _TMP:
        import atexit
        import shutil

        _TMP.append(tempfile.mkdtemp(prefix="pybundle-resources-"))
        atexit.register(shutil.rmtree, _TMP[0], True)
    target = os.path.join(_TMP[0], *rel.split("/"))
    if store.is_dir(rel):
        os.makedirs(target, exist_ok=True)
        for name, _r in store.children(rel):
            _materialize(store, rel + "/" + name)
    elif not os.path.exists(target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(store.read(rel))
    return target


class _Meta(object):
    # what NullProvider.__init__ reads from a module
    def __init__(self, loader, path):
        self.__loader__, self.__file__ = loader, path


def _find_distributions(importer, path_item, only=False):
    """The ``.dist-info`` distributions at the root of the store (pkg_resources finder)."""
    import pkg_resources

    from . import _importer

    store = importer.store
    if importer.rel:
        return
    cls = _provider_class(pkg_resources)
    loader = _importer.Loader(store, "", "", False)
    for name in store.dist_infos():
        meta = cls(_Meta(loader, store.root + "/" + name + "/METADATA"))
        meta.egg_info = store.root + "/" + name
        yield pkg_resources.Distribution.from_location(store.root + "/", name, meta)
