//! Image-level findings about who published an image and how it is referenced: `latest` and
//! floating tags, references not pinned by digest, missing source/revision provenance, and
//! what the registry's facts say (no signature, no referrers).

use crate::findings::{Finding, SRC_NO_PROVENANCE, SRC_UNSIGNED, TAG_FLOATING, TAG_LATEST, TAG_NOT_DIGEST};
use crate::report::PlatformReport;
use crate::source::registry::RegistryFacts;

const SOURCE: &str = "org.opencontainers.image.source";
const REVISION: &str = "org.opencontainers.image.revision";

/// True for tags that name one release: `1.2.3`, `v1.2.3-alpine`, `3.12.4-slim-bookworm`, or a
/// date stamp (`20240101`).
pub fn is_full_version(tag: &str) -> bool {
    let t = tag.strip_prefix('v').unwrap_or(tag);
    let head = t.split(['-', '_', '+']).next().unwrap_or("");
    let parts: Vec<&str> = head.split('.').collect();
    let numeric = parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    let dated = tag
        .split(['-', '_', '.'])
        .any(|p| p.len() == 8 && p.starts_with("20") && p.chars().all(|c| c.is_ascii_digit()));
    (numeric && parts.len() >= 3) || dated
}

/// What the image-level checks need to know.
pub struct Inputs<'a> {
    pub reference: &'a str,
    /// The tag the reference or the source names.
    pub tag: Option<&'a str>,
    /// The image name recorded by the source, if any.
    pub name: Option<&'a str>,
    pub pin: Option<&'a str>,
    /// Read from a local layout or archive, not a registry: its name and digest are not pulled
    /// from anywhere, so tags and pins are advice at most.
    pub local: bool,
    pub index_annotations: &'a [(String, String)],
    pub platforms: &'a [PlatformReport],
}

/// The TAG-* and SRC-* findings of an image.
pub fn findings(i: &Inputs) -> Vec<Finding> {
    let mut out = Vec::new();
    let by_digest = i.reference.contains("@sha256:");
    if i.local {
        // A local name is not pulled: `latest` or a floating tag says little, and the digest
        // of a layout or a legacy archive's image ID is no pin anyone can pull.
        match i.tag {
            Some("latest") => out.push(
                Finding::new(TAG_LATEST, "the local image is named `latest`; push it under a version tag", vec![])
                    .with_severity(crate::findings::Severity::Info),
            ),
            Some(t) if !is_full_version(t) => out.push(
                Finding::new(TAG_FLOATING, format!("the local image's tag {t:?} is not a full version"), vec![])
                    .with_severity(crate::findings::Severity::Info),
            ),
            _ => {}
        }
    } else if !by_digest {
        match i.tag {
            None => out.push(Finding::new(TAG_LATEST, "the reference names no tag: it means `latest`", vec![])),
            Some("latest") => out.push(Finding::new(TAG_LATEST, "the reference uses the `latest` tag", vec![])),
            Some(t) if !is_full_version(t) => out.push(Finding::new(
                TAG_FLOATING,
                format!("tag {t:?} is not a full version: it moves with new releases"),
                vec![],
            )),
            Some(_) => {}
        }
        if let Some(pin) = i.pin {
            // A name to pin exists for registry references and archives that record one; a
            // local layout is pinned by its digest alone.
            let message = match i.name {
                Some(n) => {
                    let repo = match n.rsplit_once(':') {
                        Some((repo, tag)) if !tag.contains('/') => repo,
                        _ => n,
                    };
                    format!("not pinned by digest; pin: {repo}@{pin}")
                }
                None => format!("not pinned by digest; the digest to pin is {pin}"),
            };
            out.push(Finding::new(TAG_NOT_DIGEST, message, vec![]));
        }
    }
    let has = |key: &str| {
        i.index_annotations.iter().any(|(k, _)| k == key)
            || i.platforms.iter().any(|p| p.annotations.contains_key(key) || p.labels.contains_key(key))
    };
    let missing: Vec<&str> = [SOURCE, REVISION].into_iter().filter(|k| !has(k)).collect();
    if !missing.is_empty() {
        out.push(Finding::new(
            SRC_NO_PROVENANCE,
            format!("no {} annotation or label: the image cannot be traced to its source", missing.join(" or ")),
            vec![],
        ));
    }
    out
}

/// The image-level findings a registry's facts lead to: `SRC-UNSIGNED` when neither a
/// signature tag nor a referrer exists (and both look-ups answered).
pub fn registry_findings(f: &RegistryFacts) -> Vec<Finding> {
    let mut out = Vec::new();
    if f.signature_tag.is_none() && f.referrers == Some(0) && f.notes.is_empty() {
        out.push(Finding::new(
            SRC_UNSIGNED,
            format!("{}/{}: no cosign signature tag (sha256-….sig) and no OCI referrers", f.registry, f.repository),
            vec![],
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_versions() {
        for t in ["1.2.3", "v1.2.3", "3.10.6-slim", "3.12.4-slim-bookworm", "bookworm-20240101", "1.2.3.4"] {
            assert!(is_full_version(t), "{t}");
        }
        for t in ["3", "3.10", "latest", "bookworm", "stable-slim", "3-alpine", "1.x.2"] {
            assert!(!is_full_version(t), "{t}");
        }
    }

    #[test]
    fn tag_findings() {
        let inputs = |tag, reference| Inputs {
            reference,
            tag,
            name: None,
            pin: Some("sha256:abc"),
            local: false,
            index_annotations: &[],
            platforms: &[],
        };
        let ids = |f: Vec<Finding>| f.into_iter().map(|f| f.id).collect::<Vec<_>>();
        assert_eq!(ids(findings(&inputs(None, "x"))), vec!["TAG-LATEST", "TAG-NOT-DIGEST", "SRC-NO-PROVENANCE"]);
        assert_eq!(
            ids(findings(&inputs(Some("3.12"), "x"))),
            vec!["TAG-FLOATING", "TAG-NOT-DIGEST", "SRC-NO-PROVENANCE"]
        );
        assert_eq!(ids(findings(&inputs(Some("3.12.4"), "x"))), vec!["TAG-NOT-DIGEST", "SRC-NO-PROVENANCE"]);
        assert_eq!(ids(findings(&inputs(Some("3"), "r@sha256:00"))), vec!["SRC-NO-PROVENANCE"]);
        // Local layouts and archives: `latest` and floating tags are info, no pin to pull.
        let local = |tag| findings(&Inputs { local: true, ..inputs(tag, "oci:dir") });
        let f = local(Some("latest"));
        assert_eq!((f[0].id.as_str(), f[0].severity), ("TAG-LATEST", crate::findings::Severity::Info));
        assert_eq!(ids(local(Some("latest"))), vec!["TAG-LATEST", "SRC-NO-PROVENANCE"]);
        assert_eq!(ids(local(Some("3.12"))), vec!["TAG-FLOATING", "SRC-NO-PROVENANCE"]);
        assert_eq!(ids(local(None)), vec!["SRC-NO-PROVENANCE"]);
    }
}
