//! Walks from the root descriptors of a source down to one target per platform: nested indexes
//! (bounded, cycles refused), attestation manifests skipped and counted, documents verified.

use std::collections::HashSet;

use crate::blob::VerifyingReader;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::oci::platform::PlatformFilter;
use crate::oci::Descriptor;
use crate::oci::{
    doc_kind, is_index_type, parse_json, DocKind, ImageConfiguration, ImageIndex, ImageManifest, Platform,
};
use crate::source::{ImageSource, SYNTHESIZED};

/// One runnable image of one platform, with its manifest and config read and verified.
#[derive(Debug, Clone)]
pub struct Target {
    pub platform: Platform,
    pub manifest_digest: String,
    pub manifest: ImageManifest,
    pub config_digest: String,
    pub config: ImageConfiguration,
    pub layers: Vec<LayerRef>,
}

pub use crate::oci::LayerRef;

/// Everything the walk found: targets, what it skipped, and what failed.
#[derive(Debug, Default)]
pub struct Resolution {
    pub targets: Vec<Target>,
    pub attestations_skipped: usize,
    /// Attestation manifests: (their digest, the image manifest they describe, if said).
    pub attestations: Vec<(String, Option<String>)>,
    /// Annotations of the indexes walked through (the top one first).
    pub index_annotations: Vec<(String, String)>,
    /// Platforms present but not asked for.
    pub platforms_skipped: Vec<String>,
    /// Entries that could not be read: (what, error message).
    pub failures: Vec<(String, String)>,
    /// Entries skipped without error (unknown media types).
    pub notes: Vec<String>,
}

const REFERENCE_TYPE: &str = "vnd.docker.reference.type";

/// Reads a JSON document blob, verifying its size and digest and capping its length.
pub fn read_document(source: &dyn ImageSource, d: &Descriptor, limits: &Limits, what: &str) -> Result<Vec<u8>> {
    let digest = d.digest().to_string();
    if d.size() > limits.json_bytes {
        return Err(Error::doc(
            what,
            format!(
                "descriptor size {} exceeds limit json-bytes ({}); raise it with --limit json-bytes=N",
                d.size(),
                limits.json_bytes
            ),
        ));
    }
    let reader = source.open_blob(d)?;
    let mut v = VerifyingReader::for_digest(reader, d.size(), &digest);
    let mut bytes = Vec::with_capacity(d.size() as usize);
    std::io::Read::read_to_end(&mut v, &mut bytes).map_err(|e| Error::io(format!("{what} {digest}"), e))?;
    v.verify(&digest).map_err(|m| Error::Blob { digest: digest.clone(), message: format!("{what}: {m}") })?;
    Ok(bytes)
}

fn is_attestation(d: &Descriptor) -> bool {
    let by_annotation = d.annotations().as_ref().is_some_and(|a| a.contains_key(REFERENCE_TYPE));
    let by_platform = d
        .platform()
        .as_ref()
        .is_some_and(|p| p.os().to_string() == "unknown" && p.architecture().to_string() == "unknown");
    by_annotation || by_platform
}

fn descriptor_platform(d: &Descriptor) -> Option<Platform> {
    d.platform()
        .as_ref()
        .map(|p| Platform::new(&p.os().to_string(), &p.architecture().to_string(), p.variant().as_deref()))
}

/// Resolves the roots of a source into targets for the platforms the filter accepts.
pub fn resolve(source: &dyn ImageSource, roots: &[Descriptor], filter: &PlatformFilter, limits: &Limits) -> Resolution {
    let mut res = Resolution::default();
    let mut seen = HashSet::new();
    for root in roots {
        walk(source, root, filter, limits, 0, &mut seen, &mut res);
    }
    if let PlatformFilter::Only(wanted) = filter {
        select_closest(&mut res, wanted);
    }
    res
}

/// Keeps one target per platform asked for: the closest match (see [`Platform::rank_for`]),
/// the first in index order among equals (`arm64` and `arm64/v8` entries, Windows entries
/// differing only in `os.version`). The others are platforms not selected, and a note says
/// which entry was taken.
fn select_closest(res: &mut Resolution, wanted: &[Platform]) {
    let mut keep = vec![false; res.targets.len()];
    for w in wanted {
        let ranked: Vec<(u32, usize)> =
            res.targets.iter().enumerate().filter_map(|(i, t)| Some((t.platform.rank_for(w)?, i))).collect();
        let Some(&(best, i)) = ranked.iter().min_by_key(|(rank, i)| (*rank, *i)) else { continue };
        keep[i] = true;
        if ranked.len() > 1 {
            let others: Vec<String> = ranked
                .iter()
                .filter(|(_, j)| *j != i)
                .map(|(_, j)| format!("{} ({})", res.targets[*j].platform, res.targets[*j].manifest_digest))
                .collect();
            let how = if ranked.iter().filter(|(r, _)| *r == best).count() > 1 {
                "the first in index order of the closest matches"
            } else {
                "the closest match"
            };
            res.notes.push(format!(
                "{w}: {} index entries match; {} ({}) is scanned, {how}; not: {}",
                ranked.len(),
                res.targets[i].platform,
                res.targets[i].manifest_digest,
                others.join(", ")
            ));
        }
    }
    let targets = std::mem::take(&mut res.targets);
    for (t, kept) in targets.into_iter().zip(keep) {
        if kept {
            res.targets.push(t);
        } else {
            res.platforms_skipped.push(t.platform.to_string());
        }
    }
}

fn walk(
    source: &dyn ImageSource,
    d: &Descriptor,
    filter: &PlatformFilter,
    limits: &Limits,
    depth: u64,
    seen: &mut HashSet<String>,
    res: &mut Resolution,
) {
    let digest = d.digest().to_string();
    if is_attestation(d) {
        res.attestations_skipped += 1;
        let of = d.annotations().as_ref().and_then(|a| a.get("vnd.docker.reference.digest").cloned());
        res.attestations.push((digest, of));
        return;
    }
    let declared = descriptor_platform(d);
    if let Some(p) = &declared {
        if !filter.accepts(p) {
            res.platforms_skipped.push(p.to_string());
            return;
        }
    }
    let mt = d.media_type().to_string();
    let what = format!("manifest {digest}");
    if !(mt.is_empty() || is_index_type(&mt) || crate::oci::is_manifest_type(&mt)) {
        res.notes.push(format!("{what}: media type {mt} is not an image or index; skipped"));
        return;
    }
    if depth > limits.index_depth {
        res.failures.push((what, format!("index nesting deeper than limit index-depth ({})", limits.index_depth)));
        return;
    }
    if !seen.insert(digest.clone()) {
        if is_index_type(&mt) {
            res.failures.push((what, "index cycle: this index includes itself".into()));
        }
        return;
    }
    let result = (|| -> Result<()> {
        let bytes = read_document(source, d, limits, &what)?;
        let descriptor_mt = (!mt.is_empty()).then_some(mt.as_str());
        match doc_kind(&bytes, &what, descriptor_mt)? {
            DocKind::Index => {
                let index: ImageIndex = parse_json(&bytes, &what)?;
                let mut ann: Vec<(String, String)> =
                    index.annotations().clone().unwrap_or_default().into_iter().collect();
                ann.sort();
                res.index_annotations.extend(ann);
                for child in index.manifests() {
                    walk(source, child, filter, limits, depth + 1, seen, res);
                }
                Ok(())
            }
            DocKind::Manifest => {
                let manifest: ImageManifest = parse_json(&bytes, &what)?;
                if let Some(t) = target(source, d, manifest, declared.clone(), limits)? {
                    if filter.accepts(&t.platform) {
                        res.targets.push(t);
                    } else {
                        res.platforms_skipped.push(t.platform.to_string());
                    }
                } else {
                    res.attestations_skipped += 1;
                    res.attestations.push((digest.clone(), None));
                }
                Ok(())
            }
        }
    })();
    if let Err(e) = result {
        res.failures.push((format!("manifest {digest}"), e.to_string()));
    }
}

fn target(
    source: &dyn ImageSource,
    d: &Descriptor,
    manifest: ImageManifest,
    declared: Option<Platform>,
    limits: &Limits,
) -> Result<Option<Target>> {
    let config_d = manifest.config();
    let config_mt = config_d.media_type().to_string();
    let what = format!("config {}", config_d.digest());
    if config_mt.contains("attestation") {
        return Ok(None);
    }
    if config_mt != crate::oci::OCI_CONFIG && config_mt != crate::oci::DOCKER_CONFIG {
        return Err(Error::doc(&what, format!("config media type {config_mt} is not an image config; not parsed")));
    }
    let bytes = read_document(source, config_d, limits, &what)?;
    let config: ImageConfiguration = parse_json(&bytes, &what)?;
    if config.rootfs().typ() != "layers" {
        return Err(Error::doc(&what, format!("rootfs.type is {:?}, not \"layers\"", config.rootfs().typ())));
    }
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers().len() {
        return Err(Error::doc(
            &what,
            format!(
                "layers length mismatch: manifest lists {} layers, config has {} diff_ids",
                manifest.layers().len(),
                diff_ids.len()
            ),
        ));
    }
    let platform = declared.unwrap_or_else(|| {
        Platform::new(&config.os().to_string(), &config.architecture().to_string(), config.variant().as_deref())
    });
    if platform.is_unknown() {
        return Ok(None);
    }
    let layers = manifest
        .layers()
        .iter()
        .zip(diff_ids)
        .map(|(l, id)| LayerRef {
            descriptor: l.clone(),
            diff_id: Some(id.clone()),
            synthesized: l.annotations().as_ref().is_some_and(|a| a.contains_key(SYNTHESIZED)),
        })
        .collect();
    Ok(Some(Target {
        platform,
        manifest_digest: d.digest().to_string(),
        config_digest: config_d.digest().to_string(),
        manifest,
        config,
        layers,
    }))
}
