# The start-up hook of the children of a pybundle bundle (PYBUNDLE_EXTEND_PYTHONPATH puts this
# directory first on PYTHONPATH, then the bundle): makes the bundle's store importable, then
# runs the next sitecustomize on sys.path, if any (see _pybundle._child).
def _pybundle_child():
    import os
    import zipimport

    here = os.path.dirname(__file__)
    archive = here[: -len("/_pybundle/child")]
    # The code objects of the bundle's own modules name the file where the bundle is now, and
    # under -OO have no docstrings, as in the bundle's start (src/bootstrap/guard.py): zipimport
    # keeps the build's relative name and serves level 0's bytecode.
    unmarshal, fix = zipimport._unmarshal_code, __import__("_imp")._fix_co_filename

    def named(self, path, full, name, data):
        if os.path.abspath(self.archive) != archive:
            return unmarshal(self, path, full, name, data)
        src = os.path.abspath(path[:-1])
        toc = zipimport._zip_directory_cache[self.archive]
        if __import__("sys").flags.optimize > 1 and full[:-1] in toc:
            source = zipimport._get_data(self.archive, toc[full[:-1]])
            return compile(source, src, "exec", dont_inherit=True)
        code = unmarshal(self, path, full, name, data)
        if code is not None:
            fix(code, src)
        return code

    zipimport._unmarshal_code = named
    import _pybundle._child as child

    child.install(archive)
    child.next_sitecustomize(here)


_pybundle_child()
del _pybundle_child
