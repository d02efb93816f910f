//! OCI and Docker wire formats: media types, bounded JSON parsing, platforms, index resolution.

pub mod platform;

pub use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};
pub use platform::Platform;

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// A layer of an image: its descriptor and the diff_id the config expects for it.
#[derive(Debug, Clone)]
pub struct LayerRef {
    pub descriptor: Descriptor,
    pub diff_id: Option<String>,
    /// True when the source made the descriptor up (only size and diff_id can be checked).
    pub synthesized: bool,
}

/// What a layer media type says about its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerType {
    Tar,
    Gzip,
    Zstd,
    /// A media type we do not read as a filesystem layer (attestations, wasm, bzip2…).
    Unknown,
    /// No media type at all (legacy docker-archive): sniff.
    Unspecified,
}

/// Classifies a layer media type.
pub fn layer_type(media_type: &str) -> LayerType {
    match media_type {
        "" => LayerType::Unspecified,
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar"
        | "application/vnd.docker.image.rootfs.diff.tar" => LayerType::Tar,
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip"
        | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => LayerType::Gzip,
        "application/vnd.oci.image.layer.v1.tar+zstd"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
        | "application/vnd.docker.image.rootfs.diff.tar.zstd" => LayerType::Zstd,
        _ => LayerType::Unknown,
    }
}

/// Kind of a top-level or referenced JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    Index,
    Manifest,
}

#[derive(serde::Deserialize)]
struct DocProbe {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    layers: Option<serde::de::IgnoredAny>,
}

/// Decides whether `bytes` hold an index or a manifest, rejecting ambiguous documents
/// (both `manifests` and `layers`, CVE-2021-41190) and ones whose media type disagrees with
/// the descriptor that pointed at them.
pub fn doc_kind(bytes: &[u8], what: &str, descriptor_media_type: Option<&str>) -> Result<DocKind> {
    let probe: DocProbe = parse_json(bytes, what)?;
    let kind = match (probe.manifests.is_some(), probe.layers.is_some()) {
        (true, true) => return Err(Error::doc(what, "ambiguous document: it has both `manifests` and `layers`")),
        (true, false) => DocKind::Index,
        (false, true) => DocKind::Manifest,
        (false, false) => return Err(Error::doc(what, "neither an image index nor an image manifest")),
    };
    let declared = probe.media_type.as_deref();
    for mt in [declared, descriptor_media_type].into_iter().flatten() {
        let says = match mt {
            OCI_INDEX | DOCKER_LIST => Some(DocKind::Index),
            OCI_MANIFEST | DOCKER_MANIFEST => Some(DocKind::Manifest),
            _ => None,
        };
        if let Some(says) = says {
            if says != kind {
                return Err(Error::doc(what, format!("media type {mt} does not match the document's content")));
            }
        }
    }
    if let (Some(a), Some(b)) = (declared, descriptor_media_type) {
        if a != b && is_known_doc_type(a) && is_known_doc_type(b) {
            return Err(Error::doc(what, format!("document says media type {a}, its descriptor says {b}")));
        }
    }
    Ok(kind)
}

fn is_known_doc_type(mt: &str) -> bool {
    matches!(mt, OCI_INDEX | DOCKER_LIST | OCI_MANIFEST | DOCKER_MANIFEST)
}

/// True for media types of indexes (OCI index, Docker manifest list).
pub fn is_index_type(mt: &str) -> bool {
    matches!(mt, OCI_INDEX | DOCKER_LIST)
}

/// True for media types of image manifests.
pub fn is_manifest_type(mt: &str) -> bool {
    matches!(mt, OCI_MANIFEST | DOCKER_MANIFEST)
}

/// Parses JSON from bytes already bounded by the caller, naming `what` in the error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::doc(what, format!("malformed JSON: {e}")))
}

/// Short form of a digest for messages: `sha256:0123456789ab`.
pub fn short_digest(d: &str) -> &str {
    d.get(..19).unwrap_or(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguous_documents_are_rejected() {
        let doc = br#"{"schemaVersion":2,"manifests":[],"layers":[]}"#;
        let err = doc_kind(doc, "index.json", None).unwrap_err().to_string();
        assert!(err.contains("ambiguous"), "{err}");
    }

    #[test]
    fn media_type_disagreement_is_rejected() {
        let doc = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","layers":[]}"#;
        assert!(doc_kind(doc, "m", None).is_err());
        let doc = br#"{"schemaVersion":2,"layers":[]}"#;
        assert_eq!(doc_kind(doc, "m", Some(OCI_MANIFEST)).unwrap(), DocKind::Manifest);
        assert!(doc_kind(doc, "m", Some(OCI_INDEX)).is_err());
    }

    #[test]
    fn layer_types() {
        assert_eq!(layer_type("application/vnd.docker.image.rootfs.diff.tar.gzip"), LayerType::Gzip);
        assert_eq!(layer_type("application/vnd.oci.image.layer.v1.tar+zstd"), LayerType::Zstd);
        assert_eq!(layer_type("application/vnd.in-toto+json"), LayerType::Unknown);
        assert_eq!(layer_type(""), LayerType::Unspecified);
    }
}
