#!/usr/bin/env python3
"""Fixture image definitions for layerscope tests.

Called by scripts/build-fixtures.sh as ``fixtures.py WORK OUT`` after it has
compiled the binaries into WORK/bin and unpacked the .debs into
WORK/root/<pkg> (control fields in WORK/root/<pkg>.control).
Writes every fixture under OUT (testdata/images), plus WORK/digests.txt and
WORK/bloat-expected.json (copied to testdata/ by build-fixtures.sh).  It also
writes WORK/bin/hello-glibc-2.99 (hello-glibc with its GLIBC_2.34 need renamed).
"""

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import sys
import tarfile

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
write_all("musl", musl, ALL)

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
mk.write_oci_archive(os.path.join(OUT, "multiarch.oci.tar"), [mk.tagged(multi_index, "latest")])

# ------------------------------------------------------------------ ELF helpers (new fixtures)


def elf_sections(data):
    """[(name, type, offset, size)] of an ELF64 little-endian file."""
    assert data[:6] == b"\x7fELF\x02\x01", "not ELF64 LE"
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    raw = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    stroff = raw[shstrndx][4]
    out = []
    for s in raw:
        name = data[stroff + s[0]:data.index(b"\0", stroff + s[0])].decode()
        out.append((name, s[1], s[4], s[5]))
    return out


def elf_hash(name):
    h = 0
    for c in name:
        h = (h << 4) + c
        g = h & 0xf0000000
        if g:
            h ^= g >> 24
        h &= ~g & 0xffffffff
    return h


def patch_version_need(src, dst, old, new):
    """Rename a version need in place (same length): the string in .dynstr and
    the vna_hash of the .gnu.version_r entry that names it."""
    assert len(old) == len(new)
    data = bytearray(read(src))
    secs = {s[0]: s for s in elf_sections(bytes(data))}
    _, _, off, size = secs[".dynstr"]
    dynstr = bytes(data[off:off + size])
    hits = [i for i in range(len(dynstr)) if dynstr.startswith(b"\0" + old + b"\0", i)]
    assert len(hits) == 1, hits
    name_off = hits[0] + 1
    data[off + name_off:off + name_off + len(new)] = new
    _, _, voff, _ = secs[".gnu.version_r"]
    patched, vn = 0, voff
    while True:
        _, cnt, _, aux, nxt = struct.unpack_from("<HHIII", data, vn)
        a = vn + aux
        for _ in range(cnt):
            h, _, _, name, anext = struct.unpack_from("<IHHII", data, a)
            if name == name_off:
                assert h == elf_hash(old)
                struct.pack_into("<I", data, a, elf_hash(new))
                patched += 1
            a += anext
        if not nxt:
            break
        vn += nxt
    assert patched == 1
    with open(dst, "wb") as f:
        f.write(data)
    os.chmod(dst, 0o755)


def debug_bytes(path):
    return sum(s[3] for s in elf_sections(read(path)) if s[0].startswith(".debug_"))


# ------------------------------------------------------------------ formats
# multiarch.oci.tar (above) and musl.docker-legacy.tar / musl.docker.tar (ALL above).

# ------------------------------------------------------------------ go
# CGO_ENABLED=0 go build -trimpath -ldflags='-s -w -buildid=' (see build-fixtures.sh)
go_img = mk.Image([Layer([Dir("app"), File("app/hello-go", src=b("hello-go"), mode=EXE)],
                         comment="COPY hello-go /app/hello-go")],
                  arch="amd64", entrypoint=["/app/hello-go"],
                  extra_history=[hist('ENTRYPOINT ["/app/hello-go"]')])
write_all("go", go_img, ("oci",))

# ------------------------------------------------------------------ distroless
# Like gcr.io/distroless/static-debian12: per-package control files under
# /var/lib/dpkg/status.d/ (the raw DEBIAN/control, so no Status line) with the
# package's md5sums beside them, os-release PRETTY_NAME="Distroless", nonroot user.


def deb_ctrl(pkg, name):
    return read(os.path.join(ROOT, pkg + ".DEBIAN", name))


distroless_os_release = (
    'PRETTY_NAME="Distroless"\n'
    'NAME="Debian GNU/Linux"\n'
    'ID=debian\n'
    'VERSION_ID="12"\n'
    'VERSION="Debian GNU/Linux 12 (bookworm)"\n'
    'VERSION_CODENAME=bookworm\n'
)
distroless_base = Layer([
    Dir("etc"),
    File("etc/group", "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n"),
    File("etc/os-release", distroless_os_release),
    File("etc/passwd", "root:x:0:0:root:/root:/sbin/nologin\n"
                       "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
                       "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"),
    Dir("home"),
    Dir("home/nonroot", mode=0o700, uid=65532, gid=65532),
    Dir("root", mode=0o700),
    Dir("tmp", mode=0o1777),
    Dir("var/lib/dpkg/status.d"),
    File("var/lib/dpkg/status.d/base", deb_ctrl("base-files", "control")),
    File("var/lib/dpkg/status.d/base.md5sums", deb_ctrl("base-files", "md5sums")),
    File("var/lib/dpkg/status.d/tzdata", deb_ctrl("tzdata", "control")),
    File("var/lib/dpkg/status.d/tzdata.md5sums", deb_ctrl("tzdata", "md5sums")),
], comment="distroless static base: passwd/group, os-release, dpkg status.d (base-files %s, tzdata %s)"
   % (deb_version("base-files"), deb_version("tzdata")))
distroless = mk.Image([
    distroless_base,
    Layer([File("hello", tool, mode=EXE)], comment="COPY hello /hello"),
], arch="amd64", entrypoint=["/hello"], user="65532", workdir="/",
    extra_history=[hist("USER 65532"), hist('ENTRYPOINT ["/hello"]')])
write_all("distroless", distroless, ("oci",))

# ------------------------------------------------------------------ bloat
# Waste analysis.  File contents are a repeated line naming the file (so every
# file differs from every other one, yet compresses well), cut to the size.


def fill(tag, size):
    line = ("layerscope bloat fixture: %s\n" % tag).encode()
    return (line * (size // len(line) + 1))[:size]


def with_magic(magic, tag, size):
    return magic + fill(tag, size - len(magic))


def gz_exact(tag, size):
    """A valid gzip file (stored, level 0) of exactly ``size`` bytes."""
    n = size - 23
    for _ in range(10):
        out = gzip.compress(fill(tag, n), compresslevel=0, mtime=0)
        if len(out) == size:
            return out
        n += size - len(out)
    raise AssertionError("cannot make a %d-byte gzip" % size)


BLOAT_COPY = fill("/opt/copy1.bin == /opt/copy2.bin (identical content)", 6000)
bloat1 = Layer([
    Dir("etc"),
    File("etc/config", fill("/etc/config content A (layer 1)", 1000)),
    Dir("opt"),
    Dir("opt/data"),
    File("opt/data/big.bin", fill("/opt/data/big.bin", 50000)),
    Dir("opt/data/dir"),
    File("opt/data/dir/a.bin", fill("/opt/data/dir/a.bin", 7000)),
    File("opt/data/dir/b.bin", fill("/opt/data/dir/b.bin", 3000)),
    Dir("tmp", mode=0o1777),
    Dir("usr/bin"),
    File("usr/bin/tool", tool, mode=EXE),
    Dir("usr/share/doc/pkg"),
    File("usr/share/doc/pkg/README", fill("/usr/share/doc/pkg/README", 4000)),
    File("usr/share/doc/pkg/changelog.gz", gz_exact("/usr/share/doc/pkg/changelog", 3000)),
    Dir("usr/share/locale/de/LC_MESSAGES"),
    File("usr/share/locale/de/LC_MESSAGES/tool.mo",
         with_magic(b"\xde\x12\x04\x95", "/usr/share/locale/de/LC_MESSAGES/tool.mo", 1500)),
    Dir("usr/share/man/man1"),
    File("usr/share/man/man1/tool.1.gz", gz_exact(".TH TOOL 1 tool.1", 2000)),
], comment="/bin/sh -c #(nop) ADD file:layerscope-bloat-base in / ")
bloat2 = Layer([
    Dir("app/__pycache__"),
    File("app/__pycache__/mod.cpython-311.pyc",
         with_magic(b"\xa7\x0d\x0d\x0a", "/app/__pycache__/mod.cpython-311.pyc", 600)),
    Dir("etc"),
    File("etc/config", fill("/etc/config content B (layer 2, overwrites A)", 1200)),
    Dir("opt"),
    File("opt/copy1.bin", BLOAT_COPY),
    File("opt/copy2.bin", BLOAT_COPY),
    Dir("tmp", mode=0o1777),
    File("tmp/build.log", fill("/tmp/build.log", 700)),
    Dir("usr/bin"),
    File("usr/bin/gcc-12", fill("/usr/bin/gcc-12 (stands for the compiler driver)", 1000),
         mode=EXE),
    Dir("usr/include"),
    File("usr/include/foo.h", fill("/usr/include/foo.h", 800)),
    Dir("usr/lib/debug/.build-id/ab"),
    File("usr/lib/debug/.build-id/ab/cdef.debug",
         fill("/usr/lib/debug/.build-id/ab/cdef.debug (not an ELF)", 2500)),
    Dir("usr/lib/gcc/x86_64-linux-gnu/12"),
    File("usr/lib/gcc/x86_64-linux-gnu/12/cc1",
         fill("/usr/lib/gcc/x86_64-linux-gnu/12/cc1 (stands for the compiler)", 4000), mode=EXE),
    Dir("usr/lib/x86_64-linux-gnu"),
    File("usr/lib/x86_64-linux-gnu/libfoo.a",
         with_magic(b"!<arch>\n", "/usr/lib/x86_64-linux-gnu/libfoo.a", 9000)),
    Dir("usr/local/bin"),
    File("usr/local/bin/hello-debug", src=b("hello-debug"), mode=EXE),
    Dir("var/cache/apt/archives"),
    File("var/cache/apt/archives/foo_1.0_amd64.deb",
         with_magic(b"!<arch>\ndebian-binary   ", "/var/cache/apt/archives/foo_1.0_amd64.deb",
                    20000)),
    Dir("var/lib/apt/lists"),
    File("var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4",
         with_magic(b"\x04\x22\x4d\x18", "/var/lib/apt/lists/..._Packages.lz4", 30000)),
    Dir("var/log"),
    File("var/log/app.log", fill("/var/log/app.log", 500)),
], comment="RUN /bin/sh -c apt-get update && apt-get install -y gcc-12 libfoo-dev "
           "&& make install # buildkit")
bloat3 = Layer([
    Dir("opt"),
    Dir("opt/data"),
    Whiteout("opt/data/big.bin"),
    Whiteout("opt/data/dir"),
    Dir("tmp", mode=0o1777),
    Whiteout("tmp/build.log"),
    Dir("usr/bin"),
    File("usr/bin/tool", tool, mode=0o700),
], comment="RUN /bin/sh -c rm -rf /opt/data/big.bin /opt/data/dir /tmp/build.log "
           "&& chmod 0700 /usr/bin/tool # buildkit")
BLOAT_BASE_DIGEST = "sha256:" + hashlib.sha256(b"layerscope bloat fixture: base image").hexdigest()
BLOAT_SOURCE = {"org.opencontainers.image.source": "https://example.com/bloat",
                "org.opencontainers.image.revision": "abc123"}
bloat = mk.Image(
    [bloat1, bloat2, bloat3], arch="amd64", entrypoint=["/usr/bin/tool"], user="1000",
    labels=BLOAT_SOURCE,
    annotations=dict({"org.opencontainers.image.base.name": "docker.io/library/debian:12",
                      "org.opencontainers.image.base.digest": BLOAT_BASE_DIGEST},
                     **BLOAT_SOURCE),
    history=[bloat1,
             hist('/bin/sh -c #(nop)  CMD ["/bin/sh"]'),
             bloat2,
             bloat3,
             hist("LABEL org.opencontainers.image.source=https://example.com/bloat "
                  "org.opencontainers.image.revision=abc123"),
             hist("USER 1000"),
             hist('ENTRYPOINT ["/usr/bin/tool"]')])
write_all("bloat", bloat, ("oci",))


def bloat_expected(img):
    """Expected waste numbers, computed from the layer tars as written (not from
    the entry lists above): per path the size of every copy, a deletion as 0."""
    copies, present = {}, {}
    for li, layer in enumerate(img.layers, 1):
        with tarfile.open(fileobj=io.BytesIO(layer.tar)) as tf:
            for m in tf.getmembers():
                p = "/" + m.name.rstrip("/")
                d, base = p.rsplit("/", 1)
                if base.startswith(".wh."):
                    gone = d if base == ".wh..wh..opq" else d + "/" + base[4:]
                    for q in sorted(present):
                        if q.startswith(gone + "/") or (q == gone and base != ".wh..wh..opq"):
                            copies[q].append({"layer": li, "size": 0, "deleted": present[q][1]})
                            del present[q]
                elif m.isfile():
                    data = tf.extractfile(m).read()
                    copies.setdefault(p, []).append({"layer": li, "size": m.size,
                                                     "mode": "%04o" % m.mode})
                    present[p] = (li, m.size, hashlib.sha256(data).hexdigest())
    all_b = sum(c["size"] for cs in copies.values() for c in cs)
    min_b = sum(min(c["size"] for c in cs) for cs in copies.values())
    by_hash = {}
    for p, (_, size, h) in present.items():
        by_hash.setdefault(h, []).append((p, size))
    dups = {h: v for h, v in by_hash.items() if len(v) > 1}
    return {
        "paths": {p: copies[p] for p in sorted(copies)},
        "sum_all_copies": all_b,
        "sum_min_copies": min_b,
        "efficiency": min_b / all_b,
        "reclaimable": all_b - min_b,
        "deleted_bytes": sum(c.get("deleted", 0) for cs in copies.values() for c in cs),
        "duplicate_bytes": sum((len(v) - 1) * v[0][1] for v in dups.values()),
        "duplicates": sorted(sorted(p for p, _ in v) for v in dups.values()),
        "final_files": len(present),
        "final_bytes": sum(v[1] for v in present.values()),
        "layer_file_bytes": [sum(c["size"] for cs in copies.values() for c in cs
                                 if c["layer"] == i) for i in range(1, len(img.layers) + 1)],
        "hello_debug_debug_bytes": debug_bytes(b("hello-debug")),
    }


with open(os.path.join(WORK, "bloat-expected.json"), "w") as f:
    json.dump(bloat_expected(bloat), f, indent=1, sort_keys=True)
    f.write("\n")

# ------------------------------------------------------------------ broken
# One planted run defect per path (see testdata/README.md), on Debian libc6
# without libm, with no shell, no python3 and no musl loader.
patch_version_need(b("hello-glibc"), b("hello-glibc-2.99"), b"GLIBC_2.34", b"GLIBC_2.99")
broken_libc6 = Layer([
    Dir("usr/lib/x86_64-linux-gnu"),
    File("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
         src=deb("libc6", "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"), mode=EXE),
    File("usr/lib/x86_64-linux-gnu/libc.so.6",
         src=deb("libc6", "lib/x86_64-linux-gnu/libc.so.6"), mode=EXE),
    Dir("usr/lib64"),
    Symlink("usr/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
], comment="libc6 %s (ld.so, libc.so.6; no libm.so.6)" % deb_version("libc6"))
broken_app = Layer([
    Dir("app"),
    File("app/arm64-hello", src=b("hello-arm64"), mode=EXE),
    File("app/good", src=b("hello-glibc"), mode=EXE),
    File("app/needs-libm", src=b("mathy-glibc"), mode=EXE),
    File("app/needs-missing-loader", src=b("hello-musl"), mode=EXE),
    File("app/needs-newer-glibc", src=b("hello-glibc-2.99"), mode=EXE),
    File("app/run.sh", '#!/usr/bin/python3\nprint("hi")\n', mode=EXE),
    File("app/suid-tool", tool, mode=0o4755),
    Dir("data"),
    Dir("data/shared", mode=0o777),
], comment="COPY app/ /app/ && mkdir -m 0777 /data/shared")
broken = mk.Image([glibc_base, broken_libc6, broken_app], arch="amd64",
                  cmd=["/bin/sh", "-c", "/app/good --serve"],
                  extra_history=[hist('CMD ["/bin/sh" "-c" "/app/good --serve"]')])
write_all("broken", broken, ("oci",))
broken_ep = mk.Image([glibc_base, broken_libc6, broken_app], arch="amd64",
                     entrypoint=["/app/missing-binary"],
                     extra_history=[hist('ENTRYPOINT ["/app/missing-binary"]')])
write_all("broken-entrypoint", broken_ep, ("oci",))

# ------------------------------------------------------------------ multiarch-drift
# The multiarch pair with planted differences between its variants (for `compare`): the same
# common and libc layers as multiarch, then one app layer per platform that differs on purpose:
# a file only in arm64, libc6 at another version in arm64's dpkg status plus a package only
# there, and /usr/local/bin/greet built for amd64 in both variants (wrong in arm64).


def dpkg_stanza_with(pkg, **over):
    """dpkg_stanza(pkg) with fields replaced (Version, Architecture)."""
    f = control_fields(pkg)
    f["Status"] = "install ok installed"
    f.update(over)
    keys = [k for k in STATUS_ORDER if k in f] + [k for k in f if k not in STATUS_ORDER]
    return "".join("%s: %s\n" % (k, f[k]) for k in keys) + "\n"


# The arm64 libc files are libc6-arm64-cross 2.36-8cross1, i.e. glibc 2.36-8 (its banner).
drift_arm64_libc6 = deb_version("libc6-arm64-cross").replace("cross1", "")
drift_tuning = (
    "Package: layerscope-tuning\n"
    "Status: install ok installed\n"
    "Priority: optional\n"
    "Section: misc\n"
    "Installed-Size: 1\n"
    "Maintainer: layerscope fixtures <fixtures@example.invalid>\n"
    "Architecture: arm64\n"
    "Version: 1.0-1\n"
    "Description: arm64-only tuning file (multiarch-drift fixture)\n"
    "\n")
drift_tuning_conf = "# layerscope multiarch-drift: present in the arm64 variant only\nthreads=8\n"
drift_amd64 = mk.Image([
    common,
    amd64.layers[1],
    Layer([
        Dir("usr/local/bin"),
        File("usr/local/bin/greet", src=b("hello-glibc"), mode=EXE),
        File("usr/local/bin/hello", src=b("hello-glibc"), mode=EXE),
        Dir("var/lib/dpkg"),
        File("var/lib/dpkg/status", dpkg_stanza("base-files") + dpkg_stanza("libc6")),
    ], comment="COPY hello greet /usr/local/bin/ + dpkg status (base-files, libc6 %s)"
       % deb_version("libc6")),
], arch="amd64", entrypoint=["/usr/local/bin/hello"],
    extra_history=[hist('ENTRYPOINT ["/usr/local/bin/hello"]')])
drift_arm64 = mk.Image([
    common,
    arm64.layers[1],
    Layer([
        Dir("usr/local/bin"),
        File("usr/local/bin/greet", src=b("hello-glibc"), mode=EXE),
        File("usr/local/bin/hello", src=b("hello-arm64"), mode=EXE),
        Dir("usr/share/layerscope"),
        File("usr/share/layerscope/arm64-tuning.conf", drift_tuning_conf),
        Dir("var/lib/dpkg"),
        File("var/lib/dpkg/status",
             dpkg_stanza_with("base-files", Architecture="arm64")
             + dpkg_stanza_with("libc6", Version=drift_arm64_libc6, Architecture="arm64")
             + drift_tuning),
    ], comment="COPY hello greet(amd64!) arm64-tuning.conf + dpkg status (base-files, libc6 %s, "
               "layerscope-tuning)" % drift_arm64_libc6),
], arch="arm64", variant="v8", entrypoint=["/usr/local/bin/hello"],
    extra_history=[hist('ENTRYPOINT ["/usr/local/bin/hello"]')])
drift_index = mk.Index([drift_amd64, drift_arm64])
d = os.path.join(OUT, "multiarch-drift")
if os.path.isdir(d):
    shutil.rmtree(d)
os.makedirs(d)
mk.write_oci_dir(os.path.join(d, "oci"), [mk.tagged(drift_index, "latest")])
# Its digests go to WORK/drift-digests.txt (digests.txt is left as it was; see testdata/README.md).
with open(os.path.join(WORK, "drift-digests.txt"), "w") as f:
    f.write("multiarch-drift index=%s\n" % drift_index.digest)
    for name, img in [("multiarch-drift/amd64", drift_amd64), ("multiarch-drift/arm64", drift_arm64)]:
        f.write("%s manifest=%s config=%s\n" % (name, img.digest, img.config_digest))
        for i, l in enumerate(img.layers):
            f.write("  layer%d %s %s size=%d diff_id=%s tar=%d\n" % (
                i + 1, l.media_type, l.digest, len(l.blob), l.diff_id, len(l.tar)))

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
    for name, img in [("go", go_img), ("distroless", distroless), ("bloat", bloat),
                      ("broken", broken), ("broken-entrypoint", broken_ep)]:
        f.write("%s manifest=%s config=%s\n" % (name, img.digest, img.config_digest))
        for i, l in enumerate(img.layers):
            f.write("  layer%d %s %s size=%d diff_id=%s tar=%d\n" % (
                i + 1, l.media_type, l.digest, len(l.blob), l.diff_id, len(l.tar)))
