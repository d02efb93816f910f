//! The base image a slimmed closure fits, from the closure's ELF facts: static with no
//! interpreter -> scratch (or a static distroless base when certificates or other data files are
//! kept); glibc -> a distroless base of a Debian release whose glibc is at least the newest
//! `GLIBC_x.y` the closure needs (`cc` when it links libstdc++/libgcc_s/libgomp); musl -> the
//! Alpine release of that musl.

use serde::Serialize;

use super::closure::{Kind, Walk};
use super::Maybe;
use crate::elf::{parse_version, Linkage};
use crate::fs::{MergedFs, NodeKind};
use crate::report::{LibcKind, PlatformReport};

/// The suggestion and why.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Base {
    /// An image reference, or `scratch`.
    pub suggestion: String,
    pub reason: String,
    /// The closure's shared libraries beyond the C library itself (the base must carry them,
    /// or the rebuild copies them from this image).
    pub libraries: Vec<String>,
    /// The newest `GLIBC_x.y` symbol version the closure needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub glibc_required: Option<String>,
}

/// Debian releases: (version, codename, glibc).
const DEBIAN: &[(&str, &str, &str)] =
    &[("11", "bullseye", "2.31"), ("12", "bookworm", "2.36"), ("13", "trixie", "2.41")];

/// Alpine releases by the musl they ship (the newest release of each musl).
const ALPINE: &[(&str, &str)] =
    &[("1.1.24", "3.12"), ("1.2.2", "3.15"), ("1.2.3", "3.17"), ("1.2.4", "3.19"), ("1.2.5", "3.22")];

/// Libraries of the C library itself (provided by any glibc base).
fn glibc_own(name: &str) -> bool {
    let stem = name.split(".so").next().unwrap_or(name);
    name.starts_with("ld-linux")
        || name.starts_with("ld64.so")
        || name.starts_with("libnss_")
        || matches!(
            stem,
            "libc" | "libm" | "libpthread" | "libdl" | "librt" | "libresolv" | "libutil" | "libanl" | "libmvec"
        )
}

pub fn suggest(fs: &MergedFs, w: &Walk, report: &PlatformReport, maybe: &[Maybe]) -> Base {
    let mut dynamic = false;
    let mut musl = false;
    let mut glibc_need: Option<String> = None;
    let mut libraries: Vec<String> = Vec::new();
    let mut elfs = 0usize;
    for e in w.entries.values().filter(|e| e.kind == Kind::File) {
        let Some(NodeKind::File(f)) = fs.get(e.path.trim_start_matches('/')).map(|n| n.kind) else { continue };
        let Some(x) = f.elf() else { continue };
        elfs += 1;
        if x.linkage == Linkage::Dynamic || x.interpreter.is_some() {
            dynamic = true;
        }
        if x.interpreter.as_deref().is_some_and(|i| i.contains("ld-musl")) {
            musl = true;
        }
        let name = e.path.rsplit('/').next().unwrap_or("");
        // glibc's own libraries need each other's private versions: not a need of the program.
        if let Some(v) = x.glibc_required.as_ref().filter(|_| !glibc_own(name)) {
            if glibc_need.as_ref().is_none_or(|g| parse_version(v) > parse_version(g)) {
                glibc_need = Some(v.clone());
            }
        }
        // Shared libraries by name (`lib*.so*`), not modules an interpreter loads.
        let library = name.starts_with("lib") && !name.starts_with("lib.") && name.contains(".so");
        if library && x.kind == crate::elf::ElfKind::SharedLibrary && !glibc_own(name) && !name.starts_with("ld-musl") {
            libraries.push(name.to_string());
        }
    }
    libraries.sort();
    libraries.dedup();
    let data: Vec<&str> = maybe.iter().filter(|m| m.included).map(|m| m.path.as_str()).collect();
    if elfs == 0 {
        return Base {
            suggestion: "unknown".into(),
            reason: "the closure has no ELF program (the command did not resolve)".into(),
            ..Default::default()
        };
    }
    if !dynamic {
        return if data.is_empty() {
            Base {
                suggestion: "scratch".into(),
                reason: "every program of the closure is static with no interpreter, and it needs no data files".into(),
                ..Default::default()
            }
        } else {
            Base {
                suggestion: "gcr.io/distroless/static-debian12".into(),
                reason: format!(
                    "every program is static with no interpreter; it needs {} (the static distroless base \
                     carries CA certificates, tzdata and /etc/passwd)",
                    data.join(", ")
                ),
                ..Default::default()
            }
        };
    }
    if musl || report.libc.kind == LibcKind::Musl {
        let (release, why) = alpine(report);
        return Base {
            suggestion: format!("alpine:{release}"),
            reason: format!("the closure is linked against musl; {why}"),
            libraries,
            glibc_required: None,
        };
    }
    // glibc: a Debian release new enough, the image's own when it is Debian and fits.
    let need = glibc_need.clone().unwrap_or_else(|| "2.0".into());
    let fits = |g: &str| parse_version(g) >= parse_version(&need);
    let own = report.os_release.as_ref().filter(|o| o.id.as_deref() == Some("debian")).and_then(|o| {
        let v = o.version_id.as_deref()?;
        DEBIAN.iter().find(|(n, _, g)| *n == v && fits(g))
    });
    let pick = own.or_else(|| DEBIAN.iter().find(|(_, _, g)| fits(g)));
    let cc =
        libraries.iter().any(|l| l.starts_with("libstdc++") || l.starts_with("libgcc_s") || l.starts_with("libgomp"));
    let flavour = if cc { "cc" } else { "base" };
    let Some((version, codename, glibc)) = pick else {
        let (v, c, g) = DEBIAN[DEBIAN.len() - 1];
        return Base {
            suggestion: format!("gcr.io/distroless/{flavour}-debian{v}"),
            reason: format!(
                "the closure needs GLIBC_{need}, newer than any Debian release known here (the newest, {v} {c}, has \
                 glibc {g}): carry the image's own glibc"
            ),
            libraries,
            glibc_required: glibc_need,
        };
    };
    let mut reason = format!(
        "the closure is linked against glibc and needs symbol versions up to GLIBC_{need}; Debian {version} ({codename}) has glibc {glibc}"
    );
    if own.is_some() {
        reason.push_str(", and the image is Debian ");
        reason.push_str(version);
    }
    if cc {
        reason.push_str("; it links libstdc++/libgcc_s, which the distroless cc image carries");
    }
    if !libraries.is_empty() {
        let shown: Vec<&str> = libraries.iter().take(12).map(String::as_str).collect();
        let more = libraries.len() - shown.len();
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        reason.push_str(&format!("; libraries beyond glibc: {}{more}", shown.join(", ")));
    }
    Base {
        suggestion: format!("gcr.io/distroless/{flavour}-debian{version}"),
        reason,
        libraries,
        glibc_required: glibc_need,
    }
}

fn alpine(report: &PlatformReport) -> (String, String) {
    if let Some(o) = report.os_release.as_ref().filter(|o| o.id.as_deref() == Some("alpine")) {
        if let Some(v) = &o.version_id {
            let mm: Vec<&str> = v.split('.').take(2).collect();
            return (mm.join("."), format!("the image is Alpine {v}"));
        }
    }
    match report.libc.version.as_deref() {
        Some(v) => match ALPINE.iter().find(|(m, _)| *m == v) {
            Some((_, a)) => (a.to_string(), format!("musl {v} is the musl of Alpine {a}")),
            None => {
                let newer = ALPINE.iter().find(|(m, _)| parse_version(m) >= parse_version(v));
                match newer {
                    Some((m, a)) => {
                        (a.to_string(), format!("musl {v}: Alpine {a} has musl {m}, the nearest not older"))
                    }
                    None => ("latest".into(), format!("musl {v} is newer than any Alpine release known here")),
                }
            }
        },
        None => ("latest".into(), "the musl version is unknown".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::glibc_own;

    #[test]
    fn glibc_family() {
        assert!(glibc_own("libc.so.6"));
        assert!(glibc_own("ld-linux-x86-64.so.2"));
        assert!(glibc_own("libm.so.6"));
        assert!(!glibc_own("libssl.so.3"));
        assert!(!glibc_own("libcrypto.so.3"));
        assert!(!glibc_own("libstdc++.so.6"));
    }
}
