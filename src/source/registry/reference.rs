//! Registry references as docker reads them: `alpine` → `docker.io/library/alpine:latest`,
//! `host:5000/ns/repo:tag`, `…@sha256:…`; digests validated before they reach a URL.

use std::str::FromStr;

use oci_spec::distribution::Reference;

/// A parsed, normalised registry reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRef {
    /// The registry as docker names it (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// `library/alpine`, `org/app`.
    pub repository: String,
    /// The tag; `latest` when neither a tag nor a digest was given.
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl RegistryRef {
    /// Parses `REF` (without the `docker://` prefix) the way docker normalises names.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("empty registry reference".into());
        }
        let r = Reference::from_str(s).map_err(|e| format!("not a valid image reference: {e}"))?;
        check_repository(r.repository())?;
        let digest = r.digest().map(str::to_string);
        if let Some(d) = &digest {
            check_digest(d)?;
        }
        // `Reference` adds `latest` only when there is no digest either.
        Ok(RegistryRef {
            registry: r.registry().to_string(),
            repository: r.repository().to_string(),
            tag: r.tag().map(str::to_string),
            digest,
        })
    }

    /// The host to connect to: Docker Hub's API lives at `registry-1.docker.io`.
    pub fn api_host(&self) -> &str {
        match self.registry.as_str() {
            "docker.io" | "index.docker.io" => "registry-1.docker.io",
            h => h,
        }
    }

    /// The host name without a port (for the plain-HTTP and credential decisions).
    pub fn host_name(&self) -> &str {
        host_without_port(&self.registry)
    }

    /// What to fetch the top manifest by: the digest when given (it pins), else the tag.
    pub fn manifest_ref(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest")
    }

    /// `docker.io/library/alpine:3.20` (the name, with the tag when there is one).
    pub fn name_with_tag(&self) -> String {
        match &self.tag {
            Some(t) => format!("{}/{}:{t}", self.registry, self.repository),
            None => format!("{}/{}", self.registry, self.repository),
        }
    }

    /// True for Docker Official Images (`docker.io/library/…`).
    pub fn is_docker_official(&self) -> bool {
        self.registry == "docker.io" && self.repository.starts_with("library/")
    }
}

/// The host part of `host[:port]` (IPv6 literals in brackets kept whole).
pub fn host_without_port(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry.rsplit_once(':').map(|(h, _)| h).unwrap_or(registry)
}

/// The distribution spec's repository grammar: lower-case components of `[a-z0-9]` joined by
/// `.`, `_`, `__` or dashes, separated by `/`.
fn check_repository(repo: &str) -> Result<(), String> {
    let component_ok = |c: &str| {
        let b = c.as_bytes();
        !b.is_empty()
            && b.iter().all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || b"._-".contains(x))
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && !c.contains("..")
            && !c.contains("___")
    };
    if repo.len() <= 255 && repo.split('/').all(component_ok) {
        Ok(())
    } else {
        Err(format!(
            "repository name {:?} is not valid: lower case letters, digits and . _ - separators only",
            crate::units::clip(repo, 80)
        ))
    }
}

/// Accepts only `sha256:<64 hex>` and `sha512:<128 hex>` (lower case): nothing else may be put
/// in a URL path (CVE-2024-3727 is about exactly this).
pub fn check_digest(d: &str) -> Result<(), String> {
    let ok = match d.split_once(':') {
        Some(("sha256", hex)) => hex.len() == 64,
        Some(("sha512", hex)) => hex.len() == 128,
        _ => false,
    } && d
        .split_once(':')
        .is_some_and(|(_, h)| h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid digest {:?}: expected sha256:<64 hex> or sha512:<128 hex>", crate::units::clip(d, 80)))
    }
}

/// True when `s` is shaped like a registry reference rather than a file name.
pub fn looks_like_reference(s: &str) -> bool {
    !s.starts_with(['.', '/'])
        && !s.ends_with(".tar")
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-/:@[]".contains(c))
        && RegistryRef::parse(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RegistryRef {
        RegistryRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn normalises_like_docker() {
        let r = p("alpine");
        assert_eq!(r.name_with_tag(), "docker.io/library/alpine:latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert!(r.is_docker_official());
        assert_eq!(p("alpine:3.20").tag.as_deref(), Some("3.20"));
        let r = p("ghcr.io/org/app:1");
        assert_eq!((r.registry.as_str(), r.repository.as_str()), ("ghcr.io", "org/app"));
        assert!(!r.is_docker_official());
        let r = p("localhost:5000/x:1");
        assert_eq!((r.registry.as_str(), r.repository.as_str(), r.host_name()), ("localhost:5000", "x", "localhost"));
        let r = p("user/app");
        assert_eq!(r.name_with_tag(), "docker.io/user/app:latest");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = p(&format!("host/ns/repo@{d}"));
        assert_eq!((r.tag.as_deref(), r.digest.as_deref(), r.manifest_ref()), (None, Some(d.as_str()), d.as_str()));
    }

    #[test]
    fn digests_are_checked() {
        assert!(check_digest(&format!("sha256:{}", "0".repeat(64))).is_ok());
        for bad in ["sha256:abc", "md5:00", &format!("sha256:{}", "A".repeat(64)), "sha256:../../x", ""] {
            assert!(check_digest(bad).is_err(), "{bad}");
        }
        assert!(RegistryRef::parse("host/repo@sha256:1234").is_err());
        for bad in ["UPPER/case", "host/a//b", "host/-a", "host/a..b"] {
            assert!(RegistryRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tells_references_from_paths() {
        assert!(looks_like_reference("alpine:3.20"));
        assert!(looks_like_reference("127.0.0.1:5000/musl:1"));
        assert!(!looks_like_reference("./x"));
        assert!(!looks_like_reference("/tmp/image.tar"));
        assert!(!looks_like_reference("image.tar"));
        assert!(!looks_like_reference("Upper/Case"));
    }
}
