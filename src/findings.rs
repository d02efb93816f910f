//! Findings: the catalogue of stable IDs with their default severity and help text, the
//! finding record, and the `--fail-on` policy.

use std::fmt;

use serde::Serialize;

/// How serious a finding is, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" => Some(Severity::Info),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        })
    }
}

/// One entry of the catalogue: an ID that never changes, its severity, what it means.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    pub help: &'static str,
}

macro_rules! rules {
    ($($name:ident = $id:literal, $sev:ident, $title:literal, $help:literal;)*) => {
        $(pub const $name: &str = $id;)*
        /// Every finding ID, in documentation order.
        pub const RULES: &[Rule] = &[$(Rule { id: $id, severity: Severity::$sev, title: $title, help: $help }),*];
    };
}

rules! {
    TAG_LATEST = "TAG-LATEST", Medium, "Image referenced by `latest` or no tag",
        "`latest` moves: pin a version tag and, better, the digest.";
    TAG_FLOATING = "TAG-FLOATING", Low, "Tag is not a full version",
        "A tag such as `3` or `3.12` moves with every patch release; use a full version (`3.12.4`) or the digest.";
    TAG_NOT_DIGEST = "TAG-NOT-DIGEST", Info, "Reference is not pinned by digest",
        "Use the printed `name@sha256:…` pin so that the bytes cannot change under you.";
    SRC_NO_PROVENANCE = "SRC-NO-PROVENANCE", Low, "No source or revision annotation",
        "Set `org.opencontainers.image.source` and `org.opencontainers.image.revision` (annotations or labels) so that the image can be traced to its source.";
    SRC_UNSIGNED = "SRC-UNSIGNED", Low, "No signature found",
        "No cosign-style signature or OCI referrer was found for the image.";
    ARCH_MISSING = "ARCH-MISSING", High, "Expected platform missing",
        "A platform that was expected is not in the index.";
    ARCH_MISMATCH = "ARCH-MISMATCH", High, "Binary built for another machine",
        "An ELF file's machine differs from the platform's architecture: it cannot run there (a broken multi-arch build).";
    LIBC_MISSING_LOADER = "LIBC-MISSING-LOADER", High, "Dynamic loader missing",
        "A dynamic binary's interpreter (PT_INTERP) does not exist in the image.";
    LIBC_MISSING_LIBRARY = "LIBC-MISSING-LIBRARY", High, "Needed library not found",
        "A DT_NEEDED library does not resolve the way the loader would search for it.";
    LIBC_GLIBC_TOO_OLD = "LIBC-GLIBC-TOO-OLD", High, "glibc older than a binary needs",
        "A binary needs a GLIBC_x.y symbol version newer than the glibc in the image.";
    LIBC_MIXED = "LIBC-MIXED", Medium, "glibc and musl both present",
        "Binaries use both glibc and musl loaders; check that each finds its own libraries.";
    RUN_NO_COMMAND = "RUN-NO-COMMAND", Medium, "No entrypoint and no command",
        "The config has neither Entrypoint nor Cmd: the image does nothing unless given a command.";
    RUN_ENTRYPOINT_MISSING = "RUN-ENTRYPOINT-MISSING", High, "Entrypoint or command cannot start",
        "The program the container starts is missing, not executable, or its interpreter is missing.";
    RUN_SHELL_FORM_NO_SHELL = "RUN-SHELL-FORM-NO-SHELL", High, "Shell-form command without a shell",
        "The command is in shell form (`/bin/sh -c …`) but the image has no /bin/sh.";
    RUN_AS_ROOT = "RUN-AS-ROOT", Low, "Runs as root",
        "The config sets no User (or root): the container's processes run as uid 0.";
    BLOAT_WASTE = "BLOAT-WASTE", Medium, "Wasted space over the threshold",
        "Efficiency is below --min-efficiency or reclaimable bytes exceed --max-reclaimable.";
    BLOAT_PACKAGE_CACHE = "BLOAT-PACKAGE-CACHE", Low, "Package manager caches left in the image",
        "apt/apk/dnf/pip/npm caches and indexes: clean them in the same layer that fills them.";
    BLOAT_DOCS = "BLOAT-DOCS", Info, "Documentation, man pages and locales",
        "Docs, man and info pages, and locales are rarely needed at run time.";
    BLOAT_DEBUG_INFO = "BLOAT-DEBUG-INFO", Low, "Debug information shipped",
        "/usr/lib/debug and unstripped binaries' debug sections.";
    BLOAT_DEV_FILES = "BLOAT-DEV-FILES", Info, "Headers and static libraries",
        "C headers and static libraries are only needed to build.";
    BLOAT_TOOLCHAIN = "BLOAT-TOOLCHAIN", Low, "Compilers and toolchains",
        "A compiler in a runtime image: use a multi-stage build.";
    BLOAT_TEMP = "BLOAT-TEMP", Low, "Temporary files, logs and bytecode caches",
        "/tmp, /var/tmp, logs and __pycache__ left in the image.";
    SEC_SETUID = "SEC-SETUID", Medium, "setuid or setgid files",
        "Files with the setuid or setgid bit can raise privileges.";
    SEC_WORLD_WRITABLE = "SEC-WORLD-WRITABLE", Medium, "World-writable paths",
        "Files or directories writable by everyone (directories without the sticky bit).";
    RUN_INTERPRETER_MISSING = "RUN-INTERPRETER-MISSING", Medium, "Script interpreter missing",
        "An executable script's `#!` interpreter is not in the image (e.g. python3 removed by a slimming step).";
    OS_EOL = "OS-EOL", High, "Base OS past its end of life",
        "The distribution release gets no security fixes at all: rebuild on a supported release.";
    OS_EOL_SOON = "OS-EOL-SOON", Medium, "Base OS reaches its end of life soon",
        "The release's end of life is near (180 days unless `--eol-soon-days`): plan the move to a newer release.";
    OS_LTS_ONLY = "OS-LTS-ONLY", Low, "Base OS on long-term support only",
        "Regular security support is over; only long-term or extended support (Debian LTS, Ubuntu ESM, RHEL ELS) remains.";
    BLOAT_DELETED_LATER = "BLOAT-DELETED-LATER", Low, "Content deleted or overwritten by a later layer",
        "A later layer deleted or overwrote more than 1 MB (`--deleted-later-bytes`) an earlier layer wrote: deleting later saves nothing; remove it in the step that creates it.";
    IMG_STALE = "IMG-STALE", Low, "Image not rebuilt for a long time",
        "The image was built more than 365 days ago (`--stale-days`): rebuild it to pick up its base's fixes.";
}

/// Looks up a rule by ID.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// A finding: a stable ID, a severity, a one-line message and the evidence paths.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    pub id: String,
    pub severity: Severity,
    pub message: String,
    pub paths: Vec<String>,
    /// True when the finding is about what the container starts (these rank first).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub entrypoint: bool,
    /// The index of the layer whose build step should change (bloat findings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    /// That layer's build step (the config history's `created_by`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// What to do, in one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    /// A finding with the rule's default severity.
    pub fn new(id: &str, message: impl Into<String>, paths: Vec<String>) -> Self {
        let severity = rule(id).map(|r| r.severity).unwrap_or(Severity::Info);
        Finding {
            id: id.to_string(),
            severity,
            message: message.into(),
            paths,
            entrypoint: false,
            layer: None,
            created_by: None,
            fix: None,
        }
    }

    /// Names the layer whose step should change, its step and the fix.
    pub fn at_layer(mut self, layer: usize, created_by: Option<String>, fix: impl Into<String>) -> Self {
        self.layer = Some(layer);
        self.created_by = created_by;
        self.fix = Some(fix.into());
        self
    }

    /// Marks the finding as about the entrypoint.
    pub fn at_entrypoint(mut self) -> Self {
        self.entrypoint = true;
        self
    }

    pub fn with_severity(mut self, s: Severity) -> Self {
        self.severity = s;
        self
    }
}

/// `--fail-on`: a severity threshold, IDs, or both (`high,RUN-AS-ROOT`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FailOn {
    /// Findings at or above this severity trip.
    pub severity: Option<Severity>,
    /// Findings with these IDs trip, whatever their severity.
    pub ids: Vec<String>,
}

impl FailOn {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = FailOn::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if let Some(sev) = Severity::parse(part) {
                if out.severity.is_some_and(|old| old != sev) {
                    return Err(format!(
                        "--fail-on names two severities in {s:?}; give one (findings at or above it trip)"
                    ));
                }
                out.severity = Some(sev);
                continue;
            }
            let id = part.to_ascii_uppercase();
            if rule(&id).is_none() {
                return Err(format!(
                    "unknown severity or finding ID {part:?}; severities: info, low, medium, high; IDs: docs/report.md §4.1"
                ));
            }
            if !out.ids.contains(&id) {
                out.ids.push(id);
            }
        }
        if out.severity.is_none() && out.ids.is_empty() {
            return Err("empty --fail-on".into());
        }
        Ok(out)
    }

    pub fn trips(&self, f: &Finding) -> bool {
        self.severity.is_some_and(|s| f.severity >= s) || self.ids.contains(&f.id)
    }
}

impl fmt::Display for FailOn {
    /// `at or above high, or RUN-AS-ROOT`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(s) = self.severity {
            parts.push(format!("at or above {s}"));
        }
        if !self.ids.is_empty() {
            parts.push(self.ids.join(", "));
        }
        f.write_str(&parts.join(", or "))
    }
}

/// A suppression (`--ignore ID[:PATH-GLOB]`, a line `ID [PATH-GLOB]` of an ignore file): the
/// findings with that ID, and when a glob is given only those whose every evidence path matches it.
#[derive(Debug, Clone)]
pub struct Ignore {
    pub id: String,
    pub glob: Option<globset::GlobMatcher>,
}

impl Ignore {
    /// Parses `ID`, `ID:GLOB` or `ID GLOB`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        let (id, glob) = match spec.split_once([':', ' ', '\t']) {
            Some((id, g)) => (id, Some(g.trim()).filter(|g| !g.is_empty())),
            None => (spec, None),
        };
        let id = id.trim().to_ascii_uppercase();
        if rule(&id).is_none() {
            return Err(format!("unknown finding ID {id:?} to ignore (docs/report.md §4.1)"));
        }
        let glob = glob
            .map(|g| globset::Glob::new(g).map(|g| g.compile_matcher()).map_err(|e| format!("ignore {id} {g:?}: {e}")))
            .transpose()?;
        Ok(Ignore { id, glob })
    }

    /// Parses an ignore file: one `ID [PATH-GLOB]` per line, `#` comments, blank lines.
    pub fn parse_file(text: &str, name: &str) -> Result<Vec<Self>, String> {
        text.lines()
            .enumerate()
            .map(|(n, l)| (n, l.split('#').next().unwrap_or("").trim()))
            .filter(|(_, l)| !l.is_empty())
            .map(|(n, l)| Ignore::parse(l).map_err(|e| format!("{name} line {}: {e}", n + 1)))
            .collect()
    }

    pub fn matches(&self, f: &Finding) -> bool {
        f.id == self.id
            && match &self.glob {
                None => true,
                Some(g) => !f.paths.is_empty() && f.paths.iter().all(|p| g.is_match(p)),
            }
    }
}

/// Removes the findings an ignore matches; returns how many.
pub fn suppress(findings: &mut Vec<Finding>, ignores: &[Ignore]) -> usize {
    let before = findings.len();
    findings.retain(|f| !ignores.iter().any(|i| i.matches(f)));
    before - findings.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_parses_severities_and_ids() {
        assert_eq!(FailOn::parse("HIGH").unwrap(), FailOn { severity: Some(Severity::High), ids: vec![] });
        let both = FailOn::parse("high,run-as-root").unwrap();
        assert!(both.trips(&Finding::new(RUN_AS_ROOT, "x", vec![])));
        assert!(both.trips(&Finding::new(LIBC_MISSING_LOADER, "x", vec![]).with_severity(Severity::High)));
        assert!(!both.trips(&Finding::new(SEC_SETUID, "x", vec![])));
        assert_eq!(both.to_string(), "at or above high, or RUN-AS-ROOT");
        assert!(FailOn::parse("high,low").is_err());
        assert!(FailOn::parse(" , ").is_err());
        let ids = FailOn::parse("arch-mismatch, RUN-AS-ROOT").unwrap();
        assert!(ids.trips(&Finding::new(ARCH_MISMATCH, "x", vec![])));
        assert!(!ids.trips(&Finding::new(SEC_SETUID, "x", vec![])));
        assert!(FailOn::parse("NOPE-X").is_err());
        let med = FailOn { severity: Some(Severity::Medium), ids: vec![] };
        assert!(med.trips(&Finding::new(LIBC_MISSING_LOADER, "x", vec![])));
        assert!(!med.trips(&Finding::new(TAG_NOT_DIGEST, "x", vec![])));
    }

    #[test]
    fn every_design_id_is_in_the_catalogue() {
        let design = "TAG-LATEST TAG-FLOATING TAG-NOT-DIGEST SRC-NO-PROVENANCE SRC-UNSIGNED ARCH-MISSING ARCH-MISMATCH \
            LIBC-MISSING-LOADER LIBC-MISSING-LIBRARY LIBC-GLIBC-TOO-OLD LIBC-MIXED RUN-NO-COMMAND RUN-ENTRYPOINT-MISSING \
            RUN-SHELL-FORM-NO-SHELL RUN-AS-ROOT BLOAT-WASTE BLOAT-PACKAGE-CACHE BLOAT-DOCS BLOAT-DEBUG-INFO BLOAT-DEV-FILES \
            BLOAT-TOOLCHAIN BLOAT-TEMP SEC-SETUID SEC-WORLD-WRITABLE";
        for id in design.split_whitespace() {
            assert!(rule(id).is_some(), "{id}");
        }
        // Additions to the first list of IDs (docs/report.md §5): RUN-INTERPRETER-MISSING, and
        // the lifecycle's OS-EOL, OS-EOL-SOON, OS-LTS-ONLY and IMG-STALE (§3.13).
        let added =
            ["RUN-INTERPRETER-MISSING", "OS-EOL", "OS-EOL-SOON", "OS-LTS-ONLY", "IMG-STALE", "BLOAT-DELETED-LATER"];
        assert!(added.iter().all(|id| rule(id).is_some()));
        assert_eq!(RULES.len(), design.split_whitespace().count() + added.len());
    }

    #[test]
    fn ignores_by_id_and_by_path() {
        let f = Finding::new(SEC_WORLD_WRITABLE, "x", vec!["/tmp/a".into(), "/tmp/b".into()]);
        assert!(Ignore::parse("sec-world-writable").unwrap().matches(&f));
        assert!(Ignore::parse("SEC-WORLD-WRITABLE:/tmp/*").unwrap().matches(&f));
        assert!(!Ignore::parse("SEC-WORLD-WRITABLE:/tmp/a").unwrap().matches(&f), "every path must match");
        assert!(!Ignore::parse("RUN-AS-ROOT").unwrap().matches(&f));
        assert!(Ignore::parse("NOT-AN-ID").is_err());
        let file =
            Ignore::parse_file("# ours\nTAG-LATEST\n\nSEC-SETUID /usr/bin/*  # known\n", ".layerscopeignore").unwrap();
        assert_eq!(file.len(), 2);
        let e = Ignore::parse_file("TAG-LATEST\nBOGUS-ID\n", "f").unwrap_err();
        assert!(e.contains("f line 2"), "{e}");
        let mut list = vec![f.clone(), Finding::new(TAG_LATEST, "y", vec![])];
        assert_eq!(suppress(&mut list, &file), 1);
        assert_eq!(list.len(), 1);
    }
}
