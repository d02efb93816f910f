//! The registry-wide scan: list repositories and tags, plan the work by manifest digest
//! ([`plan`]), scan each image not stored yet, a few at a time ([`run`]), with every layer
//! analysed once and kept by digest ([`cache`], [`store`]); [`summary`] tables the store.

mod cache;
mod plan;
mod run;
pub mod store;
pub mod summary;

use std::path::PathBuf;

use serde::Serialize;

use crate::pipeline::ScanOptions;
use crate::progress::Observer;
use crate::source::registry::catalog::Catalog;
pub use cache::StoreCache;
pub use plan::{read_wanted, Shard, Wanted};
use store::{Store, StoreError};

/// Errors that stop a batch before or while it starts (one image failing never does).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Scan(#[from] crate::error::Error),
    #[error("{0}")]
    Usage(String),
}

/// How to run a batch.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    pub scan: ScanOptions,
    /// Repository globs (`*` stays within a path component, `**` crosses them); none = all.
    pub repos: Vec<String>,
    /// Tag globs; none = all.
    pub tags: Vec<String>,
    /// What to scan instead of the catalog (`--from FILE`).
    pub from: Option<Vec<Wanted>>,
    pub db: PathBuf,
    /// Images scanned at once.
    pub jobs: usize,
    pub shard: Option<Shard>,
    /// Scan again images already stored.
    pub rescan: bool,
    /// Scan again images stored as failed.
    pub retry_failed: bool,
    /// Names per catalog or tag-list request.
    pub page_size: usize,
    /// Told of the images as they are planned and scanned.
    pub progress: Observer,
}

/// What one run did.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RunStats {
    pub registry: String,
    pub store: String,
    pub shard: Option<String>,
    pub repositories: u64,
    pub tags: u64,
    /// Distinct (repository, manifest digest) pairs the tags point at.
    pub images: u64,
    /// Images scanned in this run.
    pub images_scanned: u64,
    /// Images stored in this run as a copy of the same manifest's analysis in another
    /// repository (scanned earlier in the run, or by an earlier run).
    pub images_copied: u64,
    /// Images already in the store, not scanned again.
    pub images_skipped: u64,
    /// Images, tags or repositories that failed in this run.
    pub failures: u64,
    /// Layer references of the images scanned (a layer used by 3 images counts 3).
    pub layer_references: u64,
    /// Distinct layers those images use.
    pub layers_referenced: u64,
    /// Layers fetched, decompressed and walked in this run.
    pub layers_analysed: u64,
    /// Layers taken from the store (analysed by an earlier run, or earlier in this one).
    pub layers_from_store: u64,
    /// Compressed bytes of the layers analysed.
    pub bytes_analysed: u64,
    pub seconds: f64,
}

/// A finished run: its figures, and the store errors met on the way (the layers concerned are
/// analysed again next time; the run went on).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub stats: RunStats,
    pub warnings: Vec<String>,
}

/// Runs a batch over `registry`. Failures of single repositories, tags and images are stored
/// and counted in the stats; an `Err` means the batch could not run at all.
pub fn run(registry: &str, opts: &BatchOptions) -> Result<Outcome, BatchError> {
    let started = std::time::Instant::now();
    let store = Store::open(&opts.db)?;
    let catalog = Catalog::open(registry, &opts.scan.limits, &opts.scan.registry)?;
    let registry = catalog.registry.clone();
    let shard_name = opts.shard.map(|s| s.to_string());
    let run_id = store.start_run(&registry, shard_name.as_deref())?;
    let mut stats = RunStats {
        registry: registry.clone(),
        store: store.path().to_string(),
        shard: shard_name,
        ..Default::default()
    };
    let task = opts.progress.batch();
    let groups = plan::plan(&catalog, &store, opts, &mut stats, &*task)?;
    let done = run::scan(&store, &registry, groups, opts, catalog.session(), stats.failures, &*task)?;
    drop(task);
    stats.images_scanned = done.scanned;
    stats.images_copied = done.copied;
    stats.failures += done.failures;
    stats.layer_references = done.layer_references;
    stats.layers_referenced = done.layers_referenced;
    stats.layers_analysed = done.layers_analysed;
    stats.layers_from_store = done.layers_from_store;
    stats.bytes_analysed = done.bytes_analysed;
    stats.seconds = started.elapsed().as_secs_f64();
    store.finish_run(run_id, &serde_json::to_string(&stats).unwrap_or_default())?;
    Ok(Outcome { stats, warnings: done.warnings })
}

/// Where the store goes when `--db` is not given: `$XDG_DATA_HOME/layerscope/batch.db`, else
/// `~/.local/share/layerscope/batch.db`, else `layerscope-batch.db` here.
pub fn default_db() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".local/share")));
    match base {
        Some(b) => b.join("layerscope/batch.db"),
        None => PathBuf::from("layerscope-batch.db"),
    }
}
