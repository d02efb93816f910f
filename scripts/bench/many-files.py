#!/usr/bin/env python3
"""Builds the many-small-files benchmark image: one gzip layer holding N small files in N/40
package directories (a node_modules-like tree), as an OCI layout and a docker-archive (plain tar
layer), both generated, never committed.

Usage: many-files.py OUT_DIR N [N...]
  writes OUT_DIR/files-N/ (OCI layout) and OUT_DIR/files-N.docker.tar for each N.

Files are 200-2000 bytes of deterministic text (package.json, index.js, README.md, lib/*.js),
40 to a package, 10 packages to a scope directory; the tar is sorted, mtime 0, owner 0.
"""

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

FILES_PER_PACKAGE = 40


def layer_tar(n):
    """The uncompressed layer tar of n files."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        def add_dir(path):
            ti = tarfile.TarInfo(path)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 0
            t.addfile(ti)
        add_dir("app")
        add_dir("app/node_modules")
        packages = max(1, n // FILES_PER_PACKAGE)
        made = 0
        for p in range(packages):
            scope = f"app/node_modules/@scope{p // 10}"
            if p % 10 == 0:
                add_dir(scope)
            pkg = f"{scope}/pkg{p}"
            add_dir(pkg)
            add_dir(f"{pkg}/lib")
            count = FILES_PER_PACKAGE if p < packages - 1 else n - made
            for f in range(count):
                name = ("package.json", "index.js", "README.md")[f] if f < 3 else f"lib/mod{f}.js"
                size = 200 + (p * 131 + f * 17) % 1800
                body = (f"// {pkg}/{name} {p}:{f}\n" * (size // 20 + 1)).encode()[:size]
                ti = tarfile.TarInfo(f"{pkg}/{name}")
                ti.size, ti.mode, ti.mtime = len(body), 0o644, 0
                t.addfile(ti, io.BytesIO(body))
            made += count
    return buf.getvalue()


def blob(out, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(out, "blobs", "sha256", d[7:]), "wb") as f:
        f.write(data)
    return d


def main():
    out, counts = sys.argv[1], [int(a) for a in sys.argv[2:]]
    for n in counts:
        tar = layer_tar(n)
        diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
        gz = gzip.compress(tar, compresslevel=6, mtime=0)
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "config": {"Entrypoint": ["/app/node_modules/@scope0/pkg0/index.js"]},
                             "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
        d = os.path.join(out, f"files-{n}")
        cd = blob(d, config)
        ld = blob(d, gz)
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": cd, "size": len(config)},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                           "digest": ld, "size": len(gz)}]}).encode()
        md = blob(d, manifest)
        with open(os.path.join(d, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
        with open(os.path.join(d, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                          "digest": md, "size": len(manifest)}]}, f)
        # docker-archive (legacy `docker save` layout): the layer as a plain tar.
        with tarfile.open(os.path.join(out, f"files-{n}.docker.tar"), "w") as t:
            def add(name, data):
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            add(f"{cd[7:]}.json", config)
            add(f"{diff_id[7:]}/layer.tar", tar)
            add("manifest.json", json.dumps([{"Config": f"{cd[7:]}.json", "RepoTags": [f"files:{n}"],
                                              "Layers": [f"{diff_id[7:]}/layer.tar"]}]).encode())
        print(f"files-{n}: {len(tar)} bytes of tar, {len(gz)} of gzip", flush=True)


if __name__ == "__main__":
    main()
