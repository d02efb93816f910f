//! The distroless verdict: `full` (a package manager), `shell-only` (a shell, no package
//! manager), `distroless` (neither, but a C library, a package database or a distroless
//! os-release: built from a distribution), `scratch` (static binaries or none, nothing else), with
//! the paths that decided it.

use super::{Context, Detector};
use crate::report::{Distroless, LibcKind, PlatformReport, Verdict};

pub struct DistrolessDetector;

fn os_release_says_distroless(r: &PlatformReport) -> bool {
    r.os_release.as_ref().and_then(|o| o.pretty_name.as_deref()).is_some_and(|n| n.contains("Distroless"))
}

impl Detector for DistrolessDetector {
    fn name(&self) -> &'static str {
        "distroless"
    }

    fn run(&self, _cx: &Context, r: &mut PlatformReport) {
        let mut reasons = Vec::new();
        for t in &r.package_managers {
            reasons.push(format!("package manager {} at {}", t.name, t.path));
        }
        for t in &r.shells {
            match &t.target {
                Some(target) => reasons.push(format!("shell {} at {} (-> {target})", t.name, t.path)),
                None => reasons.push(format!("shell {} at {}", t.name, t.path)),
            }
        }
        if r.package_managers.is_empty() {
            for db in &r.package_databases {
                let n = db
                    .packages
                    .map(|n| crate::units::count(n, "package", "packages"))
                    .unwrap_or_else(|| "count not read".into());
                reasons.push(format!("package database {} ({n}) but no package manager", db.path));
            }
        }
        let verdict = if !r.package_managers.is_empty() {
            Verdict::Full
        } else if !r.shells.is_empty() {
            Verdict::ShellOnly
        } else if matches!(r.libc.kind, LibcKind::Static | LibcKind::None)
            && r.package_databases.is_empty()
            && !os_release_says_distroless(r)
        {
            reasons.push(format!(
                "no shell, no package manager, no C library (libc: {}), no package database",
                r.libc.kind
            ));
            Verdict::Scratch
        } else {
            reasons.push(format!(
                "no shell and no package manager; C library {} ({})",
                r.libc.kind,
                if r.libc.loaders.is_empty() { "no loader".to_string() } else { r.libc.loaders.join(", ") }
            ));
            Verdict::Distroless
        };
        let says =
            r.os_release.as_ref().and_then(|o| o.pretty_name.as_deref()).is_some_and(|n| n.contains("Distroless"));
        if says {
            reasons.push("/etc/os-release says Distroless".into());
        }
        r.distroless = Distroless { verdict, reasons, os_release_says_distroless: says };
    }
}
