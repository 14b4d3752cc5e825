# The start-up hook of the children of a pybundle bundle (PYBUNDLE_EXTEND_PYTHONPATH puts this
# directory first on PYTHONPATH, then the bundle): makes the bundle's store importable, then
# runs the next sitecustomize on sys.path, if any (see _pybundle._child).
def _pybundle_child():
    import os

    here = os.path.dirname(__file__)
    import _pybundle._child as child

    child.install(here[: -len("/_pybundle/child")])
    child.next_sitecustomize(here)


_pybundle_child()
del _pybundle_child
