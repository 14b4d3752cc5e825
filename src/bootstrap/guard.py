def _pybundle_guard(g):
    # zipimport reads a bundle's members without checking them. From here on every member of
    # this bundle it reads (the package _pybundle first) comes through `read`: os.pread from one
    # descriptor, inflated no further than its declared size, checked against the CRC-32 of the
    # zip directory; this file itself is read back and checked first. A damaged member stops
    # the run with one paragraph. Unchecked: the zip directory (the interpreter parses it) and
    # the text of this function. (docs/DESIGN.md "The generated __main__.py")
    import os
    import zipimport
    import zlib

    a = g["__loader__"].archive
    fd = g["_PYBUNDLE_FD"] = os.open(a, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    end = os.fstat(fd).st_size
    ours = (a, os.path.abspath(a))
    orig = getattr(zipimport, "_get_data", None)

    def read(path, e):
        if path not in ours or len(e) != 8:
            return orig(path, e)
        why = data = None
        try:
            h = os.pread(fd, 30, e[4])
            s = e[4] + 30 + int.from_bytes(h[26:28], "little") + int.from_bytes(h[28:30], "little")
            if h[:4] != b"PK\x03\x04" or e[2] > end - s:
                why = "bad local file header"
            elif e[1] not in (0, 8):
                why = "unsupported compression %d" % e[1]
            else:
                data = os.pread(fd, e[2], s)
                if e[1]:
                    data = zlib.decompressobj(-15).decompress(data, e[3] + 1)
                if len(data) != e[3] or zlib.crc32(data) != e[7]:
                    why = "CRC-32 mismatch"
        except (OSError, zlib.error) as x:
            why = x
        if why is not None:
            import sys

            sys.stderr.write("error: the bundle `%s` is damaged (%s: %s); rebuild it or copy it "
                             "again\n" % (path, e[0][len(path) + 1:], why))
            raise SystemExit(1)
        return data

    if orig is not None:
        read._pybundle = True
        zipimport._get_data = read
        own = zipimport._zip_directory_cache.get(a, {}).get("__main__.py")
        if own is not None:
            read(a, own)


_pybundle_guard(globals())
