"""``.pth`` files of the bundled distributions (``PTH`` of ``__main__.py``), processed like
``site`` does: path lines are appended to ``sys.path``, ``import`` lines are executed. Imported
only by bundles that ship ``.pth`` files."""
import os
import sys

from . import EXTRACT_DIR


def process(g, archive, zip_sp, extract_dirs, pth):
    """Processes the `.pth` files `pth` ((archive dir, name) pairs); returns the paths added."""
    from ._importer import store_of

    added = []
    store = store_of(archive)
    for d, name in pth:
        if d == "":
            sitedir = store.root
            fullname = sitedir + "/" + name
            try:
                data = store.read(name)
            except Exception as e:
                sys.stderr.write("pybundle: warning: cannot read %s: %s\n" % (fullname, e))
                continue
            in_zip = True
        else:
            prefix = EXTRACT_DIR + "/"
            key = d[len(prefix):] if d.startswith(prefix) else d
            sitedir = extract_dirs.get(key)
            if sitedir is None:
                sys.stderr.write("pybundle: warning: .pth %s/%s: unknown directory\n" % (d, name))
                continue
            fullname = os.path.join(sitedir, name)
            try:
                with open(fullname, "rb") as f:
                    data = f.read()
            except OSError as e:
                sys.stderr.write("pybundle: warning: cannot read %s: %s\n" % (fullname, e))
                continue
            in_zip = False
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        for n, line in enumerate(text.splitlines(), 1):
            try:
                if not line.strip() or line.startswith("#"):
                    continue
                if line.startswith(("import ", "import\t")):
                    _exec_line(line, sitedir, fullname)
                    continue
                line = line.rstrip()
                p = os.path.join(sitedir, line)
                if not in_zip:
                    p = os.path.abspath(p)
                if p not in sys.path and (in_zip or os.path.exists(p)):
                    sys.path.append(p)
                    added.append(p)
            except Exception as e:
                sys.stderr.write(
                    "pybundle: error processing line %d of %s: %s: %s (remainder of file ignored)\n"
                    % (n, fullname, type(e).__name__, e)
                )
                break
    return added


def _exec_line(line, sitedir, fullname):
    # Like site.addpackage: `sitedir` is a local of the calling frame, so legacy
    # *-nspkg.pth lines using sys._getframe(1).f_locals['sitedir'] work.
    exec(compile(line, fullname, "exec"), {"__builtins__": __builtins__, "sitedir": sitedir})
