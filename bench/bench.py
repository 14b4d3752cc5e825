#!/usr/bin/env python3
"""pybundle's side-by-side benchmark: pybundle, shiv, pex, pex --venv --sh-boot and a plain venv.

    python3 bench/bench.py            # setup, build, run, report (one run)
    python3 bench/bench.py setup|build|run|report

It builds the same workloads with every tool and measures, in interleaved and rotated rounds,
every figure of the performance targets (README, "Benchmark"). Workloads: five core ones
(black, httpie, twisted, gunicorn+Flask, numpy) and two large applications, opt-in with
WORKLOADS (sphinx `sphinx-build --version`; azure-cli `python -m azure.cli --version`, about
150 distributions: `-m azure.cli` for pybundle and pex, `-e azure.cli.__main__` for shiv).

  warm start     the workload's --version / matmul command, extraction cache filled
  first start    the same command, a fresh empty extraction cache for every run, and the
                 files and directories each first start leaves under its cache root
                 (PYBUNDLE_ROOT, SHIV_ROOT, PEX_ROOT; a venv writes none)
  servers        time to the first HTTP 200 of `twist web` and gunicorn+Flask, empty cache
  build          build time with warm pip / pex caches (pybundle with pip, and with
                 `--resolver uv` when `pybundle --help` lists it), and the peak memory of
                 every build: ru_maxrss from wait4() on the build's shell (forked by a small
                 wrapper), i.e. the largest resident set of any single process of the build
                 (not a sum)
  size           bytes of each artifact
  cache          bytes on disk of the extraction cache after the warm runs
  synthetic      warm start of generated bundles of N modules (default 200 and 20,000; 70,000
                 with SYNTH_FILES), same entry point, in two shapes: `one` distribution that
                 claims every module, or `many` distributions of SYNTH_DIST_SIZE modules each
                 (plus one for the entry). All sizes and shapes run in one interleaved
                 measurement; growth = median of per-round paired differences to the smallest.
                 Build time and peak memory of each synthetic artifact (one cold build) too.

The report starts with the open issues' target table (warm ratios per workload, synthetic
growth, azure-cli warm ratio, build peak memory, first-start ratios, files written, sizes).

Every time is the wall time of a whole process, spawn to reap, after an untimed `sync`. Each
bundle's time is also divided by the venv's time of the same round (paired ratio); medians
are reported. Every run's output is checked against a regular expression.

Knobs (environment variables, all optional):
  RUNS          rounds of every run-time measurement (default 7, plus one warm-up)
  WARM_RUNS     rounds of the warm rows (default RUNS): more rounds than the first starts take,
                so that a 3 % difference to the venv's paired time shows
  BUILD_RUNS    rounds of timed warm builds (default 5, plus one warm-up build)
  SERVER_RUNS   rounds of the server measurement (default: RUNS)
  WORKLOADS     comma list of black,httpie,twisted,gunicorn,numpy,pandas,scipy,scikit-learn,
                matplotlib,sphinx,azure-cli,nbconvert, or the groups `core` (black, httpie,
                twisted, gunicorn, numpy: the default), `large` (sphinx,azure-cli, nbconvert),
                `science` (the native stacks numpy, pandas, scipy, scikit-learn, matplotlib: a
                small app whose entry imports the stack, bench/apps/*demo), `all`
  LARGE_RUNS    rounds of the warm and first-start runs of the large applications
                (default: RUNS, at most 5)
  LARGE_BUILD_RUNS  timed warm builds of the large applications (default: BUILD_RUNS, at
                most 1); 0 keeps only the warm-up build (time shown as "warm-up only")
  TOOLS         comma list of shiv,pex,pex-venv,pybundle,pybundle-venv (the venv baseline is always kept)
  SYNTH_FILES   comma list of module counts of the synthetic bundles (default 200,20000;
                e.g. 200,20000,70000; empty disables the synthetic rows). The smallest is
                the base of the growth columns. A 70,000-module bundle took 0.5-3 min to
                build with shiv and 2-4 min with pex on a shared 2-core machine; shiv's and
                pex's are Zip64 zipapps (over 65,535 entries) that zipimport before CPython
                3.13 cannot start, shown as "FAIL (Zip64 zipapp)". Each distribution adds
                a 3-file .dist-info (METADATA, top_level.txt, RECORD with hashes)
  SYNTH_SHAPES  comma list of `one` (a single distribution) and `many` (one distribution per
                SYNTH_DIST_SIZE modules); default one,many
  SYNTH_DIST_SIZE  modules per filler package, and so per distribution of `many` (default 100)
  SYNTH_REUSE   1 (default): keep a synthetic venv / shiv / pex artifact that an earlier build
                phase in the same BENCH_WORK made with the same command and pins (its build
                time and memory are the recorded ones); pybundle's are always rebuilt. 0 rebuilds
  REUSE_BUILDS  1: the same for the workloads' venv / shiv / pex artifacts, when no timed build
                round follows (BUILD_RUNS or LARGE_BUILD_RUNS 0): e.g. a second large-app run
                rebuilds only pybundle's azure-cli bundle. Default 0 (the index may have moved)
  ROWS          comma list of the row groups to measure: warm,cold,servers,build,synth
                (default: all). `ROWS=warm` builds each bundle once and times warm starts
                only; the size, peak memory (of that one build) and extraction cache tables
                come along at no cost. `ROWS=synth` builds and runs no workload, only the
                synthetic bundles.
  PYBUNDLE      the pybundle binary (default target/release/pybundle, built with
                `cargo build --release` when missing)
  BENCH_PYTHON  the interpreter everything is built for (default: the one running this)
  BENCH_WORK    scratch directory (default /tmp/pybundle-ownbench); two runs at once need two
  RESULTS_NAME  the report's file name in bench/results/, without .md / .json (default latest)
  FIRST_START_SETTLE  seconds to wait after deleting an earlier run's caches (default 370)
  CLEAR_EACH    seconds: delete each workload's first-start caches right after its rows and wait
                that long (default: keep them all until the run ends). The science stacks' caches
                take gigabytes a round; on a journaled ext4 (e.g. a loop-mounted image as
                BENCH_WORK) a freed inode is reusable once its transaction commits (5 s)
  BENCH_PINS    what the tools venv installs (default "shiv==1.0.8 pex==2.105.2 uv==0.13.9")

Method (learned from ../shared/bench/anchors.py; this is an independent implementation):
- Every bundle and venv runs on a CLEAN interpreter: a copy of BENCH_PYTHON's binary and
  stdlib with an empty site-packages, first on PATH so `#!/usr/bin/env python3` reaches it.
  The base interpreter here carries ~200 site-packages entries and `.pth` files (~22 ms per
  start) that a venv never pays, and the pyenv shim costs ~90 ms.
- pybundle needs pip in its `--python`; the clean copy has none, so pybundle builds use a venv
  made from the clean copy (same binary, same stdlib, pip added). Its bundles keep the default
  shebang and run on the clean copy.
- The run phase re-executes itself in a new network namespace with only loopback up
  (`unshare -n`) when it can.
- Extraction caches: PYBUNDLE_ROOT, SHIV_ROOT, PEX_ROOT; a fresh directory for each first start.
  Those directories (and the previous run's RT) are moved aside and deleted when the run
  phase ends, and the run phase starts with a wait of FIRST_START_SETTLE seconds (default
  370) after the builds. Start a run at least that long after another one ended. On ext4 without a journal (as here) the kernel does not reuse an
  inode freed in the last minute (six minutes while its inode table block is not written
  back), and checking each candidate costs a buffer-cache lookup: for minutes after a few
  thousand files are deleted, creating a file costs 0.3-0.7 ms instead of 0.035-0.05 ms.
  Deleting each cache before the next start measured that, for every tool, not the first
  start of a fresh container or VM. Other deletions on the same file system during a run
  (a build, a test suite) skew its first starts the same way.
"""

import base64
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WORK = os.path.abspath(os.environ.get("BENCH_WORK", "/tmp/pybundle-ownbench"))
RESULTS = os.path.join(HERE, "results")
RESULTS_NAME = os.environ.get("RESULTS_NAME", "latest")
BASE_PY = os.environ.get("BENCH_PYTHON") or os.path.realpath(sys.executable)
RUNS = int(os.environ.get("RUNS", "7"))
WARM_RUNS = int(os.environ.get("WARM_RUNS", str(RUNS)))
CLEAR_EACH = float(os.environ["CLEAR_EACH"]) if os.environ.get("CLEAR_EACH") else None
BUILD_RUNS = int(os.environ.get("BUILD_RUNS", "5"))
SERVER_RUNS = int(os.environ.get("SERVER_RUNS", str(RUNS)))
LARGE_RUNS = int(os.environ.get("LARGE_RUNS", str(min(RUNS, 5))))
LARGE_BUILD_RUNS = int(os.environ.get("LARGE_BUILD_RUNS", str(min(BUILD_RUNS, 1))))
PINS = os.environ.get("BENCH_PINS", "shiv==1.0.8 pex==2.105.2 uv==0.13.9").split()
SYNTH_FILES = [int(x) for x in os.environ.get("SYNTH_FILES", "200,20000").split(",") if x.strip()]
SYNTH_SHAPES = [x for x in os.environ.get("SYNTH_SHAPES", "one,many").split(",") if x.strip()]
SYNTH_DIST_SIZE = int(os.environ.get("SYNTH_DIST_SIZE", "100"))
SYNTH_REUSE = os.environ.get("SYNTH_REUSE", "1") != "0"
REUSE_BUILDS = os.environ.get("REUSE_BUILDS", "0") == "1"
SYNTH_VERSION = "synth-2"  # bump when make_synth() changes what it writes
STAMP_VERSION = "stamp-2"  # bump when what a stamp records changes
if set(SYNTH_SHAPES) - {"one", "many"}:
    sys.exit(f"error: unknown SYNTH_SHAPES {sorted(set(SYNTH_SHAPES) - {'one', 'many'})}; known: one, many")
if SYNTH_DIST_SIZE < 1 or any(n < 2 for n in SYNTH_FILES):
    sys.exit("error: SYNTH_DIST_SIZE must be at least 1 and every SYNTH_FILES count at least 2")
ROW_GROUPS = ("warm", "cold", "servers", "build", "synth")
ROWS = [x for x in os.environ.get("ROWS", ",".join(ROW_GROUPS)).split(",") if x.strip()]
if set(ROWS) - set(ROW_GROUPS):
    sys.exit(f"error: unknown ROWS {sorted(set(ROWS) - set(ROW_GROUPS))}; known: {list(ROW_GROUPS)}")
if "build" not in ROWS:
    BUILD_RUNS = LARGE_BUILD_RUNS = 0
if "synth" not in ROWS:
    SYNTH_FILES = []
PYBUNDLE = os.path.abspath(os.environ.get("PYBUNDLE") or os.path.join(REPO, "target", "release", "pybundle"))

TOOLS_VENV = os.path.join(WORK, "tools")
TBIN = os.path.join(TOOLS_VENV, "bin")
PIP, SHIV, PEX, UV = (os.path.join(TBIN, x) for x in ("pip", "shiv", "pex", "uv"))
CLEAN = os.path.join(WORK, "pyclean")
CLEAN_BIN = os.path.join(CLEAN, "bin")
CLEAN_PY = os.path.join(CLEAN_BIN, "python3")
BUILD_PY = os.path.join(WORK, "pybuild", "bin", "python")  # clean copy + pip, for pybundle
WHEELS = os.path.join(WORK, "wheels")
ART = os.path.join(WORK, "art")
RT = os.path.join(WORK, "rt")
TRASH = os.path.join(WORK, "trash")
SETTLE = float(os.environ.get("FIRST_START_SETTLE", "370"))
STATE = os.path.join(WORK, "build.json")
RUN_STATE = os.path.join(WORK, "run.json")

BUILD_TIMEOUT = 900
RUN_TIMEOUT = 120
SERVER_TIMEOUT = 60


def w_(*parts):
    return os.path.join(WORK, *parts)


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def q(x):
    return shlex.quote(str(x))


# ---------------------------------------------------------------------------------------------
# workloads and tools
# ---------------------------------------------------------------------------------------------
def local_wheel(name):
    found = sorted(f for f in os.listdir(WHEELS) if f.startswith(name + "-") and f.endswith(".whl")) \
        if os.path.isdir(WHEELS) else []
    return os.path.join(WHEELS, found[-1] if found else name + "-MISSING.whl")


CORE = ["black", "httpie", "twisted", "gunicorn", "numpy"]
LARGE = ["sphinx", "azure-cli", "nbconvert"]
# the native stacks: a small app whose entry imports the stack (bench/apps/*demo)
SCIENCE = ["numpy", "pandas", "scipy", "scikit-learn", "matplotlib"]
# the apps built into local wheels by the setup
LOCAL_APPS = ["hello_wsgi", "npdemo", "pddemo", "spdemo", "skdemo", "mpldemo"]


def workload_table():
    """name -> requirements, console script or module, run command + output regex, optional server.

    `large` workloads take LARGE_RUNS / LARGE_BUILD_RUNS rounds instead of RUNS / BUILD_RUNS."""
    return {
        "black": dict(reqs=["black"], console="black", args=["--version"], check=r", \d+\.\d+\.\d+"),
        "httpie": dict(reqs=["httpie"], console="http", args=["--version"], check=r"^\d+\.\d+\.\d+"),
        "twisted": dict(reqs=["twisted"], console="twist", module="twisted", args=["--version"],
                        check=r"^\d+\.\d+\.\d+",
                        server=(["web", "--listen", "tcp:{port}:interface=127.0.0.1", "--path", "{docroot}"],
                                "/hello.txt", b"hello from the twisted docroot")),
        "gunicorn": dict(reqs=["gunicorn", local_wheel("hello_wsgi")], console="gunicorn", args=["--version"],
                         check=r"\(version \d+\.\d+",
                         server=(["-b", "127.0.0.1:{port}", "-w", "1", "hello_wsgi:app"],
                                 "/", b"hello from hello_wsgi")),
        "numpy": dict(reqs=[local_wheel("npdemo")], console="npdemo", args=[], check=r"matmul-trace \d+\.\d+"),
        "pandas": dict(reqs=[local_wheel("pddemo")], console="pddemo", args=[], check=r"groupsum 4$"),
        "scipy": dict(reqs=[local_wheel("spdemo")], console="spdemo", args=[], check=r"det -?\d+\.\d+"),
        "scikit-learn": dict(reqs=[local_wheel("skdemo")], console="skdemo", args=[], check=r"slope 3\.000"),
        "matplotlib": dict(reqs=[local_wheel("mpldemo")], console="mpldemo", args=[], check=r"png True"),
        # data under share/jupyter: pybundle builds a --venv bundle by itself (#22)
        "nbconvert": dict(reqs=["nbconvert"], console="jupyter-nbconvert", args=["--version"],
                          check=r"^\d+\.\d+\.\d+", large=True),
        # sphinx-build prints the name it was started by (`sphinx.pyz 9.0.4`)
        "sphinx": dict(reqs=["sphinx"], console="sphinx-build", args=["--version"], check=r"^\S+ \d+\.\d+\.\d+",
                       large=True),
        # `az` is a shell script, not a console entry point: every tool runs the module; shiv has no
        # `-m`, its `-e` imports `azure.cli.__main__`, whose top level runs the CLI and exits
        # pex's default (vendored pip 20.3.4, legacy resolver) resolves an azure-core that
        # azure-cli-core rejects and fails after minutes: give it a pip with the new resolver
        # (pex's `latest`, 26.2.2, is not on the index)
        "azure-cli": dict(reqs=["azure-cli"], module="azure.cli", shiv_entry="azure.cli.__main__",
                          pex_args=["--pip-version", "24.2"],
                          args=["--version"], check=r"^azure-cli\s+\d+\.\d+",
                          env={"AZURE_CORE_COLLECT_TELEMETRY": "false", "AZURE_CORE_NO_COLOR": "true"},
                          large=True),
    }


def cmdline(w):
    """The workload's command as a person would type it (venv form)."""
    head = [w["console"]] if w.get("console") else ["python", "-m", w["module"]]
    return " ".join(head + w["args"])


def workloads():
    """The workloads WORKLOADS selects (default: the five core ones)."""
    ws = workload_table()
    only = []
    for x in os.environ.get("WORKLOADS", "").split(","):
        only += {"core": CORE, "large": LARGE, "science": SCIENCE,
                 "all": CORE + LARGE + SCIENCE[1:]}.get(x, [x] if x else [])
    unknown = set(only) - set(ws)
    if unknown:
        sys.exit(f"error: unknown workload(s) {sorted(unknown)}; known: {sorted(ws)}, core, large, all")
    if not set(ROWS) & {"warm", "cold", "servers", "build"}:
        return {}  # e.g. ROWS=synth: no workload is built or run
    return {k: v for k, v in ws.items() if (k in only if only else k in CORE)}


def synth_workloads():
    """Synthetic workloads, one per shape and file count: an entry package plus N-1 filler modules
    in packages of SYNTH_DIST_SIZE files; the entry imports one filler module of the last package."""
    return {f"synth-{shape}-{n}": dict(synth=n, shape=shape, site=w_("synth", f"{shape}-{n}-{SYNTH_DIST_SIZE}", "site"),
                                       entry="synth_app:main", args=[], check=r"^synth-app ok \d+$")
            for shape in SYNTH_SHAPES for n in SYNTH_FILES}


def pybundle_resolvers():
    """`pip` always; `uv` too when the binary's --help offers `--resolver`."""
    try:
        h = subprocess.run([PYBUNDLE, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30).stdout.decode()
    except OSError:
        return ["pip"]
    return ["pip", "uv"] if re.search(r"--resolver\b", h) and "uv" in h else ["pip"]


class Tool:
    """One way of shipping a workload. `cache_env` names the extraction cache variable."""

    def __init__(self, name, ext="", cache_env=None, build_only=False):
        self.name, self.ext, self.cache_env, self.build_only = name, ext, cache_env, build_only

    def out(self, wname):
        return os.path.join(ART, self.name, wname + self.ext)

    def build_script(self, w, out):
        site = w.get("site")
        reqs = " ".join(q(r) for r in w.get("reqs", []))
        n = self.name
        if n == "venv":
            s = f"{q(CLEAN_PY)} -m venv --without-pip {q(out)}"
            if site:
                return s + f" && cp -a {q(site)}/. \"$({q(out)}/bin/python -c 'import sysconfig;print(sysconfig.get_path(\"purelib\"))')\""
            return s + f" && {q(PIP)} --python {q(out)}/bin/python install -q {reqs}"
        if n == "shiv":
            # shiv always runs `pip install`, which refuses an empty requirement list: give it a
            # wheel that holds nothing but its metadata
            if site:
                src = f"--site-packages {q(site)} -e {w['entry']} --no-index {q(empty_wheel())}"
            elif w.get("shiv_entry"):
                src = f"-e {q(w['shiv_entry'])} {reqs}"
            else:
                src = f"-c {q(w['console'])} {reqs}"
            return f"{q(SHIV)} {src} -o {q(out)} -q"
        if n in ("pex", "pex-venv"):
            if site:
                src = f"-D {q(site)} -e {w['entry']}"
            else:
                entry = f"-m {q(w['module'])}" if w.get("module") else f"-c {q(w['console'])}"
                src = f"{reqs} {entry}"
            flags = " --venv --sh-boot" if n == "pex-venv" else ""
            flags += "".join(" " + q(a) for a in w.get("pex_args", []))
            # --python: the --sh-boot fast path is keyed by the build interpreter
            return f"{q(PEX)} {src} --python {q(CLEAN_PY)}{flags} -o {q(out)}"
        if n.startswith("pybundle"):
            if site:
                src = f"--site-packages {q(site)} -e {w['entry']}"
            elif w.get("console"):
                src = f"-c {q(w['console'])} {reqs}"
            else:
                src = f"-m {q(w['module'])} {reqs}"
            res = " --resolver uv" if n == "pybundle-uv" else ""
            res += " --venv" if n == "pybundle-venv" else ""
            return f"{q(PYBUNDLE)} -q -o {q(out)} --python {q(BUILD_PY)}{res} {src}"
        raise ValueError(n)

    def run_argv(self, w, out):
        if self.name == "venv":
            if "synth" in w:
                return [os.path.join(out, "bin", "python"), "-c", "import synth_app; synth_app.main()"]
            if not w.get("console"):
                return [os.path.join(out, "bin", "python"), "-m", w["module"]] + w["args"]
            return [os.path.join(out, "bin", w["console"])] + w["args"]
        return [out] + w["args"]  # through the bundle's own shebang


ALL_TOOLS = [Tool("venv"), Tool("shiv", ".pyz", "SHIV_ROOT"), Tool("pex", ".pex", "PEX_ROOT"),
             Tool("pex-venv", ".pex", "PEX_ROOT"), Tool("pybundle", ".pyz", "PYBUNDLE_ROOT"),
             Tool("pybundle-venv", ".pyz", "PYBUNDLE_ROOT"),
             Tool("pybundle-uv", ".pyz", "PYBUNDLE_ROOT", build_only=True)]
RUN_TOOLS = ["venv", "shiv", "pex", "pex-venv", "pybundle", "pybundle-venv"]


def tools(build=False):
    only = [x for x in os.environ.get("TOOLS", "").split(",") if x]
    res = []
    for t in ALL_TOOLS:
        if t.build_only and not build:
            continue
        if t.name == "pybundle-uv" and ("build" not in ROWS or "uv" not in pybundle_resolvers()
                                        or (only and "pybundle" not in only)):
            continue
        if only and t.name != "venv" and t.name not in only and t.name != "pybundle-uv":
            continue
        res.append(t)
    return res


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def base_env():
    drop = ("PEX_", "SHIV_", "PYBUNDLE_", "PYTHON", "VIRTUAL_ENV", "PIP_FIND_LINKS", "UV_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = CLEAN_BIN + os.pathsep + env.get("PATH", "")
    return env


def build_env():
    env = base_env()
    env["PATH"] = CLEAN_BIN + os.pathsep + TBIN + os.pathsep + os.environ.get("PATH", "")
    env["PIP_CACHE_DIR"] = w_("cache", "pip")
    env["PEX_ROOT"] = w_("cache", "pex")
    env["UV_CACHE_DIR"] = w_("cache", "uv")
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run_env():
    env = base_env()
    env.update(HOME=w_("home"), XDG_CACHE_HOME=w_("home", ".cache"), XDG_CONFIG_HOME=w_("home", ".config"),
               BLACK_CACHE_DIR=w_("blackcache"), HTTPIE_CONFIG_DIR=w_("httpie-config"))
    return env


def rmtree(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


def set_aside(path):
    """Move a first start's cache out of the way; the run phase deletes them all at its end
    (see the module docstring: deleting files slows the file creation of the next minutes)."""
    if os.path.lexists(path):
        os.makedirs(TRASH, exist_ok=True)
        os.rename(path, os.path.join(TRASH, f"{len(os.listdir(TRASH))}-{os.path.basename(path)}"))


def settle():
    """Delete what an interrupted run left in TRASH, then wait FIRST_START_SETTLE seconds: the
    builds just before (pip's and pybundle's staging directories) deleted files too."""
    rmtree(TRASH)
    os.sync()
    log(f"[run] waiting {SETTLE:g} s for the file system to settle (FIRST_START_SETTLE)")
    time.sleep(SETTLE)


def tree_bytes(path):
    files = size = 0
    for root, _, fs in os.walk(path):
        for f in fs:
            try:
                size += os.lstat(os.path.join(root, f)).st_size
                files += 1
            except OSError:
                pass
    return {"files": files, "bytes": size}


def tree_count(path):
    """Files (anything not a directory) and directories below `path`."""
    files = dirs = 0
    for _, ds, fs in os.walk(path):
        files += len(fs)
        dirs += len(ds)
    return {"files": files, "dirs": dirs}


def tail(s, n=1200):
    return s if len(s) <= n else "..." + s[-n:]


def timed(argv, env, timeout=RUN_TIMEOUT, cwd=None):
    """Wall time of one whole process, spawn to reap; output is captured."""
    t0 = time.perf_counter()
    try:
        cp = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=timeout, cwd=cwd)
        return time.perf_counter() - t0, cp.returncode, cp.stdout.decode("utf-8", "replace"), \
            cp.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        return time.perf_counter() - t0, 124, (e.stdout or b"").decode("utf-8", "replace"), "TIMEOUT"


def rotated(items, r):
    return items[r % len(items):] + items[:r % len(items)] if items else []


def stats(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs), "all": xs} if xs else None


def sh(cmd, **kw):
    log("  $", cmd)
    subprocess.run(cmd, shell=True, check=True, **kw)


# ---------------------------------------------------------------------------------------------
# setup
# ---------------------------------------------------------------------------------------------
def make_clean_python():
    """A copy of BASE_PY's binary + stdlib with an empty site-packages (not a venv)."""
    if os.path.exists(CLEAN_PY):
        return
    prefix, ver = subprocess.check_output(
        [BASE_PY, "-c", "import sys;print(sys.base_prefix);print('%d.%d'%sys.version_info[:2])"]).decode().split()
    rmtree(CLEAN)
    os.makedirs(CLEAN_BIN)
    shutil.copy2(os.path.realpath(BASE_PY), os.path.join(CLEAN_BIN, "python" + ver))
    for alias in ("python3", "python"):
        os.symlink("python" + ver, os.path.join(CLEAN_BIN, alias))
    src = os.path.join(prefix, "lib", "python" + ver)
    shutil.copytree(src, os.path.join(CLEAN, "lib", "python" + ver), symlinks=True,
                    ignore=lambda d, names: [n for n in names if n == "__pycache__" or
                                             (d == src and n in ("site-packages", "test"))])
    os.makedirs(os.path.join(CLEAN, "lib", "python" + ver, "site-packages"))
    subprocess.run([CLEAN_PY, "-m", "compileall", "-q", "-j0", os.path.join(CLEAN, "lib", "python" + ver)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def phase_setup():
    os.makedirs(WORK, exist_ok=True)
    log(f"[setup] work dir {WORK}")
    if not (os.path.exists(SHIV) and os.path.exists(PEX) and os.path.exists(UV)):
        sh(f"{q(BASE_PY)} -m venv {q(TOOLS_VENV)}")
        sh(f"{q(PIP)} install -q {' '.join(q(p) for p in PINS)}", env=build_env())
    make_clean_python()
    out = subprocess.check_output([CLEAN_PY, "-c", "import sys;print(sys.prefix == sys.base_prefix, len(sys.path))"],
                                  env=base_env()).decode().split()
    if out[0] != "True":
        sys.exit("error: the clean interpreter must not be a venv")
    if not os.path.exists(BUILD_PY):
        sh(f"{q(CLEAN_PY)} -m venv {q(os.path.dirname(os.path.dirname(BUILD_PY)))}", env=base_env())
    if not os.path.exists(PYBUNDLE):
        if os.environ.get("PYBUNDLE"):
            sys.exit(f"error: PYBUNDLE={PYBUNDLE} does not exist")
        sh("cargo build --release", cwd=REPO)
    os.makedirs(WHEELS, exist_ok=True)
    if not all(os.path.exists(local_wheel(a)) for a in LOCAL_APPS):
        sh(f"{q(PIP)} wheel -q --no-deps -w {q(WHEELS)} "
           + " ".join(q(os.path.join(HERE, "apps", a)) for a in LOCAL_APPS), env=build_env())
    for w in synth_workloads().values():
        make_synth(w["synth"], w["shape"], w["site"])


def empty_wheel():
    """A wheel with metadata only (3 members), so shiv's pip has a requirement to install."""
    path = os.path.join(WHEELS, "synth_pin-0.0.0-py3-none-any.whl")
    if not os.path.exists(path):
        info = "synth_pin-0.0.0.dist-info/"
        files = {info + "METADATA": "Metadata-Version: 2.1\nName: synth-pin\nVersion: 0.0.0\n",
                 info + "WHEEL": "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
        with zipfile.ZipFile(path, "w") as z:
            for name, text in files.items():
                z.writestr(name, text)
            z.writestr(info + "RECORD", "".join(f"{n},,\n" for n in files) + info + "RECORD,,\n")
    return path


def write_dist_info(site, name, files):
    """A minimal installed distribution `name` 0.0.0 whose RECORD claims `files` (paths in `site`)."""
    info = f"{name}-0.0.0.dist-info"
    os.makedirs(os.path.join(site, info))
    meta = {"METADATA": f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: 0.0.0\n",
            "top_level.txt": "".join(sorted({f.split("/")[0] + "\n" for f in files}))}
    lines = []
    for rel in files:
        with open(os.path.join(site, rel), "rb") as f:
            data = f.read()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{rel},sha256={digest},{len(data)}\n")
    for fname, text in meta.items():
        with open(os.path.join(site, info, fname), "w") as f:
            f.write(text)
        lines.append(f"{info}/{fname},,\n")
    with open(os.path.join(site, info, "RECORD"), "w") as f:
        f.write("".join(lines) + f"{info}/RECORD,,\n")


def make_synth(n, shape, site):
    """`synth_app` (the entry) plus n-1 small filler modules in top-level packages `synth_pNNNN` of
    SYNTH_DIST_SIZE files. shape `one`: a single distribution claims them all; `many`: every filler
    package is a distribution of its own (and `synth_app` one more). The entry imports the last
    filler module, so every tool has to find one module among all the others."""
    marker = os.path.join(site, "..", "complete")
    if os.path.exists(marker):
        with open(marker) as f:
            if f.read() == SYNTH_VERSION:
                return
    rmtree(site)
    os.makedirs(site)
    left, i, packages = n - 1, 0, []
    while left > 0:
        pkg = f"synth_p{i:04d}"
        os.makedirs(os.path.join(site, pkg))
        files = []
        for j in range(min(SYNTH_DIST_SIZE, left)):
            name = "__init__.py" if j == 0 else f"m{j:03d}.py"
            with open(os.path.join(site, pkg, name), "w") as f:
                f.write(f'"""filler module {i}.{j}"""\nVALUE = {i * SYNTH_DIST_SIZE + j}\n\n\ndef f(x):\n    return x + VALUE\n')
            files.append(f"{pkg}/{name}")
        packages.append(files)
        left -= len(files)
        i += 1
    last = packages[-1][-1][:-3].replace("/", ".").replace(".__init__", "")
    os.makedirs(os.path.join(site, "synth_app"))
    with open(os.path.join(site, "synth_app", "__init__.py"), "w") as f:
        f.write(f'def main():\n    import {last} as m\n\n    print("synth-app ok", m.VALUE)\n    return 0\n')
    if shape == "one":
        write_dist_info(site, "synth_app", ["synth_app/__init__.py"] + [f for fs in packages for f in fs])
    else:
        write_dist_info(site, "synth_app", ["synth_app/__init__.py"])
        for fs in packages:
            write_dist_info(site, fs[0].split("/")[0], fs)
    with open(marker, "w") as f:
        f.write(SYNTH_VERSION)


# ---------------------------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------------------------
# Runs argv[2:] as a forked child and writes "<ru_maxrss KiB> <seconds>" of it to argv[1]. The
# wrapper exists because Linux carries a process's peak RSS over execve, and subprocess spawns
# with vfork: a build started straight from this (large) process would report at least this
# process's own peak. Forked from the small wrapper, the build's peak starts near zero.
RSS_WRAPPER = r"""
import os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
dt = time.perf_counter() - t0
with open(sys.argv[1], "w") as f:
    f.write("%d %.6f" % (ru.ru_maxrss, dt))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def timed_rss(argv, env, timeout, cwd):
    """Wall time, exit status, output and peak memory of one process tree.

    The peak is `ru_maxrss` of wait4(): the largest resident set of the process and of every
    descendant it waited for (the largest single process of the tree, not a sum), in bytes.
    The time is taken around fork and wait4 inside the wrapper (its own start is not counted)."""
    with tempfile.TemporaryFile() as outf, tempfile.NamedTemporaryFile("r") as rssf:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-S", "-c", RSS_WRAPPER, rssf.name] + argv, env=env,
                                stdin=subprocess.DEVNULL, stdout=outf, stderr=subprocess.STDOUT, cwd=cwd,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            rc = 124
        dt = time.perf_counter() - t0
        outf.seek(0)
        text = outf.read().decode("utf-8", "replace") + ("\nTIMEOUT" if rc == 124 else "")
        fields = rssf.read().split()
    if len(fields) == 2:
        return float(fields[1]), rc, text, int(fields[0]) * 1024
    return dt, rc, text, None


def do_build(t, w, out):
    """Returns (seconds, exit status, output tail, command, peak memory in bytes)."""
    rmtree(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    script = t.build_script(w, out)
    os.sync()
    dt, rc, text, rss = timed_rss(["bash", "-c", "set -e\n" + script], build_env(), BUILD_TIMEOUT, w_("tmpcwd"))
    return dt, rc, tail(text), script, rss


def artifact(t, out):
    if not os.path.exists(out):
        return None
    if os.path.isdir(out):
        return {"bytes": tree_bytes(out)["bytes"], "kind": "venv dir"}
    h = hashlib.sha256()
    with open(out, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    d = {"bytes": os.path.getsize(out), "sha256": h.hexdigest()}
    try:
        with zipfile.ZipFile(out) as z:
            d["entries"] = len(z.infolist())
    except zipfile.BadZipFile as e:
        d["zip_error"] = str(e)
    return d


def build_or_reuse(t, w, out, reuse):
    """do_build(), or with `reuse` the artifact an earlier build phase in this BENCH_WORK made with
    the same command and pins (its recorded time and peak memory). pybundle is always built."""
    stamp_path = out + ".stamp.json"
    key = [t.build_script(w, out), PINS, SYNTH_VERSION if w.get("synth") else "", STAMP_VERSION]
    try:
        with open(stamp_path) as f:
            stamp = json.load(f)
    except (OSError, ValueError):
        stamp = {}
    if reuse and not t.name.startswith("pybundle") and stamp.get("key") == key and os.path.exists(out):
        log(f"  {t.name}: reused ({stamp['s']:.2f}s, peak {(stamp['rss'] or 0) / 1e6:.0f} MB when built)")
        return stamp["s"], 0, "", key[0], stamp["rss"]
    rmtree(stamp_path)
    dt, rc, text, script, rss = do_build(t, w, out)
    if rc == 0 and rss:
        with open(stamp_path, "w") as f:
            json.dump({"key": key, "s": dt, "rss": rss}, f)
    return dt, rc, text, script, rss


def phase_build():
    os.makedirs(w_("tmpcwd"), exist_ok=True)
    ts = tools(build=True)
    res = {"tools": [t.name for t in ts], "resolvers": pybundle_resolvers(), "workloads": {}, "synth": {},
           "config": {"BUILD_RUNS": BUILD_RUNS, "LARGE_BUILD_RUNS": LARGE_BUILD_RUNS, "ROWS": ROWS}}
    for wname, w in workloads().items():
        log(f"[build] {wname}")
        wr = res["workloads"][wname] = {}
        n_rounds = LARGE_BUILD_RUNS if w.get("large") else BUILD_RUNS
        for t in ts:  # warm-up: fills pip / pex / uv caches
            dt, rc, text, script, rss = build_or_reuse(t, w, t.out(wname), REUSE_BUILDS and n_rounds == 0)
            wr[t.name] = {"command": script, "warmup_s": dt, "warmup_rss": rss, "rc": rc, "times": [], "rss": [],
                          "failures": []}
            if rc:
                wr[t.name]["error"] = text
                log(f"  {t.name}: BUILD FAILED rc={rc}\n{tail(text, 600)}")
        ok = [t for t in ts if wr[t.name]["rc"] == 0]
        rounds = []
        for r in range(n_rounds):
            row = {}
            for t in rotated(ok, r):
                dt, rc, text, _, rss = do_build(t, w, t.out(wname))
                if rc == 0:
                    wr[t.name]["times"].append(dt)
                    wr[t.name]["rss"].append(rss)
                    row[t.name] = dt
                else:
                    wr[t.name]["failures"].append(text)
            rounds.append(row)
        wr["_rounds"] = rounds
        for t in ok:
            wr[t.name]["artifact"] = artifact(t, t.out(wname))
            log(f"  {t.name}: " + (f"{statistics.median(wr[t.name]['times']):.2f}s" if wr[t.name]["times"]
                                   else f"{wr[t.name]['warmup_s']:.2f}s (warm-up)")
                + f"  peak {max([x for x in wr[t.name]['rss'] + [wr[t.name]['warmup_rss']] if x] or [0]) / 1e6:.0f} MB"
                + f"  {wr[t.name]['artifact']}")
    for wname, w in synth_workloads().items():
        log(f"[build] {wname}")
        for t in tools():
            out = t.out(wname)
            dt, rc, text, script, rss = build_or_reuse(t, w, out, SYNTH_REUSE)
            res["synth"].setdefault(wname, {})[t.name] = {"command": script, "s": dt, "rc": rc, "rss": rss,
                                                          "artifact": artifact(t, out)}
            if rc:
                res["synth"][wname][t.name]["error"] = text
                log(f"  {t.name}: BUILD FAILED rc={rc}\n{tail(text, 600)}")
            else:
                log(f"  {t.name}: {dt:.2f}s, peak {(rss or 0) / 1e6:.0f} MB")
    with open(STATE, "w") as f:
        json.dump(res, f, indent=1)


# ---------------------------------------------------------------------------------------------
# run (no network needed)
# ---------------------------------------------------------------------------------------------
class Variant:
    def __init__(self, t, w, wname, mode, label=None, base="venv"):
        self.t, self.w, self.wname, self.mode = t, w, wname, mode
        self.label, self.base = label or t.name, base  # row key, and the key its ratio divides by
        self.times, self.fail, self.note, self.sample = [], None, None, None
        self.written = []  # files and directories each first start left under its cache root

    def cache_dir(self, rnd):
        if self.mode == "cold":
            return os.path.join(RT, "cold", f"{self.t.name}-{self.wname}-{rnd}")
        return os.path.join(RT, "warm", self.t.name, self.wname)

    def env(self, rnd):
        e = run_env()
        e.update(self.w.get("env", {}))
        if self.t.cache_env:
            e[self.t.cache_env] = self.cache_dir(rnd)
        return e


def run_once(v, rnd):
    os.sync()
    dt, rc, so, se = timed(v.t.run_argv(v.w, v.t.out(v.wname)), v.env(rnd), cwd=w_("tmpcwd"))
    ok = rc == 0 and re.search(v.w["check"], so + se, re.M) is not None
    if v.mode == "cold":
        d = v.cache_dir(rnd) if v.t.cache_env else None
        if d and rnd == "warmup" and not (os.path.isdir(d) and os.listdir(d)):
            v.note = "the empty cache stayed empty (nothing extracted)"
        if ok:
            v.written.append(tree_count(d) if d else {"files": 0, "dirs": 0})
        if d:
            set_aside(d)
    return dt, rc, ok, so, se


def measure(variants, runs):
    """One warm-up, then `runs` rotated rounds; ratios paired with the venv of the same round."""
    for v in variants:
        dt, rc, ok, so, se = run_once(v, "warmup")
        v.sample = (so + se).strip().splitlines()[:1]
        if not ok:
            v.fail = {"rc": rc, "stdout": tail(so, 500), "stderr": tail(se, 1500)}
    live = [v for v in variants if v.fail is None]
    rounds = []
    for r in range(runs):
        row = {}
        for v in rotated(live, r):
            if v.fail:
                continue
            dt, rc, ok, so, se = run_once(v, r)
            if ok:
                v.times.append(dt)
                row[v.label] = dt
            else:
                v.fail = {"rc": rc, "round": r, "stdout": tail(so, 500), "stderr": tail(se, 1500)}
        rounds.append(row)
    return summarize(variants, rounds)


def summarize(variants, rounds):
    out = {"rounds": rounds}
    for v in variants:
        ratios = [row[v.label] / row[v.base] for row in rounds if v.label in row and row.get(v.base)]
        out[v.label] = {"time": stats(v.times), "ratio": stats(ratios), "fail": v.fail, "note": v.note,
                         "sample": v.sample}
        if v.mode == "cold":
            out[v.label]["written"] = v.written
    return out


def http_get(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        data = b""
        while True:
            c = s.recv(65536)
            if not c:
                return data
            data += c


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue


def server_once(v, rnd):
    """Seconds from spawn to the first 200 response carrying the expected body."""
    args, path, expect = v.w["server"]
    port = free_port()
    argv = [os.path.join(v.t.out(v.wname), "bin", v.w["console"]) if v.t.name == "venv" else v.t.out(v.wname)]
    argv += [a.format(port=port, docroot=w_("docroot")) for a in args]
    env = v.env(rnd)
    logpath = w_("logs", f"srv-{v.wname}-{v.t.name}.log")
    os.sync()
    err, ttfr = None, None
    with open(logpath, "wb") as lf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=w_("tmpcwd"))
        try:
            while ttfr is None and err is None:
                if time.perf_counter() - t0 > SERVER_TIMEOUT:
                    err = "timeout"
                elif proc.poll() is not None:
                    err = f"server exited rc={proc.returncode}"
                else:
                    try:
                        data = http_get(port, path)
                        if b" 200 " in data.split(b"\r\n", 1)[0] and expect in data:
                            ttfr = time.perf_counter() - t0
                    except OSError:
                        time.sleep(0.005)
        finally:
            stop(proc)
    if v.mode == "cold" and v.t.cache_env:
        set_aside(v.cache_dir(rnd))
    if err:
        with open(logpath, "rb") as f:
            err += "\n" + tail(f.read().decode("utf-8", "replace"))
    return ttfr, err


def servers(ts, ws):
    res = {}
    for wname, w in ws.items():
        if "server" not in w:
            continue
        log(f"[run] server {wname}")
        vs = [Variant(t, w, wname, "cold") for t in ts if os.path.exists(t.out(wname))]
        for v in vs:
            ttfr, err = server_once(v, "warmup")
            if err:
                v.fail = {"error": err}
        rounds = []
        for r in range(SERVER_RUNS):
            row = {}
            for v in rotated([v for v in vs if not v.fail], r):
                ttfr, err = server_once(v, r)
                if err:
                    v.fail = {"round": r, "error": err}
                else:
                    v.times.append(ttfr)
                    row[v.t.name] = ttfr
            rounds.append(row)
        res[wname] = summarize(vs, rounds)
    return res


def phase_run():
    if os.environ.get("BENCH_NETNS") != "1" and shutil.which("unshare") and \
            subprocess.run(["unshare", "-n", "true"], stderr=subprocess.DEVNULL).returncode == 0:
        env = dict(os.environ, BENCH_NETNS="1")
        cmd = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', sys.executable,
               os.path.abspath(__file__), "run"]
        sys.exit(subprocess.run(cmd, env=env).returncode)
    for d in ("logs", "home", "blackcache", "tmpcwd", "httpie-config", "docroot"):
        os.makedirs(w_(d), exist_ok=True)
    settle()
    set_aside(RT)
    with open(w_("httpie-config", "config.json"), "w") as f:
        json.dump({"disable_update_warnings": True}, f)
    with open(w_("docroot", "hello.txt"), "w") as f:
        f.write("hello from the twisted docroot\n")
    try:
        socket.create_connection(("1.1.1.1", 443), timeout=1).close()
        net = "external network reachable: run phase NOT isolated"
    except OSError as e:
        net = f"loopback only ({e.__class__.__name__})"
    log(f"[run] network: {net}")
    ts = [t for t in tools() if t.name in RUN_TOOLS]
    ws = workloads()
    res = {"network": net, "config": {"RUNS": RUNS, "SERVER_RUNS": SERVER_RUNS, "LARGE_RUNS": LARGE_RUNS, "ROWS": ROWS,
                                      "SYNTH_FILES": SYNTH_FILES, "SYNTH_SHAPES": SYNTH_SHAPES,
                                      "SYNTH_DIST_SIZE": SYNTH_DIST_SIZE}, "warm": {},
           "cold": {}, "cache": {}, "synth": {}, "servers": {}}
    for wname, w in ws.items():
        for mode in (m for m in ("warm", "cold") if m in ROWS):
            log(f"[run] {wname} {mode}")
            vs = [Variant(t, w, wname, mode) for t in ts if os.path.exists(t.out(wname))]
            res[mode][wname] = measure(vs, LARGE_RUNS if w.get("large") else
                                       (WARM_RUNS if mode == "warm" else RUNS))
        if "cold" in ROWS and CLEAR_EACH is not None:
            rmtree(TRASH)  # the first-start caches of this workload, then a wait
            os.sync()
            log(f"[run] waiting {CLEAR_EACH:g} s after deleting {wname}'s first-start caches (CLEAR_EACH)")
            time.sleep(CLEAR_EACH)
        for t in ts:
            d = os.path.join(RT, "warm", t.name, wname)
            if t.cache_env:
                res["cache"].setdefault(wname, {})[t.name] = tree_bytes(d) if os.path.isdir(d) else \
                    {"files": 0, "bytes": 0}
    if "servers" in ROWS:
        res["servers"] = servers(ts, ws)
    # all sizes in one interleaved measurement, so that growth is a paired difference per round
    vs = [Variant(t, w, wname, "warm", label=f"{t.name}@{w['shape']}-{w['synth']}", base=f"venv@{w['shape']}-{w['synth']}")
          for wname, w in synth_workloads().items() for t in ts if os.path.exists(t.out(wname))]
    if vs:
        log("[run] synthetic warm")
        res["synth"] = measure(vs, RUNS)
    with open(RUN_STATE, "w") as f:
        json.dump(res, f, indent=1)
    rmtree(TRASH)


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------
COLS = ["venv", "shiv", "pex", "pex-venv", "pybundle", "pybundle-venv"]


def med(d, key="time"):
    return d[key]["median"] if d and d.get(key) else None


def cell(d, ratio=True):
    if d is None:
        return "—"
    if d.get("fail"):
        return "FAIL"
    t = med(d)
    if t is None:
        return "—"
    r = med(d, "ratio")
    return f"{t:.3f}" + (f" (×{r:.2f})" if ratio and r is not None else "")


def verdict(value, limit, fmt):
    if value is None:
        return "n/a", "not measured"
    if limit is None:
        return fmt(value), "–"
    return fmt(value), ("met" if value <= limit else "**not met**")


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def mb(b):
    return f"{b / 1e6:.2f} MB"


# targets of the pybundle column: (limit, shown); the open issues' tables
WARM_TARGETS = {w: (1.03, "≤ ×1.03") for w in CORE + SCIENCE} | {"azure-cli": (1.05, "≤ ×1.05")}
# issue 25: numpy and scipy ≤ ×2.5; the other stacks no worse than the worse of its two runs
COLD_TARGETS = {"black": (1.5, "≤ ×1.5"), "httpie": (1.5, "≤ ×1.5"), "gunicorn": (1.5, "≤ ×1.5"),
                "twisted": (2.5, "≤ ×2.5"), "numpy": (2.5, "≤ ×2.5"), "sphinx": (3.0, "≤ ×3"),
                "azure-cli": (1.5, "≤ ×1.5"), "scipy": (2.5, "≤ ×2.5"),
                "pandas": (2.49, "≤ ×2.49 (no worse)"), "scikit-learn": (1.79, "≤ ×1.79 (no worse)"),
                "matplotlib": (2.00, "≤ ×2.00 (no worse)")}
SYNTH_LIMIT = 0.010
BUILD_RSS_TARGETS = {"azure-cli": 250e6}


def written_cell(d):
    if not d or d.get("fail"):
        return "FAIL" if d else "—"
    ws = d.get("written") or []
    if not ws:
        return "—"
    return f"{statistics.median(x['files'] for x in ws):.0f} / {statistics.median(x['dirs'] for x in ws):.0f}"


def build_rss(g, c):
    """Median peak memory (bytes) of the timed builds, else of the warm-up build."""
    d = g.get(c) or {}
    if d.get("error"):
        return None
    xs = [x for x in d.get("rss") or [] if x] or ([d["warmup_rss"]] if d.get("warmup_rss") else [])
    return statistics.median(xs) if xs else None


def synth_growth(rs, c, shape, n_small, n):
    """Median over rounds of the paired difference (s) between the n-file and the n_small-file bundle."""
    ka, kz = f"{c}@{shape}-{n_small}", f"{c}@{shape}-{n}"
    ds = [row[kz] - row[ka] for row in rs.get("rounds", []) if ka in row and kz in row]
    return statistics.median(ds) if ds else None


def synth_sizes(rs):
    """{shape: sorted file counts} present in the run's synthetic measurement."""
    out = {}
    for k in rs:
        if "@" in k and "-" in k.split("@")[1]:
            shape, n = k.split("@")[1].rsplit("-", 1)
            out.setdefault(shape, set()).add(int(n))
    return {k: sorted(v) for k, v in sorted(out.items())}


def summary(b, r, wt):
    """The open issues' target table: one row per target, every tool from this run."""
    rows = []

    def ratio(group, wname, c):
        return med((r[group].get(wname) or {}).get(c), "ratio")

    def fx(x):
        return "—" if x is None else f"×{x:.2f}"

    core = [w for w in CORE if w in r["warm"]]
    if core:
        cells = []
        for c in COLS:
            xs = [ratio("warm", w, c) for w in core]
            cells.append(" / ".join(fx(x) for x in xs))
        xs = [ratio("warm", w, "pybundle") for w in core]
        worst = max(xs) if None not in xs else None
        val, ok = verdict(worst, 1.03, lambda x: f"worst ×{x:.2f}")
        rows.append([f"warm start, ratio to venv, {' / '.join(core)}"] + cells + ["≤ ×1.03 each", ok])
    for shape, sizes in synth_sizes(r["synth"]).items():
        for n in sizes[1:]:
            cells = []
            for c in COLS:
                d = synth_growth(r["synth"], c, shape, sizes[0], n)
                cells.append("—" if d is None else f"{d * 1000:+.1f} ms")
            _, ok = verdict(synth_growth(r["synth"], "pybundle", shape, sizes[0], n), SYNTH_LIMIT, str)
            rows.append([f"warm start, {n:,} over {sizes[0]:,} modules, {shape} distribution"
                         f"{'s' if shape == 'many' else ''}"] + cells + ["≤ +10 ms", ok])
    for wname in (w for w in LARGE if w in r["warm"]):
        limit, shown = WARM_TARGETS.get(wname, (None, "(no target)"))
        _, ok = verdict(ratio("warm", wname, "pybundle"), limit, str) if limit else (None, "–")
        rows.append([f"warm start, {wname} `{cmdline(wt[wname])}`, ratio to venv"]
                    + [fx(ratio("warm", wname, c)) for c in COLS] + [shown, ok])
    for wname, g in b["workloads"].items():
        if wname not in ("azure-cli", "numpy"):
            continue
        limit = BUILD_RSS_TARGETS.get(wname)
        _, ok = verdict(build_rss(g, "pybundle"), limit, str) if limit else (None, "–")
        rows.append([f"build peak memory, {wname}"]
                    + [("—" if build_rss(g, c) is None else f"{build_rss(g, c) / 1e6:.0f} MB") for c in COLS]
                    + [f"≤ {limit / 1e6:.0f} MB" if limit else "bounded", ok])
    for wname in r["cold"]:
        limit, shown = COLD_TARGETS.get(wname, (None, "(no target)"))
        _, ok = verdict(ratio("cold", wname, "pybundle"), limit, str) if limit else (None, "–")
        rows.append([f"first start, {wname}, ratio to warm venv"] + [fx(ratio("cold", wname, c)) for c in COLS]
                    + [shown, ok])
    for wname in (w for w in LARGE if w in r["cold"]):
        rows.append([f"files / dirs written on first start, {wname}"]
                    + [written_cell(r["cold"][wname].get(c)) for c in COLS] + ["", ""])
    sized = [w for w, g in b["workloads"].items() if ((g.get("shiv") or {}).get("artifact") or {}).get("bytes")]
    if sized:
        cells = ["(site dir: see File size)"]
        for c in COLS[1:]:
            xs = []
            for w in sized:
                sv = b["workloads"][w]["shiv"]["artifact"]["bytes"]
                a = (b["workloads"][w].get(c) or {}).get("artifact") or {}
                xs.append(f"×{a['bytes'] / sv:.2f}" if a.get("bytes") else "—")
            cells.append(" / ".join(xs))
        rows.append([f"bundle size, ratio to shiv, {' / '.join(sized)}"] + cells
                    + ["smaller than the previous run", "see File size"])
    if not rows:
        return []
    return ["## Targets (issues: flat layout, first start)", "",
            "Ratios are medians of per-round ratios to the venv run of the same round; growth is the median of "
            "per-round paired differences.", "",
            table(["row"] + COLS + ["pybundle target", "met?"], rows), ""]


def phase_report():
    with open(STATE) as f:
        b = json.load(f)
    with open(RUN_STATE) as f:
        r = json.load(f)
    ws = workloads()
    head_t = ["workload"] + COLS + ["pybundle target", "pybundle", "met?"]
    md = ["# pybundle benchmark: latest run", ""]
    smoke = RUNS < 3 or ("build" in ROWS and BUILD_RUNS < 3)
    if smoke:
        md += [f"**SMOKE RUN (RUNS={RUNS}, BUILD_RUNS={BUILD_RUNS}): proves the harness works; not results.**", ""]
    cfg = r.get("config", {})
    md += [f"Date (UTC) {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}; {platform.platform()}; "
           f"{os.cpu_count()} CPUs; run phase network: {r['network']}.",
           f"Runs: {cfg.get('RUNS', RUNS)} rounds (+1 warm-up), large apps {cfg.get('LARGE_RUNS', LARGE_RUNS)}, "
           f"servers {cfg.get('SERVER_RUNS', SERVER_RUNS)}, builds {b.get('config', {}).get('BUILD_RUNS', BUILD_RUNS)} "
           f"(large apps {b.get('config', {}).get('LARGE_BUILD_RUNS', LARGE_BUILD_RUNS)}); medians; "
           "(×N) = median of the ratios to the venv run of the same round.", "",
           "Versions: " + "; ".join(f"{k} {v}" for k, v in versions().items()), ""]

    wt = workload_table()
    md += summary(b, r, wt)

    def time_rows(group, targets):
        rows = []
        for wname, g in r[group].items():
            limit, shown = targets.get(wname, (None, "(no target)"))
            val, ok = verdict(med(g.get("pybundle"), "ratio"), limit, lambda x: f"×{x:.2f}")
            rows.append([f"{wname} (`{cmdline(wt[wname])}`)"] + [cell(g.get(c)) for c in COLS] + [shown, val, ok])
        return rows

    if r["warm"]:
        md += ["## Warm start (cache filled), s", "",
               table(head_t, time_rows("warm", WARM_TARGETS)), ""]
    if r["cold"]:
        md += ["## First start, empty cache, s", "",
               table(head_t, time_rows("cold", COLD_TARGETS)), ""]
        rows = []
        for wname, g in r["cold"].items():
            rows.append([wname] + [written_cell(g.get(c)) for c in COLS])
        md += ["## Written on first start (files / directories under the cache root, median over runs)", "",
               "pybundle: `PYBUNDLE_ROOT`; shiv: `SHIV_ROOT`; pex and pex `--venv`: `PEX_ROOT` (a fresh empty "
               "directory for every run); a venv writes nothing.", "",
               table(["workload"] + COLS, rows), ""]

    rows = []
    targets = {"twisted": 0.35, "gunicorn": 0.25}
    for wname, g in r["servers"].items():
        val, ok = verdict(med(g.get("pybundle")), targets[wname], lambda x: f"{x:.3f} s")
        rows.append([wname] + [cell(g.get(c)) for c in COLS] + [f"≤ {targets[wname]} s", val, ok])
    if "servers" in ROWS:
        md += ["## Time to first HTTP response, empty cache, s", "",
               "twisted: `twist web --path DOCROOT` (GET /hello.txt); gunicorn: `-w 1 hello_wsgi:app` (GET /).", "",
               table(head_t, rows), ""]

    bcols = COLS + ["pybundle-uv"]
    rows = []
    for wname, g in b["workloads"].items():
        rounds = g.get("_rounds", [])

        def ratio_to(name, base):
            xs = [row[name] / row[base] for row in rounds if name in row and row.get(base)]
            return statistics.median(xs) if xs else None

        cells = []
        for c in bcols:
            d = g.get(c)
            if c == "pybundle-uv" and "uv" not in b["resolvers"]:
                cells.append("n/a")
            elif d and not d.get("error") and not d["times"]:
                cells.append(f"{d['warmup_s']:.2f} (warm-up only)")
            elif not d or d.get("error"):
                cells.append("FAIL" if d else "—")
            else:
                rs = ratio_to(c, "shiv")
                cells.append(f"{statistics.median(d['times']):.2f}" + (f" (×{rs:.2f} shiv)" if rs and c != "shiv" else ""))
        v1 = verdict(ratio_to("pybundle", "shiv"), 0.8, lambda x: f"×{x:.2f}")
        v2 = verdict(ratio_to("pybundle-uv", "shiv"), 0.3, lambda x: f"×{x:.2f}") if "uv" in b["resolvers"] \
            else ("n/a", "no `--resolver` in `pybundle --help`")
        rows.append([wname] + cells + ["≤ ×0.8 shiv (pip)", v1[0], v1[1], "≤ ×0.3 shiv (uv)", v2[0], v2[1]])
    if "build" in ROWS:
        md += ["## Build time, warm pip cache, s", "", "(×N shiv) = median of the ratios to shiv's build of the same round.",
               "", table(["workload"] + bcols + ["target", "pybundle", "met?", "target", "pybundle-uv", "met?"], rows), ""]
    if "build" in ROWS and "uv" in b["resolvers"]:
        same = []
        for wname, g in b["workloads"].items():
            a, z = ((g.get(c) or {}).get("artifact") or {} for c in ("pybundle", "pybundle-uv"))
            if not (a and z):
                continue
            same.append(f"{wname} {'identical' if a.get('sha256') and a.get('sha256') == z.get('sha256') else 'DIFFERENT'}")
        md += ["pybundle output bytes, pip vs `--resolver uv`: " + ", ".join(same) + ".", ""] if same else []

    rows = []
    for wname, g in b["workloads"].items():
        cells = ["—" if build_rss(g, c) is None else f"{build_rss(g, c) / 1e6:.0f}" for c in bcols]
        limit = BUILD_RSS_TARGETS.get(wname)
        val, ok = verdict(build_rss(g, "pybundle"), limit, lambda x: f"{x / 1e6:.0f} MB") if limit else ("", "–")
        rows.append([wname] + cells + [f"≤ {limit / 1e6:.0f} MB" if limit else "(no target)", val, ok])
    if rows:
        md += ["## Build peak memory, MB", "",
               "Largest resident set of any one process of the build (`ru_maxrss` of wait4 on the build's shell), "
               "median over the timed builds, else the warm-up build's.", "",
               table(["workload"] + bcols + ["pybundle target", "pybundle", "met?"], rows), ""]

    rows = []
    for wname, g in b["workloads"].items():
        def size(c):
            a = (g.get(c) or {}).get("artifact")
            return a["bytes"] if a else None
        sv = size("shiv")
        cells = []
        for c in COLS:
            s = size(c)
            cells.append("—" if s is None else mb(s) + (" (site dir)" if c == "venv" else
                                                     (f" (×{s / sv:.2f} shiv)" if sv and c != "shiv" else "")))
        pv = size("pybundle")
        val, ok = verdict(pv / sv if pv and sv else None, 1.15, lambda x: f"×{x:.2f}")
        rows.append([wname] + cells + ["≤ ×1.15 shiv", val, ok])
    if rows:
        md += ["## File size", "", table(head_t, rows), ""]

    rows = []
    for wname, g in r["cache"].items():
        sv = (g.get("shiv") or {}).get("bytes")
        cells = ["(none)"] + [f"{mb(g[c]['bytes'])} / {g[c]['files']} files" if c in g else "—" for c in COLS[1:]]
        pv = (g.get("pybundle") or {}).get("bytes")
        val, ok = verdict(pv / sv if pv is not None and sv else None, 0.5, lambda x: f"×{x:.2f}")
        target = "≤ ×0.5 shiv" if wname in ("httpie", "black") else "(no target)"
        rows.append([wname] + cells + [target, val, ok if wname in ("httpie", "black") else "–"])
    if rows:
        md += ["## Extraction cache on disk after the warm runs", "", table(head_t, rows), ""]

    bsyn = b.get("synth", {})
    for shape, sizes in synth_sizes(r["synth"]).items():
        rows = []
        for c in COLS:
            arts = [((bsyn.get(f"synth-{shape}-{n}") or {}).get(c) or {}) for n in sizes]
            cells = []
            for n, a in zip(sizes, arts):
                x = cell(r["synth"].get(f"{c}@{shape}-{n}"))
                zip64 = (a.get("artifact") or {}).get("entries", 0) > 65535 and c != "pybundle"
                cells.append(x + " (Zip64 zipapp)" if x == "FAIL" and zip64 else x)
            ents = " / ".join(str((a.get("artifact") or {}).get("entries", "–")) for a in arts)
            sz = " / ".join(mb((a.get("artifact") or {})["bytes"]) if (a.get("artifact") or {}).get("bytes")
                            else "–" for a in arts)
            bt = " / ".join(f"{a['s']:.1f} s, {a['rss'] / 1e6:.0f} MB" if a.get("s") is not None and a.get("rss")
                            else "–" for a in arts)
            growth, oks = [], []
            for n in sizes[1:]:
                d = synth_growth(r["synth"], c, shape, sizes[0], n)
                growth.append("—" if d is None else f"{d * 1000:+.1f} ms")
                if c == "pybundle":
                    oks.append(verdict(d, SYNTH_LIMIT, str)[1])
            rows.append([c] + cells + growth + [ents, sz, bt, "≤ +10 ms" if c == "pybundle" else "",
                                                 ", ".join(oks)])
        head = ["tool"] + [f"{n:,} modules" for n in sizes] + [f"growth {n:,} over {sizes[0]:,}" for n in sizes[1:]] \
            + ["zip entries", "artifact size", "build (one, cold) time, peak memory", "target", "met?"]
        what = "all in one distribution" if shape == "one" else f"one distribution per package of {SYNTH_DIST_SIZE}"
        md += [f"## Synthetic warm start, {what} (same entry point), s", "",
               "Generated pure modules bundled with `--site-packages` (pex: `-D`); the entry imports the last "
               "filler module. Growth: median of the per-round paired differences to the smallest bundle. "
               "FAIL (Zip64 zipapp): more than 65,535 entries make shiv and pex write a Zip64 archive, which "
               "zipimport reads only from CPython 3.13 on (`can't find '__main__' module`).", "",
               table(head, rows), ""]

    fails = []
    for name, g in [("build", b["workloads"]), ("build synth", bsyn)]:
        for wname, d in g.items():
            for c, x in d.items():
                if isinstance(x, dict) and x.get("error"):
                    fails.append(f"- {name} {wname} {c}: `{x['command']}`\n\n```\n{tail(x['error'], 800)}\n```")
    for grp in ("warm", "cold", "servers", "synth"):
        for wname, d in (r[grp].items() if grp != "synth" else [("", r["synth"])]):
            for c, x in d.items():
                if c != "rounds" and x.get("fail"):
                    fails.append(f"- {grp} {wname} {c}:\n\n```\n{tail(json.dumps(x['fail'], indent=1), 800)}\n```")
                if c != "rounds" and x.get("note"):
                    fails.append(f"- note: {grp} {wname} {c}: {x['note']}")
    if fails:
        md += ["## Failures and notes", ""] + fails + [""]
    text = "\n".join(md)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, RESULTS_NAME + ".md"), "w") as f:
        f.write(text)
    with open(os.path.join(RESULTS, RESULTS_NAME + ".json"), "w") as f:
        json.dump({"build": b, "run": r, "versions": versions()}, f, indent=1)
    print(text)


def versions():
    def out(argv):
        try:
            return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
                                  env=base_env()).stdout.decode().strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired) as e:
            return f"n/a ({e})"
    return {"python": out([CLEAN_PY, "-V"]), "pybundle": out([PYBUNDLE, "--version"]),
            "shiv": out([SHIV, "--version"]), "pex": out([PEX, "--version"]), "uv": out([UV, "--version"]),
            "pip (tools)": out([PIP, "--version"]).split(" from ")[0],
            "pip (pybundle)": out([BUILD_PY, "-m", "pip", "--version"]).split(" from ")[0]}


def main():
    phase = sys.argv[1] if len(sys.argv) > 1 else "all"
    phases = {"setup": phase_setup, "build": phase_build, "run": phase_run, "report": phase_report}
    if phase == "all":
        t0 = time.time()
        phase_setup()
        phase_build()
        rc = subprocess.run([sys.executable, os.path.abspath(__file__), "run"]).returncode
        if rc:
            sys.exit(rc)
        phase_report()
        log(f"[all] {time.time() - t0:.0f} s")
    elif phase in phases:
        phases[phase]()
    else:
        sys.exit(f"usage: {sys.argv[0]} [all|setup|build|run|report]")


if __name__ == "__main__":
    main()
