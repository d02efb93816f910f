#!/usr/bin/env python3
"""Fixture image definitions for layerscope tests.

Called by scripts/build-fixtures.sh as ``fixtures.py WORK OUT`` after it has
compiled the binaries into WORK/bin and unpacked the .debs into
WORK/root/<pkg> (control fields in WORK/root/<pkg>.control).
Writes every fixture under OUT (testdata/images).
"""

import base64
import hashlib
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mkimage as mk  # noqa: E402
from mkimage import Dir, File, Hardlink, Layer, Opaque, Symlink, Whiteout  # noqa: E402

WORK, OUT = sys.argv[1], sys.argv[2]
BIN = os.path.join(WORK, "bin")
ROOT = os.path.join(WORK, "root")
EXE = 0o755


def b(name):
    return os.path.join(BIN, name)


def deb(pkg, path):
    return os.path.join(ROOT, pkg, path.lstrip("/"))


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ------------------------------------------------------------------ helpers

STATUS_ORDER = ["Package", "Essential", "Status", "Priority", "Section", "Installed-Size",
                "Maintainer", "Architecture", "Multi-Arch", "Source", "Version",
                "Replaces", "Provides", "Depends", "Pre-Depends", "Recommends",
                "Suggests", "Breaks", "Conflicts", "Enhances", "Description", "Homepage"]


def control_fields(pkg):
    fields, key = {}, None
    for line in read(os.path.join(ROOT, pkg + ".control")).decode().splitlines():
        if line[:1] in (" ", "\t") and key:
            fields[key] += "\n" + line
        elif ":" in line:
            key, val = line.split(":", 1)
            fields[key] = val.strip()
    return fields


def dpkg_stanza(pkg):
    """A /var/lib/dpkg/status stanza from the real control fields of the .deb."""
    f = control_fields(pkg)
    f["Status"] = "install ok installed"
    keys = [k for k in STATUS_ORDER if k in f] + [k for k in f if k not in STATUS_ORDER]
    return "".join("%s: %s\n" % (k, f[k]) for k in keys) + "\n"


def deb_version(pkg):
    return control_fields(pkg)["Version"]


def apk_q1(data):
    return "Q1" + base64.b64encode(hashlib.sha1(data).digest()).decode()


def write_all(name, img, formats, tag="latest"):
    d = os.path.join(OUT, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    for old in os.listdir(OUT):
        if old.startswith(name + ".") and old.endswith(".tar"):
            os.unlink(os.path.join(OUT, old))
    if "oci" in formats:
        mk.write_oci_dir(os.path.join(d, "oci"), [mk.tagged(img, tag)])
    if "oci-archive" in formats:
        mk.write_oci_archive(os.path.join(OUT, name + ".oci.tar"), [mk.tagged(img, tag)])
    if "docker-legacy" in formats:
        mk.write_docker_legacy(os.path.join(OUT, name + ".docker-legacy.tar"), img, name, tag)
    if "docker" in formats:
        mk.write_docker_oci(os.path.join(OUT, name + ".docker.tar"), img, name, tag)


def hist(step):
    return {"created_by": step, "empty_layer": True}


ALL = ("oci", "oci-archive", "docker-legacy", "docker")
OS_RELEASE = read(deb("base-files", "usr/lib/os-release"))

# ------------------------------------------------------------------ glibc
# Debian 12 merged-/usr layout: /lib -> usr/lib, /lib64 -> usr/lib64, ...
glibc_base = Layer([
    Symlink("bin", "usr/bin"),
    Dir("etc"),
    Symlink("etc/os-release", "../usr/lib/os-release"),
    Symlink("lib", "usr/lib"),
    Symlink("lib64", "usr/lib64"),
    Symlink("sbin", "usr/sbin"),
    Dir("tmp", mode=0o1777),
    Dir("usr"),
    Dir("usr/bin"),
    Dir("usr/lib"),
    File("usr/lib/os-release", OS_RELEASE),
    Dir("usr/sbin"),
    Dir("var/lib/dpkg"),
    File("var/lib/dpkg/status", dpkg_stanza("base-files")),
], comment="debian base-files: os-release, merged-/usr symlinks, dpkg status (base-files)")

glibc_libc6 = Layer([
    Dir("usr/lib/x86_64-linux-gnu"),
    File("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
         src=deb("libc6", "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"), mode=EXE),
    File("usr/lib/x86_64-linux-gnu/libc.so.6",
         src=deb("libc6", "lib/x86_64-linux-gnu/libc.so.6"), mode=EXE),
    File("usr/lib/x86_64-linux-gnu/libm.so.6",
         src=deb("libc6", "lib/x86_64-linux-gnu/libm.so.6"), mode=0o644),
    Dir("usr/lib64"),
    Symlink("usr/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
    File("var/lib/dpkg/status", dpkg_stanza("base-files") + dpkg_stanza("libc6")),
], comment="libc6 (ld.so, libc.so.6, libm.so.6) + dpkg status (base-files, libc6)")

glibc_app = Layer([
    Dir("usr/local/bin"),
    File("usr/local/bin/hello", src=b("hello-glibc"), mode=EXE),
    File("usr/local/bin/mathy", src=b("mathy-glibc"), mode=EXE),
], comment="COPY hello mathy /usr/local/bin/")

glibc = mk.Image([glibc_base, glibc_libc6, glibc_app], arch="amd64",
                 entrypoint=["/usr/local/bin/hello"], workdir="/", user="65532:65532",
                 extra_history=[hist('USER 65532:65532'),
                                hist('ENTRYPOINT ["/usr/local/bin/hello"]')])
write_all("glibc", glibc, ("oci",))

# ------------------------------------------------------------------ static
static = mk.Image([Layer([File("hello", src=b("hello-static"), mode=EXE)],
                         comment="COPY hello /hello")],
                  arch="amd64", entrypoint=["/hello"],
                  extra_history=[hist('ENTRYPOINT ["/hello"]')])
write_all("static", static, ALL)

static_pie = mk.Image([Layer([File("hello", src=b("hello-static-pie"), mode=EXE)],
                             comment="COPY hello /hello")],
                      arch="amd64", entrypoint=["/hello"],
                      extra_history=[hist('ENTRYPOINT ["/hello"]')])
write_all("static-pie", static_pie, ("oci",))

# ------------------------------------------------------------------ musl
musl_ver = deb_version("musl").split("-")[0]          # upstream version, e.g. 1.2.3
musl_so = read(deb("musl", "lib/x86_64-linux-musl/libc.so"))
hello_musl = read(b("hello-musl"))
apk_installed = (
    "P:musl\n"
    "V:%s-r0\n"
    "A:x86_64\n"
    "S:%d\n"
    "I:%d\n"
    "T:the musl c library (libc) implementation\n"
    "U:https://musl.libc.org/\n"
    "L:MIT\n"
    "o:musl\n"
    "t:0\n"
    "p:so:libc.musl-x86_64.so.1=1\n"
    "F:lib\n"
    "R:ld-musl-x86_64.so.1\n"
    "a:0:0:755\n"
    "Z:%s\n"
    "R:libc.musl-x86_64.so.1\n"
    "a:0:0:777\n"
    "Z:%s\n"
    "\n"
    "P:layerscope-hello\n"
    "V:1.0.0-r0\n"
    "A:x86_64\n"
    "S:%d\n"
    "I:%d\n"
    "T:hello world fixture\n"
    "U:https://example.invalid/layerscope\n"
    "L:MIT\n"
    "o:layerscope-hello\n"
    "t:0\n"
    "D:musl\n"
    "F:app\n"
    "R:hello\n"
    "a:1000:1000:755\n"
    "Z:%s\n"
    "\n"
) % (musl_ver, len(musl_so), len(musl_so), apk_q1(musl_so), apk_q1(b"ld-musl-x86_64.so.1"),
     len(hello_musl), len(hello_musl), apk_q1(hello_musl))

musl_base = Layer([
    Dir("lib"),
    Dir("lib/apk/db"),
    File("lib/apk/db/installed", apk_installed),
    File("lib/ld-musl-x86_64.so.1", musl_so, mode=EXE),
    Symlink("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
], comment="musl %s loader (from Debian musl %s) + apk db" % (musl_ver, deb_version("musl")))
musl_app = Layer([
    Dir("app", uid=1000, gid=1000),
    File("app/hello", hello_musl, mode=EXE, uid=1000, gid=1000),
], comment="COPY --chown=1000:1000 hello /app/hello")
musl = mk.Image([musl_base, musl_app], arch="amd64", entrypoint=["/app/hello"],
                workdir="/app", user="1000:1000",
                extra_history=[hist("WORKDIR /app"), hist("USER 1000:1000"),
                               hist('ENTRYPOINT ["/app/hello"]')])
write_all("musl", musl, ("oci", "oci-archive"))

# ------------------------------------------------------------------ busybox
busybox = mk.Image([Layer([
    Dir("bin"),
    File("bin/busybox", src=deb("busybox-static", "bin/busybox"), mode=EXE),
    Symlink("bin/sh", "/bin/busybox"),
    Symlink("bin/ash", "busybox"),
    Symlink("bin/ls", "busybox"),
    Symlink("bin/cat", "/bin/busybox"),
    Dir("etc"),
    File("etc/shells", "# /etc/shells: valid login shells\n/bin/sh\n/bin/ash\n"),
], comment="busybox-static %s + applet symlinks" % deb_version("busybox-static"))],
    arch="amd64", cmd=["/bin/sh"], extra_history=[hist('CMD ["/bin/sh"]')])
write_all("busybox", busybox, ("oci",))

# ------------------------------------------------------------------ layers
tool = read(b("hello-musl-static"))
layers1 = Layer([
    Dir("bin"),
    File("bin/true-static", tool, mode=EXE),
    Dir("data/old"),
    File("data/old/x.txt", "x from layer 1\n"),
    File("data/old/y.txt", "y from layer 1\n"),
    Dir("etc"),
    File("etc/a.conf", "a=1\n"),
    File("etc/b.conf", "b=1\n"),
    Dir("opt"),
    File("opt/keep.txt", "keep me: hardlinked content\n"),
    Hardlink("opt/link.txt", "opt/keep.txt"),
    Symlink("opt/sym", "keep.txt"),
], comment="layer 1: files, hardlink, symlink")
layers2 = Layer([
    Dir("data"),
    Dir("data/old"),
    Opaque("data/old"),
    File("data/old/z.txt", "z from layer 2\n"),
    Dir("etc"),
    Whiteout("etc/a.conf"),
    File("etc/b.conf", "b=2 overwritten in layer 2\n"),
    Dir("usr/bin"),
    File("usr/bin/tool", tool, mode=EXE),
], comment="layer 2: whiteout, opaque dir, overwrite")
layers3 = Layer([
    Dir("opt"),
    Whiteout("opt/keep.txt"),
], comment="layer 3: rm /opt/keep.txt")
layers_img = mk.Image([layers1, layers2, layers3], arch="amd64",
                      cmd=["/bin/true-static"], extra_history=[hist('CMD ["/bin/true-static"]')])
write_all("layers", layers_img, ALL)

# ------------------------------------------------------------------ compression
lines = "".join("line %05d: the quick brown fox jumps over the lazy dog\n" % i
                for i in range(1, 2001))
motd = "layerscope compression fixture\n"


def compression_image(mislabeled):
    l1 = Layer([File("hello", tool, mode=EXE)],
               compression="gzip-multi" if mislabeled else "gzip",
               media_type=mk.MT_DOCKER_LAYER_GZIP if mislabeled else None,
               comment="layer 1: /hello")
    l2 = Layer([Dir("data"), File("data/lines.txt", lines)], compression="zstd",
               media_type=mk.MT_LAYER_GZIP if mislabeled else None,
               comment="layer 2: /data/lines.txt")
    l3 = Layer([Dir("etc"), File("etc/motd", motd)], compression="none",
               comment="layer 3: /etc/motd")
    return mk.Image([l1, l2, l3], arch="amd64", entrypoint=["/hello"],
                    extra_history=[hist('ENTRYPOINT ["/hello"]')])


compression = compression_image(False)
compression_mis = compression_image(True)
write_all("compression", compression, ("oci",))
write_all("compression-mislabeled", compression_mis, ("oci",))

# ------------------------------------------------------------------ multiarch
common = Layer([
    Dir("etc"),
    File("etc/fixture.txt", "layerscope multiarch fixture: this layer is shared\n"),
    File("etc/os-release", OS_RELEASE),
], comment="common layer (identical for every platform)")
amd64 = mk.Image([
    common,
    Layer([
        Dir("lib/x86_64-linux-gnu"),
        File("lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
             src=deb("libc6", "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"), mode=EXE),
        File("lib/x86_64-linux-gnu/libc.so.6",
             src=deb("libc6", "lib/x86_64-linux-gnu/libc.so.6"), mode=EXE),
        Dir("lib64"),
        Symlink("lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
    ], comment="libc6 %s amd64 (ld.so, libc.so.6)" % deb_version("libc6")),
    Layer([Dir("usr/local/bin"), File("usr/local/bin/hello", src=b("hello-glibc"), mode=EXE)],
          comment="COPY hello /usr/local/bin/hello"),
], arch="amd64", entrypoint=["/usr/local/bin/hello"],
    extra_history=[hist('ENTRYPOINT ["/usr/local/bin/hello"]')])
arm64 = mk.Image([
    common,
    Layer([
        Dir("lib"),
        Dir("lib/aarch64-linux-gnu"),
        File("lib/aarch64-linux-gnu/libc.so.6",
             src=deb("libc6-arm64-cross", "usr/aarch64-linux-gnu/lib/libc.so.6"), mode=EXE),
        File("lib/ld-linux-aarch64.so.1",
             src=deb("libc6-arm64-cross", "usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1"),
             mode=EXE),
    ], comment="libc6-arm64-cross %s (ld.so, libc.so.6)" % deb_version("libc6-arm64-cross")),
    Layer([Dir("usr/local/bin"), File("usr/local/bin/hello", src=b("hello-arm64"), mode=EXE)],
          comment="COPY hello /usr/local/bin/hello"),
], arch="arm64", variant="v8", entrypoint=["/usr/local/bin/hello"],
    extra_history=[hist('ENTRYPOINT ["/usr/local/bin/hello"]')])
att = mk.Attestation(amd64, "layerscope/multiarch:latest")
# buildx-style layout: index.json -> image index blob -> platform manifests
multi_index = mk.Index([amd64, arm64, att])
d = os.path.join(OUT, "multiarch")
if os.path.isdir(d):
    shutil.rmtree(d)
os.makedirs(d)
mk.write_oci_dir(os.path.join(d, "oci"), [mk.tagged(multi_index, "latest")])

# ------------------------------------------------------------------ summary
with open(os.path.join(WORK, "digests.txt"), "w") as f:
    for name, img in [("glibc", glibc), ("static", static), ("static-pie", static_pie),
                      ("musl", musl), ("busybox", busybox), ("layers", layers_img),
                      ("compression", compression),
                      ("compression-mislabeled", compression_mis),
                      ("multiarch/amd64", amd64), ("multiarch/arm64", arm64)]:
        f.write("%s manifest=%s config=%s\n" % (name, img.digest, img.config_digest))
        for i, l in enumerate(img.layers):
            f.write("  layer%d %s %s size=%d diff_id=%s tar=%d\n" % (
                i + 1, l.media_type, l.digest, len(l.blob), l.diff_id, len(l.tar)))
    f.write("multiarch index=%s attestation=%s\n" % (multi_index.digest, att.digest))
