//! The C library verdict: glibc, musl, static, none or mixed; the loaders present; the version
//! of the library itself; and the newest `GLIBC_x.y` any binary needs.

use std::collections::BTreeSet;

use super::{Context, Detector};
use crate::elf::{parse_version, Linkage};
use crate::fs::NodeKind;
use crate::layer::pkgdb::DbKind;
use crate::report::{Libc, LibcKind, PlatformReport};

pub struct LibcDetector;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Family {
    Glibc,
    Musl,
}

/// The libc family of a loader by its file name.
fn loader_family(name: &str) -> Option<Family> {
    if name.starts_with("ld-musl-") && name.ends_with(".so.1") {
        return Some(Family::Musl);
    }
    let glibc =
        name.starts_with("ld-linux") && name.contains(".so.") || matches!(name, "ld64.so.1" | "ld64.so.2" | "ld.so.1");
    glibc.then_some(Family::Glibc)
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// `…release version 2.36.` → `2.36`.
pub fn glibc_banner_version(banner: &str) -> Option<String> {
    let idx = banner.find("version ")?;
    let rest = &banner[idx + 8..];
    let v: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let v = v.trim_end_matches('.').to_string();
    parse_version(&v).filter(|p| p.len() >= 2).map(|_| v)
}

/// Upstream part of a package version: `2.36-9+deb12u4` → `2.36`, `1.2.4-r2` → `1.2.4`.
fn upstream(version: &str) -> String {
    let v = version.split_once(':').map(|(_, v)| v).unwrap_or(version);
    v.split('-').next().unwrap_or(v).to_string()
}

impl Detector for LibcDetector {
    fn name(&self) -> &'static str {
        "libc"
    }

    fn run(&self, cx: &Context, r: &mut PlatformReport) {
        let mut families = BTreeSet::new();
        let mut loaders = BTreeSet::new();
        let mut glibc_banner: Option<String> = None;
        for (path, node) in cx.fs.iter() {
            let name = basename(path);
            match &node.kind {
                NodeKind::File(_) | NodeKind::Symlink(_) if name == "libc.so.6" => {
                    if let Ok((_, resolved)) = cx.fs.resolve(path, cx.limits.symlink_hops) {
                        if let NodeKind::File(f) = &resolved.kind {
                            families.insert(Family::Glibc);
                            if glibc_banner.is_none() {
                                glibc_banner =
                                    f.extra().and_then(|e| e.banner.as_deref()).and_then(glibc_banner_version);
                            }
                        }
                    }
                }
                NodeKind::File(_) | NodeKind::Symlink(_) => {
                    if let Some(fam) = loader_family(name) {
                        if cx
                            .fs
                            .resolve(path, cx.limits.symlink_hops)
                            .is_ok_and(|(_, n)| matches!(n.kind, NodeKind::File(_)))
                        {
                            families.insert(fam);
                            loaders.insert(format!("/{path}"));
                        }
                    }
                }
                _ => {}
            }
        }
        let mut any_static = false;
        let mut newest: Option<(Vec<u32>, String, String)> = None;
        for b in &r.binaries {
            // The verdict is about the C library present: an interpreter counts when it exists
            // (a missing one is LIBC-MISSING-LOADER, not a libc).
            if let Some(interp) = &b.interpreter {
                if cx.fs.resolve(interp, cx.limits.symlink_hops).is_ok_and(|(_, n)| matches!(n.kind, NodeKind::File(_)))
                {
                    families.extend(loader_family(basename(interp)));
                    loaders.insert(interp.clone());
                }
            }
            if matches!(b.linkage, Linkage::Static | Linkage::StaticPie) && b.kind == crate::elf::ElfKind::Executable {
                any_static = true;
            }
            // glibc's own libraries need their own loader's versions: not a requirement on the image.
            let part_of_glibc = b.soname.as_deref().is_some_and(is_glibc_component);
            if let Some(v) = b.glibc_required.as_ref().filter(|_| !part_of_glibc) {
                let key = parse_version(v).unwrap_or_default();
                if newest.as_ref().is_none_or(|(k, _, _)| key > *k) {
                    newest = Some((key, v.clone(), b.path.clone()));
                }
            }
        }
        let kind = match (families.contains(&Family::Glibc), families.contains(&Family::Musl)) {
            (true, true) => LibcKind::Mixed,
            (true, false) => LibcKind::Glibc,
            (false, true) => LibcKind::Musl,
            (false, false) if any_static => LibcKind::Static,
            (false, false) => LibcKind::None,
        };
        let package_version = |names: &[&str]| {
            r.package_databases.iter().find_map(|db| {
                db.package_list.iter().find(|(n, _)| names.contains(&n.as_str())).map(|(_, v)| (upstream(v), db.kind))
            })
        };
        let (version, version_source) = match kind {
            LibcKind::Glibc | LibcKind::Mixed if glibc_banner.is_some() => {
                (glibc_banner, Some("libc.so.6 version string".to_string()))
            }
            LibcKind::Glibc => match package_version(&["libc6", "glibc", "libc6-arm64-cross"]) {
                Some((v, k)) => (Some(v), Some(format!("{} package database", db_name(k)))),
                None => (None, None),
            },
            LibcKind::Musl => match package_version(&["musl"]) {
                Some((v, k)) => (Some(v), Some(format!("{} package database", db_name(k)))),
                None => (None, None),
            },
            _ => (None, None),
        };
        r.libc = Libc {
            kind,
            version,
            version_source,
            loaders: loaders.into_iter().collect(),
            newest_glibc_required: newest.as_ref().map(|(_, v, _)| v.clone()),
            newest_glibc_required_by: newest.map(|(_, _, p)| p),
        };
    }
}

/// Sonames of the libraries glibc itself ships.
fn is_glibc_component(soname: &str) -> bool {
    const PARTS: &[&str] = &[
        "libc.so.6",
        "libm.so.6",
        "libmvec.so.1",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "libresolv.so.2",
        "libutil.so.1",
        "libanl.so.1",
        "libBrokenLocale.so.1",
        "libthread_db.so.1",
        "libc_malloc_debug.so.0",
        "libmemusage.so",
        "libpcprofile.so",
        "libnsl.so.1",
        "libcidn.so.1",
    ];
    PARTS.contains(&soname) || soname.starts_with("libnss_") || loader_family(soname) == Some(Family::Glibc)
}

fn db_name(k: DbKind) -> &'static str {
    match k {
        DbKind::Dpkg | DbKind::DpkgStatusD => "dpkg",
        DbKind::Apk => "apk",
        DbKind::Rpm => "rpm",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_and_names() {
        assert_eq!(
            glibc_banner_version("GNU C Library (Debian GLIBC 2.36-9+deb12u4) stable release version 2.36.\nCopyright")
                .as_deref(),
            Some("2.36")
        );
        assert_eq!(
            glibc_banner_version("GNU C Library (Gentoo 2.38-r10 (patchset 9)) release release version 2.38, by"),
            Some("2.38".into())
        );
        assert_eq!(loader_family("ld-linux-x86-64.so.2"), Some(Family::Glibc));
        assert_eq!(loader_family("ld-musl-aarch64.so.1"), Some(Family::Musl));
        assert_eq!(loader_family("ld64.so.2"), Some(Family::Glibc));
        assert_eq!(loader_family("libc.so.6"), None);
        assert_eq!(upstream("2.36-9+deb12u4"), "2.36");
        assert_eq!(upstream("1:1.2.13.dfsg-1"), "1.2.13.dfsg");
    }
}
