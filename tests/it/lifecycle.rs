//! The base OS's lifecycle (docs/report.md §3.13): the release read from os-release or the
//! distributions' own files, its status on a fixed day (`--now`, `SOURCE_DATE_EPOCH`), the
//! findings, `--eol-data`, and the image's age. Expected dates are the distributions' published
//! ones, written here by hand, not read from the code's table.

use std::process::Command;

use crate::common::{self, layout, only_platform, testdata, Comp, Image, E};
use layerscope::dates;
use layerscope::detect::Policy;
use layerscope::pipeline::{self, ScanOptions};
use layerscope::report::{LifecycleStatus, PlatformReport};

fn scan_on(reference: &str, now: &str) -> PlatformReport {
    let opts = ScanOptions { policy: Policy { now: dates::parse(now), ..Policy::default() }, ..ScanOptions::default() };
    let r = pipeline::scan(reference, &opts).unwrap_or_else(|e| panic!("{reference}: {e}"));
    only_platform(&r).clone()
}

fn oci(name: &str) -> String {
    format!("oci:{}", testdata(&format!("images/{name}/oci")).display())
}

/// (status, support_ends, eol, source) of a platform.
fn lifecycle(p: &PlatformReport) -> (LifecycleStatus, Option<String>, Option<String>, Option<String>) {
    let l = p.os_release.as_ref().and_then(|o| o.lifecycle.clone()).expect("a lifecycle");
    (l.status, l.support_ends, l.eol, l.source)
}

fn ids(p: &PlatformReport) -> Vec<&str> {
    let mut v: Vec<&str> =
        p.findings.iter().map(|f| f.id.as_str()).filter(|i| i.starts_with("OS-") || i.starts_with("IMG-")).collect();
    v.sort();
    v
}

fn message<'a>(p: &'a PlatformReport, id: &str) -> &'a str {
    p.findings.iter().find(|f| f.id == id).map(|f| f.message.as_str()).unwrap_or_else(|| panic!("no {id}"))
}

/// An image of one layer holding `files`, with `created` in its config.
fn image(dir: &std::path::Path, files: &[(&str, &[u8])], created: Option<&'static str>) -> String {
    let entries: Vec<E> = files.iter().map(|(p, b)| E::File(p, b)).collect();
    let mut img = Image::new("amd64", vec![(common::tar(&entries), Comp::Gzip)]);
    img.created = created;
    layout(dir, &img)
}

#[test]
fn debian_12_through_its_support_lts_and_end() {
    // Debian 12 (bookworm): security support until 2026-06-10, LTS until 2028-06-30
    // (wiki.debian.org/DebianReleases, wiki.debian.org/LTS).
    let (support, eol) = (Some("2026-06-10".to_string()), Some("2028-06-30".to_string()));
    let p = scan_on(&oci("glibc"), "2026-01-01");
    assert_eq!(lifecycle(&p).0, LifecycleStatus::Supported);
    assert_eq!((lifecycle(&p).1, lifecycle(&p).2), (support.clone(), eol.clone()));
    assert!(lifecycle(&p).3.is_some_and(|s| s.starts_with("built-in table (")));
    assert!(ids(&p).is_empty(), "{:?}", ids(&p));

    let p = scan_on(&oci("glibc"), "2026-06-11");
    assert_eq!(lifecycle(&p).0, LifecycleStatus::Lts);
    assert_eq!(ids(&p), ["OS-LTS-ONLY"]);
    let m = message(&p, "OS-LTS-ONLY");
    assert!(m.contains("2026-06-10") && m.contains("2028-06-30") && m.contains("rebuild on Debian 13"), "{m}");

    // 121 days before the end of life: soon (180 days by default), still LTS.
    let p = scan_on(&oci("glibc"), "2028-03-01");
    assert_eq!(ids(&p), ["OS-EOL-SOON", "OS-LTS-ONLY"]);
    assert!(message(&p, "OS-EOL-SOON").contains("in 121 days"), "{}", message(&p, "OS-EOL-SOON"));

    let p = scan_on(&oci("glibc"), "2028-07-01");
    assert_eq!(lifecycle(&p).0, LifecycleStatus::Ended);
    assert_eq!(ids(&p), ["OS-EOL"]);
    let eol_finding = p.findings.iter().find(|f| f.id == "OS-EOL").unwrap();
    assert_eq!(eol_finding.severity, layerscope::findings::Severity::High);
    assert_eq!(eol_finding.paths, ["/etc/os-release"]);
    assert!(eol_finding.message.contains("2028-06-30") && eol_finding.message.contains("rebuild on Debian 13"));
}

#[test]
fn distroless_is_judged_by_its_debian_release() {
    let p = scan_on(&oci("distroless"), "2026-11-30");
    let l = p.os_release.as_ref().and_then(|o| o.lifecycle.as_ref()).unwrap();
    assert_eq!((l.distro.as_str(), l.release.as_str(), l.status), ("debian", "12", LifecycleStatus::Lts));
}

#[test]
fn alpine_past_its_end_unknown_distributions_and_fallback_files() {
    let tmp = tempfile::tempdir().unwrap();
    // Alpine 3.14: end of support 2023-05-01 (alpinelinux.org/releases).
    let alpine = image(
        &tmp.path().join("alpine"),
        &[
            ("etc/os-release", b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.14.2\n"),
            ("etc/alpine-release", b"3.14.2\n"),
        ],
        None,
    );
    let p = scan_on(&alpine, "2026-11-30");
    assert_eq!(
        lifecycle(&p),
        (LifecycleStatus::Ended, Some("2023-05-01".into()), Some("2023-05-01".into()), lifecycle(&p).3)
    );
    assert!(message(&p, "OS-EOL").contains("rebuild on Alpine 3.22"), "{}", message(&p, "OS-EOL"));

    let plan9 = image(&tmp.path().join("plan9"), &[("etc/os-release", b"ID=plan9\nVERSION_ID=4\n")], None);
    let p = scan_on(&plan9, "2026-11-30");
    assert_eq!(lifecycle(&p), (LifecycleStatus::Unknown, None, None, None));
    assert!(ids(&p).is_empty());

    // No os-release: /etc/debian_version, /etc/redhat-release.
    let deb = image(&tmp.path().join("deb"), &[("etc/debian_version", b"11.9\n")], None);
    let p = scan_on(&deb, "2026-11-30");
    let os = p.os_release.as_ref().unwrap();
    assert_eq!((os.id.as_deref(), os.version_id.as_deref()), (Some("debian"), Some("11")));
    // Debian 11: LTS until 2026-08-31.
    assert_eq!(lifecycle(&p).0, LifecycleStatus::Ended);
    assert_eq!(p.findings.iter().find(|f| f.id == "OS-EOL").unwrap().paths, ["/etc/debian_version"]);

    let centos =
        image(&tmp.path().join("centos"), &[("etc/redhat-release", b"CentOS Linux release 7.9.2009 (Core)\n")], None);
    let p = scan_on(&centos, "2024-02-01");
    assert_eq!(
        lifecycle(&p),
        (LifecycleStatus::Supported, Some("2024-06-30".into()), Some("2024-06-30".into()), lifecycle(&p).3)
    );
    assert_eq!(ids(&p), ["OS-EOL-SOON"]);
}

#[test]
fn malformed_os_release_is_a_warning_and_unknown() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = image(
        &tmp.path().join("bad"),
        &[
            ("etc/os-release", b"\xff\xfe garbage = = \n\0\0PRETTY_NAME\n"),
            ("var/lib/dpkg/status", b"Package: x\nVersion: 1\n\n"),
        ],
        None,
    );
    let p = scan_on(&bad, "2026-11-30");
    assert_eq!(lifecycle(&p).0, LifecycleStatus::Unknown);
    assert!(
        p.diagnostics
            .iter()
            .any(|d| d.message.contains("end of life is unknown") && d.path.as_deref() == Some("/etc/os-release")),
        "{:?}",
        p.diagnostics
    );
    // An image with no OS at all (static binaries) says nothing.
    let p = scan_on(&oci("static"), "2026-11-30");
    assert!(p.os_release.is_none() && !p.diagnostics.iter().any(|d| d.message.contains("end of life")));
}

#[test]
fn image_age_and_stale_images() {
    let tmp = tempfile::tempdir().unwrap();
    let old = image(&tmp.path().join("old"), &[("hello", b"hi\n")], Some("2020-01-01T10:00:00Z"));
    let p = scan_on(&old, "2021-01-02");
    let age = p.image_age.clone().unwrap();
    assert_eq!((age.days, age.stale), (Some(367), true));
    assert!(message(&p, "IMG-STALE").contains("2020-01-01"));
    let p = scan_on(&old, "2020-12-30");
    assert_eq!((p.image_age.as_ref().unwrap().days, ids(&p).len()), (Some(364), 0));

    // The epoch, as reproducible builds write, and no date at all: not judged, and said so.
    let p = scan_on(&oci("glibc"), "2040-01-01");
    let age = p.image_age.clone().unwrap();
    assert_eq!((age.days, age.stale), (None, false));
    assert!(age.note.unwrap().contains("epoch"));
    let none = image(&tmp.path().join("none"), &[("hello", b"hi\n")], None);
    let age = scan_on(&none, "2040-01-01").image_age.unwrap();
    assert!(age.days.is_none() && age.note.unwrap().contains("no creation date"));
}

fn layerscope(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_layerscope"));
    c.args(args).env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn json_lifecycle(o: &std::process::Output) -> serde_json::Value {
    assert!(o.status.code().is_some_and(|c| c != 2), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["platforms"][0]["os_release"]["lifecycle"].clone()
}

#[test]
fn the_clock_and_the_data_come_from_the_command_line() {
    let img = testdata("images/glibc/oci");
    let img = img.to_str().unwrap();
    let l = json_lifecycle(&layerscope(&["scan", "-q", "--format", "json", "--now", "2028-07-01", img], &[]));
    assert_eq!(l["status"], "ended");
    // SOURCE_DATE_EPOCH: 2026-01-01T00:00:00Z.
    let l =
        json_lifecycle(&layerscope(&["scan", "-q", "--format", "json", img], &[("SOURCE_DATE_EPOCH", "1767225600")]));
    assert_eq!(l["status"], "supported");
    let o = layerscope(&["scan", "-q", "--format", "json", "--now", "2026-02-30", img], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a date"));

    // --eol-data in endoflife.date's format overrides the table.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("eol.json");
    std::fs::write(&data, r#"{"debian": [{"cycle": "12", "support": "2030-01-01", "eol": "2031-01-01"}]}"#).unwrap();
    let d = data.to_str().unwrap();
    let l = json_lifecycle(&layerscope(
        &["scan", "-q", "--format", "json", "--now", "2028-07-01", "--eol-data", d, img],
        &[],
    ));
    assert_eq!((l["status"].as_str(), l["eol"].as_str()), (Some("supported"), Some("2031-01-01")));
    assert_eq!(l["source"].as_str(), Some(format!("file {d}").as_str()));
    std::fs::write(&data, "{\"debian\": [{\"cycle\": \"12\", \"eol\": \"someday\"}]}").unwrap();
    let o = layerscope(&["scan", "-q", "--eol-data", d, img], &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("eol.json") && err.contains("someday"), "{err}");

    // --eol-soon-days and --fail-on on the new findings; compare shows the lifecycle.
    let o = layerscope(
        &["scan", "-q", "--now", "2026-01-01", "--eol-soon-days", "1000", "--fail-on", "OS-EOL-SOON", img],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("os lifecycle      supported: regular support until 2026-06-10")
    );
    let musl = testdata("images/musl/oci");
    let o = layerscope(&["compare", "-q", "--format", "json", "--now", "2026-07-01", img, musl.to_str().unwrap()], &[]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["sides"][0]["lifecycle"]["status"], "lts");
    assert!(v["sides"][1]["lifecycle"].is_null());
    let o = layerscope(&["version"], &[]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("lifecycle table of 20"));
}
