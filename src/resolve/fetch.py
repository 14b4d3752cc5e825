"""pybundle's wheel fetcher for the uv resolver backend (run by the target interpreter, `-I`).

Input (stdin, JSON, possibly empty: then nothing is done): {"cache": DIR or null, "dest": DIR, "packages": [[CANDIDATE, ...], ...]}
where a CANDIDATE is {"filename": ..., "url": ... or null, "path": ... or null,
"sha256": ... or null}: the wheels of one locked package that uv found compatible.
Optional keys (builds from a lock, `--lock`): "tags": [TAG, ...] (the target's tags, best first,
instead of this interpreter's) and "strict": true (a package none of whose wheels has a tag of
the target is reported in "unusable" by its index, and nothing is fetched).

For each package it picks the wheel pip would pick (the best-ranked tag of this interpreter),
then puts it into DEST under its file name: a local file is hard-linked (or copied), a wheel
with a sha256 is taken from CACHE/<sha256> (downloaded there first when missing, atomically,
and checked), a wheel without a hash is downloaded straight into DEST. Downloads run on a
thread pool through urllib (which honours the proxy environment variables).

Output (stdout, JSON): {"chosen": [FILENAME, ...], "downloaded": N, "bytes": N, "unusable": [INDEX, ...]}.
Errors: one line on stderr, exit status 1.
"""

import hashlib
import json
import os
import shutil
import sys
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor

CHUNK = 1 << 16


def supported_tags():
    """Returns {tag: rank} for this interpreter (lower is better), or None if unknown."""
    try:
        from pip._vendor.packaging import tags
    except Exception:
        try:
            from packaging import tags
        except Exception:
            return None
    return {str(t): i for i, t in enumerate(tags.sys_tags())}


def wheel_tags(filename):
    """Returns the tags a wheel file name declares (`py2.py3-none-any` gives two)."""
    parts = filename[: -len(".whl")].split("-")
    if len(parts) < 5:
        return []
    pys, abis, plats = parts[-3].split("."), parts[-2].split("."), parts[-1].split(".")
    return ["%s-%s-%s" % (p, a, s) for p in pys for a in abis for s in plats]


def fallback_rank(filename):
    """Ranks a wheel without packaging: interpreter-specific, then abi3, then pure."""
    best = 4
    for tag in wheel_tags(filename):
        _, abi, plat = tag.split("-")
        if abi not in ("none", "abi3"):
            best = min(best, 0)
        elif abi == "abi3":
            best = min(best, 1)
        elif plat != "any":
            best = min(best, 2)
        else:
            best = min(best, 3)
    return best


def choose(candidates, ranks):
    if len(candidates) == 1:
        return candidates[0]

    def key(item):
        index, cand = item
        if ranks is None:
            rank = fallback_rank(cand["filename"])
        else:
            rank = min(
                (ranks[t] for t in wheel_tags(cand["filename"]) if t in ranks),
                default=len(ranks),
            )
        # Same file from several places (find-links and an index): prefer a local one.
        return (rank, cand.get("path") is None, index)

    return min(enumerate(candidates), key=key)[1]


def link(src, dest):
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def download(url, target_dir, sha256):
    """Downloads `url` into a new file in `target_dir`; returns (path, size)."""
    fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=".part-")
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "pybundle"})
            with urllib.request.urlopen(request, timeout=120) as response:
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        if sha256 is not None and digest.hexdigest() != sha256:
            raise ValueError(
                "sha256 mismatch for %s: expected %s, got %s"
                % (url, sha256, digest.hexdigest())
            )
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp, size


def fetch(cand, cache, dest):
    """Puts `cand` into `dest`; returns the number of bytes downloaded."""
    target = os.path.join(dest, cand["filename"])
    if cand.get("path"):
        link(cand["path"], target)
        return 0
    sha = cand.get("sha256")
    if sha is None or cache is None:
        tmp, size = download(cand["url"], dest, sha)
        os.replace(tmp, target)
        return size
    cached = os.path.join(cache, sha)
    size = 0
    if not os.path.isfile(cached):
        tmp, size = download(cand["url"], cache, sha)
        os.replace(tmp, cached)
    link(cached, target)
    return size


def main():
    # pybundle starts this script while uv resolves: the tags are ready before the job arrives.
    ranks = supported_tags()
    data = sys.stdin.read()
    if not data:
        return
    job = json.loads(data)
    if job.get("tags") is not None:
        ranks = {t: i for i, t in enumerate(job["tags"])}
    if job.get("strict"):
        if ranks is None:
            raise ValueError("cannot list this interpreter's wheel tags (no packaging module)")
        unusable = [
            i
            for i, cands in enumerate(job["packages"])
            if not any(t in ranks for c in cands for t in wheel_tags(c["filename"]))
        ]
        if unusable:
            json.dump({"chosen": [], "downloaded": 0, "bytes": 0, "unusable": unusable}, sys.stdout)
            return
    cache, dest = job.get("cache"), job["dest"]
    if cache is not None:
        os.makedirs(cache, exist_ok=True)
    chosen = [choose(c, ranks) for c in job["packages"] if c]
    with ThreadPoolExecutor(max_workers=8) as pool:
        sizes = list(pool.map(lambda c: fetch(c, cache, dest), chosen))
    json.dump(
        {
            "chosen": [c["filename"] for c in chosen],
            "downloaded": sum(1 for s in sizes if s),
            "bytes": sum(sizes),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:
        sys.stderr.write("%s: %s\n" % (type(exc).__name__, exc))
        sys.exit(1)
