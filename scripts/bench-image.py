#!/usr/bin/env python3
"""Builds a benchmark OCI image layout from directories of this machine, streaming.

Usage: bench-image.py OUT_DIR COMPRESSION LAYER_SPEC...
  COMPRESSION: gzip | zstd
  LAYER_SPEC:  a comma-separated list of absolute paths that make one layer
               (e.g. /usr/bin,/usr/sbin).

Each layer is `tar` (sorted, mtime 0, owner 0) of its paths relative to /, piped through
pigz -6 (gzip) or zstd -3 with all cores; the compressed and uncompressed digests are
computed while streaming. Nothing is held in memory.
"""

import hashlib
import json
import os
import subprocess
import sys
import threading


def blob_path(out, digest):
    return os.path.join(out, "blobs", "sha256", digest.split(":", 1)[1])


def write_blob(out, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(blob_path(out, d), "wb") as f:
        f.write(data)
    return d, len(data)


def build_layer(out, paths, compression):
    rel = [p.lstrip("/") for p in paths]
    tar = subprocess.Popen(
        ["tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner",
         "--ignore-failed-read", "-C", "/", "-cf", "-", *rel],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    comp_cmd = ["pigz", "-6", "-c"] if compression == "gzip" else ["zstd", "-3", "-T0", "-q", "-c"]
    comp = subprocess.Popen(comp_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    diff = hashlib.sha256()

    def feed():
        while True:
            chunk = tar.stdout.read(1 << 20)
            if not chunk:
                break
            diff.update(chunk)
            comp.stdin.write(chunk)
        comp.stdin.close()

    t = threading.Thread(target=feed)
    t.start()
    tmp = os.path.join(out, "blobs", "sha256", "tmp-layer")
    h = hashlib.sha256()
    size = 0
    with open(tmp, "wb") as f:
        while True:
            chunk = comp.stdout.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            f.write(chunk)
            size += len(chunk)
    t.join()
    tar.wait()
    comp.wait()
    digest = "sha256:" + h.hexdigest()
    os.rename(tmp, blob_path(out, digest))
    return digest, size, "sha256:" + diff.hexdigest()


def main(argv):
    out, compression, specs = argv[1], argv[2], argv[3:]
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    media = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
             "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}[compression]
    layers, diff_ids = [], []
    for spec in specs:
        d, size, diff_id = build_layer(out, spec.split(","), compression)
        layers.append({"mediaType": media, "digest": d, "size": size})
        diff_ids.append(diff_id)
        print(f"layer {spec}: {size} bytes compressed", file=sys.stderr)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Entrypoint": ["/usr/bin/true"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    cd, cs = write_blob(out, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                           "layers": layers}).encode()
    md, ms = write_blob(out, manifest)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
             "platform": {"architecture": "amd64", "os": "linux"}}]}, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')


if __name__ == "__main__":
    main(sys.argv)
