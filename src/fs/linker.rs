//! How the dynamic loader would find things in the merged view: the interpreter, and each
//! DT_NEEDED library through RPATH/RUNPATH (`$ORIGIN`), `LD_LIBRARY_PATH`, `/etc/ld.so.conf` and
//! its includes, the default and multiarch directories (glibc), or `/etc/ld-musl-ARCH.path` and the
//! defaults, with the loader itself providing libc (musl).

use super::{MergedFs, NodeKind};
use crate::elf::ElfInfo;

/// The libc family whose loader rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Glibc,
    Musl,
}

/// Search directories of one platform, computed once.
#[derive(Debug, Clone, Default)]
pub struct SearchPaths {
    /// From `LD_LIBRARY_PATH` in the config's environment.
    pub env: Vec<String>,
    /// glibc: ld.so.conf (with includes), then the defaults.
    pub glibc: Vec<String>,
    /// musl: /etc/ld-musl-ARCH.path, or the defaults.
    pub musl: Vec<String>,
}

/// Debian/Ubuntu multiarch triplet of an OCI architecture.
pub fn multiarch(arch: &str) -> Option<&'static str> {
    Some(match arch {
        "amd64" => "x86_64-linux-gnu",
        "arm64" => "aarch64-linux-gnu",
        "arm" => "arm-linux-gnueabihf",
        "386" => "i386-linux-gnu",
        "ppc64le" => "powerpc64le-linux-gnu",
        "s390x" => "s390x-linux-gnu",
        "riscv64" => "riscv64-linux-gnu",
        "mips64le" => "mips64el-linux-gnuabi64",
        _ => return None,
    })
}

/// musl's name for an architecture in `ld-musl-ARCH.so.1` and `/etc/ld-musl-ARCH.path`.
pub fn musl_arch(arch: &str) -> Option<&'static str> {
    Some(match arch {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "arm" => "armhf",
        "386" => "i386",
        "ppc64le" => "powerpc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        _ => return None,
    })
}

fn text(fs: &MergedFs, path: &str, hops: u64) -> Option<String> {
    let (_, node) = fs.resolve(path, hops).ok()?;
    match &node.kind {
        NodeKind::File(f) => f.extra()?.text.as_deref().map(|t| String::from_utf8_lossy(t).into_owned()),
        _ => None,
    }
}

fn read_ld_so_conf(fs: &MergedFs, path: &str, hops: u64, depth: u32, out: &mut Vec<String>) {
    if depth > 8 {
        return;
    }
    let Some(t) = text(fs, path, hops) else { return };
    for line in t.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(pattern) = line.strip_prefix("include") {
            let pattern = pattern.trim();
            // Includes are globs like /etc/ld.so.conf.d/*.conf: match files in that directory.
            let (dir, file_glob) = pattern.rsplit_once('/').unwrap_or(("", pattern));
            let dir = dir.trim_start_matches('/');
            let (prefix, suffix) = file_glob.split_once('*').unwrap_or((file_glob, ""));
            let mut matches: Vec<String> = fs
                .descendants(dir)
                .map(|(p, _)| p.to_string())
                .filter(|p| {
                    let rest = &p[dir.len() + usize::from(!dir.is_empty())..];
                    !rest.contains('/') && rest.starts_with(prefix) && rest.ends_with(suffix)
                })
                .collect();
            matches.sort();
            for m in matches {
                read_ld_so_conf(fs, &m, hops, depth + 1, out);
            }
        } else if !line.is_empty() {
            for d in line.split([':', ',', ' ', '\t']).filter(|d| d.starts_with('/')) {
                out.push(d.to_string());
            }
        }
    }
}

impl SearchPaths {
    /// Computes the search directories for a platform architecture and config environment.
    pub fn new(fs: &MergedFs, arch: &str, env: &[String], hops: u64) -> Self {
        let mut glibc = Vec::new();
        // glibc's loader never reads ld.so.conf: it reads /etc/ld.so.cache, which ldconfig
        // builds from it. Without a cache, only the built-in directories are searched.
        if fs.resolve("etc/ld.so.cache", hops).is_ok() {
            read_ld_so_conf(fs, "etc/ld.so.conf", hops, 0, &mut glibc);
        }
        if let Some(t) = multiarch(arch) {
            glibc.push(format!("/lib/{t}"));
            glibc.push(format!("/usr/lib/{t}"));
        }
        let lib64 = matches!(arch, "amd64" | "arm64" | "ppc64le" | "s390x" | "riscv64" | "mips64le");
        if lib64 {
            glibc.extend(["/lib64".to_string(), "/usr/lib64".to_string()]);
        }
        glibc.extend(["/lib".to_string(), "/usr/lib".to_string()]);
        let musl_path = musl_arch(arch).and_then(|a| text(fs, &format!("etc/ld-musl-{a}.path"), hops));
        let musl = match musl_path {
            Some(t) => t.split(['\n', ':']).map(str::trim).filter(|d| d.starts_with('/')).map(str::to_string).collect(),
            None => vec!["/lib".to_string(), "/usr/local/lib".to_string(), "/usr/lib".to_string()],
        };
        let env = env
            .iter()
            .filter_map(|e| e.strip_prefix("LD_LIBRARY_PATH="))
            .flat_map(|v| v.split(':'))
            .filter(|d| d.starts_with('/'))
            .map(str::to_string)
            .collect();
        SearchPaths { env, glibc, musl }
    }
}

/// Names musl's loader answers itself (it is also libc).
fn musl_builtin(name: &str) -> bool {
    if name.starts_with("libc.musl-") || name.starts_with("ld-musl-") {
        return true;
    }
    let Some(rest) = name.strip_prefix("lib") else { return false };
    let stem = rest.split('.').next().unwrap_or("");
    matches!(stem, "c" | "pthread" | "rt" | "m" | "dl" | "util" | "xnet") && rest[stem.len()..].starts_with(".so")
}

impl Flavor {
    /// Whose loader rules apply to a binary: musl's when its interpreter is musl's loader, or when
    /// it has none in an image whose C library is musl; glibc's otherwise.
    pub fn of(interpreter: Option<&str>, musl_image: bool) -> Flavor {
        match interpreter {
            Some(i) if i.rsplit('/').next().unwrap_or("").starts_with("ld-musl-") => Flavor::Musl,
            Some(_) => Flavor::Glibc,
            None if musl_image => Flavor::Musl,
            None => Flavor::Glibc,
        }
    }
}

/// Finds where the loader would load `name` from for the object at `object_path` (the path it
/// is loaded from; `$ORIGIN` is its directory). Returns the path found, `Some("(loader)")` for
/// musl's built-in libc names, or `None`. A candidate of the wrong machine or class is skipped,
/// as the loader does, and so is a file that is not ELF. A name with a `/` is a path from the
/// root (the working directory `/`); `..` in it, or in an RPATH, stops at the root.
pub fn find_library(
    fs: &MergedFs,
    name: &str,
    object_path: &str,
    object: &ElfInfo,
    flavor: Flavor,
    paths: &SearchPaths,
    hops: u64,
) -> Option<String> {
    if flavor == Flavor::Musl && musl_builtin(name) {
        return Some("(loader)".into());
    }
    let fits = |p: &str| -> bool {
        match fs.resolve(p, hops) {
            Ok((_, node)) => match &node.kind {
                // An ELF of the object's machine and class; or an ELF file whose facts could not
                // be read (too large, malformed: the benefit of the doubt). A file that is not ELF
                // at all (`../../etc/passwd`, a linker script) is nothing the loader can map.
                NodeKind::File(f) => match f.elf() {
                    Some(e) => e.machine == object.machine && e.bits == object.bits,
                    None => f.extra().is_some_and(|x| x.error.is_some()),
                },
                _ => false,
            },
            Err(_) => false,
        }
    };
    if name.contains('/') {
        return fits(name).then(|| name.to_string());
    }
    search_dirs(object_path, object, flavor, paths)
        .into_iter()
        .map(|d| format!("{}/{name}", d.trim_end_matches('/')))
        .find(|p| fits(p))
}

/// The directories the loader searches, in order, for a library `object` (loaded from
/// `object_path`) needs: RPATH, `LD_LIBRARY_PATH`, RUNPATH (`$ORIGIN` expanded), then the
/// platform's. Not for musl's built-in names nor names with a `/` (see [`find_library`]).
pub fn search_dirs(object_path: &str, object: &ElfInfo, flavor: Flavor, paths: &SearchPaths) -> Vec<String> {
    let origin = object_path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let expand = |d: &str| d.replace("${ORIGIN}", origin).replace("$ORIGIN", origin);
    let mut dirs: Vec<String> = Vec::new();
    match flavor {
        Flavor::Glibc => {
            if object.runpath.is_empty() {
                dirs.extend(object.rpath.iter().map(|d| expand(d)));
            }
            dirs.extend(paths.env.iter().cloned());
            dirs.extend(object.runpath.iter().map(|d| expand(d)));
            dirs.extend(paths.glibc.iter().cloned());
        }
        Flavor::Musl => {
            dirs.extend(paths.env.iter().cloned());
            dirs.extend(object.rpath.iter().chain(&object.runpath).map(|d| expand(d)));
            dirs.extend(paths.musl.iter().cloned());
        }
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn musl_builtins() {
        assert!(musl_builtin("libc.so"));
        assert!(musl_builtin("libc.musl-x86_64.so.1"));
        assert!(musl_builtin("libpthread.so.0"));
        assert!(!musl_builtin("libcrypto.so.3"));
        assert!(!musl_builtin("libstdc++.so.6"));
    }
}
