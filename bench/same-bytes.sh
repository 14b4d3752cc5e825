#!/usr/bin/env bash
# Builds the same five bundles with two pybundle binaries and compares their sha256: the
# fixture application (offline, from a wheelhouse written once), black from the package index
# (pinned), the Django seed application (`pip install --target` once, then `--site-packages`),
# azure-cli (pinned; about 150 distributions, extraction units) and a `--multicall` bundle of
# flake8, black and isort (pinned).
#
# Usage: bench/same-bytes.sh OLD_PYBUNDLE NEW_PYBUNDLE [PYTHON]
#   PYTHON defaults to $PYBUNDLE_TEST_PYTHON, else python3.11 on PATH.
# Exit status 0 when every pair is byte-identical, 1 otherwise.
set -euo pipefail
old=$(realpath "$1")
new=$(realpath "$2")
python=${3:-${PYBUNDLE_TEST_PYTHON:-$(command -v python3.11)}}
repo=$(cd "$(dirname "$0")/.." && pwd)
BLACK=${BLACK:-black==26.10.1}
DJANGO=${DJANGO:-django==5.2.19}
GUNICORN=${GUNICORN:-gunicorn==27.0.1}
AZURE=${AZURE:-azure-cli==2.91.0}
MULTICALL=${MULTICALL:-flake8==7.5.0 black==26.10.1 isort==9.0.2}

work=$(mktemp -d -t pybundle-same-bytes.XXXXXX)
trap 'rm -rf "$work"' EXIT
unset SOURCE_DATE_EPOCH PYBUNDLE_CACHE_DIR PYBUNDLE_NO_BUILD_CACHE PYTHONPATH

# Shared inputs, made once.
"$python" "$repo/bench/fixture_wheels.py" "$work/wheels"
mkdir -p "$work/django"
cp -r "$repo/fixtures/projects/djangoseed/." "$work/django/"
sed -i "s/^django$/$DJANGO/; s/^gunicorn$/$GUNICORN/" "$work/django/requirements.txt"
(cd "$work/django" && "$python" -m pip install -q --disable-pip-version-check . \
  -r requirements.txt --target dist/)

build() { # NAME BINARY: builds the five bundles into $work/NAME with a fresh build cache
  local out="$work/$1" bin=$2
  mkdir -p "$out"
  export XDG_CACHE_HOME="$out/cache"
  PIP_NO_INDEX=1 "$bin" -q -o "$out/myapp.pyz" --python "$python" -p "$python" \
    --no-index --find-links "$work/wheels" -c myapp myapp
  "$bin" -q -o "$out/black.pyz" --python "$python" -c black "$BLACK"
  (cd "$work/django" && "$bin" -q --python "$python" --site-packages dist --compressed \
    -p "/usr/bin/env python3" -o "$out/django.pyz" -e myapp.main:main)
  "$bin" -q -o "$out/azure.pyz" --python "$python" -m azure.cli "$AZURE"
  # shellcheck disable=SC2086 # one requirement per word
  "$bin" -q -o "$out/multicall.pyz" --python "$python" --multicall $MULTICALL
}
build old "$old"
build new "$new"

status=0
for b in myapp black django azure multicall; do
  a=$(sha256sum "$work/old/$b.pyz" | cut -d' ' -f1)
  z=$(sha256sum "$work/new/$b.pyz" | cut -d' ' -f1)
  if [ "$a" = "$z" ]; then
    echo "same      $b.pyz  $a"
  else
    echo "DIFFERENT $b.pyz  old $a  new $z"
    status=1
  fi
done
exit $status
