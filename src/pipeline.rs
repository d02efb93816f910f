//! The scan pipeline, stage after stage: open the source, resolve platforms, read every
//! distinct layer once (in parallel), merge each platform's layers in order, run the
//! detectors, build the report. Also the decompress-only floor the benchmarks measure against.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::blob::{DiffIdReader, VerifyingReader};
use crate::detect::{self, Context, Policy};
use crate::diag::Diagnostic;
use crate::error::{Error, Result};
use crate::fs::MergedFs;
use crate::layer::{self, LayerDelta};
use crate::limits::Limits;
use crate::oci::platform::PlatformFilter;
use crate::progress::Observer;
use crate::report::{ImageReport, LayerSummary, PlatformReport, SCHEMA_VERSION};
use crate::source;
use crate::source::resolve::{self, Target};

/// How to scan.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    pub platforms: PlatformFilter,
    pub limits: Limits,
    /// Told of each layer as it is read (the binary draws bars from it).
    pub progress: Observer,
    pub policy: Policy,
    /// Registry access (`--insecure-registry`).
    pub registry: source::registry::RegistryOptions,
    /// Where a bare name is read from (`--source`).
    pub source: source::Prefer,
    /// Which digests are checked (`--verify`).
    pub verify: layer::Verify,
}

/// An image read up to its layers: what the reference resolved to, and each distinct layer's
/// delta. Merging and detection happen per platform from here.
pub struct Loaded {
    pub reference: String,
    pub pin: Option<String>,
    pub roots: source::Roots,
    pub resolution: resolve::Resolution,
    pub deltas: HashMap<String, LayerDelta>,
    pub diagnostics: Vec<Diagnostic>,
    /// What the registry said, for registry images.
    pub registry: Option<crate::report::RegistryFacts>,
    /// True when the image came as a stream read once (stdin, a daemon's export): its layers
    /// cannot be read again.
    pub streamed: bool,
}

impl Loaded {
    /// The merged view of one target's layers.
    pub fn merged(&self, t: &Target) -> MergedFs {
        merged(&self.deltas, t)
    }
}

fn merged(deltas: &HashMap<String, LayerDelta>, t: &Target) -> MergedFs {
    MergedFs::build(t.layers.iter().filter_map(|l| deltas.get(&l.descriptor.digest().to_string())))
}

/// Opens an image, resolves its platforms and reads every distinct layer once. An `Err` means
/// nothing of the image could be read (exit code 2).
pub fn load(reference: &str, opts: &ScanOptions) -> Result<Loaded> {
    load_with(reference, opts, &NoCache)
}

/// A layer as a cache knows it: (blob digest, diff_id the config expects).
pub type LayerKey = (String, Option<String>);

/// Where layers analysed before come from: `compare` hands image B the layers it shares with
/// A, a batch keeps every layer it analysed in its store, by digest.
pub trait LayerCache: Sync {
    /// The delta of layer `key`: the cached one, or `read()`'s (which the cache may keep).
    fn get_or_read(&self, key: &LayerKey, read: &dyn Fn() -> LayerDelta) -> LayerDelta;
}

/// Reads every layer.
pub struct NoCache;

impl LayerCache for NoCache {
    fn get_or_read(&self, _: &LayerKey, read: &dyn Fn() -> LayerDelta) -> LayerDelta {
        read()
    }
}

/// Asks `first`; what it does not have comes from `then` (compare's hand-over, then a store).
pub struct Chain<'a> {
    pub first: &'a dyn LayerCache,
    pub then: &'a dyn LayerCache,
}

impl LayerCache for Chain<'_> {
    fn get_or_read(&self, key: &LayerKey, read: &dyn Fn() -> LayerDelta) -> LayerDelta {
        self.first.get_or_read(key, &|| self.then.get_or_read(key, read))
    }
}

/// Layers offered once each: a delta found here is moved out (compare's A to B hand-over).
impl LayerCache for std::sync::Mutex<HashMap<LayerKey, LayerDelta>> {
    fn get_or_read(&self, key: &LayerKey, read: &dyn Fn() -> LayerDelta) -> LayerDelta {
        let offered = self.lock().ok().and_then(|mut m| m.remove(key));
        offered.unwrap_or_else(read)
    }
}

/// Like [`load`], but each layer goes through `cache`.
pub fn load_with(reference: &str, opts: &ScanOptions, cache: &dyn LayerCache) -> Result<Loaded> {
    let source = source::open_with(
        reference,
        &source::OpenOptions {
            limits: opts.limits.clone(),
            registry: opts.registry.clone(),
            prefer: opts.source,
            progress: opts.progress.clone(),
        },
    )?;
    let roots = source.roots()?;
    let mut res = resolve::resolve(source.as_ref(), &roots.descriptors, &opts.platforms, &opts.limits);
    // An index may list a hundred thousand entries: what failed is counted past the first
    // hundred, and each platform not asked for is named once.
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    let mut capped = crate::diag::Capped::default();
    for (what, msg) in &res.failures {
        capped.push(&mut diagnostics, Diagnostic::error(None, None, format!("{what}: {msg}")));
    }
    for n in &res.notes {
        capped.push(&mut diagnostics, Diagnostic::warning(None, None, n.clone()));
    }
    capped.finish(&mut diagnostics, None, "about the index");
    let mut seen = std::collections::HashSet::new();
    res.platforms_skipped.retain(|p| seen.insert(p.clone()));
    if res.targets.is_empty() {
        if let Some((what, msg)) = res.failures.first() {
            return Err(Error::reference(reference, format!("{what}: {msg}")));
        }
        let wanted = match &opts.platforms {
            PlatformFilter::All => "any platform".to_string(),
            PlatformFilter::Only(list) => list.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "),
        };
        let available =
            if res.platforms_skipped.is_empty() { "none".to_string() } else { res.platforms_skipped.join(", ") };
        return Err(Error::NoPlatform(format!("{reference}: no manifest for {wanted}; available: {available}")));
    }
    let deltas = read_layers(source.as_ref(), &res.targets, opts, cache);
    let registry = source.registry_facts();
    let streamed = source.streamed();
    Ok(Loaded {
        streamed,
        reference: reference.to_string(),
        pin: roots.pin.clone(),
        roots,
        resolution: res,
        deltas,
        diagnostics,
        registry,
    })
}

/// Scans one image. An `Err` means nothing of the image could be read (exit code 2); partial
/// failures are diagnostics in the report.
pub fn scan(reference: &str, opts: &ScanOptions) -> Result<ImageReport> {
    Ok(into_report(load(reference, opts)?, opts))
}

/// The report of a loaded image: one platform report per target, in target order.
pub fn report(loaded: &Loaded, opts: &ScanOptions) -> ImageReport {
    // Each platform's view is dropped once its report is made (not all held at once).
    report_with(loaded, opts, |_| ()).0
}

/// Each platform's merged view, in target order (merged in parallel).
pub fn views(loaded: &Loaded) -> Vec<MergedFs> {
    loaded.resolution.targets.par_iter().map(|t| merged(&loaded.deltas, t)).collect()
}

/// The report of a loaded image from its platforms' merged views ([`views`], in target order),
/// for a caller that goes on browsing them (`explore`). The layer entries may be gone already:
/// the report needs the views and each layer's figures only.
pub fn report_with_views(loaded: &Loaded, views: &[MergedFs], opts: &ScanOptions) -> ImageReport {
    let platforms: Vec<PlatformReport> = loaded
        .resolution
        .targets
        .par_iter()
        .zip(views)
        .map(|(t, fs)| platform_report(t, fs, &loaded.deltas, opts))
        .collect();
    image_report(loaded, platforms, opts)
}

/// Like [`report`], with `each` called on every platform's merged view while it is built (in
/// target order): what a renderer needs of the view besides the report (`scan --format html`'s
/// treemaps), without merging the layers a second time.
pub fn report_with<T: Send>(
    loaded: &Loaded,
    opts: &ScanOptions,
    each: impl Fn(&MergedFs) -> T + Sync,
) -> (ImageReport, Vec<T>) {
    let (platforms, extra): (Vec<PlatformReport>, Vec<T>) = loaded
        .resolution
        .targets
        .par_iter()
        .map(|t| {
            let fs = merged(&loaded.deltas, t);
            (platform_report(t, &fs, &loaded.deltas, opts), each(&fs))
        })
        .unzip();
    (image_report(loaded, platforms, opts), extra)
}

/// Like [`report`], consuming the image: platforms are merged a few at a time (as many as
/// there are threads), and a layer's entries are dropped as soon as every platform using it is
/// merged, so the detectors run without them (the view shares their paths and file data).
pub fn into_report(mut loaded: Loaded, opts: &ScanOptions) -> ImageReport {
    let mut uses: HashMap<String, usize> = HashMap::new();
    for l in loaded.resolution.targets.iter().flat_map(|t| &t.layers) {
        *uses.entry(l.descriptor.digest().to_string()).or_default() += 1;
    }
    let targets = &loaded.resolution.targets;
    let mut platforms = Vec::with_capacity(targets.len());
    for chunk in targets.chunks(rayon::current_num_threads().max(1)) {
        let views: Vec<MergedFs> = chunk.par_iter().map(|t| merged(&loaded.deltas, t)).collect();
        for l in chunk.iter().flat_map(|t| &t.layers) {
            let digest = l.descriptor.digest().to_string();
            if let Some(n) = uses.get_mut(&digest) {
                *n -= 1;
                if *n == 0 {
                    if let Some(d) = loaded.deltas.get_mut(&digest) {
                        d.drop_entries();
                    }
                }
            }
        }
        let deltas = &loaded.deltas;
        let done: Vec<PlatformReport> =
            chunk.par_iter().zip(views).map(|(t, fs)| platform_report(t, &fs, deltas, opts)).collect();
        platforms.extend(done);
    }
    image_report(&loaded, platforms, opts)
}

/// The image-level part of the report around its platform reports.
fn image_report(loaded: &Loaded, mut platforms: Vec<PlatformReport>, opts: &ScanOptions) -> ImageReport {
    let reference = loaded.reference.as_str();
    let mut findings = crate::provenance::findings(&crate::provenance::Inputs {
        reference,
        tag: loaded.roots.tag.as_deref(),
        name: loaded.roots.name.as_deref(),
        pin: loaded.pin.as_deref(),
        local: loaded.registry.is_none(),
        index_annotations: &loaded.resolution.index_annotations,
        platforms: &platforms,
    });
    findings.extend(loaded.registry.as_ref().map(crate::provenance::registry_findings).unwrap_or_default());
    let attestations = loaded
        .resolution
        .attestations
        .iter()
        .map(|(d, of)| crate::report::Attestation { digest: d.clone(), describes: of.clone() })
        .collect();
    let ignore = &opts.policy.ignore;
    let mut suppressed = crate::findings::suppress(&mut findings, ignore);
    for p in &mut platforms {
        suppressed += crate::findings::suppress(&mut p.findings, ignore);
    }
    ImageReport {
        schema_version: SCHEMA_VERSION,
        layerscope_version: env!("CARGO_PKG_VERSION").to_string(),
        reference: loaded.reference.clone(),
        digest: loaded.pin.clone(),
        name: loaded.roots.name.clone(),
        tag: loaded.roots.tag.clone(),
        platforms,
        findings,
        attestations,
        attestations_skipped: loaded.resolution.attestations_skipped,
        platforms_skipped: loaded.resolution.platforms_skipped.clone(),
        diagnostics: loaded.diagnostics.clone(),
        registry: loaded.registry.clone(),
        suppressed,
        policy: None,
        verification: opts.verify,
    }
}

/// Reads each distinct layer of all targets once, in parallel, through `cache`.
fn read_layers(
    source: &dyn source::ImageSource,
    targets: &[Target],
    opts: &ScanOptions,
    cache: &dyn LayerCache,
) -> HashMap<String, LayerDelta> {
    let mut unique = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for t in targets {
        for l in &t.layers {
            if seen.insert(l.descriptor.digest().to_string()) {
                unique.push(l);
            }
        }
    }
    unique
        .par_iter()
        .map(|l| {
            let digest = l.descriptor.digest().to_string();
            let key = (digest.clone(), l.diff_id.clone());
            let delta = cache.get_or_read(&key, &|| {
                source.take_streamed(l).unwrap_or_else(|| {
                    let task = opts.progress.layer(crate::oci::short_digest(&digest), l.descriptor.size());
                    let how = layer::Reading { alone: unique.len() == 1, verify: opts.verify };
                    layer::analyse(|| source.open_blob(&l.descriptor), l, &opts.limits, &|n| task.advance(n), how)
                })
            });
            (digest, delta)
        })
        .collect()
}

fn platform_report(
    t: &Target,
    fs: &MergedFs,
    deltas: &HashMap<String, LayerDelta>,
    opts: &ScanOptions,
) -> PlatformReport {
    let layers: Vec<&LayerDelta> =
        t.layers.iter().filter_map(|l| deltas.get(&l.descriptor.digest().to_string())).collect();
    let mut r = PlatformReport {
        platform: t.platform.to_string(),
        manifest_digest: t.manifest_digest.clone(),
        config_digest: t.config_digest.clone(),
        created: t.config.created().clone(),
        annotations: t.manifest.annotations().clone().unwrap_or_default().into_iter().collect(),
        labels: t.config.config().as_ref().and_then(|c| c.labels().clone()).unwrap_or_default().into_iter().collect(),
        ..Default::default()
    };
    // The history entries that made a layer, in order; only trusted when they line up.
    let steps: Vec<&oci_spec::image::History> = t
        .config
        .history()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|h| !h.empty_layer().unwrap_or(false))
        .collect();
    let steps_line_up = steps.len() == t.layers.len();
    for (i, (l, delta)) in t.layers.iter().zip(&layers).enumerate() {
        let ch = fs.changes.get(i).cloned().unwrap_or_default();
        let step = steps.get(i).filter(|_| steps_line_up);
        r.layers.push(LayerSummary {
            digest: delta.digest.clone(),
            media_type: l.descriptor.media_type().to_string(),
            compressed_bytes: l.descriptor.size(),
            uncompressed_bytes: delta.uncompressed_bytes,
            files_added: ch.added,
            files_changed: ch.changed,
            files_deleted: ch.deleted,
            created_by: step.and_then(|h| h.created_by().clone()),
            comment: step.and_then(|h| h.comment().clone()),
            // Filled in by the bloat detector, in its one walk over the history.
            lost_bytes: 0,
        });
        r.diagnostics.extend(delta.diagnostics.iter().cloned());
    }
    r.diagnostics.extend(fs.diagnostics.iter().cloned());
    let cx = Context { fs, target: t, limits: &opts.limits, policy: &opts.policy };
    detect::run_all(&cx, &mut r);
    r
}

/// What the decompression floor measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct FloorStats {
    pub layers: usize,
    pub compressed_bytes: u64,
    pub uncompressed_bytes: u64,
    /// True when both digests were computed and checked (`floor --verify`).
    pub verified: bool,
}

/// The decompress-only floor: reads every distinct layer of the selected platforms with the same
/// decoder, buffer sizes and thread pool as [`scan`], and throws the bytes away. No tar walk.
/// With `verify`, also what a scanner that checks every layer cannot skip: the blob's digest and
/// the diff_id (one hash for a plain tar layer, whose diff_id is its blob digest; the diff_id
/// alone for a `docker save` layer, whose blob digest is synthesized). Benchmarks compare `scan`
/// with this on the same layers in the same run.
pub fn decompress_floor(reference: &str, opts: &ScanOptions, verify: bool) -> Result<FloorStats> {
    let source = source::open(reference, &opts.limits)?;
    let roots = source.roots()?;
    let res = resolve::resolve(source.as_ref(), &roots.descriptors, &opts.platforms, &opts.limits);
    let mut seen = std::collections::HashSet::new();
    let layers: Vec<_> =
        res.targets.iter().flat_map(|t| &t.layers).filter(|l| seen.insert(l.descriptor.digest().to_string())).collect();
    let counts: Vec<Result<(u64, u64)>> = layers
        .par_iter()
        .map(|l| {
            let d = &l.descriptor;
            let digest = d.digest().to_string();
            let what = || format!("layer {digest}");
            let blob = source.open_blob(d)?;
            let hash_blob = verify && !l.synthesized;
            let mut blob = if hash_blob {
                VerifyingReader::for_digest(blob, d.size(), &digest)
            } else {
                VerifyingReader::counting(blob, d.size())
            };
            let raw = std::io::BufReader::with_capacity(256 << 10, &mut blob);
            let declared = crate::oci::layer_type(d.media_type().as_ref());
            let (decoder, compression, _) =
                crate::blob::decompress(raw, declared, d.media_type().as_ref()).map_err(|e| Error::io(what(), e))?;
            let reader = std::io::BufReader::with_capacity(256 << 10, decoder);
            let hash_diff_id = verify
                && !(hash_blob && compression == crate::blob::Compression::None && digest.starts_with("sha256:"));
            let mut reader = if hash_diff_id {
                DiffIdReader::new(reader, u64::MAX, d.size(), u64::MAX)
            } else {
                DiffIdReader::counting(reader, u64::MAX, d.size(), u64::MAX)
            };
            reader.drain().map_err(|e| Error::io(what(), e))?;
            let (diff_id, n) = reader.digest();
            blob.drain().map_err(|e| Error::io(what(), e))?;
            let read = blob.finish();
            if verify {
                let mismatch = |m: String| Error::io(what(), std::io::Error::other(m));
                if hash_blob {
                    read.check(&digest).map_err(mismatch)?;
                }
                let diff_id = diff_id.or(read.digest.filter(|_| hash_blob));
                if let (Some(expected), Some(got)) = (&l.diff_id, &diff_id) {
                    if expected != got {
                        return Err(mismatch(format!("diff_id mismatch: config expects {expected}, got {got}")));
                    }
                }
            }
            Ok((d.size(), n))
        })
        .collect();
    let mut stats = FloorStats { layers: layers.len(), verified: verify, ..Default::default() };
    for c in counts {
        let (a, b) = c?;
        stats.compressed_bytes += a;
        stats.uncompressed_bytes += b;
    }
    Ok(stats)
}
