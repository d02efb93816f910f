//! Detectors: each reads the merged view of one platform and fills its part of the report.
//! A new detector is one file here plus one line in [`DETECTORS`].

mod binaries;
mod bloat;
mod distroless;
mod libc;
pub mod lifecycle;
mod os_release;
mod packages;
pub mod runnable;
mod security;
mod shells;
pub mod usage;

use crate::fs::MergedFs;
use crate::limits::Limits;
use crate::report::PlatformReport;
use crate::source::resolve::Target;

/// What a detector gets to look at.
pub struct Context<'a> {
    pub fs: &'a MergedFs,
    pub target: &'a Target,
    pub limits: &'a Limits,
    pub policy: &'a Policy,
}

/// Thresholds that turn measurements into findings (`--min-efficiency`, `--max-reclaimable`,
/// `--eol-soon-days`, `--stale-days`), the day they are judged on (`--now`) and the lifecycle
/// dates given with `--eol-data`.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub min_efficiency: Option<f64>,
    pub max_reclaimable: Option<u64>,
    /// The day of the scan (default: `SOURCE_DATE_EPOCH`, else today).
    pub now: Option<crate::dates::Day>,
    pub eol_soon_days: Option<u32>,
    pub stale_days: Option<u32>,
    pub eol_data: Option<std::sync::Arc<lifecycle::EolData>>,
    /// `BLOAT-DELETED-LATER` above this many bytes a layer deletes or overwrites (1 MB).
    pub deleted_later_bytes: Option<u64>,
    /// Suppressions (`--ignore`, an ignore file): matching findings are dropped and counted.
    pub ignore: Vec<crate::findings::Ignore>,
}

/// One kind of fact about a platform.
pub trait Detector: Sync {
    fn name(&self) -> &'static str;
    /// Reads the context and writes into the report. Runs after the detectors before it.
    fn run(&self, cx: &Context, report: &mut PlatformReport);
}

/// Every detector, in the order they run (later ones may read what earlier ones wrote).
pub const DETECTORS: &[&dyn Detector] = &[
    &binaries::BinariesDetector,
    &os_release::OsReleaseDetector,
    &packages::PackagesDetector,
    &lifecycle::LifecycleDetector,
    &shells::ShellsDetector,
    &libc::LibcDetector,
    &distroless::DistrolessDetector,
    &runnable::RunnableDetector,
    &security::SecurityDetector,
    &bloat::BloatDetector,
];

/// Runs all detectors, then orders the findings: the entrypoint's first, then by severity.
pub fn run_all(cx: &Context, report: &mut PlatformReport) {
    for d in DETECTORS {
        d.run(cx, report);
    }
    report
        .findings
        .sort_by(|a, b| b.entrypoint.cmp(&a.entrypoint).then(b.severity.cmp(&a.severity)).then(a.id.cmp(&b.id)));
}

/// Up to `n` paths for a finding's evidence, with a count of the rest.
pub fn evidence(mut paths: Vec<String>, n: usize) -> Vec<String> {
    paths.sort();
    paths.dedup();
    if paths.len() > n {
        let rest = paths.len() - n;
        paths.truncate(n);
        paths.push(format!("… and {rest} more"));
    }
    paths
}

/// Directories searched for shells and package managers, in order.
pub const BIN_DIRS: &[&str] = &["bin", "usr/bin", "sbin", "usr/sbin", "usr/local/bin", "usr/local/sbin"];

/// Text content kept for a path (following symlinks), if the walker kept it.
pub fn text_of<'a>(cx: &'a Context, path: &str) -> Option<&'a [u8]> {
    let (_, node) = cx.fs.resolve(path, cx.limits.symlink_hops).ok()?;
    match node.kind {
        crate::fs::NodeKind::File(f) => f.data.extra()?.text.as_deref(),
        _ => None,
    }
}
