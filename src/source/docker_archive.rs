//! `docker save` archives: the Docker 25+ form (an OCI layout inside) is read as a layout; the
//! legacy form (`manifest.json`, `<id>/layer.tar`) is turned into synthesised manifests.

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::Path;

use serde::Deserialize;

use super::files::{normalize_inside, Files, TarFiles};
use super::layout::OciLayout;
use super::{ImageSource, Roots, LAYER_PATH, SYNTHESIZED};
use crate::blob::{read_capped, sha256_digest};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::oci::{self, Descriptor};

/// Opens a tar that is an OCI archive or a docker-archive of either form.
pub fn open(reference: &str, file: &Path, name: Option<&str>, limits: &Limits) -> Result<Box<dyn ImageSource>> {
    let files = TarFiles::open(file, limits).map_err(|e| Error::reference(reference, e.to_string()))?;
    from_files(reference, Box::new(files), name, limits)
}

/// Reads the members of a `docker save` archive or an OCI archive, wherever they are kept.
pub fn from_files(
    reference: &str,
    files: Box<dyn Files>,
    name: Option<&str>,
    limits: &Limits,
) -> Result<Box<dyn ImageSource>> {
    if files.exists("oci-layout") && files.exists("index.json") {
        return Ok(Box::new(OciLayout::new(reference, files, name, limits)?));
    }
    if files.exists("manifest.json") {
        return Ok(Box::new(LegacyArchive::new(reference, files, name, limits)?));
    }
    Err(Error::reference(reference, "not an image archive: no oci-layout and no manifest.json inside"))
}

#[derive(Deserialize)]
struct ManifestItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

#[derive(Deserialize)]
struct ConfigProbe {
    rootfs: RootFs,
}

enum Blob {
    Memory(Vec<u8>),
    Member(String),
}

/// The legacy `docker save` format, with one synthesised manifest per `manifest.json` item.
pub struct LegacyArchive {
    reference: String,
    files: Box<dyn Files>,
    blobs: HashMap<String, Blob>,
    roots: Vec<Descriptor>,
    pin: Option<String>,
    repo_tag: Option<String>,
}

impl LegacyArchive {
    fn new(reference: &str, files: Box<dyn Files>, name: Option<&str>, limits: &Limits) -> Result<Self> {
        let fail = |m: String| Error::reference(reference, m);
        let (r, _) = files.open("manifest.json", false).map_err(|e| fail(e.to_string()))?;
        let bytes = read_capped(r, limits.json_bytes, "manifest.json").map_err(fail)?;
        let items: Option<Vec<ManifestItem>> = oci::parse_json(&bytes, "manifest.json")?;
        let items = items.ok_or_else(|| fail("invalid manifest.json: null".into()))?;
        let mut blobs = HashMap::new();
        let mut roots = Vec::new();
        let mut pin = None;
        let mut repo_tag = None;
        for item in items {
            if let Some(want) = name {
                let tags = item.repo_tags.clone().unwrap_or_default();
                if !tags.iter().any(|t| t == want || t.trim_start_matches("docker.io/library/") == want) {
                    continue;
                }
            }
            let config_path = normalize_inside(&item.config)
                .ok_or_else(|| fail(format!("manifest.json Config {:?} points outside the archive", item.config)))?;
            let (r, _) = files.open(&config_path, true).map_err(|e| fail(format!("manifest.json Config: {e}")))?;
            let config = read_capped(r, limits.json_bytes, &config_path).map_err(fail)?;
            let config_digest = sha256_digest(&config);
            let probe: ConfigProbe = oci::parse_json(&config, &config_path)?;
            if probe.rootfs.diff_ids.len() != item.layers.len() {
                return Err(fail(format!(
                    "invalid manifest, layers length mismatch: manifest.json lists {} layers, config has {} diff_ids",
                    item.layers.len(),
                    probe.rootfs.diff_ids.len()
                )));
            }
            let mut layers = Vec::new();
            for (layer_path, diff_id) in item.layers.iter().zip(&probe.rootfs.diff_ids) {
                let path = normalize_inside(layer_path)
                    .ok_or_else(|| fail(format!("manifest.json layer {layer_path:?} points outside the archive")))?;
                let (_, size) =
                    files.open(&path, true).map_err(|e| fail(format!("manifest.json layer {layer_path:?}: {e}")))?;
                layers.push(serde_json::json!({
                    "mediaType": "",
                    "digest": diff_id,
                    "size": size,
                    "annotations": { SYNTHESIZED: "true", LAYER_PATH: layer_path },
                }));
                blobs.insert(diff_id.clone(), Blob::Member(path));
            }
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": oci::DOCKER_MANIFEST,
                "config": { "mediaType": oci::DOCKER_CONFIG, "digest": config_digest, "size": config.len() },
                "layers": layers,
            });
            let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| fail(e.to_string()))?;
            let manifest_digest = sha256_digest(&manifest_bytes);
            let descriptor: Descriptor = serde_json::from_value(serde_json::json!({
                "mediaType": oci::DOCKER_MANIFEST,
                "digest": manifest_digest,
                "size": manifest_bytes.len(),
                "annotations": { SYNTHESIZED: "true" },
            }))
            .map_err(|e| fail(format!("manifest.json: {e}")))?;
            pin.get_or_insert(config_digest.clone());
            if repo_tag.is_none() {
                repo_tag = item.repo_tags.as_ref().and_then(|t| t.first().cloned());
            }
            blobs.insert(config_digest, Blob::Memory(config));
            blobs.insert(manifest_digest, Blob::Memory(manifest_bytes));
            roots.push(descriptor);
        }
        if roots.is_empty() {
            return Err(match name {
                Some(n) => fail(format!("no image named {n:?} in manifest.json")),
                None => fail("manifest.json lists no images".into()),
            });
        }
        if roots.len() > 1 {
            pin = None;
            repo_tag = None;
        }
        Ok(LegacyArchive { reference: reference.to_string(), files, blobs, roots, pin, repo_tag })
    }
}

impl ImageSource for LegacyArchive {
    fn reference(&self) -> &str {
        &self.reference
    }

    fn roots(&self) -> Result<Roots> {
        Ok(Roots {
            descriptors: self.roots.clone(),
            pin: self.pin.clone(),
            notes: vec![
                "legacy docker-archive: manifests are synthesised; the pin is the image ID (config digest)".into()
            ],
            tag: self.repo_tag.as_deref().and_then(|t| t.rsplit_once(':')).map(|(_, t)| t.to_string()),
            name: self.repo_tag.clone(),
        })
    }

    fn open_blob(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        let digest = descriptor.digest().to_string();
        match self.blobs.get(&digest) {
            Some(Blob::Memory(b)) => Ok(Box::new(Cursor::new(b.clone()))),
            Some(Blob::Member(path)) => {
                let (r, _) = self.files.open(path, true).map_err(|e| Error::Blob { digest, message: e.to_string() })?;
                Ok(r)
            }
            None => Err(Error::Blob { digest, message: "not in the archive".into() }),
        }
    }
}
