//! What long work tells its caller as it goes: layers read (bytes) and a batch's images. The
//! library never touches the terminal; the binary draws bars from these calls
//! (`src/cli/progress.rs`), and [`Silent`] ignores them.

use std::fmt;
use std::sync::Arc;

/// One piece of work being done: a layer being read, a batch's images. Dropping it ends it.
pub trait Task: Send + Sync {
    /// `n` more units done (bytes of a layer, images of a batch).
    fn advance(&self, n: u64);
    /// The work is `total` units, none of them done yet.
    fn restart(&self, _total: u64) {}
    /// What the work is doing now (`listing the tags of 3 repositories`).
    fn message(&self, _m: &str) {}
    /// A line for the user, shown with the progress (a batch's failed image).
    fn note(&self, _line: &str) {}
}

/// Receives the tasks of a scan or a batch.
pub trait Progress: Send + Sync {
    /// A layer of `bytes` compressed bytes starts being read; `label` is its short digest.
    fn layer(&self, label: &str, bytes: u64) -> Box<dyn Task>;
    /// A batch starts: its images are counted as they are planned and scanned.
    fn batch(&self) -> Box<dyn Task>;
    /// A line for the user about how the work is done (which store an image was read from).
    fn note(&self, _line: &str) {}
}

/// Ignores everything (tests, `--quiet`, a batch's inner scans).
pub struct Silent;

impl Task for Silent {
    fn advance(&self, _: u64) {}
}

impl Progress for Silent {
    fn layer(&self, _: &str, _: u64) -> Box<dyn Task> {
        Box::new(Silent)
    }
    fn batch(&self) -> Box<dyn Task> {
        Box::new(Silent)
    }
}

/// The observer an option set carries: [`Silent`] unless the caller gives another.
#[derive(Clone)]
pub struct Observer(Arc<dyn Progress>);

impl Observer {
    pub fn new(p: impl Progress + 'static) -> Self {
        Observer(Arc::new(p))
    }
}

impl Default for Observer {
    fn default() -> Self {
        Observer(Arc::new(Silent))
    }
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Observer")
    }
}

impl std::ops::Deref for Observer {
    type Target = dyn Progress;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}
