#!/usr/bin/env python3
"""Paired first starts of two bundles of one workload, and a venv's warm start in the same rounds.

Usage: python bench/first_ab.py ROUNDS CHECK_REGEX VENV_CMD OLD_BUNDLE NEW_BUNDLE

Each round runs the venv command (warm), OLD and NEW (order rotated), each bundle on a
never-used cache root under ROOTS_DIR (default /tmp/pybundle-first-ab; kept until the end, so
that no deletion slows the next start's file creation), after a `sync`. Printed: per side the
median wall time and CPU time (user + system of the child), the median ratio of each bundle's
first start to the venv's warm start of the same round, and the median paired ratio new/old.
PATH and the rest of the environment are passed through (put the interpreter the bundles'
shebangs name first on PATH, as bench.py does).
"""
import os
import re
import statistics
import subprocess
import sys
import time


def run(argv, env):
    os.sync()
    t = time.perf_counter()
    before = os.times()
    p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    wall = time.perf_counter() - t
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, p.returncode, p.stdout.decode(errors="replace")


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    rounds, check, venv, old, new = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(), sys.argv[4], sys.argv[5]
    roots = os.environ.get("ROOTS_DIR", "/tmp/pybundle-first-ab")
    os.makedirs(roots, exist_ok=True)
    got = {s: [] for s in ("venv", "old", "new")}
    ratios = {"old": [], "new": [], "new/old": []}
    run(venv, os.environ)  # warm it
    for r in range(rounds):
        sides = [("venv", venv), ("old", [old]), ("new", [new])]
        sides = sides[r % 3:] + sides[:r % 3]
        row = {}
        for side, argv in sides:
            env = dict(os.environ, PYBUNDLE_ROOT=os.path.join(roots, "%s-%d-%s" % (side, r, os.urandom(4).hex())))
            wall, cpu, rc, out = run(argv, env)
            if rc != 0 or not re.search(check, out, re.M):
                sys.exit("error: %s failed (exit %d):\n%s" % (side, rc, out[-2000:]))
            got[side].append((wall, cpu))
            row[side] = wall
        for s in ("old", "new"):
            ratios[s].append(row[s] / row["venv"])
        ratios["new/old"].append(row["new"] / row["old"])
    med = statistics.median
    for s in ("venv", "old", "new"):
        tag = "warm" if s == "venv" else "first"
        line = "%-4s %s: wall %.3f s, cpu %.3f s" % (s, tag, med(w for w, _ in got[s]), med(c for _, c in got[s]))
        if s != "venv":
            line += ", ×%.2f of the venv's warm start" % med(ratios[s])
        print(line)
    print("new/old first start: ×%.3f (min ×%.3f, max ×%.3f), %d rounds"
          % (med(ratios["new/old"]), min(ratios["new/old"]), max(ratios["new/old"]), rounds))


if __name__ == "__main__":
    main()
