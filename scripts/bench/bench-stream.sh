#!/usr/bin/env bash
# Streams against files: for each docker-archive FILE given (default: the benchmark images that
# scripts/bench/bench.sh and bench-files.sh leave under $BENCH_DIR), the wall time and peak RSS
# of `scan docker-archive:FILE` (the tar indexed, layers read in parallel) against
# `cat FILE | scan -` (one front-to-back stream: layers analysed as they pass, the manifest
# last) and `floor --verify` of the file, RUNS rounds (default 3), medians. The figures are the
# ratios within one run (absolute times on a shared machine are noise). Release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH_DIR=${BENCH_DIR:-/var/tmp/layerscope-bench}
RUNS=${RUNS:-3}
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/layerscope
files=("$@")
if [ "${#files[@]}" -eq 0 ]; then
  mapfile -t files < <(find "$BENCH_DIR" -name '*.docker.tar' -size +100M | sort)
fi
[ "${#files[@]}" -gt 0 ] || { echo "no docker-archive given or found under $BENCH_DIR" >&2; exit 2; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
# One measurement: "wall_seconds peak_rss_kb".
measure() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1; }
echo "| image | bytes | verified floor (s) | scan file (s) | scan stdin (s) | stdin / file | RSS file (MB) | RSS stdin (MB) |"
echo "|---|---|---|---|---|---|---|---|"
for f in "${files[@]}"; do
  cat "$f" >/dev/null
  v=(); a=(); b=(); ra=0; rb=0
  for _ in $(seq "$RUNS"); do
    read -r w _ < <(measure "$bin" floor --verify "docker-archive:$f"); v+=("$w")
    read -r w r < <(measure "$bin" scan -q --format json "docker-archive:$f"); a+=("$w")
    [ "$r" -gt "$ra" ] && ra=$r
    read -r w r < <(measure sh -c "cat '$f' | '$bin' scan -q --format json -"); b+=("$w")
    [ "$r" -gt "$rb" ] && rb=$r
  done
  awk -v n="$(basename "$f")" -v s="$(stat -c %s "$f")" -v v="$(median "${v[@]}")" -v a="$(median "${a[@]}")" \
    -v b="$(median "${b[@]}")" -v ra="$ra" -v rb="$rb" 'BEGIN {
    printf "| %s | %.0f MB | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f |\n", n, s / 1e6, v, a, b, b / a, ra / 1024, rb / 1024 }'
done
