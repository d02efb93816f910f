//! Architecture-neutral names: rewrites the parts of a path or library name that only say which
//! machine it is for (`x86_64-linux-gnu`, the glibc and musl loader names, `lib64`, dpkg's
//! `:amd64`), so that the variants of a multi-arch image compare on what really differs.
//!
//! Only the names of the platform's own architecture are rewritten: an amd64 binary in an arm64
//! variant keeps its `ld-linux-x86-64.so.2`, and so stands out.

/// The placeholder for a multiarch triplet (`x86_64-linux-gnu`, `aarch64-linux-gnu`…).
pub const TRIPLET: &str = "{triplet}";
/// The placeholder for the glibc dynamic loader's file name.
pub const GLIBC_LOADER: &str = "{ld.so}";
/// The placeholder for the musl loader's file name (`ld-musl-x86_64.so.1`).
pub const MUSL_LOADER: &str = "{ld-musl}";
/// The placeholder for the architecture part of other names (`libc.musl-{arch}.so.1`,
/// `libc6:{arch}.list`, `linux_{arch}`).
pub const ARCH: &str = "{arch}";

/// The architecture-specific names of one platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ArchNames {
    /// GNU triplets used as directory names and in file names (Debian multiarch, gcc, Python).
    triplets: &'static [&'static str],
    /// glibc loader file names.
    loaders: &'static [&'static str],
    /// musl's name for the architecture (`ld-musl-<this>.so.1`).
    musl: &'static str,
    /// Debian's name for the architecture (`libc6:<this>.list`).
    dpkg: &'static str,
    /// Go's name (`linux_<this>`).
    go: &'static str,
}

fn names_for(arch: &str, variant: Option<&str>) -> Option<ArchNames> {
    let n = |triplets, loaders, musl, dpkg, go| Some(ArchNames { triplets, loaders, musl, dpkg, go });
    match (arch, variant) {
        ("amd64" | "x86_64", _) => n(
            &[
                "x86_64-linux-gnu",
                "x86_64-linux-musl",
                "x86_64-alpine-linux-musl",
                "x86_64-redhat-linux",
                "x86_64-pc-linux-gnu",
            ],
            &["ld-linux-x86-64.so.2"],
            "x86_64",
            "amd64",
            "amd64",
        ),
        ("arm64" | "aarch64", _) => n(
            &[
                "aarch64-linux-gnu",
                "aarch64-linux-musl",
                "aarch64-alpine-linux-musl",
                "aarch64-redhat-linux",
                "aarch64-unknown-linux-gnu",
            ],
            &["ld-linux-aarch64.so.1"],
            "aarch64",
            "arm64",
            "arm64",
        ),
        ("arm", Some("v5" | "v6")) => n(
            &["arm-linux-gnueabi", "arm-linux-musleabi", "armv6-alpine-linux-musleabihf"],
            &["ld-linux.so.3"],
            "arm",
            "armel",
            "arm",
        ),
        ("arm", _) => n(
            &["arm-linux-gnueabihf", "arm-linux-musleabihf", "armv7-alpine-linux-musleabihf"],
            &["ld-linux-armhf.so.3"],
            "armhf",
            "armhf",
            "arm",
        ),
        ("386" | "i386" | "i686", _) => n(
            &["i386-linux-gnu", "i686-linux-gnu", "i386-linux-musl", "i586-alpine-linux-musl", "i686-redhat-linux"],
            &["ld-linux.so.2"],
            "i386",
            "i386",
            "386",
        ),
        ("ppc64le", _) => n(
            &[
                "powerpc64le-linux-gnu",
                "powerpc64le-linux-musl",
                "powerpc64le-alpine-linux-musl",
                "ppc64le-redhat-linux",
            ],
            &["ld64.so.2"],
            "powerpc64le",
            "ppc64el",
            "ppc64le",
        ),
        ("s390x", _) => n(
            &["s390x-linux-gnu", "s390x-linux-musl", "s390x-alpine-linux-musl", "s390x-redhat-linux"],
            &["ld64.so.1"],
            "s390x",
            "s390x",
            "s390x",
        ),
        ("riscv64", _) => n(
            &["riscv64-linux-gnu", "riscv64-linux-musl", "riscv64-alpine-linux-musl", "riscv64-redhat-linux"],
            &["ld-linux-riscv64-lp64d.so.1"],
            "riscv64",
            "riscv64",
            "riscv64",
        ),
        ("mips64le", _) => n(&["mips64el-linux-gnuabi64"], &["ld.so.1"], "mips64el", "mips64el", "mips64le"),
        ("loong64", _) => {
            n(&["loongarch64-linux-gnu"], &["ld-linux-loongarch-lp64d.so.1"], "loongarch64", "loong64", "loong64")
        }
        _ => None,
    }
}

/// Rewrites the names of one platform's architecture into placeholders.
#[derive(Debug, Clone, Default)]
pub struct Normalizer {
    names: Option<ArchNames>,
}

/// True when `c` may stand next to an embedded triplet (`_ssl.cpython-311-x86_64-linux-gnu.so`).
fn boundary(c: Option<char>) -> bool {
    c.is_none_or(|c| matches!(c, '-' | '.' | '_' | '/' | ':'))
}

/// Replaces every bounded occurrence of `needle` in `s` by `with`.
fn replace_bounded(s: &str, needle: &str, with: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut prev: Option<char> = None;
    while let Some(i) = rest.find(needle) {
        let before = if i == 0 { prev } else { rest[..i].chars().next_back() };
        let after = rest[i + needle.len()..].chars().next();
        if boundary(before) && boundary(after) {
            out.push_str(&rest[..i]);
            out.push_str(with);
        } else {
            out.push_str(&rest[..i + needle.len()]);
        }
        prev = out.chars().next_back();
        rest = &rest[i + needle.len()..];
    }
    out.push_str(rest);
    out
}

impl Normalizer {
    /// The normaliser for a platform in docker syntax (`linux/arm64/v8`). An unknown
    /// architecture only gets the `lib64` rewrite.
    pub fn for_platform(platform: &str) -> Self {
        let p = crate::oci::platform::Platform::parse(platform).ok();
        let names = p.and_then(|p| names_for(&p.architecture, p.variant.as_deref()));
        Normalizer { names }
    }

    /// The architecture-neutral form of a path (with or without a leading `/`; the result keeps
    /// the caller's form).
    pub fn path(&self, path: &str) -> String {
        let (lead, body) = match path.strip_prefix('/') {
            Some(b) => ("/", b),
            None => ("", path),
        };
        let mut parts: Vec<String> = body.split('/').map(|c| self.component(c)).collect();
        // A loader is found by its name, not its directory: `/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2`
        // (Debian amd64) and `/lib/ld-linux-aarch64.so.1` (the arm64 ABI path) are the same thing.
        if let [.., dir, name] = parts.as_slice() {
            if (name == GLIBC_LOADER || name == MUSL_LOADER) && dir == TRIPLET {
                let n = parts.len();
                parts.remove(n - 2);
            }
        }
        format!("{lead}{}", parts.join("/"))
    }

    /// The architecture-neutral form of a library name (a DT_NEEDED entry or a SONAME).
    pub fn library(&self, name: &str) -> String {
        self.component(name)
    }

    fn component(&self, c: &str) -> String {
        if c == "lib64" {
            return "lib".to_string();
        }
        let Some(n) = self.names else { return c.to_string() };
        if n.loaders.contains(&c) {
            return GLIBC_LOADER.to_string();
        }
        if c == format!("ld-musl-{}.so.1", n.musl) {
            return MUSL_LOADER.to_string();
        }
        let mut s = c.to_string();
        for t in n.triplets {
            if s.contains(t) {
                s = replace_bounded(&s, t, TRIPLET);
            }
        }
        for (from, to) in [
            (format!("libc.musl-{}.so.1", n.musl), format!("libc.musl-{ARCH}.so.1")),
            (format!("ld-musl-{}.path", n.musl), format!("ld-musl-{ARCH}.path")),
        ] {
            if s == from {
                return to;
            }
        }
        let dpkg = format!(":{}.", n.dpkg);
        if s.contains(&dpkg) {
            s = s.replace(&dpkg, &format!(":{ARCH}."));
        }
        let go = format!("linux_{}", n.go);
        if s.contains(&go) {
            s = replace_bounded(&s, &go, &format!("linux_{ARCH}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_amd64_and_arm64_names_meet() {
        let a = Normalizer::for_platform("linux/amd64");
        let r = Normalizer::for_platform("linux/arm64/v8");
        let pairs = [
            ("lib/x86_64-linux-gnu/libc.so.6", "lib/aarch64-linux-gnu/libc.so.6"),
            ("lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "lib/aarch64-linux-gnu/ld-linux-aarch64.so.1"),
            ("lib64/ld-linux-x86-64.so.2", "lib/ld-linux-aarch64.so.1"),
            ("/usr/lib64/ld-linux-x86-64.so.2", "/usr/lib/ld-linux-aarch64.so.1"),
            (
                "usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so",
                "usr/lib/python3.11/lib-dynload/_ssl.cpython-311-aarch64-linux-gnu.so",
            ),
            ("var/lib/dpkg/info/libc6:amd64.list", "var/lib/dpkg/info/libc6:arm64.list"),
            ("lib/ld-musl-x86_64.so.1", "lib/ld-musl-aarch64.so.1"),
            ("lib/libc.musl-x86_64.so.1", "lib/libc.musl-aarch64.so.1"),
            ("usr/lib/go/pkg/tool/linux_amd64/compile", "usr/lib/go/pkg/tool/linux_arm64/compile"),
            ("usr/lib/gcc/x86_64-linux-gnu/12", "usr/lib/gcc/aarch64-linux-gnu/12"),
        ];
        for (x, y) in pairs {
            assert_eq!(a.path(x), r.path(y), "{x} vs {y}");
            assert_ne!(a.path(x), r.path(x), "{x} must stay arm64-foreign");
        }
        assert_eq!(a.library("ld-linux-x86-64.so.2"), r.library("ld-linux-aarch64.so.1"));
        assert_eq!(a.library("libc.so.6"), "libc.so.6");
    }

    #[test]
    fn foreign_and_unbounded_names_stay() {
        let r = Normalizer::for_platform("linux/arm64");
        // An amd64 loader in an arm64 variant is not the arm64 loader.
        assert_eq!(r.path("/lib64/ld-linux-x86-64.so.2"), "/lib/ld-linux-x86-64.so.2");
        assert_eq!(r.path("opt/notaarch64-linux-gnu/x"), "opt/notaarch64-linux-gnu/x");
        assert_eq!(r.path("opt/aarch64-linux-gnux/x"), "opt/aarch64-linux-gnux/x");
        assert_eq!(r.path("etc/fixture.txt"), "etc/fixture.txt");
        let unknown = Normalizer::for_platform("linux/sparc64");
        assert_eq!(unknown.path("usr/lib64/libz.so.1"), "usr/lib/libz.so.1");
        assert_eq!(replace_bounded("a-x-b x xx", "x", "Y"), "a-Y-b x xx");
    }
}
