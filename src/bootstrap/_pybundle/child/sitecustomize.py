# The start-up hook of the children of a pybundle bundle (PYBUNDLE_EXTEND_PYTHONPATH puts this
# directory first on PYTHONPATH, then the bundle): makes the bundle's store importable, then
# runs the next sitecustomize on sys.path, if any (see _pybundle._child).
def _pybundle_child():
    import os
    import zipimport

    here = os.path.dirname(__file__)
    archive = here[: -len("/_pybundle/child")]
    # The code objects of the bundle's own modules name the file where the bundle is now, as in
    # the bundle's start (src/bootstrap/guard.py): zipimport keeps the build's relative name.
    unmarshal, fix = zipimport._unmarshal_code, __import__("_imp")._fix_co_filename

    def named(self, path, full, name, data):
        code = unmarshal(self, path, full, name, data)
        if code is not None and os.path.abspath(self.archive) == archive:
            fix(code, os.path.abspath(path[:-1]))
        return code

    zipimport._unmarshal_code = named
    import _pybundle._child as child

    child.install(archive)
    child.next_sitecustomize(here)


_pybundle_child()
del _pybundle_child
