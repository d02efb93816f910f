//! Step 4 of a batch: scan the planned images, `jobs` at a time, each result stored in its own
//! transaction; an image whose manifest is already stored fine (another repository) is copied.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::cache::StoreCache;
use super::store::{Store, StoreError};
use super::BatchOptions;
use crate::pipeline::{self, ScanOptions};
use crate::progress::{Observer, Task};
use crate::report::ImageReport;
use crate::source::registry::{RegistryOptions, Session};

/// What the workers share while they scan.
struct Shared<'a> {
    store: &'a Store,
    registry: &'a str,
    rescan: bool,
    scan: ScanOptions,
    cache: StoreCache<'a>,
    queue: Mutex<VecDeque<(String, Vec<String>)>>,
    failures: AtomicU64,
    scanned: AtomicU64,
    copied: AtomicU64,
    /// Layer references of the images scanned, and the distinct layers among them.
    referenced: Mutex<(u64, HashSet<String>)>,
    /// The first store error: it stops every worker.
    fatal: Mutex<Option<StoreError>>,
    task: &'a dyn Task,
    /// Failures counted before the scan (repositories, tags), for the progress message.
    earlier_failures: u64,
}

/// What the scan step did.
pub(super) struct Scanned {
    pub failures: u64,
    pub scanned: u64,
    pub copied: u64,
    pub layer_references: u64,
    pub layers_referenced: u64,
    pub layers_analysed: u64,
    pub layers_from_store: u64,
    pub bytes_analysed: u64,
    /// Store errors met on the way (the layer is analysed again next time).
    pub warnings: Vec<String>,
}

/// Scans `groups` (manifest digest → repositories), `opts.jobs` images at a time, on the
/// catalog's `session` (its connections and tokens' credentials).
pub(super) fn scan(
    store: &Store,
    registry: &str,
    groups: std::collections::BTreeMap<String, Vec<String>>,
    opts: &BatchOptions,
    session: Arc<Session>,
    earlier_failures: u64,
    task: &dyn Task,
) -> Result<Scanned, StoreError> {
    let queue: VecDeque<(String, Vec<String>)> = groups.into_iter().collect();
    task.restart(queue.iter().map(|(_, repos)| repos.len() as u64).sum());
    let shared = Shared {
        store,
        registry,
        rescan: opts.rescan,
        scan: ScanOptions {
            progress: Observer::default(),
            registry: RegistryOptions { session: Some(session), ..opts.scan.registry.clone() },
            ..opts.scan.clone()
        },
        cache: StoreCache::new(store, &opts.scan),
        queue: Mutex::new(queue),
        failures: AtomicU64::new(0),
        scanned: AtomicU64::new(0),
        copied: AtomicU64::new(0),
        referenced: Mutex::new((0, HashSet::new())),
        fatal: Mutex::new(None),
        task,
        earlier_failures,
    };
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1) {
            scope.spawn(|| worker(&shared));
        }
    });
    if let Some(e) = shared.fatal.into_inner().ok().flatten() {
        return Err(e);
    }
    let (refs, distinct) = shared.referenced.into_inner().unwrap_or_default();
    Ok(Scanned {
        failures: shared.failures.into_inner(),
        scanned: shared.scanned.into_inner(),
        copied: shared.copied.into_inner(),
        layer_references: refs,
        layers_referenced: distinct.len() as u64,
        warnings: shared.cache.errors.lock().map(|v| v.clone()).unwrap_or_default(),
        layers_analysed: shared.cache.analysed.into_inner(),
        layers_from_store: shared.cache.from_store.into_inner(),
        bytes_analysed: shared.cache.bytes.into_inner(),
    })
}

/// Takes manifests off the queue until it is empty or a store error stops the run.
fn worker(s: &Shared) {
    loop {
        let job = match s.queue.lock() {
            Ok(mut q) => q.pop_front(),
            Err(_) => None,
        };
        let Some((digest, repos)) = job else { break };
        if let Err(e) = one_manifest(s, &digest, &repos) {
            if let Ok(mut f) = s.fatal.lock() {
                f.get_or_insert(e);
            }
            if let Ok(mut q) = s.queue.lock() {
                q.clear();
            }
            return;
        }
        s.task.message(&format!(
            "{} layers analysed, {} from the store, {} fetched, {} failed",
            s.cache.analysed.load(Ordering::Relaxed),
            s.cache.from_store.load(Ordering::Relaxed),
            crate::units::human(s.cache.bytes.load(Ordering::Relaxed)),
            s.failures.load(Ordering::Relaxed) + s.earlier_failures
        ));
    }
}

/// Stores one manifest for each repository that has it: copied from a repository where it is
/// stored fine (unless `--rescan`), else scanned (and then copied to the others).
fn one_manifest(s: &Shared, digest: &str, repos: &[String]) -> Result<(), StoreError> {
    let mut stored_in = if s.rescan { None } else { s.store.image_with_digest(s.registry, digest)? };
    for repo in repos {
        let failed = match &stored_in {
            Some(from) => {
                s.store.copy_image(s.registry, from, repo, digest)?;
                s.copied.fetch_add(1, Ordering::Relaxed);
                false
            }
            None => {
                let failed = scan_one(s, repo, digest)?;
                if !failed {
                    stored_in = Some(repo.clone());
                }
                failed
            }
        };
        if failed {
            s.failures.fetch_add(1, Ordering::Relaxed);
        }
        s.task.advance(1);
    }
    Ok(())
}

/// Scans `repo@digest` and stores its report or its failure; true when it failed.
fn scan_one(s: &Shared, repo: &str, digest: &str) -> Result<bool, StoreError> {
    let reference = format!("docker://{}/{repo}@{digest}", s.registry);
    let outcome = pipeline::load_with(&reference, &s.scan, &s.cache).map(|loaded| {
        if let Ok(mut r) = s.referenced.lock() {
            for t in &loaded.resolution.targets {
                r.0 += t.layers.len() as u64;
                r.1.extend(t.layers.iter().map(|l| l.descriptor.digest().to_string()));
            }
        }
        pipeline::report(&loaded, &s.scan)
    });
    let failed = match &outcome {
        Ok(report) => errors(report).next().is_some(),
        Err(_) => true,
    };
    s.scanned.fetch_add(1, Ordering::Relaxed);
    if failed {
        s.task.note(&format!("layerscope: {reference}: failed ({})", first_error(&outcome)));
    }
    match &outcome {
        Ok(report) => s.store.put_report(s.registry, repo, digest, report),
        Err(e) => s.store.put_failure(s.registry, repo, digest, &e.to_string()),
    }?;
    Ok(failed)
}

/// The error diagnostics of a report, each naming its platform, layer and path.
pub(super) fn errors(r: &ImageReport) -> impl Iterator<Item = String> + '_ {
    let image = r.diagnostics.iter().map(|d| (None, d));
    let platforms = r.platforms.iter().flat_map(|p| p.diagnostics.iter().map(move |d| (Some(p.platform.as_str()), d)));
    image.chain(platforms).filter(|(_, d)| d.severity == crate::diag::Level::Error).map(|(platform, d)| {
        let mut s = String::new();
        for (label, v) in [("", platform), ("layer ", d.layer.as_deref()), ("", d.path.as_deref())] {
            if let Some(v) = v {
                s.push_str(&format!("{label}{v}: "));
            }
        }
        s.push_str(&d.message);
        s
    })
}

fn first_error(outcome: &crate::error::Result<ImageReport>) -> String {
    match outcome {
        Err(e) => e.to_string(),
        Ok(r) => errors(r).next().unwrap_or_default(),
    }
}
