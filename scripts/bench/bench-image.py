#!/usr/bin/env python3
"""Builds a benchmark OCI image layout from directories of this machine, streaming.

Usage: bench-image.py OUT_DIR COMPRESSION LAYER_SPEC...
       bench-image.py rootfs ROOTFS_DIR CACHE_DIR NLAYERS...
  COMPRESSION: gzip | zstd
  LAYER_SPEC:  a comma-separated list of absolute paths that make one layer
               (e.g. /usr/bin,/usr/sbin).

Each layer is `tar` (sorted, mtime 0, owner 0) of its paths relative to /, piped through
pigz -6 (gzip) or zstd -3 with all cores; the compressed and uncompressed digests are
computed while streaming. Nothing is held in memory.

The `rootfs` form reads the layer directories l1, l2, ... that scripts/bench/bench-rootfs.sh builds
(overlayfs upper directories), writes each layer once as a tar (whiteouts and opaque markers
converted) compressed with gzip and with zstd into CACHE_DIR/layers, and assembles, for each
NLAYERS (the image of the first N layers) and each compression, an OCI layout
CACHE_DIR/images/debian-Nl-COMP and a docker-archive debian-Nl-COMP.docker.tar; and the
largest image once more as `docker save` writes it, plain tar layers, debian-Nl-plain.docker.tar.
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


# --- Images from a layered root filesystem (scripts/bench/bench-rootfs.sh) -------------------------

class _Tee:
    """A write-only file for tarfile's stream mode: hashes the uncompressed tar (diff_id) and
    feeds every compressor's stdin."""

    def __init__(self, sinks):
        self.sinks = sinks
        self.diff = hashlib.sha256()
        self.size = 0

    def write(self, b):
        self.diff.update(b)
        self.size += len(b)
        for s in self.sinks:
            s.write(b)
        return len(b)


def _dir_entries(root):
    """Yields (relative path, absolute path) below `root`, sorted, depth first."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        names = sorted(dirnames + filenames)
        for name in names:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            yield rel, os.path.join(dirpath, name)


def _numeric(ti):
    ti.uname = ti.gname = ""
    ti.pax_headers = {}
    return ti


def build_rootfs_layer(layer_dir, out_base):
    """Writes `out_base`.tar.gz and `out_base`.tar.zst from one layer directory (an overlayfs
    upper directory: 0/0 character devices become `.wh.NAME`, opaque directories get
    `.wh..wh..opq`), and `out_base`.json with both digests, sizes and the diff_id."""
    import stat
    import tarfile
    comps = {"gzip": ["pigz", "-6", "-c"], "zstd": ["zstd", "-3", "-T0", "-q", "-c"]}
    procs, readers, results = {}, [], {}
    for name, cmd in comps.items():
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        procs[name] = p
        ext = {"gzip": "gz", "zstd": "zst"}[name]
        path = f"{out_base}.tar.{ext}"

        def drain(p=p, path=path, name=name):
            h = hashlib.sha256()
            size = 0
            with open(path + ".tmp", "wb") as f:
                while True:
                    chunk = p.stdout.read(1 << 20)
                    if not chunk:
                        break
                    h.update(chunk)
                    f.write(chunk)
                    size += len(chunk)
            os.rename(path + ".tmp", path)
            results[name] = {"digest": "sha256:" + h.hexdigest(), "size": size, "file": path}

        t = threading.Thread(target=drain)
        t.start()
        readers.append(t)
    tee = _Tee([p.stdin for p in procs.values()])
    files = 0
    with tarfile.open(fileobj=tee, mode="w|", format=tarfile.PAX_FORMAT, bufsize=1 << 20) as tar:
        for rel, path in _dir_entries(layer_dir):
            st = os.lstat(path)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                ti = tarfile.TarInfo(os.path.join(os.path.dirname(rel), ".wh." + os.path.basename(rel)))
                ti.mtime = int(st.st_mtime)
                tar.addfile(ti)
                continue
            tar.add(path, arcname=rel, recursive=False, filter=_numeric)
            files += 1
            if stat.S_ISDIR(st.st_mode):
                try:
                    opaque = os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
                except OSError:
                    opaque = False
                if opaque:
                    ti = tarfile.TarInfo(rel + "/.wh..wh..opq")
                    ti.mtime = int(st.st_mtime)
                    tar.addfile(ti)
    for p in procs.values():
        p.stdin.close()
    for t in readers:
        t.join()
    for p in procs.values():
        if p.wait() != 0:
            raise SystemExit("compressor failed")
    meta = {"diff_id": "sha256:" + tee.diff.hexdigest(), "uncompressed": tee.size, "entries": files, **results}
    with open(out_base + ".json", "w") as f:
        json.dump(meta, f, indent=1)
    return meta


def image_config(diff_ids):
    """The image config of the given layers: amd64, bash, one history entry per layer."""
    history = [{"created": "1970-01-01T00:00:00Z", "created_by": f"layer {i + 1}"} for i in range(len(diff_ids))]
    return json.dumps({"architecture": "amd64", "os": "linux",
                       "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                                  "Cmd": ["/bin/bash"]},
                       "history": history,
                       "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()


def plain_docker_archive(metas, docker_tar):
    """Writes the `docker save` form of the given layers as Docker itself writes it: each layer
    an uncompressed `layer.tar` (decompressed from the cached gzip layer, streaming)."""
    import gzip
    import io
    import tarfile
    diff_ids = [m["diff_id"] for m in metas]
    config = image_config(diff_ids)
    cfg_name = hashlib.sha256(config).hexdigest() + ".json"
    with tarfile.open(docker_tar + ".tmp", "w", format=tarfile.GNU_FORMAT) as tar:
        ti = tarfile.TarInfo(cfg_name)
        ti.size = len(config)
        tar.addfile(ti, io.BytesIO(config))
        names = []
        for m in metas:
            name = m["diff_id"].split(":", 1)[1] + "/layer.tar"
            ti = tarfile.TarInfo(name)
            ti.size = m["uncompressed"]
            with gzip.open(m["gzip"]["file"], "rb") as src:
                tar.addfile(ti, src)
            names.append(name)
        manifest = json.dumps([{"Config": cfg_name, "RepoTags": ["layerscope-bench:plain"], "Layers": names}]).encode()
        ti = tarfile.TarInfo("manifest.json")
        ti.size = len(manifest)
        tar.addfile(ti, io.BytesIO(manifest))
    os.rename(docker_tar + ".tmp", docker_tar)


def assemble(metas, compression, oci_dir, docker_tar):
    """Writes an OCI layout (layer blobs hard-linked from the layer cache) and a legacy
    docker-archive (`docker save` form: manifest.json, config, one blob per layer) of the
    given layers."""
    import io
    import shutil
    import tarfile
    media = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
             "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}[compression]
    layers = [m[compression] for m in metas]
    diff_ids = [m["diff_id"] for m in metas]
    shutil.rmtree(oci_dir, ignore_errors=True)
    os.makedirs(os.path.join(oci_dir, "blobs", "sha256"))
    for l in layers:
        os.link(l["file"], blob_path(oci_dir, l["digest"]))
    config = image_config(diff_ids)
    cd, cs = write_blob(oci_dir, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                           "layers": [{"mediaType": media, "digest": l["digest"], "size": l["size"]}
                                      for l in layers]}).encode()
    md, ms = write_blob(oci_dir, manifest)
    with open(os.path.join(oci_dir, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
             "annotations": {"org.opencontainers.image.ref.name": "latest"},
             "platform": {"architecture": "amd64", "os": "linux"}}]}, f)
    with open(os.path.join(oci_dir, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')

    def add_bytes(tar, name, data):
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        tar.addfile(ti, io.BytesIO(data))

    with tarfile.open(docker_tar + ".tmp", "w", format=tarfile.GNU_FORMAT) as tar:
        cfg_name = cd.split(":", 1)[1] + ".json"
        add_bytes(tar, cfg_name, config)
        names = []
        for l in layers:
            # dive reads a member as a gzip layer only when its name ends with .tar.gz.
            name = l["digest"].split(":", 1)[1] + {"gzip": "/layer.tar.gz", "zstd": "/layer.tar.zst"}[compression]
            tar.add(l["file"], arcname=name, filter=_numeric)
            names.append(name)
        add_bytes(tar, "manifest.json", json.dumps(
            [{"Config": cfg_name, "RepoTags": ["layerscope-bench:latest"], "Layers": names}]).encode())
    os.rename(docker_tar + ".tmp", docker_tar)


def rootfs_main(argv):
    """rootfs ROOTFS_DIR CACHE_DIR NLAYERS...: one OCI layout and one docker-archive per
    NLAYERS (the first N layers) and compression, under CACHE_DIR/images."""
    rootfs, cache, counts = argv[2], argv[3], [int(n) for n in argv[4:]]
    os.makedirs(os.path.join(cache, "layers"), exist_ok=True)
    os.makedirs(os.path.join(cache, "images"), exist_ok=True)
    metas = []
    for i in range(1, max(counts) + 1):
        base = os.path.join(cache, "layers", f"l{i}")
        if os.path.exists(base + ".json"):
            with open(base + ".json") as f:
                metas.append(json.load(f))
        else:
            metas.append(build_rootfs_layer(os.path.join(rootfs, f"l{i}"), base))
        m = metas[-1]
        print(f"layer {i}: {m['uncompressed'] / 1e6:.0f} MB, gzip {m['gzip']['size'] / 1e6:.0f} MB, "
              f"zstd {m['zstd']['size'] / 1e6:.0f} MB", file=sys.stderr)
    for n in counts:
        for comp in ("gzip", "zstd"):
            oci = os.path.join(cache, "images", f"debian-{n}l-{comp}")
            docker = os.path.join(cache, "images", f"debian-{n}l-{comp}.docker.tar")
            if not os.path.exists(docker):
                assemble(metas[:n], comp, oci, docker)
    # The largest image as `docker save` writes it (plain tar layers): one SHA-256 per layer.
    plain = os.path.join(cache, "images", f"debian-{max(counts)}l-plain.docker.tar")
    if not os.path.exists(plain):
        plain_docker_archive(metas[:max(counts)], plain)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "rootfs":
        rootfs_main(sys.argv)
    else:
        main(sys.argv)
