"""Writing the files of one cache entry (cold path, for ``_extract``): the plan of an inner
archive (files, bytecode, directories) and its check against the ``EXTRACT`` item, the threads
that share the writes, the kernel copy of stored members, the bytecode pack."""
import os
import sys

from . import PYC_PACK, damaged
from . import _cache

# Below this many bytes one thread extracts; above it `_threads()` share the work.
_PARALLEL_BYTES = 4 << 20
# The cost of one file (open, write, close) in bytes of inflated data, for balancing.
FILE_COST = 64 << 10
# Stored members of at least this many bytes are copied by the kernel (`_zip.copy`).
_COPY_BYTES = 64 << 10


def _safe_parts(rel):
    if not rel or "\x00" in rel or "\n" in rel or "\\" in rel or rel.startswith("/"):
        return None
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts) or ":" in parts[0]:
        return None
    return parts


def plan(archive, prefix, members):
    """What extracting ``members`` writes: ([(member name, toc entry, relative path, mode)] of
    the files, [(member name, toc entry, source path)] of the bytecode for the pack, the set of
    directories to create (relative, ancestors included), {relative path: size} of every file
    member). An unsafe name, or a name twice, is damage."""
    tag = ".%s.pyc" % sys.implementation.cache_tag
    files, pycs, dirs, sizes = [], [], set(), {}
    for rel, entry, mode in members:
        name = prefix + rel
        parts = _safe_parts(rel)
        if parts is None:
            if rel in ("", "/"):
                continue
            damaged(archive, "unsafe member name %r" % name)
        if rel.endswith("/"):
            dirs.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
            continue
        joined = "/".join(parts)
        if joined in sizes:
            damaged(archive, "%s%s is in its archive twice" % (prefix, joined))
        sizes[joined] = entry[3]
        if len(parts) >= 2 and parts[-2] == "__pycache__" and parts[-1].endswith(tag):
            source = "/".join(parts[:-2] + [parts[-1][: -len(tag)] + ".py"])
            pycs.append((name, entry, source))
            continue
        for i in range(len(parts) - 1, 0, -1):
            parent = "/".join(parts[:i])
            if parent in dirs:
                break
            dirs.add(parent)
        files.append((name, entry, joined, mode))
    return files, pycs, dirs, sizes


def check_plan(archive, prefix, sizes, dirs, expected):
    """Damage unless the files ``sizes`` ({relative path: size}) are the ``EXTRACT`` item's
    ``expected`` (file count, total bytes, native files with their sizes), and none of them is
    also a directory. A flipped byte in a name: the local header disagrees (`_zip.read`, before
    its file is written); checked here first, with the native files (path and size) that later
    starts stat."""
    count, total = len(sizes), sum(sizes.values())
    if expected is not None and (count, total) != (expected[0], expected[1]):
        damaged(
            archive,
            "%s holds %d files / %d bytes, expected %d / %d"
            % (prefix, count, total, expected[0], expected[1]),
        )
    for rel in sizes:
        if rel in dirs:
            damaged(archive, "%s%s is both a file and a directory" % (prefix, rel))
    for rel, size in (expected[2] if expected is not None and len(expected) > 2 else ()):
        if sizes.get(rel) != size:
            damaged(archive, "%s%s: not in its archive with %d bytes" % (prefix, rel, size))


def write_all(fd, archive, dest, files, pycs):
    """Write ``files`` ((member name, toc entry, target, mode, relative path)) and the pack of
    ``pycs`` into ``dest``; return the listing [(relative path, size)] (unsorted). The jobs
    are shared by threads when there is enough work (:func:`share`)."""
    from . import _zip

    listing = []

    def work(part):
        for job in part:
            if job is None:
                listing.append(_write_pack(fd, archive, dest, pycs))
                continue
            name, entry, target, mode, rel = job
            out = os.open(target, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
            try:
                if entry[1] == 0 and entry[3] >= _COPY_BYTES:
                    _zip.copy(fd, archive, name, entry, out)
                else:
                    write_fd(out, (_zip.read(fd, archive, name, entry),))
            finally:
                os.close(out)
            listing.append((rel, entry[3]))

    # A stored member costs its copy and CRC, not an inflation: a fraction of its size.
    jobs = [(j, (j[1][3] if j[1][1] else j[1][3] >> 4) + FILE_COST) for j in files]
    if pycs:
        jobs.append((None, sum(p[1][3] for p in pycs) + FILE_COST))
    share(work, jobs, sum(j[1][3] for j in files) + sum(p[1][3] for p in pycs))
    return listing


def write_fd(out, chunks):
    """Write every bytes-like object of ``chunks`` to the file descriptor ``out``."""
    for data in chunks:
        view = memoryview(data)
        while view:
            view = view[os.write(out, view):]


def _write_pack(fd, archive, dest, pycs):
    """Write the bytecode ``pycs`` as the entry's ``PYC_PACK``; return (its name, its size)."""
    from . import _zip

    chunks, paths, numbers, offset = [], [], [], 0
    for name, entry, source in pycs:
        data = _zip.read(fd, archive, name, entry)
        paths.append(source)
        numbers.extend((offset, len(data)))
        chunks.append(data)
        offset += len(data)
    chunks.extend(_cache.pack_tail(paths, numbers))
    out = os.open(os.path.join(dest, PYC_PACK), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        write_fd(out, chunks)
    finally:
        os.close(out)
    return PYC_PACK, sum(len(c) for c in chunks)


def _threads():
    """The threads an extraction uses: the CPUs this process may run on, two to four."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 2
    return max(2, min(n, 4))


def share(work, jobs, total, n=None):
    """Run ``work`` over the ``(job, weight)`` pairs ``jobs``: in :func:`in_threads` when
    ``total`` (the bytes they write) is ``_PARALLEL_BYTES`` or more and there are two jobs or
    more, else in this thread, in their order."""
    if total >= _PARALLEL_BYTES and len(jobs) > 1:
        in_threads(work, jobs, n)
    else:
        work([j for j, _ in jobs])


def in_threads(work, jobs, n=None):
    """Run ``work`` over the ``(job, weight)`` pairs ``jobs`` in ``n`` threads (default
    :func:`_threads`; zlib, kernel copies and file writes release the GIL): largest first, each
    dealt to the lightest list. An exception in any thread is raised here, after all ended."""
    import threading

    n = n or _threads()
    parts, loads, errors = tuple([] for _ in range(n)), [0] * n, []
    for job, weight in sorted(jobs, key=lambda j: -j[1]):
        i = loads.index(min(loads))
        parts[i].append(job)
        loads[i] += weight

    def run(part):
        try:
            work(part)
        except BaseException as e:  # re-raised in the main thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(part,)) for part in parts[1:] if part]
    for t in threads:
        t.start()
    run(parts[0])
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
