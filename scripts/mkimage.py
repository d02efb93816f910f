#!/usr/bin/env python3
"""mkimage: a small, deterministic container image writer (stdlib only).

Writes byte-for-byte reproducible fixture images in these formats:

* OCI image layout directory   (``write_oci_dir``)
* OCI archive (tar of layout)  (``write_oci_archive``)
* docker-archive, legacy       (``write_docker_legacy``; ``<id>/layer.tar``)
* docker-archive, Docker 25+   (``write_docker_oci``; OCI layout + manifest.json)

Layers are built from entry lists (``File``, ``Dir``, ``Symlink``, ``Hardlink``,
``Whiteout``, ``Opaque``).  Every tar header has mtime 0, empty user/group
names and uid/gid 0 unless given; entries are written in the order given (missing
parent directories are inserted first, unless ``auto_parents=False``).

Per layer compression: ``gzip`` (Python zlib, level 9, mtime 0), ``gzip-multi``
(the tar split in two halves, each its own gzip member, concatenated),
``zstd`` (the ``zstd`` CLI, ``zstd -q -c -10``, content checksum on) or
``none``.  ``media_type=`` overrides the media type written in the manifest
(e.g. a docker media type, or ``+gzip`` on zstd bytes) for sniffing tests.

Library use (see scripts/fixtures.py)::

    import mkimage as mk
    l1 = mk.Layer([mk.File("etc/motd", b"hi\\n")], compression="gzip")
    img = mk.Image([l1], arch="amd64", cmd=["/bin/sh"])
    mk.write_oci_dir("out/oci", [mk.tagged(img, "latest")])

CLI use: ``mkimage.py SPEC.json`` where SPEC is::

    {"layers": [{"compression": "gzip", "media_type": null,
                 "entries": [{"type": "file", "path": "hello", "src": "./hello",
                              "mode": 493},
                             {"type": "dir", "path": "etc"},
                             {"type": "file", "path": "etc/motd", "text": "hi\\n"},
                             {"type": "symlink", "path": "bin/sh", "target": "busybox"},
                             {"type": "hardlink", "path": "a", "target": "b"},
                             {"type": "whiteout", "path": "etc/old"},
                             {"type": "opaque", "path": "var/cache"}]}],
     "image": {"arch": "amd64", "os": "linux", "variant": null,
               "entrypoint": null, "cmd": ["/hello"], "env": null,
               "workdir": "/", "user": ""},
     "name": "example", "tag": "latest",
     "oci_dir": "out/oci", "oci_archive": "out/x.oci.tar",
     "docker_legacy": "out/x.docker-legacy.tar", "docker": "out/x.docker.tar"}
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zlib

EPOCH = "1970-01-01T00:00:00Z"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
MT_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MT_DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MT_INTOTO = "application/vnd.in-toto+json"

ANN_REF_NAME = "org.opencontainers.image.ref.name"
ANN_CONTAINERD_NAME = "io.containerd.image.name"

_MEDIA_TYPES = {
    "gzip": MT_LAYER_GZIP,
    "gzip-multi": MT_LAYER_GZIP,
    "zstd": MT_LAYER_ZSTD,
    "none": MT_LAYER_TAR,
}


def jdump(obj):
    """Compact, key-order-preserving JSON (what Go's json.Marshal produces)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def hexof(digest):
    return digest.split(":", 1)[1]


# --------------------------------------------------------------------------
# layer entries


class Entry:
    kind = None

    def __init__(self, path, mode, uid=0, gid=0):
        path = path.lstrip("/")
        if path.endswith("/"):
            path = path.rstrip("/")
        if not path:
            raise ValueError("empty path")
        self.path = path
        self.mode = mode
        self.uid = uid
        self.gid = gid

    def tarinfo(self):
        ti = tarfile.TarInfo(self.path)
        ti.mode = self.mode
        ti.uid = self.uid
        ti.gid = self.gid
        ti.uname = ""
        ti.gname = ""
        ti.mtime = 0
        return ti, None


class File(Entry):
    """Regular file: ``data`` bytes (or str) or ``src`` host path to copy."""

    def __init__(self, path, data=None, src=None, mode=0o644, uid=0, gid=0):
        super().__init__(path, mode, uid, gid)
        if (data is None) == (src is None):
            raise ValueError("File needs exactly one of data= or src=")
        if src is not None:
            with open(src, "rb") as f:
                data = f.read()
        if isinstance(data, str):
            data = data.encode()
        self.data = data

    def tarinfo(self):
        ti, _ = super().tarinfo()
        ti.type = tarfile.REGTYPE
        ti.size = len(self.data)
        return ti, self.data


class Dir(Entry):
    def __init__(self, path, mode=0o755, uid=0, gid=0):
        super().__init__(path, mode, uid, gid)

    def tarinfo(self):
        ti, _ = super().tarinfo()
        ti.type = tarfile.DIRTYPE
        return ti, None


class Symlink(Entry):
    def __init__(self, path, target, uid=0, gid=0):
        super().__init__(path, 0o777, uid, gid)
        self.target = target

    def tarinfo(self):
        ti, _ = super().tarinfo()
        ti.type = tarfile.SYMTYPE
        ti.linkname = self.target
        return ti, None


class Hardlink(Entry):
    """Hard link; ``target`` is a path in the same layer (leading / stripped)."""

    def __init__(self, path, target, mode=0o644, uid=0, gid=0):
        super().__init__(path, mode, uid, gid)
        self.target = target.lstrip("/")

    def tarinfo(self):
        ti, _ = super().tarinfo()
        ti.type = tarfile.LNKTYPE
        ti.linkname = self.target
        return ti, None


class Whiteout(File):
    """Deletes ``path`` from lower layers: writes ``dir/.wh.name`` (empty)."""

    def __init__(self, path):
        path = path.strip("/")
        d, _, b = path.rpartition("/")
        super().__init__((d + "/" if d else "") + ".wh." + b, data=b"", mode=0o644)


class Opaque(File):
    """Opaque directory marker ``dir/.wh..wh..opq``."""

    def __init__(self, dirpath):
        super().__init__(dirpath.strip("/") + "/.wh..wh..opq", data=b"", mode=0o644)


def _with_parents(entries):
    seen = set()
    out = []
    for e in entries:
        parts = e.path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            p = "/".join(parts[:i])
            if p not in seen:
                seen.add(p)
                out.append(Dir(p))
        if isinstance(e, Dir):
            if e.path in seen:
                # an explicit dir replaces the implied one, at the implied position
                for i, x in enumerate(out):
                    if isinstance(x, Dir) and x.path == e.path:
                        out[i] = e
                        break
                else:
                    out.append(e)
                continue
            seen.add(e.path)
        out.append(e)
    return out


def make_tar(entries, auto_parents=True, fmt=tarfile.PAX_FORMAT):
    if auto_parents:
        entries = _with_parents(entries)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for e in entries:
            ti, data = e.tarinfo()
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


# --------------------------------------------------------------------------
# compression


def gzip_bytes(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def zstd_bytes(data):
    p = subprocess.run(["zstd", "-q", "-c", "-10"], input=data,
                       stdout=subprocess.PIPE, check=True)
    return p.stdout


def compress(data, how):
    if how == "gzip":
        return gzip_bytes(data)
    if how == "gzip-multi":
        # two complete gzip members concatenated (RFC 1952 section 2.2)
        half = (len(data) // 2) // 512 * 512 or len(data) // 2
        out = gzip_bytes(data[:half]) + gzip_bytes(data[half:])
        assert zlib.decompress(out[: len(gzip_bytes(data[:half]))], 31) == data[:half]
        return out
    if how == "zstd":
        return zstd_bytes(data)
    if how == "none":
        return data
    raise ValueError("unknown compression %r" % how)


class Layer:
    """One filesystem layer.

    ``comment`` becomes the history ``created_by`` of this layer.
    """

    def __init__(self, entries, compression="gzip", media_type=None, comment=None,
                 auto_parents=True, annotations=None):
        self.entries = list(entries)
        self.tar = make_tar(self.entries, auto_parents=auto_parents)
        self.diff_id = sha256(self.tar)
        self.compression = compression
        self.blob = compress(self.tar, compression)
        self.digest = sha256(self.blob)
        self.media_type = media_type or _MEDIA_TYPES[compression]
        self.comment = comment
        self.annotations = annotations

    def descriptor(self):
        d = {"mediaType": self.media_type, "digest": self.digest, "size": len(self.blob)}
        if self.annotations:
            d["annotations"] = dict(self.annotations)
        return d


# --------------------------------------------------------------------------
# images


class Image:
    """A single-platform image: config + manifest over a list of ``Layer``.

    ``extra_history`` entries (dicts) are appended after the layer entries;
    they should be ``empty_layer: true`` entries (e.g. CMD/ENV steps).
    ``history`` instead gives the whole history in order: a ``Layer`` stands
    for that layer's entry, a dict for an ``empty_layer`` step (so a base
    image's ``CMD`` can sit between its layers and the ones built on it).
    """

    def __init__(self, layers, arch="amd64", os_="linux", variant=None,
                 entrypoint=None, cmd=None, env=None, workdir=None, user=None,
                 labels=None, extra_history=None, annotations=None, history=None):
        self.layers = list(layers)
        self.arch, self.os, self.variant = arch, os_, variant
        cfg = {}
        if user is not None:
            cfg["User"] = user
        cfg["Env"] = list(env) if env is not None else [DEFAULT_PATH]
        if entrypoint is not None:
            cfg["Entrypoint"] = list(entrypoint)
        if cmd is not None:
            cfg["Cmd"] = list(cmd)
        if workdir is not None:
            cfg["WorkingDir"] = workdir
        if labels:
            cfg["Labels"] = dict(labels)
        if history is None:
            history = []
            for i, l in enumerate(self.layers):
                history.append({"created": EPOCH,
                                "created_by": l.comment or ("mkimage layer %d" % (i + 1)),
                                "comment": "mkimage"})
            for h in extra_history or []:
                history.append(dict({"created": EPOCH}, **h))
        else:
            if extra_history:
                raise ValueError("give either history= or extra_history=")
            steps, history = list(history), []
            if [h for h in steps if isinstance(h, Layer)] != self.layers:
                raise ValueError("history= must list every layer once, in order")
            for h in steps:
                if isinstance(h, Layer):
                    i = self.layers.index(h)
                    history.append({"created": EPOCH,
                                    "created_by": h.comment or ("mkimage layer %d" % (i + 1)),
                                    "comment": "mkimage"})
                elif h.get("empty_layer"):
                    history.append(dict({"created": EPOCH}, **h))
                else:
                    raise ValueError("history= dicts must be empty_layer steps")
        config = {"created": EPOCH, "architecture": arch, "os": os_}
        if variant:
            config["variant"] = variant
        config["config"] = cfg
        config["rootfs"] = {"type": "layers", "diff_ids": [l.diff_id for l in self.layers]}
        config["history"] = history
        self.config = jdump(config)
        self.config_digest = sha256(self.config)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MT_OCI_MANIFEST,
            "config": {"mediaType": MT_OCI_CONFIG, "digest": self.config_digest,
                       "size": len(self.config)},
            "layers": [l.descriptor() for l in self.layers],
        }
        if annotations:
            manifest["annotations"] = dict(annotations)
        self.manifest = jdump(manifest)
        self.digest = sha256(self.manifest)
        self.media_type = MT_OCI_MANIFEST

    def platform(self):
        p = {"architecture": self.arch, "os": self.os}
        if self.variant:
            p["variant"] = self.variant
        return p

    def blobs(self):
        out = [(self.digest, self.manifest), (self.config_digest, self.config)]
        out += [(l.digest, l.blob) for l in self.layers]
        return out

    def descriptor(self, platform=True, annotations=None):
        d = {"mediaType": self.media_type, "digest": self.digest, "size": len(self.manifest)}
        if platform:
            d["platform"] = self.platform()
        if annotations:
            d["annotations"] = dict(annotations)
        return d


class Attestation(Image):
    """BuildKit-style attestation manifest (platform unknown/unknown) for ``subject``."""

    def __init__(self, subject, name):
        stmt = {
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://spdx.dev/Document",
            "subject": [{"name": "pkg:docker/%s?platform=%s" % (
                name, "%2F".join(v for v in (subject.os, subject.arch, subject.variant) if v)),
                "digest": {"sha256": hexof(subject.digest)}}],
            "predicate": {"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0",
                          "SPDXID": "SPDXRef-DOCUMENT", "name": "sbom",
                          "creationInfo": {"created": EPOCH, "creators": ["Tool: mkimage"]},
                          "packages": []},
        }
        self.subject = subject
        self.statement = jdump(stmt)
        self.stmt_digest = sha256(self.statement)
        self.layers = []
        self.arch, self.os, self.variant = "unknown", "unknown", None
        config = {"architecture": "unknown", "os": "unknown", "config": {},
                  "rootfs": {"type": "layers", "diff_ids": [self.stmt_digest]}}
        self.config = jdump(config)
        self.config_digest = sha256(self.config)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MT_OCI_MANIFEST,
            "config": {"mediaType": MT_OCI_CONFIG, "digest": self.config_digest,
                       "size": len(self.config)},
            "layers": [{"mediaType": MT_INTOTO, "digest": self.stmt_digest,
                        "size": len(self.statement),
                        "annotations": {"in-toto.io/predicate-type": "https://spdx.dev/Document"}}],
        }
        self.manifest = jdump(manifest)
        self.digest = sha256(self.manifest)
        self.media_type = MT_OCI_MANIFEST

    def blobs(self):
        return [(self.digest, self.manifest), (self.config_digest, self.config),
                (self.stmt_digest, self.statement)]

    def descriptor(self, platform=True, annotations=None):
        ann = {"vnd.docker.reference.digest": self.subject.digest,
               "vnd.docker.reference.type": "attestation-manifest"}
        ann.update(annotations or {})
        return {"mediaType": self.media_type, "digest": self.digest,
                "size": len(self.manifest), "annotations": ann,
                "platform": {"architecture": "unknown", "os": "unknown"}}


class Index:
    """An image index blob listing ``Image``/``Attestation``/``Index`` children."""

    def __init__(self, children, annotations=None):
        self.children = list(children)
        idx = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX,
               "manifests": [c.descriptor() for c in self.children]}
        if annotations:
            idx["annotations"] = dict(annotations)
        self.manifest = jdump(idx)
        self.digest = sha256(self.manifest)
        self.media_type = MT_OCI_INDEX

    def blobs(self):
        out = [(self.digest, self.manifest)]
        for c in self.children:
            out += c.blobs()
        return out

    def descriptor(self, platform=False, annotations=None):
        d = {"mediaType": self.media_type, "digest": self.digest, "size": len(self.manifest)}
        if annotations:
            d["annotations"] = dict(annotations)
        return d


def tagged(obj, tag, extra_annotations=None):
    """An index.json entry: (object, descriptor with ref.name annotation)."""
    ann = {ANN_REF_NAME: tag}
    ann.update(extra_annotations or {})
    return obj, obj.descriptor(platform=isinstance(obj, Image), annotations=ann)


# --------------------------------------------------------------------------
# writers


def _layout_files(entries):
    """Return sorted {relpath: bytes} of an OCI layout for index entries."""
    blobs = {}
    for obj, _ in entries:
        for dgst, data in obj.blobs():
            blobs[dgst] = data
    index = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX,
             "manifests": [desc for _, desc in entries]}
    files = {"oci-layout": jdump({"imageLayoutVersion": "1.0.0"}),
             "index.json": jdump(index)}
    for dgst, data in blobs.items():
        files["blobs/sha256/" + hexof(dgst)] = data
    return files


def _rm(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _write_tree(root, files):
    _rm(root)
    for rel in sorted(files):
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(files[rel])


def _write_tar(path, files, dirs=()):
    """Deterministic uncompressed tar of {relpath: bytes}; dirs listed explicitly."""
    entries = []
    for d in dirs:
        entries.append((d.rstrip("/") + "/", None))
    for rel, data in files.items():
        entries.append((rel, data))
    entries.sort(key=lambda e: e[0])
    _rm(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for rel, data in entries:
            ti = tarfile.TarInfo(rel)
            ti.mtime = 0
            ti.uname = ti.gname = ""
            if data is None:
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                tf.addfile(ti)
            else:
                ti.mode = 0o644
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def write_oci_dir(path, entries):
    """entries: list of ``tagged(obj, tag)`` pairs for index.json."""
    _write_tree(path, _layout_files(entries))


def write_oci_archive(path, entries):
    _write_tar(path, _layout_files(entries), dirs=["blobs", "blobs/sha256"])


def _familiar(name):
    return name


def _v1_ids(image):
    """Deterministic legacy v1 layer ids (hex) for an image's layers."""
    ids, chain, parent = [], None, ""
    for l in image.layers:
        chain = l.diff_id if chain is None else sha256((chain + " " + l.diff_id).encode())
        ids.append(hashlib.sha256(jdump({"chain_id": chain, "parent": parent})).hexdigest())
        parent = ids[-1]
    return ids


def _v1_json(image, i, ids):
    v1 = {"id": ids[i]}
    if i:
        v1["parent"] = ids[i - 1]
    v1["created"] = EPOCH
    v1["container_config"] = {"Hostname": "", "Domainname": "", "User": "",
                              "AttachStdin": False, "AttachStdout": False,
                              "AttachStderr": False, "Tty": False, "OpenStdin": False,
                              "StdinOnce": False, "Env": None, "Cmd": None, "Image": "",
                              "Volumes": None, "WorkingDir": "", "Entrypoint": None,
                              "OnBuild": None, "Labels": None}
    if i == len(ids) - 1:
        cfg = json.loads(image.config)
        v1["config"] = cfg.get("config", {})
        v1["architecture"] = image.arch
        if image.variant:
            v1["variant"] = image.variant
    v1["os"] = image.os
    return jdump(v1)


def write_docker_legacy(path, image, name, tag="latest"):
    """docker save format (Docker < 25): <id>/layer.tar, <id>/json, <id>/VERSION."""
    ids = _v1_ids(image)
    files, dirs = {}, []
    layer_paths = []
    for i, l in enumerate(image.layers):
        d = ids[i]
        dirs.append(d)
        files[d + "/VERSION"] = b"1.0"
        files[d + "/json"] = _v1_json(image, i, ids)
        files[d + "/layer.tar"] = l.tar
        layer_paths.append(d + "/layer.tar")
    cfg_name = hexof(image.config_digest) + ".json"
    files[cfg_name] = image.config
    files["manifest.json"] = jdump([{"Config": cfg_name,
                                     "RepoTags": ["%s:%s" % (name, tag)],
                                     "Layers": layer_paths}]) + b"\n"
    files["repositories"] = jdump({name: {tag: ids[-1]}}) + b"\n"
    _write_tar(path, files, dirs=dirs)


def write_docker_oci(path, image, name, tag="latest"):
    """docker save format of Docker 25+: OCI layout with uncompressed layers
    named by diff_id, plus manifest.json and repositories."""
    ids = _v1_ids(image)
    blobs = {}
    for i, l in enumerate(image.layers):
        blobs[l.diff_id] = l.tar
        v1 = _v1_json(image, i, ids)
        blobs[sha256(v1)] = v1  # legacy layer json, not referenced (as Docker does)
    blobs[image.config_digest] = image.config
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_OCI_MANIFEST,
        "config": {"mediaType": MT_OCI_CONFIG, "digest": image.config_digest,
                   "size": len(image.config)},
        "layers": [{"mediaType": MT_LAYER_TAR, "digest": l.diff_id, "size": len(l.tar)}
                   for l in image.layers],
    }
    mbytes = jdump(manifest)
    mdigest = sha256(mbytes)
    blobs[mdigest] = mbytes
    full = name if "/" in name else "docker.io/library/" + name
    desc = {"mediaType": MT_OCI_MANIFEST, "digest": mdigest, "size": len(mbytes),
            "annotations": {ANN_CONTAINERD_NAME: "%s:%s" % (full, tag), ANN_REF_NAME: tag},
            "platform": image.platform()}
    files = {"oci-layout": jdump({"imageLayoutVersion": "1.0.0"}),
             "index.json": jdump({"schemaVersion": 2, "mediaType": MT_OCI_INDEX,
                                  "manifests": [desc]}),
             "manifest.json": jdump([{
                 "Config": "blobs/sha256/" + hexof(image.config_digest),
                 "RepoTags": ["%s:%s" % (name, tag)],
                 "Layers": ["blobs/sha256/" + hexof(l.diff_id) for l in image.layers]}]) + b"\n",
             "repositories": jdump({name: {tag: hexof(image.layers[-1].diff_id)}}) + b"\n"}
    for dgst, data in blobs.items():
        files["blobs/sha256/" + hexof(dgst)] = data
    _write_tar(path, files, dirs=["blobs", "blobs/sha256"])


# --------------------------------------------------------------------------
# CLI


def _entry_from_json(e):
    t = e["type"]
    kw = {k: e[k] for k in ("mode", "uid", "gid") if k in e}
    if t == "file":
        if "src" in e:
            return File(e["path"], src=e["src"], **kw)
        data = e["text"].encode() if "text" in e else bytes.fromhex(e.get("hex", ""))
        return File(e["path"], data, **kw)
    if t == "dir":
        return Dir(e["path"], **kw)
    if t == "symlink":
        return Symlink(e["path"], e["target"], **{k: v for k, v in kw.items() if k != "mode"})
    if t == "hardlink":
        return Hardlink(e["path"], e["target"], **kw)
    if t == "whiteout":
        return Whiteout(e["path"])
    if t == "opaque":
        return Opaque(e["path"])
    raise ValueError("unknown entry type %r" % t)


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 2
    with open(argv[1]) as f:
        spec = json.load(f)
    layers = [Layer([_entry_from_json(e) for e in l["entries"]],
                    compression=l.get("compression", "gzip"),
                    media_type=l.get("media_type"), comment=l.get("comment"))
              for l in spec["layers"]]
    im = dict(spec.get("image", {}))
    if "os" in im:
        im["os_"] = im.pop("os")
    img = Image(layers, **im)
    name, tag = spec.get("name", "image"), spec.get("tag", "latest")
    if spec.get("oci_dir"):
        write_oci_dir(spec["oci_dir"], [tagged(img, tag)])
    if spec.get("oci_archive"):
        write_oci_archive(spec["oci_archive"], [tagged(img, tag)])
    if spec.get("docker_legacy"):
        write_docker_legacy(spec["docker_legacy"], img, name, tag)
    if spec.get("docker"):
        write_docker_oci(spec["docker"], img, name, tag)
    print(img.digest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
