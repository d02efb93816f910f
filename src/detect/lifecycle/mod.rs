//! The base OS's lifecycle and the image's age: which distribution and release the image is
//! built on (os-release, else `/etc/debian_version`, `/etc/alpine-release`,
//! `/etc/redhat-release`), its support dates from the built-in table ([`table`]) or
//! `--eol-data`, its status on the day of the scan (`--now`, `SOURCE_DATE_EPOCH`), and the
//! findings `OS-EOL`, `OS-EOL-SOON`, `OS-LTS-ONLY` and `IMG-STALE` (docs/report.md §3.13).

mod table;

pub use table::TABLE_DATE;

use super::{text_of, Context, Detector};
use crate::dates::{self, Day};
use crate::diag::Diagnostic;
use crate::findings::{Finding, IMG_STALE, OS_EOL, OS_EOL_SOON, OS_LTS_ONLY};
use crate::report::{ImageAge, Lifecycle, LifecycleStatus, OsRelease, PlatformReport};

/// Days before the end of life from which `OS-EOL-SOON` is raised, unless configured.
pub const EOL_SOON_DAYS: u32 = 180;
/// Age in days past which an image is `IMG-STALE`, unless configured.
pub const STALE_DAYS: u32 = 365;

/// When a stage of support ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    On(Day),
    /// Over, no date given (`"eol": true` in endoflife.date's format).
    Over,
    /// No end announced (`false`).
    Never,
}

/// One release's dates.
#[derive(Debug, Clone)]
pub struct Cycle {
    pub distro: String,
    pub release: String,
    pub name: String,
    pub released: Option<Day>,
    /// End of regular security support.
    pub support: End,
    /// End of every kind of support.
    pub eol: End,
    pub suggest: bool,
}

impl Cycle {
    fn status(&self, now: Day) -> LifecycleStatus {
        let past = |e: End| match e {
            End::On(d) => now > d,
            End::Over => true,
            End::Never => false,
        };
        if past(self.eol) {
            LifecycleStatus::Ended
        } else if past(self.support) {
            LifecycleStatus::Lts
        } else {
            LifecycleStatus::Supported
        }
    }
}

fn date(e: End) -> Option<Day> {
    match e {
        End::On(d) => Some(d),
        _ => None,
    }
}

/// Lifecycle dates from a file in endoflife.date's format: `{product: [{cycle, releaseDate,
/// support, eol, lts, extendedSupport}, …]}`, each date a `YYYY-MM-DD` string or a boolean.
#[derive(Debug, Clone, Default)]
pub struct EolData {
    pub cycles: Vec<Cycle>,
    /// The file, for the report's `source`.
    pub source: String,
}

impl EolData {
    /// Reads the JSON document `bytes`; `source` names it in reports and errors.
    pub fn parse(bytes: &[u8], source: &str) -> Result<Self, String> {
        let doc: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("{source}: not JSON in endoflife.date's format: {e}"))?;
        let products = doc.as_object().ok_or_else(|| format!("{source}: expected an object of products"))?;
        let mut cycles = Vec::new();
        for (product, list) in products {
            let distro = table::PRODUCT_NAMES
                .iter()
                .find(|(p, _)| *p == product.as_str())
                .map_or(product.as_str(), |(_, d)| d)
                .to_string();
            let list = list.as_array().ok_or_else(|| format!("{source}: {product}: expected an array of cycles"))?;
            for (i, c) in list.iter().enumerate() {
                let what = format!("{source}: {product}[{i}]");
                let release = match c.get("cycle") {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(serde_json::Value::Number(n)) => n.to_string(),
                    _ => return Err(format!("{what}: no \"cycle\"")),
                };
                let end = |key: &str| -> Result<Option<End>, String> {
                    match c.get(key) {
                        None | Some(serde_json::Value::Null) => Ok(None),
                        Some(serde_json::Value::Bool(true)) => Ok(Some(End::Over)),
                        Some(serde_json::Value::Bool(false)) => Ok(Some(End::Never)),
                        Some(serde_json::Value::String(s)) => dates::parse(s)
                            .map(|d| Some(End::On(d)))
                            .ok_or_else(|| format!("{what}: \"{key}\" is not a YYYY-MM-DD date: {s:?}")),
                        Some(_) => Err(format!("{what}: \"{key}\" is neither a date nor a boolean")),
                    }
                };
                let eol = end("eol")?.ok_or_else(|| format!("{what}: no \"eol\""))?;
                // A long-term stage past `eol` (Debian LTS, Ubuntu ESM) is the end of life.
                let later = [end("lts")?, end("extendedSupport")?]
                    .into_iter()
                    .flatten()
                    .filter_map(date)
                    .filter(|d| date(eol).is_some_and(|e| *d > e))
                    .max();
                let (support, eol) = match (end("support")?, later) {
                    (Some(s), Some(l)) => (s, End::On(l)),
                    (None, Some(l)) => (eol, End::On(l)),
                    (Some(s), None) => (s, eol),
                    (None, None) => (eol, eol),
                };
                let released = c.get("releaseDate").and_then(|v| v.as_str()).and_then(dates::parse);
                let name = format!("{} {release}", table::display_name(&distro));
                cycles.push(Cycle { distro: distro.clone(), release, name, released, support, eol, suggest: true });
            }
        }
        Ok(EolData { cycles, source: format!("file {source}") })
    }
}

fn builtin() -> Vec<Cycle> {
    table::ROWS
        .iter()
        .map(|r| Cycle {
            distro: r.distro.into(),
            release: r.release.into(),
            name: r.name.into(),
            released: dates::parse(r.released),
            support: dates::parse(r.support).map_or(End::Never, End::On),
            eol: dates::parse(r.eol).map_or(End::Never, End::On),
            suggest: r.suggest,
        })
        .collect()
}

/// The distribution and release an image is built on, and the file that said so.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Base {
    distro: String,
    release: String,
    evidence: &'static str,
}

fn major(v: &str) -> String {
    v.split('.').next().unwrap_or(v).to_string()
}

fn major_minor(v: &str) -> String {
    let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).collect::<String>();
    let mut parts = v.split('.');
    match (parts.next().map(digits), parts.next().map(digits)) {
        (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => format!("{a}.{b}"),
        _ => v.to_string(),
    }
}

fn debian_release(version: &str) -> Option<String> {
    let v = version.trim();
    if v.starts_with(|c: char| c.is_ascii_digit()) {
        return Some(major(v));
    }
    // `trixie/sid`: testing, named by the release it becomes.
    let name = v.split('/').next().unwrap_or(v);
    table::DEBIAN_CODENAMES.iter().find(|(c, _)| *c == name).map(|(_, r)| r.to_string())
}

/// The release key of a distribution's version string.
fn release_of(distro: &str, version: &str) -> String {
    match distro {
        "debian" => debian_release(version).unwrap_or_else(|| version.to_string()),
        "alpine" | "opensuse-leap" => major_minor(version),
        "rhel" | "rocky" | "almalinux" | "centos" | "centos-stream" | "fedora" | "amzn" => major(version),
        _ => version.to_string(),
    }
}

/// What the image says it is built on; `os` is what os-release said.
fn identify(cx: &Context, os: Option<&OsRelease>, os_path: &'static str) -> Option<Base> {
    if let Some(os) = os {
        let id = os.id.as_deref()?.trim().to_ascii_lowercase();
        let stream = os.pretty_name.as_deref().is_some_and(|n| n.contains("Stream"));
        let distro = if id == "centos" && stream { "centos-stream".to_string() } else { id };
        let version =
            match os.version_id.as_deref() {
                Some(v) => Some(v.to_string()),
                // Debian testing and trimmed files: the code name, else /etc/debian_version.
                None if distro == "debian" => os.version_codename.as_deref().and_then(debian_release).or_else(|| {
                    text_of(cx, "etc/debian_version").map(|t| String::from_utf8_lossy(t).trim().to_string())
                }),
                None => None,
            }?;
        return Some(Base { release: release_of(&distro, &version), distro, evidence: os_path });
    }
    let file = |p: &str| text_of(cx, p).map(|t| String::from_utf8_lossy(t).trim().to_string());
    if let Some(v) = file("etc/debian_version") {
        return Some(Base {
            distro: "debian".into(),
            release: release_of("debian", &v),
            evidence: "/etc/debian_version",
        });
    }
    if let Some(v) = file("etc/alpine-release") {
        return Some(Base {
            distro: "alpine".into(),
            release: release_of("alpine", &v),
            evidence: "/etc/alpine-release",
        });
    }
    let line = file("etc/redhat-release")?;
    // `Red Hat Enterprise Linux release 8.9 (Ootpa)`, `CentOS Linux release 7.9.2009 (Core)`.
    let (name, rest) = line.split_once(" release ")?;
    let version = rest.split_whitespace().next()?;
    let distro = match name {
        n if n.starts_with("Red Hat") => "rhel",
        n if n.starts_with("CentOS Stream") => "centos-stream",
        n if n.starts_with("CentOS") => "centos",
        n if n.starts_with("Rocky") => "rocky",
        n if n.starts_with("AlmaLinux") => "almalinux",
        n if n.starts_with("Fedora") => "fedora",
        _ => return None,
    };
    Some(Base { distro: distro.into(), release: release_of(distro, version), evidence: "/etc/redhat-release" })
}

/// The newest release of `distro` a user can move to on `now`.
fn successor<'a>(cycles: &'a [Cycle], distro: &str, now: Day) -> Option<&'a Cycle> {
    cycles
        .iter()
        .filter(|c| c.distro == distro && c.suggest && c.released.is_some_and(|r| r <= now))
        .filter(|c| c.status(now) == LifecycleStatus::Supported)
        .max_by_key(|c| c.released)
}

pub struct LifecycleDetector;

impl Detector for LifecycleDetector {
    fn name(&self) -> &'static str {
        "lifecycle"
    }

    fn run(&self, cx: &Context, r: &mut PlatformReport) {
        let now = cx.policy.now.unwrap_or_else(dates::today);
        image_age(cx, r, now);
        let os_path = if text_of(cx, "etc/os-release").is_some() { "/etc/os-release" } else { "/usr/lib/os-release" };
        let Some(base) = identify(cx, r.os_release.as_ref(), os_path) else {
            if r.os_release.is_some() || !r.package_databases.is_empty() {
                r.diagnostics.push(Diagnostic::warning(
                    None,
                    r.os_release.as_ref().map(|_| os_path),
                    "no distribution and release could be read (os-release ID and VERSION_ID, /etc/debian_version, /etc/alpine-release, /etc/redhat-release): the base OS's end of life is unknown",
                ));
                if let Some(os) = &mut r.os_release {
                    os.lifecycle = Some(Lifecycle {
                        distro: os.id.clone().unwrap_or_default(),
                        status: LifecycleStatus::Unknown,
                        ..Default::default()
                    });
                }
            }
            return;
        };
        let (from_file, source) = match &cx.policy.eol_data {
            Some(data) => (data.cycles.clone(), data.source.clone()),
            None => (Vec::new(), String::new()),
        };
        let table = builtin();
        let found = from_file
            .iter()
            .find(|c| c.distro == base.distro && c.release == base.release)
            .map(|c| (c, &from_file[..], source.clone()))
            .or_else(|| {
                table
                    .iter()
                    .find(|c| c.distro == base.distro && c.release == base.release)
                    .map(|c| (c, &table[..], format!("built-in table ({TABLE_DATE})")))
            });
        let os = r.os_release.get_or_insert_with(|| OsRelease {
            id: Some(base.distro.clone()),
            version_id: Some(base.release.clone()),
            ..Default::default()
        });
        let Some((cycle, cycles, source)) = found else {
            os.lifecycle = Some(Lifecycle {
                distro: base.distro,
                release: base.release,
                status: LifecycleStatus::Unknown,
                ..Default::default()
            });
            return;
        };
        let status = cycle.status(now);
        let (support, eol) = (date(cycle.support), date(cycle.eol));
        os.lifecycle = Some(Lifecycle {
            distro: base.distro.clone(),
            release: base.release.clone(),
            status,
            support_ends: support.map(dates::format),
            eol: eol.map(dates::format),
            source: Some(source),
        });
        let fix = match successor(cycles, &base.distro, now) {
            Some(s) if s.release != cycle.release => format!("rebuild on {}", s.name),
            _ => "no newer supported release is out: plan the move".to_string(),
        };
        let evidence = vec![base.evidence.to_string()];
        let on = |d: Option<Day>| d.map(dates::format).unwrap_or_else(|| "an unknown date".into());
        match status {
            LifecycleStatus::Ended => r.findings.push(Finding::new(
                OS_EOL,
                format!("{} reached its end of life on {}: no security fixes at all; {fix}", cycle.name, on(eol)),
                evidence.clone(),
            )),
            LifecycleStatus::Lts => r.findings.push(Finding::new(
                OS_LTS_ONLY,
                format!(
                    "{}'s regular security support ended on {}; only long-term support remains, until {}; {fix}",
                    cycle.name,
                    on(support),
                    on(eol)
                ),
                evidence.clone(),
            )),
            _ => {}
        }
        let soon = i64::from(cx.policy.eol_soon_days.unwrap_or(EOL_SOON_DAYS));
        if let Some(e) = eol.filter(|e| status != LifecycleStatus::Ended && e - now <= soon) {
            r.findings.push(Finding::new(
                OS_EOL_SOON,
                format!("{} reaches its end of life on {}, in {} days; {fix}", cycle.name, dates::format(e), e - now),
                evidence,
            ));
        }
    }
}

/// The image's age from the config's `created`, and `IMG-STALE`.
fn image_age(cx: &Context, r: &mut PlatformReport, now: Day) {
    let created = r.created.as_deref().map(|c| (c, dates::parse(c)));
    let age = match created {
        None => {
            ImageAge { days: None, stale: false, note: Some("no creation date in the config: age not judged".into()) }
        }
        Some((c, None)) => ImageAge {
            days: None,
            stale: false,
            note: Some(format!("creation date {c:?} is not a date: age not judged")),
        },
        Some((_, Some(0))) => ImageAge {
            days: None,
            stale: false,
            note: Some("created at the epoch (1970-01-01), as reproducible builds write: age not judged".into()),
        },
        Some((_, Some(day))) => {
            let days = now - day;
            let limit = i64::from(cx.policy.stale_days.unwrap_or(STALE_DAYS));
            let stale = days > limit;
            if stale {
                r.findings.push(Finding::new(
                    IMG_STALE,
                    format!(
                        "built on {}, {days} days ago (more than {limit}): rebuild it so that it picks up its base's fixes",
                        dates::format(day)
                    ),
                    vec![],
                ));
            }
            let note = (days < 0).then(|| "created after the day of the scan".to_string());
            ImageAge { days: Some(days), stale, note }
        }
    };
    r.image_age = Some(age);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_keys() {
        assert_eq!(release_of("debian", "12.7"), "12");
        assert_eq!(release_of("debian", "trixie/sid"), "13");
        assert_eq!(release_of("alpine", "3.19.1"), "3.19");
        assert_eq!(release_of("alpine", "3.21_alpha20240807"), "3.21");
        assert_eq!(release_of("rhel", "9.4"), "9");
        assert_eq!(release_of("ubuntu", "22.04"), "22.04");
        assert_eq!(release_of("opensuse-leap", "15.6"), "15.6");
        assert_eq!(release_of("plan9", "4"), "4");
    }

    #[test]
    fn status_by_day() {
        let d = |s| dates::parse(s).unwrap();
        let c = builtin().into_iter().find(|c| c.distro == "debian" && c.release == "12").unwrap();
        assert_eq!(c.status(d("2026-06-10")), LifecycleStatus::Supported);
        assert_eq!(c.status(d("2026-06-11")), LifecycleStatus::Lts);
        assert_eq!(c.status(d("2028-06-30")), LifecycleStatus::Lts);
        assert_eq!(c.status(d("2028-07-01")), LifecycleStatus::Ended);
        let all = builtin();
        assert_eq!(successor(&all, "debian", d("2026-11-30")).map(|c| c.name.as_str()), Some("Debian 13"));
        assert_eq!(successor(&all, "ubuntu", d("2026-11-30")).map(|c| c.name.as_str()), Some("Ubuntu 24.04"));
        assert_eq!(successor(&all, "debian", d("2024-01-01")).map(|c| c.name.as_str()), Some("Debian 12"));
    }

    #[test]
    fn endoflife_date_files() {
        let f = br#"{"debian": [{"cycle": "12", "releaseDate": "2023-06-10", "support": "2026-06-10",
            "eol": "2026-06-10", "lts": true, "extendedSupport": "2028-06-30"}],
            "alpine-linux": [{"cycle": 3.9, "eol": true}], "ubuntu": [{"cycle": "99.04", "eol": false}]}"#;
        let data = EolData::parse(f, "x.json").unwrap();
        let deb = data.cycles.iter().find(|c| c.distro == "debian").unwrap();
        assert_eq!(
            (deb.support, deb.eol),
            (End::On(dates::parse("2026-06-10").unwrap()), End::On(dates::parse("2028-06-30").unwrap()))
        );
        let alp = data.cycles.iter().find(|c| c.distro == "alpine").unwrap();
        assert_eq!((alp.release.as_str(), alp.status(0)), ("3.9", LifecycleStatus::Ended));
        let ubu = data.cycles.iter().find(|c| c.distro == "ubuntu").unwrap();
        assert_eq!(ubu.status(100_000), LifecycleStatus::Supported);
        for bad in [
            &b"[]"[..],
            b"{\"debian\": 3}",
            b"{\"debian\": [{\"eol\": \"2020-01-01\"}]}",
            b"{\"debian\": [{\"cycle\": \"1\", \"eol\": \"soon\"}]}",
            b"nope",
        ] {
            assert!(EolData::parse(bad, "bad.json").is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
