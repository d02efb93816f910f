#!/usr/bin/env bash
# Scan throughput against the decompression floor, on a multi-layer image built from this
# machine's /usr (about 700 MB uncompressed, cached under $BENCH_DIR). For gzip and zstd layers,
# it alternates `layerscope floor` (decompress only, same decoder and threads) and
# `layerscope scan`, RUNS times each, and prints median wall times, the ratio and peak RSS.
# Absolute times on a shared machine are noise; the ratio from one run is the figure.
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH_DIR=${BENCH_DIR:-/var/tmp/layerscope-bench}
RUNS=${RUNS:-5}
for p in pigz zstd time; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || apt-get install -y -qq "$p" >/dev/null
done
cargo build --release --quiet ${FEATURES:+--features "$FEATURES"}
bin=target/release/layerscope
layers=(/usr/bin,/usr/sbin /usr/include /usr/lib/gcc /usr/libexec,/usr/lib/python3.11 /usr/share/doc,/usr/share/man)
# Cases: five layers (both cores busy in the floor too), and one big layer (the floor uses one
# core; the scan's pipeline of decompression and walk uses two).
for case in gzip zstd gzip-one-layer; do
  comp=${case%%-*}
  img="$BENCH_DIR/usr-$case"
  if [ ! -f "$img/index.json" ]; then
    echo "building $img" >&2
    rm -rf "$img"
    if [ "$case" = gzip-one-layer ]; then
      python3 scripts/bench/bench-image.py "$img" "$comp" /usr/bin,/usr/sbin,/usr/include
    else
      python3 scripts/bench/bench-image.py "$img" "$comp" "${layers[@]}"
    fi
  fi
  floor=()
  scan=()
  rss_floor=0
  rss_scan=0
  for _ in $(seq "$RUNS"); do
    read -r wall rss < <(/usr/bin/time -f "%e %M" "$bin" floor "$img" 2>&1 >/dev/null | tail -1)
    floor+=("$wall"); [ "$rss" -gt "$rss_floor" ] && rss_floor=$rss
    read -r wall rss < <(/usr/bin/time -f "%e %M" "$bin" scan -q --format json "$img" 2>&1 >/dev/null | tail -1)
    scan+=("$wall"); [ "$rss" -gt "$rss_scan" ] && rss_scan=$rss
  done
  info=$("$bin" floor "$img")
  median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  mf=$(median "${floor[@]}")
  ms=$(median "${scan[@]}")
  ratio=$(awk -v a="$ms" -v b="$mf" 'BEGIN {printf "%.3f", a / b}')
  echo "$case: $info"
  echo "$case: floor median ${mf}s (runs: ${floor[*]}), peak RSS $((rss_floor / 1024)) MB"
  echo "$case: scan  median ${ms}s (runs: ${scan[*]}), peak RSS $((rss_scan / 1024)) MB"
  echo "$case: scan / floor = $ratio  (target <= 1.20)"
done
