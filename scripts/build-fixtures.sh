#!/usr/bin/env bash
# Build the fixture container images under testdata/images/ from real
# toolchains and real Debian package files.  Idempotent and reproducible:
# rerunning with the same installed toolchain and the same cached .deb files
# gives byte-identical output.  No container engine is used.
#
#   scripts/build-fixtures.sh            # build
#   WORK=/some/dir scripts/build-fixtures.sh   # other scratch dir (default below)
#
# Scratch files (compiled binaries, downloaded .debs) live in $WORK, outside
# the repository; delete it to force a fresh download of the .debs.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${WORK:-/tmp/layerscope-fixtures}"
SRC="$ROOT/testdata/src"
OUT="$ROOT/testdata/images"
export LC_ALL=C TZ=UTC SOURCE_DATE_EPOCH=0 PYTHONDONTWRITEBYTECODE=1

# ---------------------------------------------------------------- tools
need_pkgs=()
need() { command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2"); }
need gcc gcc
need musl-gcc musl-tools
need aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
need readelf binutils
need strip binutils
need scanelf pax-utils
need file file
need zstd zstd
need python3 python3
need dpkg-deb dpkg
need go golang-go
[ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ] || need_pkgs+=(libc6-arm64-cross)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    echo "installing: ${need_pkgs[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

mkdir -p "$WORK/debs" "$WORK/bin" "$WORK/root"

# ---------------------------------------------------------------- .debs
# Real files come from these Debian packages.  A .deb already in
# $WORK/debs is reused (so reruns are byte-identical even if the archive
# moved on); otherwise the current candidate version is downloaded.
DEBS=(libc6 base-files musl busybox-static libc6-arm64-cross tzdata)
for p in "${DEBS[@]}"; do
    if ! ls "$WORK/debs/${p}_"*.deb >/dev/null 2>&1; then
        ( cd "$WORK/debs" && apt-get download -q -o APT::Sandbox::User=root "$p" >/dev/null 2>&1 ) || {
            apt-get update -qq
            ( cd "$WORK/debs" && apt-get download -q -o APT::Sandbox::User=root "$p" >/dev/null )
        }
    fi
    deb="$(ls "$WORK/debs/${p}_"*.deb | head -n1)"
    rm -rf "$WORK/root/$p"
    mkdir -p "$WORK/root/$p"
    dpkg-deb -x "$deb" "$WORK/root/$p"
    dpkg-deb -f "$deb" > "$WORK/root/$p.control"
    rm -rf "$WORK/root/$p.DEBIAN"
    dpkg-deb -e "$deb" "$WORK/root/$p.DEBIAN"     # raw control, md5sums (distroless status.d)
done

# ---------------------------------------------------------------- compile
# Relative source paths keep the binaries independent of $ROOT.
cd "$WORK/bin"
cp "$SRC/hello.c" "$SRC/mathy.c" "$SRC/hello.go" .
CFLAGS="-O2"
gcc $CFLAGS -o hello-glibc hello.c                       # dynamic, NOT stripped
gcc $CFLAGS -o mathy-glibc mathy.c -lm && strip mathy-glibc
gcc $CFLAGS -static -o hello-static hello.c && strip hello-static
gcc $CFLAGS -static-pie -o hello-static-pie hello.c && strip hello-static-pie
musl-gcc $CFLAGS -o hello-musl hello.c                   # dynamic, NOT stripped
musl-gcc $CFLAGS -static -o hello-musl-static hello.c && strip hello-musl-static
aarch64-linux-gnu-gcc $CFLAGS -o hello-arm64 hello.c     # dynamic, NOT stripped
# with DWARF (.debug_*), NOT stripped; the prefix map keeps $WORK out of DW_AT_comp_dir
gcc $CFLAGS -g -fdebug-prefix-map="$PWD"=. -o hello-debug hello.c
# Go: static, reproducible (no build id, no paths); a clean environment so that
# no user go env or GOFLAGS gets in.  hello-glibc-2.99 is made by fixtures.py.
env -u GOFLAGS GOENV=off GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" GO111MODULE=on \
    GOTOOLCHAIN=local CGO_ENABLED=0 GOOS=linux GOARCH=amd64 GOAMD64=v1 \
    go build -trimpath -ldflags='-s -w -buildid=' -o hello-go hello.go

# ---------------------------------------------------------------- images
rm -rf "$OUT"
mkdir -p "$OUT"
python3 "$ROOT/scripts/fixtures.py" "$WORK" "$OUT"

# ---------------------------------------------------------------- facts
# Record what the real tools say about every ELF we ship (input for the README).
{
    for f in hello-glibc mathy-glibc hello-static hello-static-pie hello-musl \
             hello-musl-static hello-arm64 \
             ../root/libc6/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 \
             ../root/libc6/lib/x86_64-linux-gnu/libc.so.6 \
             ../root/libc6/lib/x86_64-linux-gnu/libm.so.6 \
             ../root/musl/lib/x86_64-linux-musl/libc.so \
             ../root/busybox-static/bin/busybox \
             ../root/libc6-arm64-cross/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 \
             ../root/libc6-arm64-cross/usr/aarch64-linux-gnu/lib/libc.so.6 \
             hello-go hello-debug hello-glibc-2.99; do
        echo "== $f  size=$(stat -c %s "$f") sha256=$(sha256sum "$f" | cut -c1-64)"
        file -b "$f"
        readelf -h "$f" | grep -E '^\s+(Type|Machine):'
        readelf -l "$f" | grep -o 'Requesting program interpreter: [^]]*' || true
        readelf -d "$f" | grep -E '\((NEEDED|SONAME)\)' || true
        echo "newest GLIBC_ needed: $(readelf -V "$f" | sed -n '/Version needs/,$p' | grep -o 'GLIBC_[0-9.]*' | sort -t. -k2,2n -k3,3n -u | tail -n1)"
        scanelf -BinMF '%a %i %n %M' "$f" || true
    done
    echo "== versions"
    # (no grep -m1: an early exit would SIGPIPE strings under pipefail)
    strings ../root/libc6/lib/x86_64-linux-gnu/libc.so.6 | grep 'GNU C Library' | sort -u
    strings ../root/libc6-arm64-cross/usr/aarch64-linux-gnu/lib/libc.so.6 | grep 'GNU C Library' | sort -u
    strings ../root/musl/lib/x86_64-linux-musl/libc.so | grep -x '1\.[0-9]*\.[0-9]*' | sort -u || true
    for p in "${DEBS[@]}"; do echo "$p $(grep '^Version:' "$WORK/root/$p.control" | cut -d' ' -f2)"; done
    gcc --version | head -n1
    aarch64-linux-gnu-gcc --version | head -n1
    dpkg-query -W -f='${Package} ${Version}\n' musl-tools binutils zstd
    dpkg-query -W -f='${Package} ${Version}\n' golang-go
    go version -m hello-go
    echo "== hello-debug: .debug_* sections"
    readelf -SW hello-debug | grep -o '\.debug_[a-z_]* *PROGBITS *[0-9a-f]* [0-9a-f]* [0-9a-f]*'
    echo "== hello-glibc-2.99: version needs (GLIBC_2.34 renamed to GLIBC_2.99 in .dynstr)"
    readelf -V hello-glibc-2.99 | sed -n '/Version needs/,$p'
} > "$ROOT/testdata/elf-facts.txt" 2>&1
cp "$WORK/digests.txt" "$ROOT/testdata/digests.txt"
cp "$WORK/bloat-expected.json" "$ROOT/testdata/bloat-expected.json"

echo "fixtures written to $OUT; tool output in testdata/elf-facts.txt, digests in testdata/digests.txt"
du -sh "$ROOT/testdata"
