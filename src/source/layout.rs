//! OCI image layout (`oci:DIR`, `oci-archive:FILE`, and Docker 25+ `docker save` archives,
//! which embed one): `oci-layout`, `index.json`, `blobs/<alg>/<hex>`.

use std::io::Read;
use std::path::Path;

use super::files::{DirFiles, Files, TarFiles};
use super::{ImageSource, Roots};
use crate::blob::read_capped;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::oci::{self, Descriptor, ImageIndex};

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// An OCI image layout in a directory or an archive.
pub struct OciLayout {
    reference: String,
    files: Box<dyn Files>,
    tag: Option<String>,
    limits: Limits,
}

impl OciLayout {
    pub fn dir(reference: &str, dir: &Path, tag: Option<&str>, limits: &Limits) -> Result<Self> {
        let files =
            DirFiles::new(dir).map_err(|e| Error::reference(reference, format!("cannot open directory: {e}")))?;
        Self::new(reference, Box::new(files), tag, limits)
    }

    pub fn archive(reference: &str, file: &Path, tag: Option<&str>, limits: &Limits) -> Result<Self> {
        let files = TarFiles::open(file, limits).map_err(|e| Error::reference(reference, e.to_string()))?;
        Self::new(reference, Box::new(files), tag, limits)
    }

    pub fn new(reference: &str, files: Box<dyn Files>, tag: Option<&str>, limits: &Limits) -> Result<Self> {
        if !files.exists("oci-layout") {
            return Err(Error::reference(reference, "no oci-layout file: not an OCI image layout"));
        }
        Ok(OciLayout { reference: reference.to_string(), files, tag: tag.map(str::to_string), limits: limits.clone() })
    }

    fn read_small(&self, path: &str) -> Result<Vec<u8>> {
        let (r, _) = self.files.open(path, false).map_err(|e| Error::reference(&self.reference, e.to_string()))?;
        read_capped(r, self.limits.json_bytes, path).map_err(|m| Error::reference(&self.reference, m))
    }
}

#[derive(serde::Deserialize)]
struct LayoutFile {
    #[serde(rename = "imageLayoutVersion")]
    image_layout_version: Option<String>,
}

fn entry_names(d: &Descriptor) -> Vec<String> {
    let Some(a) = d.annotations() else { return Vec::new() };
    [REF_NAME, CONTAINERD_NAME].iter().filter_map(|k| a.get(*k).cloned()).collect()
}

fn tag_matches(d: &Descriptor, tag: &str) -> bool {
    entry_names(d).iter().any(|n| {
        n == tag
            || n.rsplit_once(':').is_some_and(|(_, t)| t == tag)
            || n.trim_start_matches("docker.io/library/") == tag
    })
}

impl ImageSource for OciLayout {
    fn reference(&self) -> &str {
        &self.reference
    }

    fn roots(&self) -> Result<Roots> {
        let layout: LayoutFile = oci::parse_json(&self.read_small("oci-layout")?, "oci-layout")?;
        if layout.image_layout_version.is_none() {
            return Err(Error::reference(&self.reference, "oci-layout has no imageLayoutVersion"));
        }
        let bytes = self.read_small("index.json")?;
        if oci::doc_kind(&bytes, "index.json", None)? != oci::DocKind::Index {
            return Err(Error::reference(&self.reference, "index.json is not an image index"));
        }
        let index: ImageIndex = oci::parse_json(&bytes, "index.json")?;
        let mut descriptors: Vec<Descriptor> = index.manifests().clone();
        if let Some(tag) = &self.tag {
            descriptors.retain(|d| tag_matches(d, tag));
            if descriptors.is_empty() {
                let known: Vec<String> = index.manifests().iter().flat_map(entry_names).collect();
                return Err(Error::reference(
                    &self.reference,
                    format!(
                        "no image tagged {tag:?}; tags here: {}",
                        if known.is_empty() { "none".into() } else { known.join(", ") }
                    ),
                ));
            }
        }
        if descriptors.is_empty() {
            return Err(Error::reference(&self.reference, "index.json lists no images"));
        }
        let pin = (descriptors.len() == 1).then(|| descriptors[0].digest().to_string());
        let annotation = |key: &str| {
            (descriptors.len() == 1)
                .then(|| descriptors[0].annotations().as_ref().and_then(|a| a.get(key).cloned()))
                .flatten()
        };
        let name = annotation(CONTAINERD_NAME);
        let tag = self.tag.clone().or_else(|| annotation(REF_NAME)).or_else(|| {
            name.as_deref()
                .and_then(|n| n.rsplit_once(':'))
                .filter(|(_, t)| !t.contains('/'))
                .map(|(_, t)| t.to_string())
        });
        Ok(Roots { descriptors, pin, notes: Vec::new(), name, tag })
    }

    fn open_blob(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        let digest = descriptor.digest();
        // The digest was validated when the descriptor was parsed: algorithm and lower-case
        // hex only, so the path cannot climb out of blobs/.
        let path = format!("blobs/{}/{}", digest.algorithm(), digest.digest());
        let (r, _) = self
            .files
            .open(&path, false)
            .map_err(|e| Error::Blob { digest: digest.to_string(), message: format!("cannot open {path}: {e}") })?;
        Ok(r)
    }
}
