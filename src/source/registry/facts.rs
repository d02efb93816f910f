//! What a registry says about an image beyond its bytes (`registry` in the report): the
//! source collects them, provenance turns them into findings.

use std::collections::BTreeMap;

use serde::Serialize;

/// Facts a registry holds about an image beyond its bytes.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct RegistryFacts {
    /// As docker names it (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub registry: String,
    pub repository: String,
    /// Media type of what the reference resolved to.
    pub media_type: String,
    /// True when the reference names an index (manifest list).
    pub manifest_list: bool,
    /// Annotations of that index or manifest.
    pub annotations: BTreeMap<String, String>,
    /// The cosign-style signature tag (`sha256-<hex>.sig`) when the registry has it.
    pub signature_tag: Option<String>,
    /// Manifests referring to the image (OCI referrers API, else its tag schema); `null` when
    /// the registry could not say.
    pub referrers: Option<usize>,
    /// `docker.io/library/…`: a Docker Official Image.
    pub docker_official_image: bool,
    /// Look-ups that failed; the scan went on without them.
    pub notes: Vec<String>,
}
