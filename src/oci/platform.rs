//! Platforms in docker syntax (`linux/arm64/v8`), with the normalisation used to match them.

use std::fmt;

/// An image platform: os, architecture and optional variant, as in an index entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.filter(|v| !v.is_empty()).map(str::to_string),
        }
    }

    /// Parses docker syntax: `os/arch[/variant]`, or a bare `arch[/variant]` meaning linux.
    pub fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        let bad = || format!("invalid platform {s:?}: expected os/arch[/variant], e.g. linux/arm64/v8");
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        let known_os = |p: &str| matches!(p, "linux" | "windows" | "darwin" | "freebsd" | "wasip1" | "js");
        match parts.as_slice() {
            [arch] => Ok(Platform::new("linux", arch, None)),
            [os, arch] if known_os(os) => Ok(Platform::new(os, arch, None)),
            [arch, variant] => Ok(Platform::new("linux", arch, Some(variant))),
            [os, arch, variant] => Ok(Platform::new(os, arch, Some(variant))),
            _ => Err(bad()),
        }
    }

    /// The variant with the usual defaults filled in (arm64 → v8, arm → v7).
    pub fn normalized_variant(&self) -> Option<&str> {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            ("arm64", None) => Some("v8"),
            ("arm", None) => Some("v7"),
            (_, v) => v,
        }
    }

    /// Whether this platform (from an index) is what `wanted` (from the user) asks for.
    /// A request without a variant matches any variant of that architecture, except that
    /// the defaults (`arm64` = `arm64/v8`) are applied on both sides.
    pub fn matches(&self, wanted: &Platform) -> bool {
        if self.os != wanted.os || normalize_arch(&self.architecture) != normalize_arch(&wanted.architecture) {
            return false;
        }
        match &wanted.variant {
            None => true,
            Some(_) => self.normalized_variant() == wanted.normalized_variant(),
        }
    }

    /// How closely this platform (from an index) serves `wanted`: `None` when it does not
    /// match, 0 when its variant is the one asked for (defaults applied: an index's `arm64` is
    /// `arm64/v8`, a bare `arm` asks for `v7`), 1 for another variant of a request that named
    /// none. `os.version` and `os.features` are not compared (docker syntax cannot name them).
    pub fn rank_for(&self, wanted: &Platform) -> Option<u32> {
        if !self.matches(wanted) {
            return None;
        }
        Some(if self.normalized_variant() == wanted.normalized_variant() { 0 } else { 1 })
    }

    /// True for the `unknown/unknown` platform BuildKit gives attestation manifests.
    pub fn is_unknown(&self) -> bool {
        self.os == "unknown" && self.architecture == "unknown"
    }
}

fn normalize_arch(a: &str) -> &str {
    match a {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" | "i686" => "386",
        other => other,
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The user's platform choice: everything, or a list of platforms.
#[derive(Debug, Clone, Default)]
pub enum PlatformFilter {
    #[default]
    All,
    Only(Vec<Platform>),
}

impl PlatformFilter {
    /// Parses `all` or a comma-separated list of platforms.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim() == "all" {
            return Ok(PlatformFilter::All);
        }
        let list = s.split(',').map(Platform::parse).collect::<Result<Vec<_>, _>>()?;
        Ok(PlatformFilter::Only(list))
    }

    pub fn accepts(&self, p: &Platform) -> bool {
        match self {
            PlatformFilter::All => true,
            PlatformFilter::Only(list) => list.iter().any(|w| p.matches(w)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_syntax() {
        assert_eq!(Platform::parse("linux/arm64/v8").unwrap().to_string(), "linux/arm64/v8");
        assert_eq!(Platform::parse("arm64").unwrap().to_string(), "linux/arm64");
        assert_eq!(Platform::parse("arm/v7").unwrap().to_string(), "linux/arm/v7");
        assert!(Platform::parse("linux//v8").is_err());
        assert!(Platform::parse("a/b/c/d").is_err());
    }

    #[test]
    fn arm64_equals_arm64_v8() {
        let idx = Platform::new("linux", "arm64", None);
        let v8 = Platform::parse("linux/arm64/v8").unwrap();
        assert!(idx.matches(&v8));
        let idx_v8 = Platform::new("linux", "arm64", Some("v8"));
        assert!(idx_v8.matches(&Platform::parse("arm64").unwrap()));
        assert!(!Platform::new("linux", "arm", Some("v6")).matches(&Platform::parse("linux/arm/v7").unwrap()));
        assert!(Platform::new("linux", "arm", None).matches(&Platform::parse("linux/arm/v7").unwrap()));
        assert!(!idx.matches(&Platform::parse("linux/amd64").unwrap()));
    }

    #[test]
    fn ranks_prefer_the_variant_asked_for_or_its_default() {
        let arm = Platform::parse("arm").unwrap();
        assert_eq!(Platform::new("linux", "arm", Some("v7")).rank_for(&arm), Some(0));
        assert_eq!(Platform::new("linux", "arm", Some("v6")).rank_for(&arm), Some(1));
        let v7 = Platform::parse("linux/arm/v7").unwrap();
        assert_eq!(Platform::new("linux", "arm", Some("v6")).rank_for(&v7), None);
        let arm64 = Platform::parse("linux/arm64").unwrap();
        assert_eq!(Platform::new("linux", "arm64", None).rank_for(&arm64), Some(0));
        assert_eq!(Platform::new("linux", "arm64", Some("v8")).rank_for(&arm64), Some(0));
        assert_eq!(Platform::new("linux", "arm64", Some("v9")).rank_for(&arm64), Some(1));
    }
}
