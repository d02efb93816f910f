//! `compare`: the differences planted in `multiarch-drift` are each found, the Debian-like
//! `multiarch` pair shows none after normalisation, two images compare per shared platform,
//! ARCH-MISSING and the exit codes, the JSON schema and Markdown shape, and layers read once.
//!
//! Expected values are read from the fixtures' own bytes here (index, manifests, configs and
//! layer tars walked with the `tar` and `flate2` crates), not taken from layerscope.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{layout, tar, testdata, Comp, Image, E};
use layerscope::compare::{self, CompareOptions, CompareReport, Comparison, Mode, PathEntry};
use layerscope::oci::platform::{Platform, PlatformFilter};
use layerscope::report::LibcKind;

fn oci(name: &str) -> String {
    testdata(&format!("images/{name}/oci")).display().to_string()
}

fn run_compare(refs: &[&str], opts: &CompareOptions) -> CompareReport {
    compare::compare(refs, opts).unwrap_or_else(|e| panic!("compare {refs:?}: {e}"))
}

fn quiet() -> CompareOptions {
    CompareOptions::default()
}

fn layerscope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_layerscope")).args(args).env("NO_COLOR", "1").output().unwrap()
}

// ---------------------------------------------------------------- the fixtures, read directly

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn blob(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))
}

/// One platform manifest of a layout: its platform, and (layer digest, diff_id) in order.
struct RawImage {
    platform: String,
    layers: Vec<(String, String)>,
}

/// Every platform manifest of an OCI layout (nested indexes followed; attestations skipped).
fn raw_images(dir: &Path) -> Vec<RawImage> {
    fn walk(dir: &Path, index: &serde_json::Value, out: &mut Vec<RawImage>) {
        for m in index["manifests"].as_array().unwrap() {
            let d = m["digest"].as_str().unwrap();
            let doc = json(&blob(dir, d));
            if doc["manifests"].is_array() {
                walk(dir, &doc, out);
                continue;
            }
            let p = &m["platform"];
            if p.is_null() || p["os"] == "unknown" {
                continue;
            }
            let mut platform = format!("{}/{}", p["os"].as_str().unwrap(), p["architecture"].as_str().unwrap());
            if let Some(v) = p["variant"].as_str() {
                platform.push_str(&format!("/{v}"));
            }
            let config = json(&blob(dir, doc["config"]["digest"].as_str().unwrap()));
            let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
            let layers = doc["layers"]
                .as_array()
                .unwrap()
                .iter()
                .zip(diff_ids)
                .map(|(l, id)| (l["digest"].as_str().unwrap().to_string(), id.as_str().unwrap().to_string()))
                .collect();
            out.push(RawImage { platform, layers });
        }
    }
    let mut out = Vec::new();
    walk(dir, &json(&dir.join("index.json")), &mut out);
    out
}

/// The non-directory entries of a platform (path → (is regular file, size, content if small)),
/// layers applied in order. These fixtures have no whiteouts, which is checked.
fn raw_files(dir: &Path, img: &RawImage) -> BTreeMap<String, (bool, u64, Vec<u8>)> {
    let mut files = BTreeMap::new();
    for (digest, _) in &img.layers {
        let bytes = std::fs::read(blob(dir, digest)).unwrap();
        let stream: Box<dyn Read> = match bytes.get(..4) {
            Some([0x1f, 0x8b, _, _]) => Box::new(flate2::read::GzDecoder::new(&bytes[..])),
            Some([0x28, 0xb5, 0x2f, 0xfd]) => Box::new(zstd::stream::read::Decoder::new(&bytes[..]).unwrap()),
            _ => Box::new(&bytes[..]),
        };
        let mut archive = ::tar::Archive::new(stream);
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().trim_end_matches('/').to_string();
            assert!(!path.rsplit('/').next().unwrap().starts_with(".wh."), "no whiteouts expected: {path}");
            let kind = e.header().entry_type();
            if kind.is_dir() {
                continue;
            }
            let size = e.header().size().unwrap();
            let mut content = Vec::new();
            if kind.is_file() && size < 64 << 10 {
                e.read_to_end(&mut content).unwrap();
            }
            files.insert(path, (kind.is_file(), size, content));
        }
    }
    files
}

/// (Package, Version) of every stanza of a dpkg status file.
fn dpkg_packages(status: &[u8]) -> BTreeMap<String, String> {
    let text = std::str::from_utf8(status).unwrap();
    let mut out = BTreeMap::new();
    for stanza in text.split("\n\n").filter(|s| !s.trim().is_empty()) {
        let field =
            |k: &str| stanza.lines().find_map(|l| l.strip_prefix(&format!("{k}: ")).map(str::to_string)).unwrap();
        out.insert(field("Package"), field("Version"));
    }
    out
}

fn by_platform<'a>(imgs: &'a [RawImage], p: &str) -> &'a RawImage {
    imgs.iter().find(|i| i.platform == p).unwrap_or_else(|| panic!("no {p}"))
}

/// True when a path names its architecture (the only kind of raw difference normalisation may
/// hide): a multiarch triplet, a loader name, or lib64.
fn arch_specific(path: &str) -> bool {
    ["x86_64-linux-gnu", "aarch64-linux-gnu", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "lib64/"]
        .iter()
        .any(|p| path.contains(p))
}

fn only_comparison(r: &CompareReport) -> &Comparison {
    assert_eq!(r.comparisons.len(), 1, "one comparison");
    &r.comparisons[0]
}

fn ids(f: &[layerscope::findings::Finding]) -> Vec<&str> {
    f.iter().map(|f| f.id.as_str()).collect()
}

// ---------------------------------------------------------------- planted differences

#[test]
fn every_planted_difference_of_multiarch_drift_is_found() {
    let dir = testdata("images/multiarch-drift/oci");
    let raw = raw_images(&dir);
    let (amd, arm) = (by_platform(&raw, "linux/amd64"), by_platform(&raw, "linux/arm64/v8"));
    let (fa, fr) = (raw_files(&dir, amd), raw_files(&dir, arm));

    let r = run_compare(&[&oci("multiarch-drift")], &quiet());
    assert_eq!(r.mode, Mode::Platforms);
    let labels: Vec<&str> = r.sides.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, ["linux/amd64", "linux/arm64/v8"], "index order");
    let c = only_comparison(&r);
    assert_eq!((c.left, c.right), (0, 1));

    // 1. A file only in arm64. Raw, the variants also differ in arch-specific paths; those
    //    are all that normalisation is allowed to hide.
    let raw_only_arm: Vec<&String> = fr.keys().filter(|p| !fa.contains_key(*p)).collect();
    let raw_only_amd: Vec<&String> = fa.keys().filter(|p| !fr.contains_key(*p)).collect();
    let planted: Vec<&&String> = raw_only_arm.iter().filter(|p| !arch_specific(p)).collect();
    assert_eq!(planted.len(), 1, "one non-arch file only in arm64: {raw_only_arm:?}");
    assert!(raw_only_amd.iter().all(|p| arch_specific(p)), "{raw_only_amd:?}");
    let (_, size, _) = &fr[planted[0].as_str()];
    assert_eq!(
        c.files.only_right,
        vec![PathEntry { path: format!("/{}", planted[0]), kind: "file".into(), entries: 1, bytes: *size }]
    );
    assert_eq!(c.files.only_right[0].path, "/usr/share/layerscope/arm64-tuning.conf");
    assert!(c.files.only_left.is_empty(), "{:?}", c.files.only_left);
    assert!(c.files.kind_changed.is_empty());
    assert_eq!(c.files.left_paths, fa.len() as u64);

    // 2. dpkg: libc6 at another version, and a package only in arm64.
    let status = "var/lib/dpkg/status";
    let (pa, pr) = (dpkg_packages(&fa[status].2), dpkg_packages(&fr[status].2));
    assert_eq!(pa.len(), 2);
    assert_eq!(pr.len(), 3);
    let changed: Vec<(&str, &str, &str)> =
        c.packages.different_versions.iter().map(|v| (v.name.as_str(), v.left.as_str(), v.right.as_str())).collect();
    let expected: Vec<(&str, &str, &str)> = pa
        .iter()
        .filter_map(|(n, v)| pr.get(n).filter(|w| *w != v).map(|w| (n.as_str(), v.as_str(), w.as_str())))
        .collect();
    assert_eq!(changed, expected);
    assert_eq!(changed, [("libc6", "2.36-9+deb12u14", "2.36-8")]);
    assert!(c.packages.different_versions.iter().all(|v| v.manager == "dpkg"));
    let only: Vec<(&str, &str)> = c.packages.only_right.iter().map(|p| (p.name.as_str(), p.version.as_str())).collect();
    let expected: Vec<(&str, &str)> =
        pr.iter().filter(|(n, _)| !pa.contains_key(*n)).map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(only, expected);
    assert_eq!(only, [("layerscope-tuning", "1.0-1")]);
    assert!(c.packages.only_left.is_empty());

    // 3. An amd64 binary in the arm64 variant: same bytes in both, so only the machine differs,
    //    and ARCH-MISMATCH is in arm64 only.
    let greet = "usr/local/bin/greet";
    assert_eq!(fa[greet].2, fr[greet].2, "the same binary in both variants");
    assert_eq!(&fa[greet].2[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([fa[greet].2[18], fa[greet].2[19]]), 62, "EM_X86_64");
    assert_eq!(c.binaries.len(), 1, "{:#?}", c.binaries);
    let b = &c.binaries[0];
    assert_eq!((b.left_path.as_str(), b.right_path.as_str()), ("/usr/local/bin/greet", "/usr/local/bin/greet"));
    assert_eq!(b.differs, ["machine"]);
    assert!(b.left.native && !b.right.native);
    assert_eq!((b.left.machine.as_str(), b.right.machine.as_str()), ("amd64", "amd64"));
    assert_eq!(ids(&c.findings.only_right), ["ARCH-MISMATCH"]);
    assert_eq!(c.findings.only_right[0].paths, ["/usr/local/bin/greet"]);
    assert!(c.findings.only_left.is_empty());
    let arm_side = &r.sides[1];
    assert_eq!(arm_side.findings_by_severity.high, 1);
    assert_eq!(r.sides[0].findings_by_severity.high, 0);

    assert_eq!(c.differences, 5, "file, 2 packages, binary, finding");
    // Sizes: the directory whose size differs most is /lib (the two C libraries).
    let lib_a: u64 = fa.iter().filter(|(p, f)| p.starts_with("lib") && f.0).map(|(_, f)| f.1).sum();
    let lib_r: u64 = fr.iter().filter(|(p, f)| p.starts_with("lib") && f.0).map(|(_, f)| f.1).sum();
    let top = &c.directories[0];
    assert_eq!((top.path.as_str(), top.left_bytes, top.right_bytes), ("/lib", lib_a, lib_r));
    assert_eq!(top.difference, lib_r as i64 - lib_a as i64);
}

#[test]
fn the_multiarch_pair_differs_only_in_architecture() {
    let dir = testdata("images/multiarch/oci");
    let raw = raw_images(&dir);
    let (fa, fr) =
        (raw_files(&dir, by_platform(&raw, "linux/amd64")), raw_files(&dir, by_platform(&raw, "linux/arm64/v8")));
    // Raw, the path lists differ, and only in arch-specific paths.
    let raw_diff: Vec<&String> =
        fa.keys().filter(|p| !fr.contains_key(*p)).chain(fr.keys().filter(|p| !fa.contains_key(*p))).collect();
    assert!(raw_diff.len() >= 4, "{raw_diff:?}");
    assert!(raw_diff.iter().all(|p| arch_specific(p)), "{raw_diff:?}");

    let r = run_compare(&[&oci("multiarch")], &quiet());
    let c = only_comparison(&r);
    assert!(c.files.only_left.is_empty(), "{:#?}", c.files.only_left);
    assert!(c.files.only_right.is_empty(), "{:#?}", c.files.only_right);
    assert!(c.files.kind_changed.is_empty());
    assert_eq!(c.files.normalised_paths as usize, raw_diff.len(), "normalisation rewrote exactly those");
    assert_eq!((c.files.left_paths, c.files.right_paths), (fa.len() as u64, fr.len() as u64));
    assert!(c.binaries.is_empty(), "{:#?}", c.binaries);
    assert!(c.packages.only_left.is_empty() && c.packages.only_right.is_empty());
    assert!(c.findings.only_left.is_empty() && c.findings.only_right.is_empty());
    assert_eq!(c.differences, 0);
    // Sizes still differ (the binaries are different builds), and are reported.
    assert!(!c.directories.is_empty());
    // The summary rows are real: libc and its version agree, loaders do not.
    let (a, b) = (&r.sides[0], &r.sides[1]);
    assert_eq!((a.libc.kind, a.libc.version.as_deref()), (LibcKind::Glibc, Some("2.36")));
    assert_eq!(a.libc.kind, b.libc.kind);
    assert_eq!(b.libc.loaders, ["/lib/ld-linux-aarch64.so.1"]);
    let files = |f: &BTreeMap<String, (bool, u64, Vec<u8>)>| f.values().filter(|x| x.0).count() as u64;
    assert_eq!((a.files, b.files), (files(&fa), files(&fr)));
}

// ---------------------------------------------------------------- two images

#[test]
fn two_images_compare_per_shared_platform() {
    // static (glibc -static hello) against compression (musl-static hello + two more layers).
    let (ds, dc) = (testdata("images/static/oci"), testdata("images/compression/oci"));
    let (rs, rc) = (raw_images(&ds), raw_images(&dc));
    let (fs, fc) = (raw_files(&ds, &rs[0]), raw_files(&dc, &rc[0]));
    let r = run_compare(&[&oci("static"), &oci("compression")], &quiet());
    assert_eq!(r.mode, Mode::Images);
    let labels: Vec<&str> = r.sides.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, ["A linux/amd64", "B linux/amd64"]);
    assert_eq!(r.images.iter().map(|i| i.label.as_str()).collect::<Vec<_>>(), ["A", "B"]);
    let c = only_comparison(&r);
    let only_b: Vec<PathEntry> = fc
        .iter()
        .filter(|(p, _)| !fs.contains_key(*p))
        .map(|(p, f)| PathEntry { path: format!("/{p}"), kind: "file".into(), entries: 1, bytes: f.1 })
        .collect();
    assert_eq!(c.files.only_right, only_b);
    assert_eq!(only_b.len(), 2, "data/lines.txt and etc/motd");
    assert!(c.files.only_left.is_empty());
    // /hello is on both sides, static on both: no binary difference.
    assert!(c.binaries.is_empty(), "{:#?}", c.binaries);
    let (a, b) = (&r.sides[0], &r.sides[1]);
    assert_eq!((a.layers, b.layers), (rs[0].layers.len(), rc[0].layers.len()));
    let compressed = |d: &Path, i: &RawImage| -> u64 {
        i.layers.iter().map(|(l, _)| std::fs::metadata(blob(d, l)).unwrap().len()).sum()
    };
    assert_eq!((a.compressed_bytes, b.compressed_bytes), (compressed(&ds, &rs[0]), compressed(&dc, &rc[0])));

    // glibc (amd64 only) against multiarch, on linux/amd64.
    let opts = CompareOptions {
        scan: layerscope::pipeline::ScanOptions {
            platforms: PlatformFilter::parse("linux/amd64").unwrap(),
            ..Default::default()
        },
        ..Default::default()
    };
    let r = run_compare(&[&oci("glibc"), &oci("multiarch")], &opts);
    assert_eq!(r.sides.len(), 2);
    assert_eq!(r.images[1].platforms_not_selected, ["linux/arm64/v8"]);
    let c = only_comparison(&r);
    let dg = testdata("images/glibc/oci");
    let fg = raw_files(&dg, &raw_images(&dg)[0]);
    let glibc_pkgs = dpkg_packages(&fg["var/lib/dpkg/status"].2);
    let only_a: BTreeMap<String, String> =
        c.packages.only_left.iter().map(|p| (p.name.clone(), p.version.clone())).collect();
    assert_eq!(only_a, glibc_pkgs, "multiarch has no package database");
    let paths: Vec<&str> = c.files.only_left.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"/usr/local/bin/mathy"), "{paths:?}");
    assert!(c.files.only_right.iter().any(|e| e.path == "/etc/fixture.txt"));
    // glibc is merged-/usr: /lib is a symlink there, a directory in multiarch.
    assert!(c.files.kind_changed.iter().any(|k| k.path == "/lib" && k.left == "symlink" && k.right == "dir"));
}

#[test]
fn a_directory_missing_on_one_side_is_one_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let left = layout(
        &tmp.path().join("left"),
        &Image::new(
            "amd64",
            vec![(
                tar(&[
                    E::Dir("opt/"),
                    E::Dir("opt/tool/"),
                    E::File("opt/tool/a", b"aaaa"),
                    E::File("opt/tool/b", b"bbbbbb"),
                    E::Symlink("opt/tool/c", "a"),
                    E::File("etc/keep", b"k"),
                ]),
                Comp::Gzip,
            )],
        ),
    );
    let right = layout(
        &tmp.path().join("right"),
        &Image::new("amd64", vec![(tar(&[E::File("etc/keep", b"k"), E::File("opt", b"now a file")]), Comp::Zstd)]),
    );
    let r = run_compare(&[&left, &right], &quiet());
    let c = only_comparison(&r);
    assert_eq!(
        c.files.only_left,
        vec![PathEntry { path: "/opt/tool".into(), kind: "dir".into(), entries: 3, bytes: 10 }]
    );
    assert_eq!(c.files.kind_changed.len(), 1);
    let k = &c.files.kind_changed[0];
    assert_eq!((k.path.as_str(), k.left.as_str(), k.right.as_str()), ("/opt", "dir", "file"));
    assert!(c.files.only_right.is_empty());
    assert_eq!(c.differences, 2);
}

// ---------------------------------------------------------------- ARCH-MISSING, exit codes

#[test]
fn expected_platform_missing_is_arch_missing_and_fails_on_high() {
    let img = oci("multiarch");
    let out = layerscope(&[
        "compare",
        "-q",
        "--format",
        "json",
        "--fail-on",
        "high",
        "--expect-platforms",
        "linux/amd64,linux/arm64,linux/s390x",
        &img,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = v["images"][0]["findings"].as_array().unwrap();
    let missing: Vec<&serde_json::Value> = f.iter().filter(|f| f["id"] == "ARCH-MISSING").collect();
    assert_eq!(missing.len(), 1, "{f:#?}");
    assert_eq!(missing[0]["severity"], "high");
    assert!(missing[0]["message"].as_str().unwrap().contains("linux/s390x"));
    // Without --fail-on, an expectation not met still exits 1, and says why on stderr.
    let out = layerscope(&["compare", "-q", "--expect-platforms", "linux/s390x", &img]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("linux/s390x"));
    // `--platform` is accepted as `--platforms` is (scan and batch spell it so).
    let out = layerscope(&["compare", "-q", "--platform", "linux/amd64,linux/arm64", &img]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // Every expected platform present: the same command passes.
    let ok = layerscope(&["compare", "-q", "--fail-on", "high", "--expect-platforms", "linux/amd64,arm64", &img]);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    // A platform named with --platforms that the image lacks is ARCH-MISSING too.
    let opts = CompareOptions {
        scan: layerscope::pipeline::ScanOptions {
            platforms: PlatformFilter::parse("linux/arm64,linux/riscv64").unwrap(),
            ..Default::default()
        },
        expect: vec![Platform::parse("linux/amd64").unwrap()],
        ..Default::default()
    };
    let r = run_compare(&[&img], &opts);
    assert_eq!(r.sides.len(), 1, "only arm64 selected and present");
    assert!(r.comparisons.is_empty());
    let m: Vec<&str> =
        r.images[0].findings.iter().filter(|f| f.id == "ARCH-MISSING").map(|f| f.message.as_str()).collect();
    assert_eq!(m.len(), 1, "amd64 is in the image (not selected), riscv64 is not: {m:?}");
    assert!(m[0].contains("linux/riscv64"));
    // The drift fixture fails on high by its ARCH-MISMATCH alone.
    assert_eq!(layerscope(&["compare", "-q", "--fail-on", "high", &oci("multiarch-drift")]).status.code(), Some(1));
    assert_eq!(layerscope(&["compare", "-q", "--fail-on", "high", &img]).status.code(), Some(0));
}

#[test]
fn unreadable_partial_and_usage_exit_codes() {
    let out = layerscope(&["compare", "-q", "/no/such/image", &oci("static")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/image"));
    assert_eq!(layerscope(&["compare", "a", "b", "c"]).status.code(), Some(2), "at most two images");
    // No shared platform, and two platforms on one side: nothing to pair.
    let tmp = tempfile::tempdir().unwrap();
    let riscv =
        layout(&tmp.path().join("riscv"), &Image::new("riscv64", vec![(tar(&[E::File("x", b"x")]), Comp::None)]));
    let out = layerscope(&["compare", "-q", &oci("multiarch"), &riscv]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no platform in common"));
    // One platform each but different ones: compared, with a note.
    let r = run_compare(&[&oci("static"), &riscv], &quiet());
    assert_eq!(r.sides.len(), 2);
    assert_eq!(r.sides[1].platform, "linux/riscv64");
    assert!(r.diagnostics.iter().any(|d| d.message.contains("no platform in common")));
    // A damaged layer: the comparison is made, exit 3.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("img");
    common::copy_dir(&testdata("images/compression/oci"), &dir);
    let raw = raw_images(&dir);
    let victim = blob(&dir, &raw[0].layers[1].0);
    let mut bytes = std::fs::read(&victim).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&victim, bytes).unwrap();
    // (Against another image: the same layer digests in two images are read once, from A.)
    let out = layerscope(&["compare", "-q", &oci("static"), &dir.display().to_string()]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&raw[0].layers[1].0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("B linux/amd64"));
}

// ---------------------------------------------------------------- output shapes

fn schema() -> jsonschema::Validator {
    let s = json(&testdata("../docs/schemas/compare-1.json"));
    jsonschema::draft202012::new(&s).expect("compare schema compiles")
}

#[test]
fn json_follows_the_published_schema() {
    let v = schema();
    let cases: Vec<Vec<String>> = vec![
        vec![oci("multiarch-drift")],
        vec![oci("multiarch")],
        vec![oci("glibc"), oci("multiarch"), "--platforms".into(), "linux/amd64".into()],
        vec![oci("static"), oci("compression")],
        vec![oci("broken"), oci("busybox")],
        vec![oci("distroless"), oci("musl")],
    ];
    for case in cases {
        let mut args = vec!["compare", "-q", "--format", "json"];
        args.extend(case.iter().map(String::as_str));
        let out = layerscope(&args);
        assert!(matches!(out.status.code(), Some(0)), "{case:?}: {}", String::from_utf8_lossy(&out.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let errors: Vec<String> = v.iter_errors(&doc).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{case:?}: {errors:#?}");
        assert_eq!(doc["schema_version"], 1);
    }
    // The validator is strict: an unknown field or a wrong kind is caught.
    let out = layerscope(&["compare", "-q", "--format", "json", &oci("multiarch-drift")]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut bad = doc.clone();
    bad["comparisons"][0]["files"]["surprise"] = 1.into();
    assert!(!v.is_valid(&bad));
    let mut bad = doc.clone();
    bad["comparisons"][0]["files"]["only_right"][0]["kind"] = "folder".into();
    assert!(!v.is_valid(&bad));
    // Field by field in docs/compare.md: every property the schema names is documented there.
    let doc_text = std::fs::read_to_string(testdata("../docs/compare.md")).unwrap();
    let mut names = BTreeSet::new();
    fn props(v: &serde_json::Value, out: &mut BTreeSet<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::Object(p)) = m.get("properties") {
                    out.extend(p.keys().cloned());
                }
                m.values().for_each(|x| props(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| props(x, out)),
            _ => {}
        }
    }
    props(&json(&testdata("../docs/schemas/compare-1.json")), &mut names);
    let undocumented: Vec<&String> = names.iter().filter(|n| !doc_text.contains(&format!("`{n}`"))).collect();
    assert!(undocumented.is_empty(), "not in docs/compare.md: {undocumented:?}");
}

#[test]
fn text_and_markdown_shapes() {
    let text = layerscope(&["compare", "-q", &oci("multiarch-drift")]);
    assert_eq!(text.status.code(), Some(0));
    let t = String::from_utf8(text.stdout).unwrap();
    let header =
        t.lines().find(|l| l.contains("linux/amd64") && l.contains("linux/arm64/v8") && l.contains('│')).unwrap();
    assert!(header.find("linux/amd64") < header.find("linux/arm64/v8"));
    assert!(t.lines().any(|l| l.contains("packages *")), "differing rows are marked:\n{t}");
    assert!(t.lines().any(|l| l.contains("│ libc ") && !l.contains('*')), "equal rows are not:\n{t}");
    // Loaders differ by name and place only: each side has its own platform's loader.
    assert!(t.lines().any(|l| l.contains("│ loaders ") && !l.contains('*')), "{t}");
    let glibc_vs_musl = String::from_utf8(layerscope(&["compare", "-q", &oci("glibc"), &oci("musl")]).stdout).unwrap();
    assert!(glibc_vs_musl.lines().any(|l| l.contains("│ loaders *")), "{glibc_vs_musl}");
    assert!(t.contains("+ /usr/share/layerscope/arm64-tuning.conf"));
    assert!(t.contains("~ dpkg libc6 2.36-9+deb12u14 → 2.36-8"));
    assert!(t.contains("ARCH-MISMATCH"));
    assert!(t.contains("linux/amd64 → linux/arm64/v8: 5 differences"), "{t}");
    let clean = String::from_utf8(layerscope(&["compare", "-q", &oci("multiarch")]).stdout).unwrap();
    assert!(clean.contains("linux/amd64 → linux/arm64/v8: no differences"), "{clean}");

    let md = layerscope(&["compare", "-q", "--format", "markdown", &oci("multiarch-drift")]);
    assert_eq!(md.status.code(), Some(0));
    let m = String::from_utf8(md.stdout).unwrap();
    assert!(m.contains("| | linux/amd64 | linux/arm64/v8 |\n|---|---|---|\n"), "{m}");
    assert!(m.contains("| **packages** | /var/lib/dpkg/status 2 | /var/lib/dpkg/status 3 |"), "{m}");
    assert!(m.contains("| libc | glibc 2.36 | glibc 2.36 |"), "{m}");
    assert!(m.contains("#### linux/amd64 → linux/arm64/v8"));
    assert!(m.contains("- `/usr/share/layerscope/arm64-tuning.conf` (74 B)"), "{m}");
    assert!(m.contains("- dpkg `libc6` 2.36-9+deb12u14 → 2.36-8"), "{m}");
    assert!(!m.lines().any(|l| l.starts_with("- - ") || l.starts_with("- + ")), "no nested lists");
    // Every table row has one cell per side plus the label.
    for l in m.lines().filter(|l| l.starts_with("| ")) {
        assert_eq!(l.matches(" | ").count() + 1, 3, "{l}");
    }
    // --output writes the same bytes.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("c.md");
    let f = file.display().to_string();
    let o = layerscope(&["compare", "-q", "--format", "markdown", "-o", &f, &oci("multiarch-drift")]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), m);
}

// ---------------------------------------------------------------- layers read once

#[test]
fn layers_are_read_once() {
    let distinct = |name: &str| -> BTreeSet<(String, String)> {
        raw_images(&testdata(&format!("images/{name}/oci"))).iter().flat_map(|i| i.layers.clone()).collect()
    };
    // The same image on both sides: read once.
    let m = oci("multiarch");
    let r = run_compare(&[&m, &m], &quiet());
    assert_eq!(r.images[0].layers_read, distinct("multiarch").len());
    assert_eq!((r.images[1].layers_read, r.images[1].same_as_a), (0, true));
    assert_eq!(r.sides.len(), 4, "A and B for each platform");
    assert!(r.comparisons.iter().all(|c| c.differences == 0 && c.directories.is_empty()));
    // One image: each distinct layer once, the shared one included.
    let one = run_compare(&[&m], &quiet());
    let raw = raw_images(&testdata("images/multiarch/oci"));
    let listed: usize = raw.iter().map(|i| i.layers.len()).sum();
    assert!(listed > distinct("multiarch").len(), "the fixture shares a layer between platforms");
    assert_eq!(one.images[0].layers_read, distinct("multiarch").len());
    // Two images sharing layers (same digest and diff_id): B reads only what A did not.
    let (a, b) = (distinct("multiarch"), distinct("multiarch-drift"));
    let shared = a.intersection(&b).count();
    assert!(shared >= 3, "common and both libc layers");
    let r = run_compare(&[&m, &oci("multiarch-drift")], &quiet());
    assert_eq!(r.images[0].layers_read, a.len());
    assert_eq!(r.images[1].layers_shared, shared);
    assert_eq!(r.images[1].layers_read, b.len() - shared);
    // Reading shared layers once changes nothing in the result: the same as B alone.
    let alone = run_compare(&[&oci("multiarch-drift")], &quiet());
    let pick = |r: &CompareReport, label: &str| {
        let s = r.sides.iter().find(|s| s.label == label).unwrap();
        (s.files, s.bytes, s.uncompressed_bytes, s.libc.clone(), s.findings.len())
    };
    assert_eq!(pick(&r, "B linux/arm64/v8"), pick(&alone, "linux/arm64/v8"));
    assert_eq!(pick(&r, "B linux/amd64"), pick(&alone, "linux/amd64"));
}
