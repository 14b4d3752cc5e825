#!/usr/bin/env python3
"""Paired warm starts of the bench workloads built by two pybundle binaries (before/after a change).

Usage: python bench/warm_ab.py OLD_PYBUNDLE NEW_PYBUNDLE

Both binaries build each workload of `bench.py` (WORKLOADS, default the five core ones) from one
wheelhouse with `--no-index`, for BENCH_PYTHON (default: this interpreter, resolved), the shebang
pointing at it. Each bundle gets a cache root of its own and one first start. Then PAIRS pairs
(default 21) of warm starts run in ABBA order (old, new, new, old, ...) so that a drift of the
machine's speed falls on both sides alike; each start's wall time is taken around the process
(fork to exit), the output checked against the workload's regex. Printed per workload: the median
wall time of each side, and the median, minimum and maximum of the per-pair ratios new/old.

Environment: BENCH_WORK (default /tmp/pybundle-warm-ab; the wheelhouse is kept there between runs),
PAIRS, WORKLOADS, BENCH_PYTHON, EXTRA_ENV (`K=V,K=V` for both sides, e.g. PYBUNDLE_ROOTS).
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("BENCH_WORK", "/tmp/pybundle-warm-ab")
import bench  # noqa: E402  (the workload table and the wheelhouse's place)

PAIRS = int(os.environ.get("PAIRS", "21"))
PY = os.path.realpath(os.environ.get("BENCH_PYTHON") or sys.executable)


def wheelhouse(ws):
    """Fills bench.WHEELS with every workload's wheels (kept between runs)."""
    os.makedirs(bench.WHEELS, exist_ok=True)
    apps = [os.path.join(HERE, "apps", a) for a in bench.LOCAL_APPS]
    reqs = apps + sorted({r for w in ws.values() for r in w["reqs"] if os.sep not in r})
    subprocess.run([PY, "-m", "pip", "wheel", "-q", "-w", bench.WHEELS, "--find-links", bench.WHEELS] + reqs,
                   check=True)


def build(binary, name, w, out):
    entry = ["-c", w["console"]] if w.get("console") else ["-m", w["module"]]
    subprocess.run([binary, "-q", "-o", out, "--python", PY, "-p", PY, "--no-index",
                    "--find-links", bench.WHEELS] + entry + w["reqs"], check=True)


def start(bundle, w, env):
    t = time.perf_counter()
    p = subprocess.run([bundle] + w["args"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    took = time.perf_counter() - t
    text = p.stdout.decode(errors="replace")
    if p.returncode != 0 or not re.search(w["check"], text, re.M):
        sys.exit(f"error: {bundle} failed (exit {p.returncode}):\n{text}")
    return took


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    old, new = (os.path.realpath(b) for b in sys.argv[1:])
    wheelhouse(bench.workloads())
    ws = bench.workloads()  # again: the local wheels' names are known now
    art = os.path.join(bench.WORK, "ab")
    shutil.rmtree(art, ignore_errors=True)
    os.makedirs(art)
    extra = dict(kv.split("=", 1) for kv in os.environ.get("EXTRA_ENV", "").split(",") if kv)
    print(f"pairs: {PAIRS} (ABBA), python {PY}")
    print("| workload | old median | new median | new/old median | min | max |")
    print("|---|---|---|---|---|---|")
    for name, w in ws.items():
        sides = {}
        for side, binary in (("old", old), ("new", new)):
            bundle = os.path.join(art, f"{name}-{side}.pyz")
            build(binary, name, w, bundle)
            env = dict(os.environ, PYBUNDLE_ROOT=os.path.join(art, f"root-{name}-{side}"),
                       HOME=os.path.join(art, "home"), **extra, **w.get("env", {}))
            os.makedirs(env["HOME"], exist_ok=True)
            start(bundle, w, env)  # first start: extracts what the bundle extracts
            start(bundle, w, env)  # warm-up
            sides[side] = (bundle, env)
        times = {"old": [], "new": []}
        ratios = []
        for i in range(PAIRS):
            order = ("old", "new") if i % 2 == 0 else ("new", "old")
            got = {s: start(sides[s][0], w, sides[s][1]) for s in order}
            for s in got:
                times[s].append(got[s])
            ratios.append(got["new"] / got["old"])
        med = statistics.median
        print(f"| {name} | {med(times['old']) * 1000:.1f} ms | {med(times['new']) * 1000:.1f} ms | "
              f"×{med(ratios):.3f} | ×{min(ratios):.3f} | ×{max(ratios):.3f} |", flush=True)


if __name__ == "__main__":
    main()
