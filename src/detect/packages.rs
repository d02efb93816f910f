//! Package managers found as binaries, and package databases with their package counts. A
//! database without a manager (distroless `status.d`, an apk database without apk) is listed
//! only as a database.

use std::collections::BTreeSet;

use super::{Context, Detector, BIN_DIRS};
use crate::fs::NodeKind;
use crate::layer::pkgdb::DbKind;
use crate::report::{PackageDatabase, PlatformReport, Tool};

pub struct PackagesDetector;

/// Names of package-manager binaries.
pub const MANAGERS: &[&str] = &[
    "apt", "apt-get", "dpkg", "apk", "rpm", "dnf", "dnf5", "yum", "microdnf", "tdnf", "zypper", "pacman", "pip",
    "pip3", "npm", "yarn", "pnpm", "gem",
];

/// Finds the named executables in the usual bin directories: one entry per name, first
/// directory first. A name counts when it resolves to an executable regular file.
pub fn find_tools(cx: &Context, names: &[&str]) -> Vec<Tool> {
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    for name in names {
        for dir in BIN_DIRS {
            let path = format!("{dir}/{name}");
            if let Some(t) = tool_at(cx, name, &path) {
                if seen.insert(name.to_string()) {
                    found.push(t);
                }
                break;
            }
        }
    }
    found
}

/// A tool at `path` if it resolves to an executable regular file.
pub fn tool_at(cx: &Context, name: &str, path: &str) -> Option<Tool> {
    let (resolved, node) = cx.fs.resolve(path, cx.limits.symlink_hops).ok()?;
    if !matches!(node.kind, NodeKind::File(_)) || node.mode & 0o111 == 0 {
        return None;
    }
    let target = (resolved != path).then(|| format!("/{resolved}"));
    Some(Tool { name: name.to_string(), path: format!("/{path}"), target })
}

impl Detector for PackagesDetector {
    fn name(&self) -> &'static str {
        "packages"
    }

    fn run(&self, cx: &Context, r: &mut PlatformReport) {
        r.package_managers = find_tools(cx, MANAGERS);
        // pip3.11 and friends
        for dir in BIN_DIRS {
            for (path, _) in cx.fs.descendants(dir) {
                let name = path.rsplit('/').next().unwrap_or("");
                let versioned_pip =
                    name.strip_prefix("pip3.").is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()));
                if versioned_pip && !r.package_managers.iter().any(|t| t.name == name) {
                    if let Some(t) = tool_at(cx, name, path) {
                        r.package_managers.push(t);
                    }
                }
            }
        }
        // A `status.d` directory (distroless: one control file per package) is one database.
        let mut status_d: Option<usize> = None;
        for (path, f, _) in cx.fs.files() {
            let Some((kind, list)) = f.extra().and_then(|e| e.pkgdb.as_ref()) else { continue };
            if *kind == DbKind::DpkgStatusD {
                let i = *status_d.get_or_insert_with(|| {
                    r.package_databases.push(PackageDatabase {
                        kind: DbKind::DpkgStatusD,
                        path: "/var/lib/dpkg/status.d".into(),
                        packages: Some(0),
                        package_list: Vec::new(),
                    });
                    r.package_databases.len() - 1
                });
                let db = &mut r.package_databases[i];
                match &list.packages {
                    Some(p) => {
                        db.packages = db.packages.map(|n| n + p.len() as u64);
                        db.package_list.extend(p.iter().cloned());
                    }
                    None => db.packages = None,
                }
                continue;
            }
            r.package_databases.push(PackageDatabase {
                kind: *kind,
                path: format!("/{path}"),
                packages: list.packages.as_ref().map(|p| p.len() as u64),
                package_list: list.packages.clone().unwrap_or_default(),
            });
        }
        for db in r.package_databases.iter_mut().filter(|d| d.kind == DbKind::DpkgStatusD) {
            db.package_list.sort();
            db.package_list.dedup();
        }
    }
}
