//! Compares the platforms of one image, or two images platform by platform: the facts of each
//! side next to each other, and what differs (files after architecture normalisation, binaries,
//! packages, directory sizes, findings). The model here is the `--format json` contract of
//! `docs/compare.md`; `render/compare_*.rs` write it for people.

pub mod normalize;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use crate::app::{self, LayerKey, Loaded, ScanOptions};
use crate::diag::Diagnostic;
use crate::elf::Linkage;
use crate::findings::{Finding, Severity, ARCH_MISSING};
use crate::fs::{MergedFs, NodeKind};
use crate::layer::pkgdb::DbKind;
use crate::layer::LayerDelta;
use crate::oci::platform::{Platform, PlatformFilter};
use crate::report::{ImageReport, Libc, PlatformReport};
use normalize::Normalizer;

/// Version of the compare JSON document (`docs/compare.md`).
pub const COMPARE_SCHEMA_VERSION: u32 = 1;

/// Directories listed in `directories`, at most.
pub const TOP_DIRECTORIES: usize = 10;
/// Directory depth down to which sizes are compared (`/usr/lib/x86_64-linux-gnu` is 3).
pub const DIRECTORY_DEPTH: usize = 4;

/// What can stop a comparison (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// An image could not be read at all.
    #[error(transparent)]
    Image(#[from] crate::error::Error),
    /// Two images without a platform to compare.
    #[error("{0}")]
    NoCommonPlatform(String),
    /// Not one or two images.
    #[error("compare takes one image (its platforms side by side) or two images, not {0}")]
    Arity(usize),
}

/// How to compare.
#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    /// How each image is read; `scan.platforms` is the `--platforms` selection.
    pub scan: ScanOptions,
    /// `--expect-platforms`: each one an image lacks is an `ARCH-MISSING` finding.
    pub expect: Vec<Platform>,
}

/// `compare` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

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
    pub distroless: String,
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
    fn of<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Self {
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
            .any(|d| d.severity == crate::diag::Severity::Error)
    }
}

/// An image read for the comparison: its report and the merged view of each target.
struct Read {
    info: ImageInfo,
    report: ImageReport,
    platforms: Vec<Platform>,
    views: Vec<MergedFs>,
}

fn read(
    label: &str,
    reference: &str,
    opts: &CompareOptions,
    known: &mut HashMap<LayerKey, LayerDelta>,
) -> Result<(Read, Loaded), CompareError> {
    let offered_len = known.len();
    let offered = std::sync::Mutex::new(std::mem::take(known));
    let loaded = app::load_with(reference, &opts.scan, &offered);
    *known = offered.into_inner().unwrap_or_default();
    let loaded = loaded?;
    let shared = offered_len - known.len();
    let mut report = app::report(&loaded, &opts.scan);
    let views: Vec<MergedFs> = loaded.resolution.targets.iter().map(|t| loaded.merged(t)).collect();
    let platforms: Vec<Platform> = loaded.resolution.targets.iter().map(|t| t.platform.clone()).collect();
    let mut findings = std::mem::take(&mut report.findings);
    findings.extend(missing_platforms(&loaded, opts));
    let info = ImageInfo {
        label: label.to_string(),
        reference: reference.to_string(),
        digest: report.digest.clone(),
        name: report.name.clone(),
        tag: report.tag.clone(),
        platforms: report.platforms.iter().map(|p| p.platform.clone()).collect(),
        platforms_not_selected: report.platforms_skipped.clone(),
        layers_read: loaded.deltas.len() - shared,
        layers_shared: shared,
        same_as_a: false,
        findings,
        diagnostics: report.diagnostics.clone(),
    };
    Ok((Read { info, report, platforms, views }, loaded))
}

/// ARCH-MISSING for each platform named with `--platforms` or `--expect-platforms` that the
/// image does not have (selected or not).
fn missing_platforms(loaded: &Loaded, opts: &CompareOptions) -> Vec<Finding> {
    let present: Vec<Platform> = loaded
        .resolution
        .targets
        .iter()
        .map(|t| t.platform.clone())
        .chain(loaded.resolution.platforms_skipped.iter().filter_map(|s| Platform::parse(s).ok()))
        .collect();
    let have = present.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ");
    let mut wanted: Vec<(&Platform, &str)> = Vec::new();
    if let PlatformFilter::Only(list) = &opts.scan.platforms {
        wanted.extend(list.iter().map(|p| (p, "asked for with --platforms")));
    }
    wanted.extend(opts.expect.iter().map(|p| (p, "expected")));
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (w, why) in wanted {
        if !present.iter().any(|p| p.matches(w)) && seen.insert(w.to_string()) {
            out.push(Finding::new(
                ARCH_MISSING,
                format!("{w} is {why} but {} has no such platform (it has: {have})", loaded.reference),
                vec![],
            ));
        }
    }
    out
}

/// The targets of an image in the order to show them: the order of `--platforms` when given,
/// else the index order.
fn order(platforms: &[Platform], filter: &PlatformFilter) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..platforms.len()).collect();
    if let PlatformFilter::Only(list) = filter {
        idx.sort_by_key(|&i| list.iter().position(|w| platforms[i].matches(w)).unwrap_or(usize::MAX));
    }
    idx
}

fn same_platform(a: &Platform, b: &Platform) -> bool {
    a.matches(b) && b.matches(a)
}

/// Compares the platforms of one image (`references` = [IMAGE]) or two images platform by
/// platform ([A, B]). Each image is read once; layers the two share (same digest and diff_id)
/// are read once too.
pub fn compare(references: &[&str], opts: &CompareOptions) -> Result<CompareReport, CompareError> {
    let mut known = HashMap::new();
    let mut diagnostics = Vec::new();
    match references {
        [one] => {
            let (a, _) = read("A", one, opts, &mut known)?;
            let ord = order(&a.platforms, &opts.scan.platforms);
            let pick: Vec<(usize, usize)> = ord.iter().map(|&t| (0, t)).collect();
            if pick.len() < 2 {
                diagnostics.push(Diagnostic::warning(
                    None,
                    None,
                    format!(
                        "{one} has one platform selected ({}): nothing to compare it with",
                        a.info.platforms.join(", ")
                    ),
                ));
            }
            let pairs: Vec<(usize, usize)> = (1..pick.len()).map(|i| (0, i)).collect();
            Ok(build(Mode::Platforms, vec![a], &pick, &pairs, diagnostics))
        }
        [ra, rb] => {
            let (a, mut loaded_a) = read("A", ra, opts, &mut known)?;
            let b = if ra == rb {
                let mut info = a.info.clone();
                info.label = "B".into();
                info.layers_read = 0;
                info.same_as_a = true;
                // The same image on both sides: read once, its views built again from its layers.
                Read {
                    info,
                    report: a.report.clone(),
                    platforms: a.platforms.clone(),
                    views: loaded_a.resolution.targets.iter().map(|t| loaded_a.merged(t)).collect(),
                }
            } else {
                // A's views are built: hand its layers over to B (moved, not copied).
                for t in &loaded_a.resolution.targets {
                    for l in &t.layers {
                        let digest = l.descriptor.digest().to_string();
                        if let Some(d) = loaded_a.deltas.remove(&digest) {
                            known.insert((digest, l.diff_id.clone()), d);
                        }
                    }
                }
                read("B", rb, opts, &mut known)?.0
            };
            let oa = order(&a.platforms, &opts.scan.platforms);
            let mut pick = Vec::new();
            let mut pairs = Vec::new();
            for &i in &oa {
                if let Some(j) = b.platforms.iter().position(|p| same_platform(&a.platforms[i], p)) {
                    pairs.push((pick.len(), pick.len() + 1));
                    pick.push((0, i));
                    pick.push((1, j));
                }
            }
            if pairs.is_empty() {
                if let ([pa], [pb]) = (a.platforms.as_slice(), b.platforms.as_slice()) {
                    diagnostics.push(Diagnostic::warning(
                        None,
                        None,
                        format!("no platform in common: comparing A {pa} with B {pb}"),
                    ));
                    pick = vec![(0, 0), (1, 0)];
                    pairs = vec![(0, 1)];
                } else {
                    return Err(CompareError::NoCommonPlatform(format!(
                        "{ra} ({}) and {rb} ({}) have no platform in common; pick one of each image with --platforms",
                        a.info.platforms.join(", "),
                        b.info.platforms.join(", ")
                    )));
                }
            }
            Ok(build(Mode::Images, vec![a, b], &pick, &pairs, diagnostics))
        }
        other => Err(CompareError::Arity(other.len())),
    }
}

fn build(
    mode: Mode,
    images: Vec<Read>,
    pick: &[(usize, usize)],
    pairs: &[(usize, usize)],
    diagnostics: Vec<Diagnostic>,
) -> CompareReport {
    let sides: Vec<Side> = pick
        .iter()
        .map(|&(i, t)| {
            let p = &images[i].report.platforms[t];
            let label = match mode {
                Mode::Platforms => p.platform.clone(),
                Mode::Images => format!("{} {}", images[i].info.label, p.platform),
            };
            side(label, i, p)
        })
        .collect();
    let comparisons = pairs
        .iter()
        .map(|&(l, r)| {
            let (li, lt) = pick[l];
            let (ri, rt) = pick[r];
            let left = View { side: &sides[l], report: &images[li].report.platforms[lt], fs: &images[li].views[lt] };
            let right = View { side: &sides[r], report: &images[ri].report.platforms[rt], fs: &images[ri].views[rt] };
            diff(l, r, &left, &right)
        })
        .collect();
    CompareReport {
        schema_version: COMPARE_SCHEMA_VERSION,
        mode,
        images: images.into_iter().map(|r| r.info).collect(),
        sides,
        comparisons,
        diagnostics,
    }
}

fn side(label: String, image: usize, p: &PlatformReport) -> Side {
    let read: Vec<u64> = p.package_databases.iter().filter_map(|d| d.packages).collect();
    Side {
        label,
        image,
        platform: p.platform.clone(),
        manifest_digest: p.manifest_digest.clone(),
        layers: p.layers.len(),
        compressed_bytes: p.layers.iter().map(|l| l.compressed_bytes).fold(0, u64::saturating_add),
        uncompressed_bytes: p.layers.iter().map(|l| l.uncompressed_bytes).fold(0, u64::saturating_add),
        files: p.files,
        bytes: p.bytes,
        libc: p.libc.clone(),
        shells: p.shells.iter().map(|t| t.name.clone()).collect(),
        package_managers: p.package_managers.iter().map(|t| t.name.clone()).collect(),
        package_databases: p
            .package_databases
            .iter()
            .map(|d| DatabaseSummary { kind: d.kind, path: d.path.clone(), packages: d.packages })
            .collect(),
        packages: (!read.is_empty()).then(|| read.iter().sum()),
        distroless: p.distroless.verdict.clone(),
        efficiency: p.bloat.efficiency,
        reclaimable_bytes: p.bloat.reclaimable_bytes,
        findings_by_severity: SeverityCounts::of(&p.findings),
        findings: p.findings.clone(),
        diagnostics: p.diagnostics.clone(),
    }
}

/// One side as the diff sees it.
struct View<'a> {
    side: &'a Side,
    report: &'a PlatformReport,
    fs: &'a MergedFs,
}

impl View<'_> {
    fn normalizer(&self) -> Normalizer {
        Normalizer::for_platform(&self.side.platform)
    }
    fn arch(&self) -> String {
        Platform::parse(&self.side.platform).map(|p| p.architecture).unwrap_or_default()
    }
}

fn diff(l: usize, r: usize, left: &View, right: &View) -> Comparison {
    let (ln, rn) = (left.normalizer(), right.normalizer());
    let le = Entries::of(left.fs, &ln);
    let re = Entries::of(right.fs, &rn);
    let files = FileDiff {
        left_paths: le.count,
        right_paths: re.count,
        normalised_paths: le.rewritten + re.rewritten,
        only_left: one_side(&le, &re),
        only_right: one_side(&re, &le),
        kind_changed: kind_changed(&le, &re),
    };
    let binaries = binaries(left, right);
    let packages = packages(left.report, right.report);
    let directories = directories(&le, &re);
    let findings = findings(left.report, &ln, right.report, &rn);
    let differences = files.only_left.len()
        + files.only_right.len()
        + files.kind_changed.len()
        + binaries.len()
        + packages.only_left.len()
        + packages.only_right.len()
        + packages.different_versions.len()
        + findings.only_left.len()
        + findings.only_right.len();
    Comparison { left: l, right: r, differences, files, binaries, packages, directories, findings }
}

/// A non-directory entry of a side, under its normalised path.
struct PathInfo {
    original: String,
    kind: &'static str,
    size: u64,
}

/// The paths of one side, normalised.
struct Entries {
    /// Normalised path (no leading `/`) → the entry.
    nondirs: BTreeMap<String, PathInfo>,
    /// Normalised directory path → the path as the image has it.
    dirs: BTreeMap<String, String>,
    /// Non-directory entries, and those whose path normalisation rewrote.
    count: u64,
    rewritten: u64,
}

impl Entries {
    fn of(fs: &MergedFs, n: &Normalizer) -> Self {
        let mut e = Entries { nondirs: BTreeMap::new(), dirs: BTreeMap::new(), count: 0, rewritten: 0 };
        for (path, node) in fs.iter() {
            if path.is_empty() {
                continue;
            }
            let key = n.path(path);
            let (kind, size) = match &node.kind {
                NodeKind::Dir => {
                    e.dirs.entry(key).or_insert_with(|| path.clone());
                    continue;
                }
                NodeKind::File(f) => ("file", f.size),
                NodeKind::Symlink(_) => ("symlink", 0),
                NodeKind::Other(_) => ("other", 0),
            };
            e.count += 1;
            if key != *path {
                e.rewritten += 1;
            }
            // Two paths of one side may meet (a loader and the symlink to it): keep the file.
            match e.nondirs.get(&key) {
                Some(have) if have.kind == "file" || kind != "file" => {}
                _ => {
                    e.nondirs.insert(key, PathInfo { original: path.clone(), kind, size });
                }
            }
        }
        e
    }

    fn has(&self, key: &str) -> bool {
        self.nondirs.contains_key(key) || self.dirs.contains_key(key)
    }
}

/// Ancestor directories of a path (no leading `/`), outermost first.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// Entries of `a` that `b` lacks. Everything under a directory `b` lacks is one `dir` entry
/// (unless it is a single entry).
fn one_side(a: &Entries, b: &Entries) -> Vec<PathEntry> {
    let mut groups: BTreeMap<&str, Vec<&PathInfo>> = BTreeMap::new();
    for (key, info) in &a.nondirs {
        if b.has(key) {
            continue;
        }
        let group = ancestors(key).find(|d| !b.has(d)).unwrap_or(key);
        groups.entry(group).or_default().push(info);
    }
    groups
        .into_iter()
        .map(|(group, members)| match members.as_slice() {
            [one] => PathEntry {
                path: format!("/{}", one.original),
                kind: one.kind.to_string(),
                entries: 1,
                bytes: one.size,
            },
            many => PathEntry {
                path: format!("/{}", a.dirs.get(group).map(String::as_str).unwrap_or(group)),
                kind: "dir".into(),
                entries: many.len() as u64,
                bytes: many.iter().map(|m| m.size).fold(0, u64::saturating_add),
            },
        })
        .collect()
}

/// Paths that are a directory on one side and something else on the other.
fn kind_changed(l: &Entries, r: &Entries) -> Vec<KindChange> {
    let mut out: Vec<KindChange> = l
        .nondirs
        .iter()
        .filter(|(k, _)| r.dirs.contains_key(*k))
        .map(|(_, i)| KindChange { path: format!("/{}", i.original), left: i.kind.into(), right: "dir".into() })
        .chain(l.dirs.iter().filter_map(|(k, orig)| {
            let i = r.nondirs.get(k)?;
            Some(KindChange { path: format!("/{orig}"), left: "dir".into(), right: i.kind.into() })
        }))
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn linkage(l: Linkage) -> &'static str {
    match l {
        Linkage::Dynamic => "dynamic",
        Linkage::Static => "static",
        Linkage::StaticPie => "static-pie",
    }
}

/// ELF files on both sides (normalised path) whose machine (native or not), linkage,
/// interpreter or NEEDED list (normalised) differ.
fn binaries(left: &View, right: &View) -> Vec<BinaryDiff> {
    let (ln, rn) = (left.normalizer(), right.normalizer());
    let (la, ra) = (left.arch(), right.arch());
    fn index<'a>(v: &View<'a>, n: &Normalizer) -> BTreeMap<String, &'a crate::report::Binary> {
        let mut m = BTreeMap::new();
        for b in &v.report.binaries {
            m.entry(n.path(&b.path)).or_insert(b);
        }
        m
    }
    let rmap = index(right, &rn);
    let mut out = Vec::new();
    for (key, lb) in index(left, &ln) {
        let Some(rb) = rmap.get(&key) else { continue };
        let facts = |b: &crate::report::Binary, arch: &str| BinaryFacts {
            machine: b.machine.clone(),
            native: b.machine == arch,
            linkage: linkage(b.linkage).into(),
            interpreter: b.interpreter.clone(),
            needed: b.needed.clone(),
        };
        let (lf, rf) = (facts(lb, &la), facts(rb, &ra));
        let machine_key = |f: &BinaryFacts| if f.native { "native".to_string() } else { f.machine.clone() };
        let needed = |f: &BinaryFacts, n: &Normalizer| f.needed.iter().map(|x| n.library(x)).collect::<BTreeSet<_>>();
        let interp = |f: &BinaryFacts, n: &Normalizer| f.interpreter.as_deref().map(|i| n.path(i));
        let mut differs = Vec::new();
        if machine_key(&lf) != machine_key(&rf) {
            differs.push("machine".to_string());
        }
        if lf.linkage != rf.linkage {
            differs.push("linkage".into());
        }
        // Same names that normalise apart (an amd64 loader asked for in an arm64 variant) are
        // the machine difference again, said above.
        if interp(&lf, &ln) != interp(&rf, &rn) && lf.interpreter != rf.interpreter {
            differs.push("interpreter".into());
        }
        let literal = |f: &BinaryFacts| f.needed.iter().cloned().collect::<BTreeSet<String>>();
        if needed(&lf, &ln) != needed(&rf, &rn) && literal(&lf) != literal(&rf) {
            differs.push("needed".into());
        }
        if !differs.is_empty() {
            out.push(BinaryDiff {
                left_path: lb.path.clone(),
                right_path: rb.path.clone(),
                differs,
                left: lf,
                right: rf,
            });
        }
    }
    out
}

fn manager(kind: DbKind) -> &'static str {
    match kind {
        DbKind::Dpkg | DbKind::DpkgStatusD => "dpkg",
        DbKind::Apk => "apk",
        DbKind::Rpm => "rpm",
    }
}

type PackageSet = BTreeMap<(&'static str, String), BTreeSet<String>>;

fn package_set(p: &PlatformReport) -> PackageSet {
    let mut m: PackageSet = BTreeMap::new();
    for db in &p.package_databases {
        for (name, version) in &db.package_list {
            m.entry((manager(db.kind), name.clone())).or_default().insert(version.clone());
        }
    }
    m
}

fn packages(left: &PlatformReport, right: &PlatformReport) -> PackageDiff {
    let (l, r) = (package_set(left), package_set(right));
    let join = |v: &BTreeSet<String>| v.iter().cloned().collect::<Vec<_>>().join(", ");
    let only = |a: &PackageSet, b: &PackageSet| {
        a.iter()
            .filter(|(k, _)| !b.contains_key(*k))
            .map(|((m, name), v)| Package { manager: m.to_string(), name: name.clone(), version: join(v) })
            .collect()
    };
    let different_versions = l
        .iter()
        .filter_map(|(k, lv)| {
            let rv = r.get(k)?;
            (lv != rv).then(|| VersionChange {
                manager: k.0.to_string(),
                name: k.1.clone(),
                left: join(lv),
                right: join(rv),
            })
        })
        .collect();
    PackageDiff { only_left: only(&l, &r), only_right: only(&r, &l), different_versions }
}

/// Bytes of regular files under each directory (normalised, depth ≤ [`DIRECTORY_DEPTH`]).
fn directory_sizes(e: &Entries) -> BTreeMap<&str, u64> {
    let mut m = BTreeMap::new();
    for (key, info) in &e.nondirs {
        for (depth, dir) in ancestors(key).enumerate() {
            if depth >= DIRECTORY_DEPTH {
                break;
            }
            let e = m.entry(dir).or_default();
            *e = u64::saturating_add(*e, info.size);
        }
    }
    m
}

/// The directories whose size differs most. A directory whose difference is all in one
/// listed subdirectory is left out (the subdirectory says it).
fn directories(left: &Entries, right: &Entries) -> Vec<DirectoryDiff> {
    let (l, r) = (directory_sizes(left), directory_sizes(right));
    let keys: BTreeSet<&str> = l.keys().chain(r.keys()).copied().collect();
    let mut all: Vec<DirectoryDiff> = keys
        .into_iter()
        .map(|k| {
            let (a, b) = (l.get(k).copied().unwrap_or(0), r.get(k).copied().unwrap_or(0));
            DirectoryDiff { path: format!("/{k}"), left_bytes: a, right_bytes: b, difference: b as i64 - a as i64 }
        })
        .filter(|d| d.difference != 0)
        .collect();
    let child_differences: HashSet<(String, i64)> = all
        .iter()
        .filter_map(|d| d.path.rsplit_once('/').map(|(parent, _)| (parent.to_string(), d.difference)))
        .collect();
    all.retain(|d| !child_differences.contains(&(d.path.clone(), d.difference)));
    all.sort_by(|a, b| b.difference.unsigned_abs().cmp(&a.difference.unsigned_abs()).then(a.path.cmp(&b.path)));
    all.truncate(TOP_DIRECTORIES);
    all
}

fn findings(left: &PlatformReport, ln: &Normalizer, right: &PlatformReport, rn: &Normalizer) -> FindingDiff {
    let key = |f: &Finding, n: &Normalizer| {
        let paths: BTreeSet<String> =
            f.paths.iter().map(|p| if p.starts_with('/') { n.path(p) } else { p.clone() }).collect();
        (f.id.clone(), paths)
    };
    let lk: HashSet<_> = left.findings.iter().map(|f| key(f, ln)).collect();
    let rk: HashSet<_> = right.findings.iter().map(|f| key(f, rn)).collect();
    FindingDiff {
        only_left: left.findings.iter().filter(|f| !rk.contains(&key(f, ln))).cloned().collect(),
        only_right: right.findings.iter().filter(|f| !lk.contains(&key(f, rn))).cloned().collect(),
    }
}

/// Writes the comparison in the chosen format.
pub fn render(r: &CompareReport, format: Format, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    match format {
        Format::Text => crate::render::compare_text::render(r, out),
        Format::Markdown => crate::render::compare_markdown::render(r, out),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, r)?;
            writeln!(out)
        }
    }
}
