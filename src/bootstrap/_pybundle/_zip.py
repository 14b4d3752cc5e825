"""Zip parsing beyond the member reader: the bundle's directory as zipimport holds it, and the
inner archives of extracted distributions (``extract/<key>.zip``, stored in the bundle).

Imported by extraction (``_extract``) and by the metadata of a distribution not extracted yet
(``_metadata``), never on a warm start that needs neither. Reading one member (local header,
inflate, CRC-32) is :func:`_pybundle._importer.read_member`: every start needs it, so it lives
there and this module only wraps it. ``zipfile`` is not imported.

A toc entry, here as in zipimport's ``_zip_directory_cache``, is the tuple ``(path, compress,
data_size, file_size, offset, time, date, crc)``, ``offset`` being that of the local file header
from the start of the bundle file.
"""
import os

from . import EXTRACT_DIR, damaged
from ._importer import member_start, read_member, toc

# Bytes read back at a time to check a copied member's CRC-32.
_CHECK_CHUNK = 1 << 20


def read(fd, archive, name, entry):
    """The bytes of one member (see ``read_member``); a damaged one stops the run. An inner
    archive's member (its toc entry's path is its name as bytes) must have that name in its
    local header too."""
    data, why = read_member(fd, entry, entry[0] if isinstance(entry[0], bytes) else None)
    if data is None:
        damaged(archive, "%s: %s" % (name, why))
    return data


def copy(fd, archive, name, entry, out):
    """Write the stored (not deflated) member ``entry`` of an inner archive into the open file
    ``out`` (opened for reading and writing) without passing it through Python's memory: the
    kernel copies it from the bundle at the member's offset (``os.sendfile``; a plain read and
    write where that is refused). Then its CRC-32 is checked by reading the copy back (from the
    page cache), so that a damaged member is damage as with :func:`read`; its size was checked
    against the archive when its directory was read (``inner_members``)."""
    import zlib

    start, why = member_start(fd, entry, entry[0])
    size = entry[3]
    if why is None and start + size > os.fstat(fd).st_size:
        why = "truncated"
    if why is None:
        _send(fd, start, size, out)
        crc = pos = 0
        while pos < size:
            chunk = os.pread(out, min(size - pos, _CHECK_CHUNK), pos)
            if not chunk:
                break
            crc = zlib.crc32(chunk, crc)
            pos += len(chunk)
        if pos != size or crc != entry[7]:
            why = "CRC-32 mismatch"
    if why is not None:
        damaged(archive, "%s: %s" % (name, why))


def _send(fd, start, size, out):
    # Copy `size` bytes of `fd` from `start` to `out` (at its current position) by the kernel;
    # read and write the rest where sendfile is refused (EINVAL, ENOSYS: an odd file system).
    done = 0
    while done < size:
        try:
            n = os.sendfile(out, fd, start + done, size - done)
        except OSError as e:
            if e.errno not in (22, 38) or done:  # EINVAL, ENOSYS
                raise
            break
        if n == 0:
            return
        done += n
    from ._unpack import write_fd

    while done < size:
        data = os.pread(fd, min(size - done, _CHECK_CHUNK), start + done)
        if not data:
            return
        write_fd(out, (data,))
        done += len(data)


def inner_members(fd, archive, name, entry):
    """The members of the stored inner archive ``name`` (an extracted distribution's files):
    [(path, toc entry, mode)], the toc entries with offsets in the bundle and the member's name
    (bytes) as their path. Everything is checked before anything is written: the archive lies
    in the bundle, its directory in the archive and every member's header and data in the part
    before it, each name is UTF-8 without NUL, and the directory ends where its size says; a
    mismatch is damage."""
    try:
        return _inner_members(fd, name, entry)
    except _Damage as e:
        damaged(archive, "%s: %s" % (name, e))
    except (ValueError, IndexError) as e:  # struct.error is a ValueError
        damaged(archive, "%s: bad central directory (%s)" % (name, e))


class _Damage(Exception):
    pass


def _inner_members(fd, name, entry):
    import struct

    _path, compress, data_size, file_size, offset, _t, _d, _crc = entry
    head = os.pread(fd, 30, offset)
    if compress != 0 or data_size != file_size or len(head) != 30 or head[:4] != b"PK\x03\x04":
        raise _Damage("not a stored archive")
    base = offset + 30 + int.from_bytes(head[26:28], "little") + int.from_bytes(head[28:30], "little")
    if data_size < 22 or base + data_size > os.fstat(fd).st_size:
        raise _Damage("truncated")
    end = os.pread(fd, 22, base + data_size - 22)  # written without a comment
    if len(end) != 22 or end[:4] != b"PK\x05\x06":
        raise _Damage("no end of central directory")
    count, cd_size, cd_offset = struct.unpack("<10xHII", end[:20])[0:3]
    limit = data_size - 22  # where the directory must end
    if count == 0xFFFF or cd_offset == 0xFFFFFFFF:  # Zip64: locator, then the record
        loc = os.pread(fd, 20, base + data_size - 42)
        if loc[:4] != b"PK\x06\x07":
            raise _Damage("no Zip64 locator")
        at = struct.unpack("<Q", loc[8:16])[0]
        if at + 56 > data_size - 42:
            raise _Damage("no Zip64 end record")
        rec = os.pread(fd, 56, base + at)
        if rec[:4] != b"PK\x06\x06":
            raise _Damage("no Zip64 end record")
        count, cd_size, cd_offset = struct.unpack("<QQQ", rec[32:56])
        limit = at
    if cd_offset + cd_size != limit or count > cd_size // 46:
        raise _Damage("the central directory does not fit")
    cd = os.pread(fd, cd_size, base + cd_offset)
    if len(cd) != cd_size:
        raise _Damage("truncated central directory")
    out = []
    pos = 0
    for _ in range(count):
        if cd[pos:pos + 4] != b"PK\x01\x02":
            raise _Damage("bad central directory")
        (method, time_, date, crc, csize, usize, n_len, x_len, c_len, attr,
         local) = struct.unpack("<10xHHHIIIHHH4xII", cd[pos:pos + 46])
        raw = cd[pos + 46:pos + 46 + n_len]
        extra = cd[pos + 46 + n_len:pos + 46 + n_len + x_len]
        pos += 46 + n_len + x_len + c_len
        if pos > cd_size:
            raise _Damage("bad central directory")
        try:
            member = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Damage("a member name that is not UTF-8: %r" % raw)
        if "\x00" in member:
            raise _Damage("a member name with a NUL: %r" % member)
        if 0xFFFFFFFF in (usize, csize, local):  # Zip64 extra field
            values = []
            i = 0
            while i + 4 <= len(extra):
                tag, size = struct.unpack("<HH", extra[i:i + 4])
                if tag == 1:
                    values = list(struct.unpack("<%dQ" % (size // 8), extra[i + 4:i + 4 + size - size % 8]))
                i += 4 + size
            if usize == 0xFFFFFFFF:
                usize = values.pop(0)
            if csize == 0xFFFFFFFF:
                csize = values.pop(0)
            if local == 0xFFFFFFFF:
                local = values.pop(0)
        if method not in (0, 8) or (method == 0 and csize != usize):
            raise _Damage("%s: unsupported or inconsistent compression" % member)
        if local + 30 + n_len + csize > cd_offset:
            raise _Damage("%s: lies past the archive's data" % member)
        mode = 0o755 if (attr >> 16) & 0o111 else 0o644
        out.append((member, (raw, method, csize, usize, base + local, time_, date, crc), mode))
    if pos != cd_size:
        raise _Damage("the central directory does not end where its size says")
    return out


def inner_name(key):
    """The bundle member that holds extracted distribution ``key``."""
    return "%s/%s.zip" % (EXTRACT_DIR, key)


_INNER = {}


def read_inner(archive, key, rel):
    """The bytes of file ``rel`` of extracted distribution ``key`` from the bundle, without
    extracting it (metadata of entries not extracted yet); None if there is no such file."""
    members = _INNER.get(key)
    fd = os.open(archive, os.O_RDONLY)
    try:
        if members is None:
            name = inner_name(key)
            entry = toc(archive).get(name)
            if entry is None:
                damaged(archive, "missing member %s" % name)
            members = _INNER[key] = {m[0]: m[1] for m in inner_members(fd, archive, name, entry)}
        entry = members.get(rel)
        if entry is None:
            return None
        return read(fd, archive, "%s/%s/%s" % (EXTRACT_DIR, key, rel), entry)
    finally:
        os.close(fd)
