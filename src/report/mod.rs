//! The report model: what a scan says about an image, per platform. Serialised as the JSON
//! contract of DESIGN.md §3.1 (`schema_version` 1); extra fields are additions to it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diag::{Diagnostic, Severity};
use crate::elf::{ElfKind, Linkage};
use crate::layer::LayerSummary;

pub const SCHEMA_VERSION: u32 = 1;

/// The report for one image reference.
#[derive(Debug, Clone, Serialize)]
pub struct ImageReport {
    pub schema_version: u32,
    pub reference: String,
    /// The pin: digest of what the reference resolved to.
    pub digest: Option<String>,
    pub platforms: Vec<PlatformReport>,
    /// Image-level findings (TAG-*, SRC-*, ARCH-* about the index).
    pub findings: Vec<Finding>,
    /// Attestation manifests that were skipped.
    pub attestations_skipped: usize,
    /// Platforms present in the image but not selected.
    pub platforms_skipped: Vec<String>,
    /// Problems with the image as a whole (a platform that could not be read).
    pub diagnostics: Vec<Diagnostic>,
}

impl ImageReport {
    /// True when any part of the scan failed (exit code 3).
    pub fn incomplete(&self) -> bool {
        self.diagnostics
            .iter()
            .chain(self.platforms.iter().flat_map(|p| &p.diagnostics))
            .any(|d| d.severity == Severity::Error)
    }
}

/// A finding: a stable ID, a severity, a one-line message and the evidence paths.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    pub id: String,
    pub severity: String,
    pub message: String,
    pub paths: Vec<String>,
}

/// Everything known about one platform of the image.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PlatformReport {
    pub platform: String,
    pub manifest_digest: String,
    pub config_digest: String,
    pub created: Option<String>,
    pub os_release: Option<OsRelease>,
    pub annotations: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub layers: Vec<LayerSummary>,
    /// Regular files in the merged view, and their bytes.
    pub files: u64,
    pub bytes: u64,
    pub libc: Libc,
    pub elf_summary: ElfSummary,
    pub binaries: Vec<Binary>,
    pub shells: Vec<Tool>,
    pub package_managers: Vec<Tool>,
    pub package_databases: Vec<PackageDatabase>,
    pub findings: Vec<Finding>,
    pub diagnostics: Vec<Diagnostic>,
}

/// `/etc/os-release` facts.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct OsRelease {
    pub id: Option<String>,
    pub version_id: Option<String>,
    pub pretty_name: Option<String>,
}

/// The C library verdict of a platform.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Libc {
    /// `glibc`, `musl`, `static`, `none` or `mixed`.
    pub kind: String,
    /// Version of the C library present (glibc from libc.so.6, musl from its package).
    pub version: Option<String>,
    /// Where `version` was read from.
    pub version_source: Option<String>,
    pub loaders: Vec<String>,
    pub newest_glibc_required: Option<String>,
    /// The binary that needs `newest_glibc_required`.
    pub newest_glibc_required_by: Option<String>,
}

/// Counts over the ELF files of a platform.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct ElfSummary {
    pub total: u64,
    pub executables: u64,
    pub shared_libraries: u64,
    pub by_linkage: BTreeMap<String, u64>,
    pub by_machine: BTreeMap<String, u64>,
    pub go_binaries: u64,
    pub stripped: u64,
    pub unstripped: u64,
}

/// One ELF file of the merged view.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Binary {
    pub path: String,
    pub machine: String,
    pub kind: ElfKind,
    pub linkage: Linkage,
    pub interpreter: Option<String>,
    pub needed: Vec<String>,
    pub stripped: bool,
    pub bits: u8,
    pub soname: Option<String>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    pub glibc_required: Option<String>,
    pub go_version: Option<String>,
    pub debug_bytes: u64,
    pub size: u64,
    pub layer: usize,
}

/// A shell or package manager found as a binary.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tool {
    pub name: String,
    pub path: String,
    /// What the path resolves to, when it is a link (`/bin/busybox` for `/bin/sh`).
    pub target: Option<String>,
}

/// A package database file and what it lists.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PackageDatabase {
    pub kind: crate::layer::pkgdb::DbKind,
    pub path: String,
    /// Installed packages; `null` where the format is not read (binary rpmdb).
    pub packages: Option<u64>,
    /// (name, version) of every package listed, for comparisons.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub package_list: Vec<(String, String)>,
}
