//! The report model: what a scan says about an image, per platform. Serialised as the JSON
//! contract of docs/report.md §3.1 (`schema_version` 1); extra fields are additions to it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diag::{Diagnostic, Level};
use crate::elf::ElfInfo;

pub const SCHEMA_VERSION: u32 = 1;

/// The report for one image reference.
#[derive(Debug, Clone, Serialize)]
pub struct ImageReport {
    pub schema_version: u32,
    /// The layerscope version that wrote the report.
    pub layerscope_version: String,
    pub reference: String,
    /// The pin: digest of what the reference resolved to.
    pub digest: Option<String>,
    /// The image name and tag the source records or the reference names.
    pub name: Option<String>,
    pub tag: Option<String>,
    pub platforms: Vec<PlatformReport>,
    /// Image-level findings (TAG-*, SRC-*, ARCH-* about the index).
    pub findings: Vec<Finding>,
    /// Attestation manifests (skipped as images), with the manifest each describes.
    pub attestations: Vec<Attestation>,
    pub attestations_skipped: usize,
    /// Platforms present in the image but not selected.
    pub platforms_skipped: Vec<String>,
    /// Problems with the image as a whole (a platform that could not be read).
    pub diagnostics: Vec<Diagnostic>,
    /// What the registry said, for images read from one (absent for local sources).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistryFacts>,
    /// Findings dropped by suppressions (`--ignore`, `.layerscopeignore`), image and platforms.
    #[serde(skip_serializing_if = "is_zero")]
    pub suppressed: usize,
    /// The `--fail-on` verdict, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyResult>,
    /// Which digests were checked (`--verify`): absent when every one was (`full`), `"blobs"`
    /// when compressed layers' diff_ids were not.
    #[serde(skip_serializing_if = "crate::layer::Verify::is_full")]
    pub verification: crate::layer::Verify,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What `--fail-on` made of the findings (docs/report.md §2.5).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PolicyResult {
    /// The rule as given, spelled out (`at or above high, or RUN-AS-ROOT`).
    pub fail_on: String,
    /// True when no finding trips it.
    pub passed: bool,
    /// The IDs of the findings that trip it, each once, in report order.
    pub failing: Vec<String>,
}

impl ImageReport {
    /// Judges the findings against `--fail-on` and records the verdict in the report.
    pub fn judge(&mut self, rule: &crate::findings::FailOn) -> &PolicyResult {
        let mut failing: Vec<String> = Vec::new();
        for f in self.all_findings().filter(|f| rule.trips(f)) {
            if !failing.contains(&f.id) {
                failing.push(f.id.clone());
            }
        }
        self.policy.insert(PolicyResult { fail_on: rule.to_string(), passed: failing.is_empty(), failing })
    }
}

/// An attestation manifest of the index.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Attestation {
    pub digest: String,
    pub describes: Option<String>,
}

impl ImageReport {
    /// Every finding, image-level and per platform.
    pub fn all_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().chain(self.platforms.iter().flat_map(|p| &p.findings))
    }

    /// True when any part of the scan failed (exit code 3).
    pub fn incomplete(&self) -> bool {
        self.diagnostics
            .iter()
            .chain(self.platforms.iter().flat_map(|p| &p.diagnostics))
            .any(|d| d.severity == Level::Error)
    }
}

pub use crate::findings::Finding;
pub use crate::source::registry::RegistryFacts;

/// Everything known about one platform of the image.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PlatformReport {
    pub platform: String,
    pub manifest_digest: String,
    pub config_digest: String,
    pub created: Option<String>,
    /// How old the image is (docs/report.md §3.13).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_age: Option<ImageAge>,
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
    pub distroless: Distroless,
    pub run: Run,
    pub bloat: Bloat,
    pub findings: Vec<Finding>,
    pub diagnostics: Vec<Diagnostic>,
}

/// `/etc/os-release` facts.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct OsRelease {
    pub id: Option<String>,
    pub version_id: Option<String>,
    pub pretty_name: Option<String>,
    /// `VERSION_CODENAME` (read, not reported).
    #[serde(skip)]
    pub version_codename: Option<String>,
    /// The release's support dates and status on the day of the scan (docs/report.md §3.13).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
}

/// Where a release stands in its distribution's support schedule.
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleStatus {
    /// Regular security support.
    Supported,
    /// Regular support is over; long-term support (Debian LTS, Ubuntu ESM, RHEL ELS) is on.
    Lts,
    /// Past its end of life: no fixes at all.
    Ended,
    /// The release is not in the table or the file.
    #[default]
    Unknown,
}

impl LifecycleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStatus::Supported => "supported",
            LifecycleStatus::Lts => "lts",
            LifecycleStatus::Ended => "ended",
            LifecycleStatus::Unknown => "unknown",
        }
    }
}

/// The base OS release's lifecycle.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Lifecycle {
    /// os-release `ID` (`centos-stream` for CentOS Stream).
    pub distro: String,
    pub release: String,
    pub status: LifecycleStatus,
    /// End of regular security support, `YYYY-MM-DD`.
    pub support_ends: Option<String>,
    /// End of life (of every kind of support), `YYYY-MM-DD`.
    pub eol: Option<String>,
    /// Where the dates come from: `built-in table (DATE)` or `file PATH`; null when unknown.
    pub source: Option<String>,
}

/// How old the image is, from the config's `created`.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct ImageAge {
    /// Days between `created` and the day of the scan; null when not judged.
    pub days: Option<i64>,
    pub stale: bool,
    /// Why the age was not judged, or what is odd about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Which C library a platform's binaries use (docs/report.md §3.3).
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LibcKind {
    /// Loaders and interpreters are glibc's.
    Glibc,
    /// Loaders and interpreters are musl's.
    Musl,
    /// No loader; static executables only.
    Static,
    /// No loader and no static executable.
    #[default]
    None,
    /// Both glibc and musl loaders or interpreters.
    Mixed,
}

impl LibcKind {
    /// The name in the report (`glibc`, `static`).
    pub fn as_str(self) -> &'static str {
        match self {
            LibcKind::Glibc => "glibc",
            LibcKind::Musl => "musl",
            LibcKind::Static => "static",
            LibcKind::None => "none",
            LibcKind::Mixed => "mixed",
        }
    }
}

impl std::fmt::Display for LibcKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How distroless a platform is (docs/report.md §3.6).
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// No shell, no package manager, no C library, no package database.
    Scratch,
    /// No shell and no package manager.
    #[default]
    Distroless,
    /// A shell, no package manager.
    ShellOnly,
    /// A package manager.
    Full,
}

impl Verdict {
    /// The name in the report (`shell-only`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Scratch => "scratch",
            Verdict::Distroless => "distroless",
            Verdict::ShellOnly => "shell-only",
            Verdict::Full => "full",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The C library verdict of a platform.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Libc {
    pub kind: LibcKind,
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

/// One ELF file of the merged view: its path, its ELF facts (flattened into the same JSON
/// object), its size and the layer that wrote it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Binary {
    pub path: String,
    #[serde(flatten)]
    pub elf: ElfInfo,
    pub size: u64,
    pub layer: usize,
}

impl std::ops::Deref for Binary {
    type Target = ElfInfo;
    fn deref(&self) -> &ElfInfo {
        &self.elf
    }
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

/// Distroless verdict: `scratch`, `distroless`, `shell-only` or `full`, with what decided it.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Distroless {
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    /// `/etc/os-release` names the image Distroless (Google's distroless images do).
    pub os_release_says_distroless: bool,
}

/// What the container starts, from the config, and whether it can start.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Run {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub path: Option<String>,
    /// True when the command is in shell form (`/bin/sh -c …`).
    pub shell_form: bool,
    /// The file the first word resolves to (through PATH and symlinks).
    pub program: Option<String>,
    /// The interpreter of a script program (`#!` line).
    pub script_interpreter: Option<String>,
    /// True when every check on the program passed.
    pub can_start: bool,
}

/// Wasted and reclaimable space.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Bloat {
    /// dive's formula per file: Σ smallest copy / Σ all copies (1.0 when nothing was written).
    pub efficiency: f64,
    /// Σ over paths of (all copies − the smallest).
    pub reclaimable_bytes: u64,
    /// Content removed by a later layer (whiteouts, opaque directories, replaced directories).
    pub deleted_bytes: u64,
    /// Identical content at different paths of the merged view: (copies − 1) × size.
    pub duplicate_bytes: u64,
    pub duplicate_groups: Vec<DuplicateGroup>,
    /// Same content written again (chmod/chown in a later layer).
    pub metadata_only_rewrites: Rewrites,
    pub categories: Vec<Category>,
    pub largest_files: Vec<LargeFile>,
    pub base: BaseBoundary,
    /// Uncompressed bytes of the layers after the base image.
    pub user_bytes: u64,
    /// The files that make up `reclaimable_bytes`, biggest first (at most 100).
    pub reclaimable_files: Vec<ReclaimableFile>,
    /// How many files have reclaimable bytes.
    pub reclaimable_files_total: u64,
}

/// A file whose copies across layers waste bytes.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct ReclaimableFile {
    pub path: String,
    /// Σ of all copies − the smallest (0 when it is deleted): this file's part of
    /// `reclaimable_bytes`.
    pub bytes: u64,
    /// Copies written (layers that wrote it).
    pub copies: u64,
    /// The indices of the layers that wrote it.
    pub layers: Vec<usize>,
    /// The index of the layer that deleted it, when it is deleted.
    pub removed_by: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct DuplicateGroup {
    pub bytes: u64,
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Rewrites {
    pub files: u64,
    pub bytes: u64,
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Category {
    pub name: String,
    pub bytes: u64,
    pub files: u64,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct LargeFile {
    pub path: String,
    pub bytes: u64,
    pub layer: usize,
}

/// Where the base image ends.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct BaseBoundary {
    /// `annotations`, `history` or `first-layer`.
    pub method: String,
    pub name: Option<String>,
    pub digest: Option<String>,
    /// Number of layers that belong to the base image.
    pub layers: usize,
}

/// Summary of a layer for reports.
#[derive(Debug, Clone, Serialize)]
pub struct LayerSummary {
    pub digest: String,
    pub media_type: String,
    pub compressed_bytes: u64,
    pub uncompressed_bytes: u64,
    pub files_added: u64,
    pub files_changed: u64,
    pub files_deleted: u64,
    /// The build step that made the layer (the config history's `created_by`), matched by
    /// skipping `empty_layer` entries; null when the history does not line up with the layers.
    pub created_by: Option<String>,
    pub comment: Option<String>,
    /// Bytes of file content this layer wrote that a later layer overwrites or deletes.
    pub lost_bytes: u64,
}
