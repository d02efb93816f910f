//! Compares the platforms of one image, or two images platform by platform: reads each image
//! (layers shared with the first image are not read twice), pairs the sides, and builds the
//! [`CompareReport`] of [`model`] with the diffs of [`diff`]. `render/compare/` writes it for
//! people.

mod diff;
pub mod model;
pub mod normalize;

pub use model::*;

use std::collections::{HashMap, HashSet};

use crate::diag::Diagnostic;
use crate::findings::{Finding, ARCH_MISSING};
use crate::fs::MergedFs;
use crate::layer::LayerDelta;
use crate::oci::platform::{Platform, PlatformFilter};
use crate::pipeline::{self, LayerCache, LayerKey, Loaded, ScanOptions};
use crate::report::{ImageReport, PlatformReport};
use diff::{diff, View};

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
    /// Keep each side's folded merged view for the HTML treemaps ([`CompareReport::usage`]).
    pub usage: bool,
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
    cache: &dyn LayerCache,
) -> Result<(Read, Loaded), CompareError> {
    let offered_len = known.len();
    let offered = std::sync::Mutex::new(std::mem::take(known));
    let loaded = pipeline::load_with(reference, &opts.scan, &pipeline::Chain { first: &offered, then: cache });
    *known = offered.into_inner().unwrap_or_default();
    let loaded = loaded?;
    let shared = offered_len - known.len();
    let mut report = pipeline::report(&loaded, &opts.scan);
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
    compare_with(references, opts, &pipeline::NoCache)
}

/// Like [`compare`], each layer read through `cache` (`compare --cache`).
pub fn compare_with(
    references: &[&str],
    opts: &CompareOptions,
    cache: &dyn LayerCache,
) -> Result<CompareReport, CompareError> {
    let mut known = HashMap::new();
    let mut diagnostics = Vec::new();
    match references {
        [one] => {
            let (a, _) = read("A", one, opts, &mut known, cache)?;
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
            Ok(build(Mode::Platforms, vec![a], &pick, &pairs, diagnostics, opts.usage))
        }
        [ra, rb] => {
            let (a, mut loaded_a) = read("A", ra, opts, &mut known, cache)?;
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
                read("B", rb, opts, &mut known, cache)?.0
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
            Ok(build(Mode::Images, vec![a, b], &pick, &pairs, diagnostics, opts.usage))
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
    usage: bool,
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
    let usage = if usage {
        pick.iter()
            .map(|&(i, t)| SideUsage {
                usage: crate::detect::usage::usage(&images[i].views[t], crate::detect::usage::MAX_NODES),
                layers: images[i].report.platforms[t].layers.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    CompareReport {
        usage,
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
        distroless: p.distroless.verdict,
        lifecycle: p.os_release.as_ref().and_then(|o| o.lifecycle.clone()),
        efficiency: p.bloat.efficiency,
        reclaimable_bytes: p.bloat.reclaimable_bytes,
        findings_by_severity: SeverityCounts::of(&p.findings),
        findings: p.findings.clone(),
        diagnostics: p.diagnostics.clone(),
    }
}
