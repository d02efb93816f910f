#!/usr/bin/env bash
# Opening time and peak RSS of `explore` against `scan` of the same image, in the same round.
# `scan -q -f json` writes its report to /dev/null; `explore -q` runs in a private tmux server
# (120x40) under /usr/bin/time, and `q` is sent as soon as its first screen shows (the pane is
# polled every 20 ms once 0.8 x the scan's time has passed), so its time is "open, draw, quit". Both: wall seconds, CPU seconds (user +
# system: steadier than wall on a shared machine) and peak RSS.
#
# Usage: RUNS=3 scripts/bench/bench-explore.sh BIN IMAGE [IMAGE...]   (release build for BIN)
set -euo pipefail
bin=$1
shift
runs=${RUNS:-3}
sock="layerscope-bench-explore-$$"
out=$(mktemp -d)
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$out"' EXIT

echo "image round scan_s scan_cpu_s scan_rss_kb explore_s explore_cpu_s explore_rss_kb time_ratio cpu_ratio rss_ratio"
for img in "$@"; do
  for r in $(seq "$runs"); do
    # scan exits 1 or 3 on findings or a partial read; only its time and memory matter here.
    /usr/bin/time -f "%e %U %S %M" -o "$out/scan" "$bin" scan -q -f json "$img" >/dev/null || true
    rm -f "$out/explore"
    tmux -L "$sock" new-session -d -s bench -x 120 -y 40 \
      "/usr/bin/time -f '%e %U %S %M' -o '$out/explore' '$bin' explore -q '$img'; sleep 600"
    # Polling costs CPU the explorer would use: wait passively for most of the scan's time first.
    read -r st _ < <(tail -1 "$out/scan")
    sleep "$(awk -v s="$st" 'BEGIN { print s * 0.8 }')"
    until tmux -L "$sock" capture-pane -p -t bench | grep -q 'Files:'; do sleep 0.02; done
    tmux -L "$sock" send-keys -t bench q
    until [ -s "$out/explore" ]; do sleep 0.02; done
    tmux -L "$sock" kill-server
    read -r st su ss sm < <(tail -1 "$out/scan")
    read -r et eu es em < <(tail -1 "$out/explore")
    awk -v i="$(basename "$img")" -v r="$r" -v st="$st" -v su="$su" -v ss="$ss" -v sm="$sm" \
      -v et="$et" -v eu="$eu" -v es="$es" -v em="$em" 'BEGIN {
        sc = su + ss; ec = eu + es
        printf "%s %d %.2f %.2f %d %.2f %.2f %d %.2f %.2f %.2f\n", i, r, st, sc, sm, et, ec, em, et / st, ec / sc, em / sm
      }'
  done
done
