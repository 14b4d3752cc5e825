#!/usr/bin/env bash
# The wheel that carries the binary, checked the way users install it: the release build
# `maturin build --release --zig --compatibility manylinux2014` (maturin and zig pinned, from the
# package index, in target/ci-tools/; zig links against glibc 2.17 whatever the build host has, and
# maturin's audit checks the tag), then
#   1. `pip install --no-index` of the wheel into a fresh venv: `pybundle --version`,
#      `python -m pybundle --version`, and an offline build of the fixture application
#      (fixtures/projects/myapp with its dependencies built locally into a wheelhouse) that runs;
#   2. the same with `uv tool install` of the wheel (UV_TOOL_DIR/UV_TOOL_BIN_DIR in a temp dir).
# Called by .ci/run; alone: `bash .ci/wheel-smoke.sh` from anywhere (uv: $PYBUNDLE_UV or PATH).
# Only the tool installs in target/ci-tools/ reach the package index; every build after them is
# offline (`--no-index`).
set -euo pipefail
cd "$(dirname "$0")/.."

MATURIN_VERSION=1.16.0
ZIG_VERSION=0.17.0
# The build backend of the fixture projects, fetched once as a wheel so that pip's isolated
# builds run offline from a local directory.
SETUPTOOLS_VERSION=84.2.1

python=$(python3 -c 'import sys; print(sys.executable)')
tools="$PWD/target/ci-tools"
uv=${PYBUNDLE_UV:-$(command -v uv || true)}
[ -n "$uv" ] && [ -x "$uv" ] || { echo "uv is required: set PYBUNDLE_UV or put uv on PATH" >&2; exit 1; }

t0=$SECONDS
step() { echo "== $* (+$((SECONDS - t0))s)"; }

step "tools: maturin $MATURIN_VERSION, zig $ZIG_VERSION, setuptools $SETUPTOOLS_VERSION"
maturin_venv="$tools/maturin-$MATURIN_VERSION-zig-$ZIG_VERSION"
if [ ! -x "$maturin_venv/bin/maturin" ]; then
  "$python" -m venv "$maturin_venv"
  "$maturin_venv/bin/python" -m pip install -q --disable-pip-version-check \
    "maturin==$MATURIN_VERSION" "ziglang==$ZIG_VERSION"
fi
backend="$tools/setuptools-$SETUPTOOLS_VERSION"
if ! ls "$backend"/setuptools-*.whl >/dev/null 2>&1; then
  "$python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$backend" "setuptools==$SETUPTOOLS_VERSION"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pybundle-wheel-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Nothing below may reach the index: pip and uv are told so, and their caches are fresh.
export PIP_NO_INDEX=1 PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
export UV_OFFLINE=1 UV_NO_CONFIG=1 UV_PYTHON_DOWNLOADS=never UV_CACHE_DIR="$work/uv-cache"
unset PIP_FIND_LINKS PYTHONPATH SOURCE_DATE_EPOCH PYBUNDLE_ROOT PYBUNDLE_CACHE_DIR

step "maturin build --release --zig --compatibility manylinux2014"
build_start=$SECONDS
# maturin runs zig as `python -m ziglang`: the venv's python must come first on PATH. Its own
# target dir keeps these artifacts apart from `cargo build --release`'s (another linker and C
# compiler: each build would redo the other's).
PATH="$maturin_venv/bin:$PATH" "$maturin_venv/bin/maturin" build --release --zig \
  --compatibility manylinux2014 --target-dir target/wheel --out "$work/dist"
build_time=$((SECONDS - build_start))
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
wheel=$(ls "$work"/dist/pybundle-*.whl)
echo "wheel: $(basename "$wheel") (maturin build: ${build_time}s)"
case "$(basename "$wheel")" in
  "pybundle-$version-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl") ;;
  *) echo "unexpected wheel name: want pybundle-$version-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl" >&2; exit 1 ;;
esac
# The wheel holds the binary, the package and the metadata: no target/, tests or fixtures.
"$python" - "$wheel" "$version" <<'EOF'
import sys, zipfile
wheel, version = sys.argv[1], sys.argv[2]
names = sorted(zipfile.ZipFile(wheel).namelist())
expected = {
    "pybundle/__init__.py", "pybundle/__main__.py",
    "pybundle-%s.data/scripts/pybundle" % version,
}
extra = [n for n in names if n not in expected and not n.startswith("pybundle-%s.dist-info/" % version)]
missing = sorted(expected - set(names))
if extra or missing:
    sys.exit("wheel content: unexpected %s, missing %s" % (extra, missing))
print("wheel content: %d members: %s" % (len(names), ", ".join(names)))
EOF
# The binary asks for no glibc symbol newer than its tag allows.
mkdir -p "$work/unpacked"
(cd "$work/unpacked" && "$python" -m zipfile -e "$wheel" .)
newest=$(objdump -T "$work/unpacked/pybundle-$version.data/scripts/pybundle" \
  | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)
echo "newest glibc symbol version: $newest"
[ "$(printf '%s\nGLIBC_2.17\n' "$newest" | sort -V | tail -n 1)" = GLIBC_2.17 ] \
  || { echo "the binary needs $newest, more than manylinux_2_17 allows" >&2; exit 1; }

# From here on pybundle's build cache and the bundles' extraction cache are fresh too (not
# before the wheel build: zig keeps its linker wrappers there, and a new path each run would
# make cargo rebuild everything).
export XDG_CACHE_HOME="$work/cache"

step "fixture wheelhouse (offline: puredep, spam with its C extension)"
mkdir -p "$work/src"
cp -r fixtures/projects/myapp fixtures/projects/puredep fixtures/native "$work/src/"
"$python" -m pip wheel -q --no-index --find-links "$backend" -w "$work/wheels" \
  "$work/src/puredep" "$work/src/native"

expect_version() {
  local got
  got=$("$@")
  [ "$got" = "pybundle $version" ] || { echo "\`$*\` printed '$got', want 'pybundle $version'" >&2; exit 1; }
  echo "$* -> $got"
}

# Builds the fixture app with the pybundle command $1 (output from its [tool.pybundle]:
# dist/{name}-{version}-{python}.pyz, with --checksum) in a fresh copy, checks and runs it.
build_and_run() {
  local pybundle=$1 project="$work/$2"
  rm -rf "$project"
  cp -r "$work/src/myapp" "$project"
  "$pybundle" "$project" --python "$python" --no-index -f "$work/wheels" -f "$backend"
  local tag bundle
  tag=$("$python" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
  bundle="$project/dist/myapp-1.2.0-$tag.pyz"
  [ -f "$bundle" ] || { echo "missing $bundle" >&2; ls -R "$project/dist" >&2; exit 1; }
  (cd "$project/dist" && sha256sum -c "$(basename "$bundle").sha256")
  "$pybundle" verify "$bundle"
  local out
  out=$("$python" "$bundle" smoke)
  echo "$out"
  case "$out" in *"spam.add(2, 3) = 5"*"argv: ['smoke']"*) ;; *) echo "unexpected output" >&2; exit 1 ;; esac
  set +e
  "$python" "$bundle" exit3 >/dev/null
  local code=$?
  set -e
  [ "$code" = 3 ] || { echo "exit status $code, want 3" >&2; exit 1; }
}

step "pip install --no-index into a fresh venv"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --no-index "$wheel"
expect_version "$work/venv/bin/pybundle" --version
expect_version "$work/venv/bin/python" -m pybundle --version
step "offline build of the fixture app with the venv's pybundle"
build_and_run "$work/venv/bin/pybundle" venv-app

step "uv tool install of the wheel"
export UV_TOOL_DIR="$work/uv-tools" UV_TOOL_BIN_DIR="$work/uv-bin"
"$uv" tool install --no-index --python "$python" "$wheel"
expect_version "$UV_TOOL_BIN_DIR/pybundle" --version
expect_version "$UV_TOOL_DIR/pybundle/bin/python" -m pybundle --version
step "offline build of the fixture app with the uv tool's pybundle"
build_and_run "$UV_TOOL_BIN_DIR/pybundle" uv-app

step "wheel smoke passed (maturin build ${build_time}s)"
