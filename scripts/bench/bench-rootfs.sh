#!/usr/bin/env bash
# Builds the layers of the Debian benchmark image as directories, the way a container build
# would: a bookworm root filesystem from debootstrap, then one overlayfs upper directory per
# build step (apt-get install in a chroot, or deleting files), so each upper directory is that
# layer's diff, with overlayfs whiteouts (0/0 character devices) and opaque directories
# (trusted.overlay.opaque). apt's caches (downloaded .debs, package lists) are left behind, as a
# careless Dockerfile leaves them. Needs root, debootstrap and overlayfs; run once, cached.
#
# Usage: bench-rootfs.sh OUT_DIR   (writes OUT_DIR/l1 ... OUT_DIR/l6 and OUT_DIR/done)
set -euo pipefail
out=$1
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
[ -f "$out/done" ] && exit 0
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null

# The steps after the base, one layer each.
steps=(
  # python, curl (with apt's package lists from the update before it)
  "apt-get install -y --no-install-recommends python3 python3-pip python3-venv python3-setuptools python3-wheel curl ca-certificates"
  # toolchains
  "apt-get install -y --no-install-recommends build-essential gcc g++ gdb make cmake pkg-config git"
  # -dev packages, python's scientific stack
  "apt-get install -y --no-install-recommends libssl-dev zlib1g-dev libcurl4-openssl-dev libxml2-dev libsqlite3-dev libffi-dev libbz2-dev libreadline-dev libncurses-dev liblzma-dev libzstd-dev libboost-dev libpq-dev libgmp-dev libyaml-dev python3-dev python3-numpy python3-scipy python3-pandas"
  # more toolchains
  "apt-get install -y --no-install-recommends clang gfortran"
  # a layer that deletes: docs, man pages, locales, some static libraries and headers, tests
  "rm -rf /usr/share/doc /usr/share/man /usr/share/locale /usr/share/info /usr/lib/x86_64-linux-gnu/libboost_* /usr/include/boost/geometry /usr/lib/python3/dist-packages/scipy/io/tests; mkdir -p /usr/share/doc"
)

rm -rf "$out"
mkdir -p "$out"
echo "debootstrap bookworm (minbase) into $out/l1" >&2
debootstrap --variant=minbase bookworm "$out/l1" "$mirror" >"$out/debootstrap.log" 2>&1
cp /etc/resolv.conf "$out/l1/etc/resolv.conf"
# No services in a chroot.
printf '#!/bin/sh\nexit 101\n' >"$out/l1/usr/sbin/policy-rc.d"
chmod 755 "$out/l1/usr/sbin/policy-rc.d"

lower="$out/l1"
m="$out/mnt"
i=2
for step in "${steps[@]}"; do
  up="$out/l$i"
  mkdir -p "$up" "$out/work" "$m"
  rm -rf "$out/work"/*
  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$up,workdir=$out/work" "$m"
  mount -t proc proc "$m/proc"
  mount --bind /dev "$m/dev"
  echo "layer $i: $step" >&2
  rc=0
  if [ $i = 2 ]; then
    chroot "$m" sh -c "apt-get update -qq" >"$out/l$i.log" 2>&1 || rc=$?
  fi
  chroot "$m" sh -c "DEBIAN_FRONTEND=noninteractive $step" >>"$out/l$i.log" 2>&1 || rc=$?
  umount "$m/dev" "$m/proc"
  umount "$m"
  if [ $rc != 0 ]; then
    echo "layer $i failed, see $out/l$i.log" >&2
    exit 1
  fi
  lower="$up:$lower"
  i=$((i + 1))
done
rm -rf "$out/work" "$m"
du -sh "$out"/l* >&2
touch "$out/done"
