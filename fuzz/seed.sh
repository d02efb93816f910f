#!/usr/bin/env bash
# Builds the seed corpora of the fuzz targets from testdata (run from anywhere):
#   corpus/layer_walk  small layer tars: fixture layers up to 128 KiB whole, one-entry tars cut
#                      from the larger ones, plus PAX / GNU / sparse / whiteout / link samples
#   corpus/elf_facts   ELF files from the fixture layers (first byte = chunk-size seed), up to
#                      256 KiB, plus a tiny dynamic binary built with cc when there is one
#   corpus/oci_json    every JSON blob of the fixtures (indexes, manifests, configs) and index.json
# Needs python3 (gzip and zstd are decoded by it and by the zstd command).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/.."
out="$here/corpus"
mkdir -p "$out/layer_walk" "$out/elf_facts" "$out/oci_json"
python3 - "$root/testdata/images" "$out" <<'PY'
import gzip, hashlib, io, os, subprocess, sys, tarfile

images, out = sys.argv[1], sys.argv[2]

def save(kind, data):
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(out, kind, name), "wb") as f:
        f.write(data)

def decode(b):
    if b[:2] == b"\x1f\x8b":
        return gzip.decompress(b)
    if b[:4] == b"\x28\xb5\x2f\xfd":
        return subprocess.run(["zstd", "-dc"], input=b, capture_output=True, check=True).stdout
    return b

def one_entry_tar(member, data, fmt):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        t.addfile(member, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()

cut = 0
for dirpath, _, files in os.walk(images):
    if os.path.basename(dirpath) != "sha256":
        continue
    for f in files:
        raw = open(os.path.join(dirpath, f), "rb").read()
        if raw[:1] in (b"{", b"["):
            save("oci_json", raw)
            continue
        try:
            tar = decode(raw)
            tf = tarfile.open(fileobj=io.BytesIO(tar), mode="r:")
            members = tf.getmembers()
        except Exception:
            continue
        if len(tar) <= 128 << 10:
            save("layer_walk", tar)
        for m in members:
            data = tf.extractfile(m).read() if m.isfile() else None
            if data is not None and data[:4] == b"\x7fELF" and len(data) <= 256 << 10:
                save("elf_facts", bytes([len(data) % 251]) + data)
            if len(tar) > 128 << 10 and cut < 400 and (data is None or len(data) <= 16 << 10):
                cut += 1
                save("layer_walk", one_entry_tar(m, data, tarfile.GNU_FORMAT))
for root_dir, _, files in os.walk(images):
    for f in files:
        if f == "index.json" or f == "manifest.json":
            save("oci_json", open(os.path.join(root_dir, f), "rb").read())

# Extension records and special entries the fixtures may lack.
def entry(name, typ=tarfile.REGTYPE, data=b"", link="", pax=None):
    m = tarfile.TarInfo(name)
    m.type, m.size, m.linkname, m.mode = typ, len(data), link, 0o755
    if pax:
        m.pax_headers = pax
    return m, data

samples = [
    [entry("a/" + "x" * 200 + "/long", data=b"#!/bin/sh\necho\n")],
    [entry("usr/bin/sh", tarfile.SYMTYPE, link="busybox"), entry("usr/bin/busybox", data=b"BusyBox v1.36.1 ()")],
    [entry("etc/os-release", data=b"ID=alpine\nVERSION_ID=3.20.0\n"), entry("etc/.wh.shadow"), entry("usr/.wh..wh..opq")],
    [entry("lib/libc.so.6", data=b"GNU C Library (Debian GLIBC 2.36-9) stable release version 2.36."), entry("lib/l", tarfile.LNKTYPE, link="lib/libc.so.6")],
    [entry("a", tarfile.SYMTYPE, link="b"), entry("b", tarfile.SYMTYPE, link="a"), entry("c/d", tarfile.SYMTYPE, link="../../..")],
    [entry("lib/apk/db/installed", data=b"P:musl\nV:1.2.5-r0\n\nP:busybox\nV:1.36.1-r29\n\n")],
    [entry("var/lib/dpkg/status", data=b"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\n\n")],
    [entry("etc/ld.so.conf", data=b"include /etc/ld.so.conf.d/*.conf\n"), entry("dev/null", tarfile.CHRTYPE)],
]
for i, entries in enumerate(samples):
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
            for m, data in entries:
                if fmt == tarfile.PAX_FORMAT:
                    m.pax_headers = {"path": m.name, "comment": "seed %d" % i}
                t.addfile(m, io.BytesIO(data) if m.isfile() else None)
        save("layer_walk", buf.getvalue())
PY
# A small dynamic executable with DT_NEEDED and GLIBC_x.y version needs.
if command -v cc >/dev/null; then
    tmp="$(mktemp -d)"
    printf '#include <stdio.h>\nint main(void){puts("hi");return 0;}\n' >"$tmp/m.c"
    for flags in "-Os -s -Wl,-z,noseparate-code" "-Os -Wl,-z,noseparate-code" "-Os -s -static-pie -Wl,-z,noseparate-code"; do
        # shellcheck disable=SC2086
        if cc $flags -o "$tmp/m" "$tmp/m.c" 2>/dev/null && [ "$(stat -c %s "$tmp/m")" -le 262144 ]; then
            { printf '\x07'; cat "$tmp/m"; } >"$out/elf_facts/cc-$(echo "$flags" | tr -dc 'a-z')"
        fi
    done
    rm -rf "$tmp"
fi
for d in layer_walk elf_facts oci_json; do
    echo "$d: $(find "$out/$d" -type f | wc -l) files, $(du -sh "$out/$d" | cut -f1)"
done
