//! Streaming readers of package databases (dpkg `status` and `status.d/`, apk `installed`,
//! rpm manifests): package names and versions, without keeping the file.

use serde::{Deserialize, Serialize};

/// Which database format a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum DbKind {
    Dpkg,
    #[serde(rename = "dpkg-status.d")]
    DpkgStatusD,
    Apk,
    Rpm,
}

/// Picks the database kind for a path in the image (no leading slash).
pub fn kind_for(path: &str) -> Option<DbKind> {
    match path {
        "var/lib/dpkg/status" => Some(DbKind::Dpkg),
        "lib/apk/db/installed" => Some(DbKind::Apk),
        "var/lib/rpm/Packages"
        | "var/lib/rpm/Packages.db"
        | "var/lib/rpm/rpmdb.sqlite"
        | "usr/lib/sysimage/rpm/Packages"
        | "usr/lib/sysimage/rpm/Packages.db"
        | "usr/lib/sysimage/rpm/rpmdb.sqlite"
        | "var/lib/rpmmanifest/container-manifest-2" => Some(DbKind::Rpm),
        p if p.starts_with("var/lib/dpkg/status.d/") && !p.ends_with(".md5sums") && p.matches('/').count() == 4 => {
            Some(DbKind::DpkgStatusD)
        }
        _ => None,
    }
}

/// What a database file lists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PkgList {
    /// Installed packages: (name, version). `None` when the format is not read (binary rpmdb).
    pub packages: Option<Vec<(String, String)>>,
}

const MAX_LINE: usize = 64 << 10;

/// Parses a database file fed in chunks.
pub struct PkgDbParser {
    kind: DbKind,
    path_is_rpm_manifest: bool,
    line: Vec<u8>,
    name: Option<String>,
    version: Option<String>,
    installed: bool,
    packages: Vec<(String, String)>,
}

impl PkgDbParser {
    pub fn new(kind: DbKind, path: &str) -> Self {
        PkgDbParser {
            kind,
            path_is_rpm_manifest: path.ends_with("container-manifest-2"),
            line: Vec::new(),
            name: None,
            version: None,
            installed: true,
            packages: Vec::new(),
        }
    }

    fn text_format(&self) -> bool {
        self.kind != DbKind::Rpm || self.path_is_rpm_manifest
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        if !self.text_format() {
            return;
        }
        for &b in chunk {
            if b == b'\n' {
                let line = std::mem::take(&mut self.line);
                self.line_done(&line);
                self.line = line;
                self.line.clear();
            } else if self.line.len() < MAX_LINE {
                self.line.push(b);
            }
        }
    }

    fn end_stanza(&mut self) {
        if let Some(name) = self.name.take() {
            if self.installed {
                self.packages.push((name, self.version.take().unwrap_or_default()));
            }
        }
        self.version = None;
        self.installed = true;
    }

    fn line_done(&mut self, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\r');
        if self.path_is_rpm_manifest {
            let mut cols = line.split('\t');
            if let (Some(n), Some(v)) = (cols.next(), cols.next()) {
                if !n.is_empty() {
                    self.packages.push((n.to_string(), v.to_string()));
                }
            }
            return;
        }
        if line.is_empty() {
            self.end_stanza();
            return;
        }
        match self.kind {
            DbKind::Dpkg | DbKind::DpkgStatusD => {
                if let Some(v) = line.strip_prefix("Package:") {
                    self.name = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("Version:") {
                    self.version = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("Status:") {
                    self.installed = v.trim().ends_with(" installed") && !v.contains("not-installed");
                }
            }
            DbKind::Apk => {
                if let Some(v) = line.strip_prefix("P:") {
                    self.name = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("V:") {
                    self.version = Some(v.trim().to_string());
                }
            }
            DbKind::Rpm => {}
        }
    }

    pub fn finish(mut self) -> PkgList {
        if !self.text_format() {
            return PkgList { packages: None };
        }
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line);
        }
        self.end_stanza();
        PkgList { packages: Some(self.packages) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_counts_installed_only() {
        let text = b"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13\n";
        for split in [0, 7, 40, text.len()] {
            let mut p = PkgDbParser::new(DbKind::Dpkg, "var/lib/dpkg/status");
            p.feed(&text[..split]);
            p.feed(&text[split..]);
            let pk = p.finish().packages.unwrap();
            assert_eq!(pk, vec![("libc6".into(), "2.36-9".into()), ("zlib1g".into(), "1:1.2.13".into())]);
        }
    }

    #[test]
    fn apk_and_kinds() {
        let mut p = PkgDbParser::new(DbKind::Apk, "lib/apk/db/installed");
        p.feed(b"C:Q1abc\nP:musl\nV:1.2.4-r2\n\nP:busybox\nV:1.36.1-r5\n\n");
        assert_eq!(p.finish().packages.unwrap().len(), 2);
        assert_eq!(kind_for("var/lib/dpkg/status.d/base"), Some(DbKind::DpkgStatusD));
        assert_eq!(kind_for("var/lib/dpkg/status.d/base.md5sums"), None);
        assert_eq!(kind_for("var/lib/rpm/rpmdb.sqlite"), Some(DbKind::Rpm));
    }
}
