//! Detectors: each reads the merged view of one platform and fills its part of the report.
//! A new detector is one file here plus one line in [`DETECTORS`].

mod binaries;
mod libc;
mod os_release;
mod packages;
mod shells;

use crate::fs::MergedFs;
use crate::limits::Limits;
use crate::oci::resolve::Target;
use crate::report::PlatformReport;

/// What a detector gets to look at.
pub struct Context<'a> {
    pub fs: &'a MergedFs,
    pub target: &'a Target,
    pub limits: &'a Limits,
}

/// One kind of fact about a platform.
pub trait Detector: Sync {
    fn name(&self) -> &'static str;
    /// Reads the context and writes into the report. Runs after the detectors before it.
    fn run(&self, cx: &Context, report: &mut PlatformReport);
}

/// Every detector, in the order they run (later ones may read what earlier ones wrote).
pub const DETECTORS: &[&dyn Detector] =
    &[&binaries::Binaries, &os_release::OsReleaseDetector, &packages::Packages, &shells::Shells, &libc::LibcDetector];

/// Runs all detectors.
pub fn run_all(cx: &Context, report: &mut PlatformReport) {
    for d in DETECTORS {
        d.run(cx, report);
    }
}

/// Directories searched for shells and package managers, in order.
pub const BIN_DIRS: &[&str] = &["bin", "usr/bin", "sbin", "usr/sbin", "usr/local/bin", "usr/local/sbin"];

/// Text content kept for a path (following symlinks), if the walker kept it.
pub fn text_of<'a>(cx: &'a Context, path: &str) -> Option<&'a [u8]> {
    let (_, node) = cx.fs.resolve(path, cx.limits.symlink_hops).ok()?;
    match &node.kind {
        crate::fs::NodeKind::File(f) => f.extra.as_ref()?.text.as_deref(),
        _ => None,
    }
}
