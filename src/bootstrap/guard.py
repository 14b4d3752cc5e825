def _pybundle_guard(g):
    # zipimport reads a bundle's members without checking them. From here on every member of
    # this bundle it reads (the package _pybundle first) comes through `read`: os.pread from one
    # descriptor, inflated no further than its declared size, checked against the CRC-32 of the
    # zip directory; this file itself is read back and checked first. A damaged member stops
    # the run with one paragraph. Unchecked: the zip directory (the interpreter parses it) and
    # the text of this function. Compiled on every start: kept short (docs/DESIGN.md).
    import os, zipimport as z, zlib
    a = g["__loader__"].archive
    fd = g["_PYBUNDLE_FD"] = os.open(a, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    end, ours, orig = os.fstat(fd).st_size, (a, os.path.abspath(a)), z._get_data

    def read(path, e):
        if path not in ours:
            return orig(path, e)
        try:
            h = os.pread(fd, 30, e[4])
            s = e[4] + 30 + int.from_bytes(h[26:28], "little") + int.from_bytes(h[28:30], "little")
            d = os.pread(fd, e[2], s) if h[:4] == b"PK\3\4" and e[2] <= end - s else b""
            if e[1]:
                d = zlib.decompressobj(-15).decompress(d, e[3] + 1) if e[1] == 8 else b""
            if len(d) == e[3] and zlib.crc32(d) == e[7]:
                return d
        except (OSError, zlib.error):
            pass
        import sys
        sys.stderr.write("error: the bundle `%s` is damaged (%s: CRC-32 mismatch); rebuild it or "
                         "copy it again\n" % (path, e[0][len(path) + 1:]))
        raise SystemExit(1)

    z._get_data = read
    read(a, z._zip_directory_cache[a]["__main__.py"])
    # Its code objects name the file where it is now (zipimport keeps the build's relative
    # name), and under -OO it has no docstrings (it has no asserts: -O runs level 0's code).
    un, fix = z._unmarshal_code, __import__("_imp")._fix_co_filename

    def unmarshal(self, path, full, name, data):
        if self.archive not in ours:
            return un(self, path, full, name, data)
        src = os.path.abspath(path[:-1])
        if __import__("sys").flags.optimize > 1:
            toc = z._zip_directory_cache[self.archive]
            return compile(read(self.archive, toc[full[:-1]]), src, "exec", dont_inherit=True)
        code = un(self, path, full, name, data)
        if code is not None:
            fix(code, src)
        return code

    z._unmarshal_code = unmarshal


_pybundle_guard(globals())
