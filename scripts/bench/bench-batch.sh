#!/usr/bin/env bash
# Batch throughput on a local registry: a mirror of the test fixtures pushed under several
# repositories each (images that share their base layers), plus, with BIG=1, the 876 MB /usr
# image of bench-scan.sh under two repositories. Runs `layerscope batch` three times on the same
# store: cold (empty store), warm (everything stored: only listing and manifest digests), and
# --rescan (every image merged again from layers kept in the store, no layer fetched). Prints
# images per second, layers analysed against referenced, and warm / cold.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPOS_PER_FIXTURE=${REPOS_PER_FIXTURE:-4}
JOBS=${JOBS:-2}
for p in docker-registry skopeo; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || apt-get install -y -qq "$p" >/dev/null
done
cargo build --release --quiet
bin=$PWD/target/release/layerscope
work=$(mktemp -d)
trap 'kill $reg_pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/config.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/data
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$work/policy.json"
push() { skopeo --policy "$work/policy.json" copy -q --all --dest-tls-verify=false "oci:$1" "docker://127.0.0.1:$port/$2"; }
n=0
for f in glibc musl busybox static static-pie go layers distroless bloat multiarch multiarch-drift compression; do
  for r in $(seq "$REPOS_PER_FIXTURE"); do
    push "testdata/images/$f/oci" "team-$r/$f:1.0"
    n=$((n + 1))
  done
done
if [ "${BIG:-1}" = 1 ]; then
  big=${BENCH_DIR:-/var/tmp/layerscope-bench}/usr-gzip
  [ -f "$big/index.json" ] || python3 scripts/bench/bench-image.py "$big" gzip /usr/bin,/usr/sbin /usr/include /usr/lib/gcc /usr/libexec,/usr/lib/python3.11 /usr/share/doc,/usr/share/man
  push "$big" big-a/usr:1.0
  push "$big" big-b/usr:1.0
  n=$((n + 2))
fi
echo "pushed $n tags to 127.0.0.1:$port"
run() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$bin" batch "127.0.0.1:$port" --db "$work/store.db" --jobs "$JOBS" -q --format json "$@" >"$work/$label.json" || true
  read -r wall rss <"$work/time"
  python3 - "$label" "$wall" "$rss" "$work/$label.json" <<'PY'
import json, sys
label, wall, rss, path = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = json.load(open(path))
stored = s["images_scanned"] + s["images_copied"]
rate = stored / wall if wall else 0
print(f"{label:7} {wall:7.2f} s  images {s['images']} scanned {s['images_scanned']} copied {s['images_copied']}"
      f" skipped {s['images_skipped']}  ({rate:.1f} images stored/s)"
      f"  layers referenced {s['layers_referenced']} ({s['layer_references']} refs)"
      f" analysed {s['layers_analysed']} from store {s['layers_from_store']}  peak RSS {rss // 1024} MB")
PY
  echo "$wall" >"$work/$label.wall"
}
run cold
# Warm runs are short: the median of three.
for i in 1 2 3; do run warm; cp "$work/warm.wall" "$work/warm$i.wall"; done
sort -n "$work"/warm?.wall | sed -n 2p >"$work/warm.wall"
run rescan --rescan
awk -v w="$(cat "$work/warm.wall")" -v c="$(cat "$work/cold.wall")" -v r="$(cat "$work/rescan.wall")" \
  'BEGIN {printf "warm (median) / cold = %.3f (target < 0.05); rescan / cold = %.3f\n", w / c, r / c}'
