#!/usr/bin/env bash
# The container suite's base images, made without a registry and cached by tag (the rootfs
# tarballs also under $CACHE, so that a new engine imports them again in seconds):
#
#   $DEBIAN      minimal Debian bookworm (debootstrap --variant=minbase) with Debian's python3:
#                /usr/bin/python3, dist-packages, no pip, ensurepip disabled
#   $DEBIAN_PIP  the same with python3-pip (the build stage of the build-in-the-image recipe)
#   $PYORG       a python.org-style image: the minimal Debian rootfs with the libraries CPython
#                links, and a CPython installation copied under /usr/local (/usr/local/bin/python3,
#                pip in its site-packages, no /usr/bin/python3)
#
# Usage: images.sh CACHE CPYTHON_PREFIX DEBIAN DEBIAN_PIP PYORG
# The Debian mirror is the one apt is configured with (override: PYBUNDLE_TEST_DEBIAN_MIRROR).
set -euo pipefail
cache=$(realpath -m "$1") cpython=$2 debian=$3 debian_pip=$4 pyorg=$5
mkdir -p "$cache/debs"
docker=${DOCKER:-docker}

mirror=${PYBUNDLE_TEST_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
      2>/dev/null | grep -oE '(https?)://[^ ]*/debian/?( |$)' | grep -v security | head -n 1 | tr -d ' ' || true)
fi
[ -n "$mirror" ] || { echo "no Debian mirror found in apt's sources" >&2; exit 1; }

have() { "$docker" image inspect "$1" >/dev/null 2>&1; }

# Removes a rootfs directory; debootstrap may leave /proc or /sys mounted in it after a failure.
remove() {
  local m
  for m in $(awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount -l "$m" || true
  done
  rm -rf --one-file-system "$1"
}

# rootfs NAME TAG INCLUDE [PREPARE]: debootstrap into a temp dir, run PREPARE on it, keep the
# tarball, import it as TAG.
rootfs() {
  local name=$1 tag=$2 include=$3 prepare=${4:-}
  local tar="$cache/$name.tar"
  if have "$tag"; then return; fi
  if [ ! -s "$tar" ]; then
    local dir
    dir=$(mktemp -d "$cache/rootfs-$name.XXXXXX")
    echo "debootstrap $name ($include)" >&2
    debootstrap --variant=minbase --cache-dir="$cache/debs" ${include:+--include="$include"} \
      bookworm "$dir" "$mirror" >"$cache/$name.log" 2>&1 \
      || { tail -n 20 "$cache/$name.log" >&2; remove "$dir"; exit 1; }
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    if [ -n "$prepare" ]; then "$prepare" "$dir"; fi
    tar -C "$dir" --one-file-system -c . >"$tar.part"
    mv "$tar.part" "$tar"
    remove "$dir"
  fi
  "$docker" import --change 'CMD ["/bin/bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' "$tar" "$tag" >/dev/null
}

# A python.org-style installation: the interpreter, its shared library, the standard library
# (without tests, IDLE and tkinter) and pip, under /usr/local; `python3`, `python`, `pip3`.
copy_cpython() {
  local dir=$1 ver
  ver=$("$cpython/bin/python3" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  mkdir -p "$dir/usr/local/bin" "$dir/usr/local/lib"
  cp -a "$cpython/bin/python$ver" "$dir/usr/local/bin/"
  cp -a "$cpython"/lib/libpython"$ver"*.so* "$dir/usr/local/lib/" 2>/dev/null || true
  tar -C "$cpython/lib" -c --exclude="python$ver/test" --exclude="python$ver/idlelib" \
    --exclude="python$ver/tkinter" --exclude="python$ver/site-packages" \
    --exclude='__pycache__' "python$ver" | tar -C "$dir/usr/local/lib" -x
  mkdir -p "$dir/usr/local/lib/python$ver/site-packages"
  cp -a "$cpython/lib/python$ver/site-packages"/pip "$cpython/lib/python$ver/site-packages"/pip-*.dist-info \
    "$dir/usr/local/lib/python$ver/site-packages/"
  ln -s "python$ver" "$dir/usr/local/bin/python3"
  ln -s "python$ver" "$dir/usr/local/bin/python"
  printf '#!/usr/local/bin/python3\nimport sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n' \
    >"$dir/usr/local/bin/pip3"
  chmod 755 "$dir/usr/local/bin/pip3"
  chroot "$dir" /sbin/ldconfig
  chroot "$dir" /usr/local/bin/python3 -c 'import ssl, sqlite3, ctypes, lzma, bz2, zlib, readline'
}

rootfs debian "$debian" python3
rootfs debian-pip "$debian_pip" python3,python3-pip
rootfs python-org "$pyorg" \
  ca-certificates,netbase,tzdata,libssl3,libffi8,libsqlite3-0,libexpat1,libncursesw6,libreadline8,libbz2-1.0,liblzma5,zlib1g,libuuid1,libgdbm6,libtirpc3,libnsl2 \
  copy_cpython
for tag in "$debian" "$debian_pip" "$pyorg"; do
  echo "$tag $("$docker" image inspect -f '{{.Size}}' "$tag")"
done
