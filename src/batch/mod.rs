//! The registry-wide scan: list repositories and tags, plan the work by manifest digest, scan
//! each image not stored yet (a few at a time), and keep everything in the store. A layer
//! shared by many images is analysed once per run and, through the store, once ever.

pub mod store;
pub mod summary;

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};

use globset::{GlobSet, GlobSetBuilder};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::app::{self, LayerCache, LayerKey, ScanOptions};
use crate::layer::LayerDelta;
use crate::source::registry::catalog::Catalog;
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

/// A stable share of the repositories: those whose name hashes to `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based, as Kubernetes' `JOB_COMPLETION_INDEX`.
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Parses `K/N` with 0 ≤ K < N.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (k, n) = s.split_once('/').ok_or_else(|| format!("{s:?}: a shard is K/N, e.g. 0/4"))?;
        let index: u64 = k.trim().parse().map_err(|_| format!("{s:?}: K is not a number"))?;
        let count: u64 = n.trim().parse().map_err(|_| format!("{s:?}: N is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!(
                "{s:?}: K counts from 0 and must be below N (0/{count} … {}/{count})",
                count.max(1) - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// True when `repository` belongs to this shard (SHA-256 of the name: the same on every
    /// machine and in every version).
    pub fn contains(&self, repository: &str) -> bool {
        let h = Sha256::digest(repository.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&h[..8]);
        u64::from_be_bytes(first) % self.count == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One line of `--from FILE`: a repository, with a tag or digest or neither (every tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub repository: String,
    /// A tag or a digest; `None` lists the repository's tags.
    pub reference: Option<String>,
}

/// Reads `--from FILE`: one `REPOSITORY[:TAG|@DIGEST]` per line, optionally prefixed with the
/// registry (`REGISTRY/REPOSITORY:TAG`); blank lines and `#` comments skipped.
pub fn read_wanted(path: &Path, registry: &str) -> Result<Vec<Wanted>, BatchError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| BatchError::Usage(format!("--from {}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |m: &str| BatchError::Usage(format!("--from {} line {}: {line:?}: {m}", path.display(), n + 1));
        let rest = line.strip_prefix("docker://").unwrap_or(line);
        let rest = rest.strip_prefix(&format!("{registry}/")).unwrap_or(rest);
        let (repository, reference) = if let Some((r, d)) = rest.split_once('@') {
            (r, Some(d.to_string()))
        } else {
            match rest.rsplit_once(':') {
                Some((r, t)) if !t.contains('/') => (r, Some(t.to_string())),
                _ => (rest, None),
            }
        };
        if repository.is_empty()
            || repository.split('/').any(|c| c.is_empty())
            || !repository.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c))
        {
            return Err(bad("not a repository of this registry (lower-case name, optional :TAG or @DIGEST)"));
        }
        if let Some(d) = reference.as_deref().filter(|d| d.contains(':')) {
            crate::source::registry::reference::check_digest(d).map_err(|m| bad(&m))?;
        }
        out.push(Wanted { repository: repository.to_string(), reference });
    }
    Ok(out)
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
    /// A progress bar on stderr (only when it is a terminal).
    pub progress: bool,
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

/// The name of the analyser a stored layer came from: a layer analysed by another version,
/// or with other limits, is analysed again.
fn analyser(opts: &ScanOptions) -> String {
    let limits = format!("{:?}", opts.limits);
    let h = Sha256::digest(limits.as_bytes());
    format!("layerscope {} delta 1 limits {:x}", env!("CARGO_PKG_VERSION"), u64::from_be_bytes(first8(&h)))
}

fn first8(h: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    for (d, s) in a.iter_mut().zip(h) {
        *d = *s;
    }
    a
}

/// The layer cache of a batch: the store, with each layer analysed by one thread at a time
/// (another image wanting it waits, then reads it from the store).
struct StoreCache<'a> {
    store: &'a Store,
    analyser: String,
    busy: Mutex<HashSet<LayerKey>>,
    done: Condvar,
    analysed: AtomicU64,
    from_store: AtomicU64,
    bytes: AtomicU64,
    /// Store errors met (a layer not kept is analysed again next time; the batch goes on).
    errors: Mutex<Vec<String>>,
}

/// Takes a layer off the busy set when dropped, even if the analysis panicked.
struct Claim<'a, 'b> {
    cache: &'a StoreCache<'b>,
    key: LayerKey,
}

impl Drop for Claim<'_, '_> {
    fn drop(&mut self) {
        if let Ok(mut busy) = self.cache.busy.lock() {
            busy.remove(&self.key);
        }
        self.cache.done.notify_all();
    }
}

impl StoreCache<'_> {
    fn stored(&self, key: &LayerKey) -> Option<LayerDelta> {
        match self.store.get_layer(key, &self.analyser) {
            Ok(d) => d,
            Err(e) => {
                self.note(e.to_string());
                None
            }
        }
    }

    fn note(&self, m: String) {
        if let Ok(mut v) = self.errors.lock() {
            v.push(m);
        }
    }
}

impl LayerCache for StoreCache<'_> {
    fn get_or_read(&self, key: &LayerKey, read: &dyn Fn() -> LayerDelta) -> LayerDelta {
        loop {
            if let Some(d) = self.stored(key) {
                self.from_store.fetch_add(1, Ordering::Relaxed);
                return d;
            }
            let Ok(mut busy) = self.busy.lock() else { return read() };
            if !busy.contains(key) {
                busy.insert(key.clone());
                break;
            }
            // Another image is analysing this layer: wait for it, then look in the store again.
            while busy.contains(key) {
                busy = match self.done.wait(busy) {
                    Ok(b) => b,
                    Err(_) => return read(),
                };
            }
        }
        let _claim = Claim { cache: self, key: key.clone() };
        // It may have been stored between the look and the claim.
        if let Some(d) = self.stored(key) {
            self.from_store.fetch_add(1, Ordering::Relaxed);
            return d;
        }
        let delta = read();
        self.analysed.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(delta.compressed_bytes, Ordering::Relaxed);
        if delta.complete && !delta.skipped {
            if let Err(e) = self.store.put_layer(key, &self.analyser, &delta) {
                self.note(e.to_string());
            }
        }
        delta
    }
}

/// An image to scan: a repository and the manifest digest its tags point at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Job {
    repository: String,
    digest: String,
}

/// Runs a batch over `registry`. Failures of single repositories, tags and images are stored
/// and counted in the stats; an `Err` means the batch could not run at all.
pub fn run(registry: &str, opts: &BatchOptions) -> Result<RunStats, BatchError> {
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
    let bar = progress_bar(opts.progress);

    // 1. What to look at: repositories (and maybe tags) from --from, else the catalog.
    let repo_globs = globs(&opts.repos, "--repo")?;
    let tag_globs = globs(&opts.tags, "--tag")?;
    let mut wanted: BTreeMap<String, Option<BTreeSet<String>>> = BTreeMap::new();
    match &opts.from {
        Some(list) => {
            for w in list {
                let entry = wanted.entry(w.repository.clone()).or_insert_with(|| Some(BTreeSet::new()));
                match (&w.reference, entry.as_mut()) {
                    (Some(r), Some(set)) => {
                        set.insert(r.clone());
                    }
                    _ => *entry = None,
                }
            }
        }
        None => {
            bar.set_message(format!("listing the repositories of {registry}"));
            for r in catalog.repositories(opts.page_size)? {
                wanted.insert(r, None);
            }
        }
    }
    wanted.retain(|r, _| repo_globs.as_ref().is_none_or(|g| g.is_match(r)) && opts.shard.is_none_or(|s| s.contains(r)));
    stats.repositories = wanted.len() as u64;

    // 2. Tags → digests, recorded as they are learnt; images planned by digest.
    bar.set_message(format!("listing the tags of {} repositories", wanted.len()));
    let listings =
        list_tags(&catalog, &wanted, &|t: &str| tag_globs.as_ref().is_none_or(|g| g.is_match(t)), opts.page_size);
    let mut planned: BTreeSet<Job> = BTreeSet::new();
    for (repo, listing) in wanted.keys().zip(listings) {
        let pairs = match listing {
            Ok(p) => p,
            Err(e) => {
                stats.failures += 1;
                store.put_repository(&registry, repo, Some(&e.to_string()))?;
                continue;
            }
        };
        store.put_repository(&registry, repo, None)?;
        for (reference, digest) in pairs {
            let is_digest = reference.contains(':');
            stats.tags += u64::from(!is_digest);
            match digest {
                Ok(d) => {
                    if !is_digest {
                        store.put_tag(&registry, repo, &reference, Some(&d), None)?;
                    }
                    planned.insert(Job { repository: repo.clone(), digest: d });
                }
                Err(e) => {
                    stats.failures += 1;
                    let tag = if is_digest { format!("@{reference}") } else { reference };
                    store.put_tag(&registry, repo, &tag, None, Some(&e.to_string()))?;
                }
            }
        }
    }
    stats.images = planned.len() as u64;

    // 3. Skip what the store has, unless asked; the rest grouped by digest (the same manifest
    //    in several repositories is scanned once and copied).
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for job in planned {
        let status = store.image_status(&registry, &job.repository, &job.digest)?;
        let again = match status.as_deref() {
            None => true,
            Some("failed") => opts.rescan || opts.retry_failed,
            Some(_) => opts.rescan,
        };
        if again {
            groups.entry(job.digest).or_default().push(job.repository);
        } else {
            stats.images_skipped += 1;
        }
    }

    // 4. Scan, `jobs` images at a time; each result stored in its own transaction.
    let queue: VecDeque<(String, Vec<String>)> = groups.into_iter().collect();
    bar.set_length(queue.iter().map(|(_, repos)| repos.len() as u64).sum());
    bar.set_position(0);
    let cache = StoreCache {
        store: &store,
        analyser: analyser(&opts.scan),
        busy: Mutex::new(HashSet::new()),
        done: Condvar::new(),
        analysed: AtomicU64::new(0),
        from_store: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        errors: Mutex::new(Vec::new()),
    };
    let scan_opts = ScanOptions { progress: false, ..opts.scan.clone() };
    let queue = Mutex::new(queue);
    let failures = AtomicU64::new(0);
    let scanned = AtomicU64::new(0);
    let copied = AtomicU64::new(0);
    let referenced = Mutex::new((0u64, HashSet::<String>::new()));
    let fatal: Mutex<Option<StoreError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1) {
            scope.spawn(|| loop {
                let job = match queue.lock() {
                    Ok(mut q) => q.pop_front(),
                    Err(_) => None,
                };
                let Some((digest, repos)) = job else { break };
                // An image of the same manifest stored fine already (another repository) is
                // copied, not scanned; with --rescan, the first repository is scanned.
                let mut source = if opts.rescan { Ok(None) } else { store.image_with_digest(&registry, &digest) };
                for repo in &repos {
                    let done = match &source {
                        Ok(Some(from)) => store.copy_image(&registry, from, repo, &digest).map(|()| {
                            copied.fetch_add(1, Ordering::Relaxed);
                            false
                        }),
                        Ok(None) => {
                            let reference = format!("docker://{registry}/{repo}@{digest}");
                            let outcome = app::load_with(&reference, &scan_opts, &cache).map(|loaded| {
                                if let Ok(mut r) = referenced.lock() {
                                    for t in &loaded.resolution.targets {
                                        r.0 += t.layers.len() as u64;
                                        r.1.extend(t.layers.iter().map(|l| l.descriptor.digest().to_string()));
                                    }
                                }
                                app::report(&loaded, &scan_opts)
                            });
                            let failed = match &outcome {
                                Ok(report) => errors(report).next().is_some(),
                                Err(_) => true,
                            };
                            scanned.fetch_add(1, Ordering::Relaxed);
                            if failed {
                                bar.println(format!("layerscope: {reference}: failed ({})", first_error(&outcome)));
                            } else {
                                source = Ok(Some(repo.clone()));
                            }
                            match &outcome {
                                Ok(report) => store.put_report(&registry, repo, &digest, report),
                                Err(e) => store.put_failure(&registry, repo, &digest, &e.to_string()),
                            }
                            .map(|()| failed)
                        }
                        Err(e) => Err(StoreError::Other { path: store.path().to_string(), message: e.to_string() }),
                    };
                    match done {
                        Ok(failed) => {
                            if failed {
                                failures.fetch_add(1, Ordering::Relaxed);
                            }
                            bar.inc(1);
                        }
                        Err(e) => {
                            if let Ok(mut f) = fatal.lock() {
                                f.get_or_insert(e);
                            }
                            if let Ok(mut q) = queue.lock() {
                                q.clear();
                            }
                            return;
                        }
                    }
                }
                bar.set_message(format!(
                    "{} layers analysed, {} from the store, {} fetched, {} failed",
                    cache.analysed.load(Ordering::Relaxed),
                    cache.from_store.load(Ordering::Relaxed),
                    indicatif::HumanBytes(cache.bytes.load(Ordering::Relaxed)),
                    failures.load(Ordering::Relaxed) + stats.failures
                ));
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = fatal.into_inner().ok().flatten() {
        return Err(e.into());
    }
    for e in cache.errors.lock().map(|v| v.clone()).unwrap_or_default() {
        eprintln!("layerscope: {e}");
    }
    stats.images_scanned = scanned.into_inner();
    stats.images_copied = copied.into_inner();
    stats.failures += failures.into_inner();
    let (refs, distinct) = referenced.into_inner().unwrap_or_default();
    stats.layer_references = refs;
    stats.layers_referenced = distinct.len() as u64;
    stats.layers_analysed = cache.analysed.into_inner();
    stats.layers_from_store = cache.from_store.into_inner();
    stats.bytes_analysed = cache.bytes.into_inner();
    stats.seconds = started.elapsed().as_secs_f64();
    store.finish_run(run_id, &serde_json::to_string(&stats).unwrap_or_default())?;
    Ok(stats)
}

/// Requests in flight while listing tags and their digests (one repository per thread).
const LISTING_THREADS: usize = 16;

/// What a repository's listing gave: (tag or digest, manifest digest or why not).
type Listing = crate::error::Result<Vec<(String, crate::error::Result<String>)>>;

/// Lists the tags (with digests) of every wanted repository, a few repositories at a time;
/// results in the order of `wanted`.
fn list_tags(
    catalog: &Catalog,
    wanted: &BTreeMap<String, Option<BTreeSet<String>>>,
    keep: &(dyn Fn(&str) -> bool + Sync),
    page_size: usize,
) -> Vec<Listing> {
    let repos: Vec<(&String, &Option<BTreeSet<String>>)> = wanted.iter().collect();
    let next = AtomicU64::new(0);
    let results: Mutex<BTreeMap<usize, Listing>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..LISTING_THREADS.min(repos.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some((repo, refs)) = repos.get(i) else { break };
                let listing = match refs {
                    Some(set) => Ok(set.iter().map(|r| (r.clone(), catalog.manifest_digest(repo, r))).collect()),
                    None => catalog.tag_digests(repo, page_size, keep),
                };
                if let Ok(mut r) = results.lock() {
                    r.insert(i, listing);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    (0..repos.len())
        .map(|i| {
            results.remove(&i).unwrap_or_else(|| {
                Err(crate::error::Error::reference(repos[i].0, "the listing thread stopped".to_string()))
            })
        })
        .collect()
}

/// The error diagnostics of a report, each naming its platform, layer and path.
fn errors(r: &crate::report::ImageReport) -> impl Iterator<Item = String> + '_ {
    let image = r.diagnostics.iter().map(|d| (None, d));
    let platforms = r.platforms.iter().flat_map(|p| p.diagnostics.iter().map(move |d| (Some(p.platform.as_str()), d)));
    image.chain(platforms).filter(|(_, d)| d.severity == crate::diag::Severity::Error).map(|(platform, d)| {
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

fn first_error(outcome: &crate::error::Result<crate::report::ImageReport>) -> String {
    match outcome {
        Err(e) => e.to_string(),
        Ok(r) => errors(r).next().unwrap_or_default(),
    }
}

fn globs(patterns: &[String], flag: &str) -> Result<Option<GlobSet>, BatchError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let g = globset::GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .map_err(|e| BatchError::Usage(format!("{flag} {p:?}: {e}")))?;
        b.add(g);
    }
    b.build().map(Some).map_err(|e| BatchError::Usage(format!("{flag}: {e}")))
}

fn progress_bar(wanted: bool) -> ProgressBar {
    let target = if wanted && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(0), target);
    let style = ProgressStyle::with_template("[{bar:30}] {pos}/{len} images {per_sec} {elapsed} {msg}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_every_name_once() {
        let shards: Vec<Shard> = (0..3).map(|k| Shard::parse(&format!("{k}/3")).unwrap()).collect();
        for i in 0..1000 {
            let name = format!("team-{}/service-{i}", i % 7);
            assert_eq!(shards.iter().filter(|s| s.contains(&name)).count(), 1, "{name}");
        }
        let per: Vec<usize> =
            shards.iter().map(|s| (0..3000).filter(|i| s.contains(&format!("r{i}"))).count()).collect();
        assert!(per.iter().all(|&n| n > 800), "shards are roughly even: {per:?}");
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("0/0").is_err());
        assert!(Shard::parse("x").is_err());
    }

    #[test]
    fn from_file_lines() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("list");
        std::fs::write(
            &f,
            "# a comment\n\nteam/api:1.0\nreg.example:5000/team/web\nteam/db@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
        )
        .unwrap();
        let w = read_wanted(&f, "reg.example:5000").unwrap();
        assert_eq!(
            w,
            vec![
                Wanted { repository: "team/api".into(), reference: Some("1.0".into()) },
                Wanted { repository: "team/web".into(), reference: None },
                Wanted {
                    repository: "team/db".into(),
                    reference: Some("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into())
                },
            ]
        );
        std::fs::write(&f, "Team/API\n").unwrap();
        assert!(read_wanted(&f, "x").unwrap_err().to_string().contains("line 1"));
        std::fs::write(&f, "team/db@sha256:../../x\n").unwrap();
        assert!(read_wanted(&f, "x").is_err());
    }
}
