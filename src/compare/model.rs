//! The comparison as data: the `--format json` contract of `docs/compare.md`, which the
//! renderers in `render/compare/` write for people.

use serde::Serialize;

use crate::diag::Diagnostic;
use crate::findings::{Finding, Severity};
use crate::layer::pkgdb::DbKind;
use crate::report::{Libc, Lifecycle, Verdict};

/// Version of the compare JSON document (`docs/compare.md`).
pub const COMPARE_SCHEMA_VERSION: u32 = 1;

/// Directories listed in `directories`, at most.
pub const TOP_DIRECTORIES: usize = 10;
/// Directory depth down to which sizes are compared (`/usr/lib/x86_64-linux-gnu` is 3).
pub const DIRECTORY_DEPTH: usize = 4;

/// Whether the sides are platforms of one image or the same platforms of two images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Platforms,
    Images,
}

/// The whole comparison (`--format json`).
#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub schema_version: u32,
    pub mode: Mode,
    pub images: Vec<ImageInfo>,
    /// The columns of the side-by-side table.
    pub sides: Vec<Side>,
    /// What differs, one entry per pair of sides compared.
    pub comparisons: Vec<Comparison>,
    /// Problems with the comparison itself (no shared platform, one platform only).
    pub diagnostics: Vec<Diagnostic>,
    /// Per side, what the HTML page draws its treemap from (only when
    /// `CompareOptions::usage` asked for it; not part of the JSON).
    #[serde(skip)]
    pub usage: Vec<SideUsage>,
}

/// A side's merged view folded for the treemap, with its layers (for their build steps).
#[derive(Debug, Clone)]
pub struct SideUsage {
    pub usage: crate::detect::usage::Usage,
    pub layers: Vec<crate::report::LayerSummary>,
}

/// One image of the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    /// `A` or `B`.
    pub label: String,
    pub reference: String,
    pub digest: Option<String>,
    pub name: Option<String>,
    pub tag: Option<String>,
    /// Platforms read, and those the image has but that were not selected.
    pub platforms: Vec<String>,
    pub platforms_not_selected: Vec<String>,
    /// Distinct layers this image read, and those taken from the other image (same digest and
    /// diff_id) instead of being read again.
    pub layers_read: usize,
    pub layers_shared: usize,
    /// True when B is the same reference as A (read once).
    pub same_as_a: bool,
    /// Image-level findings: TAG-*, SRC-* as `scan` gives them, and ARCH-MISSING.
    pub findings: Vec<Finding>,
    pub diagnostics: Vec<Diagnostic>,
}

/// One column: a platform of an image.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// `linux/amd64` (one image) or `A linux/amd64` (two images).
    pub label: String,
    /// Index into `images`.
    pub image: usize,
    pub platform: String,
    pub manifest_digest: String,
    pub layers: usize,
    pub compressed_bytes: u64,
    pub uncompressed_bytes: u64,
    /// Regular files of the merged view, and their bytes.
    pub files: u64,
    pub bytes: u64,
    pub libc: Libc,
    pub shells: Vec<String>,
    pub package_managers: Vec<String>,
    pub package_databases: Vec<DatabaseSummary>,
    /// Packages over the databases that were read; `null` when none was.
    pub packages: Option<u64>,
    pub distroless: Verdict,
    /// The base OS release's lifecycle, when a distribution was read.
    pub lifecycle: Option<Lifecycle>,
    pub efficiency: f64,
    pub reclaimable_bytes: u64,
    pub findings_by_severity: SeverityCounts,
    pub findings: Vec<Finding>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A package database of a side.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DatabaseSummary {
    pub kind: DbKind,
    pub path: String,
    pub packages: Option<u64>,
}

/// Findings counted by severity.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct SeverityCounts {
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
}

impl SeverityCounts {
    pub(crate) fn of<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Self {
        let mut c = SeverityCounts::default();
        for f in findings {
            match f.severity {
                Severity::High => c.high += 1,
                Severity::Medium => c.medium += 1,
                Severity::Low => c.low += 1,
                Severity::Info => c.info += 1,
            }
        }
        c
    }
}

/// What differs between two sides (`right` against `left`).
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Indexes into `sides`.
    pub left: usize,
    pub right: usize,
    /// Entries listed in `files`, `binaries`, `packages` and `findings` (0: they agree).
    pub differences: usize,
    pub files: FileDiff,
    pub binaries: Vec<BinaryDiff>,
    pub packages: PackageDiff,
    pub directories: Vec<DirectoryDiff>,
    pub findings: FindingDiff,
}

/// Paths (not directories) present on one side only, after normalisation.
#[derive(Debug, Clone, Serialize, Default)]
pub struct FileDiff {
    /// Non-directory paths of each side, and how many of them normalisation rewrote.
    pub left_paths: u64,
    pub right_paths: u64,
    pub normalised_paths: u64,
    pub only_left: Vec<PathEntry>,
    pub only_right: Vec<PathEntry>,
    /// Paths that are a directory on one side and not on the other (`/lib` a directory here,
    /// a symlink to `usr/lib` there).
    pub kind_changed: Vec<KindChange>,
}

/// A path whose kind differs between the sides.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KindChange {
    /// As the left side has it (absolute).
    pub path: String,
    /// `dir`, `file`, `symlink` or `other` on each side.
    pub left: String,
    pub right: String,
}

/// A path on one side only, or a directory the other side lacks with everything under it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PathEntry {
    /// As the image has it (absolute).
    pub path: String,
    /// `file`, `symlink`, `other`, or `dir` for a directory the other side lacks.
    pub kind: String,
    /// Non-directory entries it stands for (1 unless `dir`).
    pub entries: u64,
    /// Bytes of the regular files among them.
    pub bytes: u64,
}

/// An ELF file on both sides whose loading facts differ.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BinaryDiff {
    pub left_path: String,
    pub right_path: String,
    /// Which of `machine`, `linkage`, `interpreter`, `needed` differ.
    pub differs: Vec<String>,
    pub left: BinaryFacts,
    pub right: BinaryFacts,
}

/// The facts of a binary that are compared.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BinaryFacts {
    pub machine: String,
    /// True when `machine` is the side's platform architecture.
    pub native: bool,
    pub linkage: String,
    pub interpreter: Option<String>,
    pub needed: Vec<String>,
}

/// Packages present on one side only or at different versions, per package manager family
/// (`dpkg` covers `status` and `status.d`).
#[derive(Debug, Clone, Serialize, Default)]
pub struct PackageDiff {
    pub only_left: Vec<Package>,
    pub only_right: Vec<Package>,
    pub different_versions: Vec<VersionChange>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Package {
    pub manager: String,
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VersionChange {
    pub manager: String,
    pub name: String,
    pub left: String,
    pub right: String,
}

/// A directory (normalised path) whose bytes differ.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DirectoryDiff {
    pub path: String,
    pub left_bytes: u64,
    pub right_bytes: u64,
    /// right − left.
    pub difference: i64,
}

/// Findings on one side only (same ID and evidence paths after normalisation = the same).
#[derive(Debug, Clone, Serialize, Default)]
pub struct FindingDiff {
    pub only_left: Vec<Finding>,
    pub only_right: Vec<Finding>,
}

impl CompareReport {
    /// Every finding: image level (ARCH-MISSING included) and every side's.
    pub fn all_findings(&self) -> impl Iterator<Item = &Finding> {
        self.images.iter().flat_map(|i| &i.findings).chain(self.sides.iter().flat_map(|s| &s.findings))
    }

    /// True when part of an image could not be read (exit code 3).
    pub fn incomplete(&self) -> bool {
        self.images
            .iter()
            .flat_map(|i| &i.diagnostics)
            .chain(self.sides.iter().flat_map(|s| &s.diagnostics))
            .any(|d| d.severity == crate::diag::Level::Error)
    }
}
