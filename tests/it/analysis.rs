//! Analysis with known answers: waste measured per file (computed independently here), duplicate
//! content, the distroless verdict, will-it-run and provenance findings, SARIF validated against
//! the published schema, `--fail-on` exit codes.

use std::collections::BTreeMap;

use crate::common;
use layerscope::detect::Policy;
use layerscope::pipeline::ScanOptions;

use crate::common::{layout, only_platform, scan, Comp, Image, E};
use layerscope::report::{LibcKind, Verdict};

/// Copies of each path per layer, for the independent computation: None = deleted.
fn expected_waste(copies: &[(&str, Vec<Option<u64>>)]) -> (f64, u64, u64) {
    let mut min_sum = 0u64;
    let mut all_sum = 0u64;
    let mut deleted = 0u64;
    for (_, list) in copies {
        let mut min = u64::MAX;
        let mut last = 0;
        for c in list {
            match c {
                Some(s) => {
                    all_sum += s;
                    min = min.min(*s);
                    last = *s;
                }
                None => {
                    min = 0;
                    deleted += last;
                }
            }
        }
        min_sum += min;
    }
    (min_sum as f64 / all_sum as f64, all_sum - min_sum, deleted)
}

#[test]
fn waste_is_measured_per_file_with_directory_removals_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let a = vec![b'a'; 1000];
    let b = vec![b'b'; 3000];
    let c = vec![b'c'; 500];
    let d = vec![b'd'; 700];
    let dup = vec![b'z'; 4096];
    let l1 = common::tar(&[
        E::File("etc/conf", &a),
        E::File("usr/share/doc/pkg/README", &b),
        E::File("usr/share/doc/pkg/NEWS", &c),
        E::File("opt/keep", &d),
        E::File("opt/dup1", &dup),
    ]);
    // Layer 2 overwrites conf with a bigger one, removes the whole doc directory (one whiteout
    // for two files), and copies dup1's content to another path.
    let a2 = vec![b'A'; 1500];
    let l2 = common::tar(&[E::File("etc/conf", &a2), E::File("usr/share/.wh.doc", b""), E::File("srv/dup2", &dup)]);
    // Layer 3 rewrites keep with the same bytes (a chmod) and deletes conf.
    let l3 = common::tar(&[E::FileMode("opt/keep", &d, 0o600), E::File("etc/.wh.conf", b"")]);
    let reference = layout(
        &tmp.path().join("img"),
        &Image::new("amd64", vec![(l1, Comp::Gzip), (l2, Comp::Zstd), (l3, Comp::None)]),
    );
    let r = scan(&reference);
    let p = only_platform(&r);
    let (eff, reclaimable, deleted) = expected_waste(&[
        ("etc/conf", vec![Some(1000), Some(1500), None]),
        ("usr/share/doc/pkg/README", vec![Some(3000), None]),
        ("usr/share/doc/pkg/NEWS", vec![Some(500), None]),
        ("opt/keep", vec![Some(700), Some(700)]),
        ("opt/dup1", vec![Some(4096)]),
        ("srv/dup2", vec![Some(4096)]),
    ]);
    let bl = &p.bloat;
    assert!((bl.efficiency - eff).abs() < 1e-9, "efficiency {} != {eff}", bl.efficiency);
    assert_eq!(bl.reclaimable_bytes, reclaimable);
    assert_eq!(bl.deleted_bytes, deleted);
    assert_eq!(deleted, 1500 + 3000 + 500);
    assert_eq!(bl.duplicate_bytes, 4096);
    assert_eq!(bl.duplicate_groups[0].paths, vec!["/opt/dup1", "/srv/dup2"]);
    assert_eq!((bl.metadata_only_rewrites.files, bl.metadata_only_rewrites.bytes), (1, 700));
    assert_eq!(bl.metadata_only_rewrites.paths, vec!["/opt/keep"]);
    assert_eq!(bl.largest_files[0].bytes, 4096);
    assert_eq!((p.layers[1].files_deleted, p.layers[2].files_deleted), (2, 1));
    assert_eq!(bl.base.method, "first-layer");
    assert_eq!(bl.user_bytes, p.layers[1].uncompressed_bytes + p.layers[2].uncompressed_bytes);
    // The documentation is gone from the final view, so it is no category.
    assert!(bl.categories.iter().all(|c| c.name != "docs"), "{:?}", bl.categories);
}

#[test]
fn thresholds_and_fail_on() {
    let tmp = tempfile::tempdir().unwrap();
    let big = vec![7u8; 10_000];
    let l1 = common::tar(&[E::File("data/big", &big), E::File("bin/app", b"#!/bin/false\n")]);
    let l2 = common::tar(&[E::File("data/.wh.big", b"")]);
    let dir = tmp.path().join("img");
    let mut img = Image::new("amd64", vec![(l1, Comp::Gzip), (l2, Comp::Gzip)]);
    img.config = serde_json::json!({"User": "1000", "Entrypoint": ["/bin/app"]});
    layout(&dir, &img);
    let bin = env!("CARGO_BIN_EXE_layerscope");
    let run = |args: &[&str]| std::process::Command::new(bin).args(args).arg(&dir).output().unwrap();
    let out = run(&["scan", "--format", "json", "--min-efficiency", "0.9"]);
    assert_eq!(out.status.code(), Some(0), "thresholds alone do not fail the run");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> =
        v["platforms"][0]["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"BLOAT-WASTE"), "{ids:?}");
    let eff = v["platforms"][0]["bloat"]["efficiency"].as_f64().unwrap();
    assert!((eff - 13.0 / 10_013.0).abs() < 1e-9, "{eff}");
    assert_eq!(run(&["scan", "-q", "--min-efficiency", "0.9", "--fail-on", "BLOAT-WASTE"]).status.code(), Some(1));
    assert_eq!(run(&["scan", "-q", "--max-reclaimable", "9.5kB", "--fail-on", "BLOAT-WASTE"]).status.code(), Some(1));
    assert_eq!(run(&["scan", "-q", "--max-reclaimable", "20kB", "--fail-on", "BLOAT-WASTE"]).status.code(), Some(0));
    // The entrypoint's interpreter /bin/false is missing: a high finding.
    assert_eq!(run(&["scan", "-q", "--fail-on", "high"]).status.code(), Some(1));
    assert_eq!(run(&["scan", "-q", "--fail-on", "RUN-AS-ROOT,SEC-SETUID"]).status.code(), Some(0));
    assert_eq!(run(&["scan", "-q", "--fail-on", "NOT-AN-ID"]).status.code(), Some(2));
}

#[test]
fn sarif_output_is_valid_against_the_published_schema() {
    let schema_path = common::testdata("../docs/schemas/sarif-2.1.0-rtm.5.json");
    let mut schema: serde_json::Value = serde_json::from_slice(&std::fs::read(schema_path).unwrap()).unwrap();
    // The published rtm.5 schema has one malformed regex (an unbalanced `]` in run.language),
    // which a strict meta-schema check rejects; use the pattern it means. Nothing else changes.
    fn fix(v: &mut serde_json::Value, n: &mut usize) {
        match v {
            serde_json::Value::Object(m) => {
                if m.get("pattern").and_then(|p| p.as_str()) == Some("^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$") {
                    m.insert("pattern".into(), "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$".into());
                    *n += 1;
                }
                m.values_mut().for_each(|x| fix(x, n));
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| fix(x, n)),
            _ => {}
        }
    }
    let mut fixed = 0;
    fix(&mut schema, &mut fixed);
    assert!(fixed >= 1);
    let validator = jsonschema::draft4::new(&schema).expect("SARIF schema compiles");
    let bin = env!("CARGO_BIN_EXE_layerscope");
    let images: Vec<String> = ["multiarch", "glibc", "busybox"]
        .iter()
        .map(|n| common::testdata(&format!("images/{n}/oci")).display().to_string())
        .collect();
    let out = std::process::Command::new(bin).args(["scan", "-q", "--format", "sarif"]).args(&images).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(doc["version"], "2.1.0");
    let rules = doc["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    let mut ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "one rule per finding ID");
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == "RUN-AS-ROOT"), "busybox runs as root");
    for r in results {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
    }
    // Code scanning's security-severity on the rules (none for info), image paths under the
    // image root's base id.
    let rule = |id: &str| rules.iter().find(|r| r["id"] == id).unwrap();
    assert_eq!(rule("LIBC-MISSING-LOADER")["properties"]["security-severity"], "8.0");
    assert_eq!(rule("TAG-LATEST")["properties"]["security-severity"], "5.5");
    assert_eq!(rule("RUN-AS-ROOT")["properties"]["security-severity"], "3.0");
    assert!(rule("TAG-NOT-DIGEST")["properties"].get("security-severity").is_none());
    let located: Vec<&serde_json::Value> = results
        .iter()
        .flat_map(|r| r["locations"].as_array().unwrap())
        .map(|l| &l["physicalLocation"]["artifactLocation"])
        .filter(|a| a.get("uriBaseId").is_some())
        .collect();
    assert!(
        !located.is_empty()
            && located.iter().all(|a| a["uriBaseId"] == "IMAGEROOT" && !a["uri"].as_str().unwrap().starts_with('/'))
    );
    assert_eq!(doc["runs"][0]["originalUriBaseIds"]["IMAGEROOT"]["uri"], "file:///");
    // A broken document is caught by the same validator.
    let mut broken = doc.clone();
    broken["runs"][0]["results"][0]["level"] = "catastrophic".into();
    assert!(!validator.is_valid(&broken));
}

#[test]
fn markdown_summary() {
    let bin = env!("CARGO_BIN_EXE_layerscope");
    let img = common::testdata("images/multiarch/oci");
    let out = std::process::Command::new(bin).args(["scan", "-q", "--format", "markdown"]).arg(&img).output().unwrap();
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("| linux/amd64 |") && md.contains("| linux/arm64/v8 |"), "{md}");
    assert!(md.contains("glibc 2.36") && md.contains("`RUN-AS-ROOT`"), "{md}");
}

#[test]
fn distroless_verdicts_and_image_level_findings() {
    let oci = |n: &str| format!("oci:{}", common::testdata(&format!("images/{n}/oci")).display());
    let verdict = |n: &str| only_platform(&scan(&oci(n))).distroless.verdict.as_str();
    assert_eq!(verdict("glibc"), "distroless");
    assert_eq!(verdict("musl"), "distroless", "an apk database without apk is not a package manager");
    assert_eq!(verdict("busybox"), "shell-only");
    assert_eq!(verdict("static"), "scratch");
    let r = scan(&oci("glibc"));
    let ids: Vec<&str> = r.findings.iter().map(|f| f.id.as_str()).collect();
    // A local layout: `latest` is info, and its digest is no pin anyone can pull.
    assert_eq!(ids, vec!["TAG-LATEST", "SRC-NO-PROVENANCE"]);
    assert_eq!(r.findings[0].severity, layerscope::findings::Severity::Info);
    let p = only_platform(&r);
    assert!(p.run.can_start);
    assert_eq!(p.run.program.as_deref(), Some("/usr/local/bin/hello"));
    assert!(p.findings.iter().all(|f| f.id != "RUN-AS-ROOT"), "User 65532 is not root");
    let mr = scan(&oci("multiarch"));
    assert_eq!(mr.attestations.len(), 1);
    assert_eq!(mr.attestations[0].describes.as_deref(), Some(mr.platforms[0].manifest_digest.as_str()));
}

fn ids(p: &layerscope::report::PlatformReport) -> Vec<&str> {
    p.findings.iter().map(|f| f.id.as_str()).collect()
}

fn finding<'a>(p: &'a layerscope::report::PlatformReport, id: &str) -> &'a layerscope::findings::Finding {
    p.findings.iter().find(|f| f.id == id).unwrap_or_else(|| panic!("no {id} in {:?}", ids(p)))
}

fn fixture(n: &str) -> String {
    format!("oci:{}", common::testdata(&format!("images/{n}/oci")).display())
}

/// Per layer, the bytes a later write or delete hid, from a fixture script's per-path history
/// (its layers count from 1; the report's from 0): each copy is charged to the layer that wrote it.
fn lost_from_script(expected: &serde_json::Value, layers: usize) -> Vec<u64> {
    let mut lost = vec![0u64; layers];
    for events in expected["paths"].as_object().unwrap().values() {
        let mut visible: Option<(usize, u64)> = None;
        for e in events.as_array().unwrap() {
            if let Some((l, size)) = visible.take() {
                lost[l] += size;
            }
            if e.get("deleted").is_none() {
                visible = Some((e["layer"].as_u64().unwrap() as usize - 1, e["size"].as_u64().unwrap()));
            }
        }
    }
    lost
}

/// (bytes, path, copies, layers, removed_by) of a file to reclaim.
type FileRow = (u64, String, u64, Vec<usize>, Option<usize>);

#[test]
fn bloat_fixture_matches_the_independent_computation() {
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(common::testdata("bloat-expected.json")).unwrap()).unwrap();
    let r = scan(&fixture("bloat"));
    let p = only_platform(&r);
    let b = &p.bloat;
    assert!((b.efficiency - expected["efficiency"].as_f64().unwrap()).abs() < 1e-12, "{}", b.efficiency);
    assert_eq!(b.reclaimable_bytes, expected["reclaimable"].as_u64().unwrap());
    assert_eq!(b.deleted_bytes, expected["deleted_bytes"].as_u64().unwrap());
    assert_eq!(b.duplicate_bytes, expected["duplicate_bytes"].as_u64().unwrap());
    assert_eq!(b.duplicate_groups[0].paths, vec!["/opt/copy1.bin", "/opt/copy2.bin"]);
    assert_eq!(
        (p.files, p.bytes),
        (expected["final_files"].as_u64().unwrap(), expected["final_bytes"].as_u64().unwrap())
    );
    // The files to reclaim and the bytes each layer lost, from the script's per-path history
    // (its layers count from 1; the report's from 0).
    let mut want_files: Vec<FileRow> = Vec::new();
    for (path, events) in expected["paths"].as_object().unwrap() {
        let events = events.as_array().unwrap();
        let layer = |e: &serde_json::Value| e["layer"].as_u64().unwrap() as usize - 1;
        let writes: Vec<&serde_json::Value> = events.iter().filter(|e| e.get("deleted").is_none()).collect();
        let deleted = events.iter().any(|e| e.get("deleted").is_some());
        let all: u64 = writes.iter().map(|e| e["size"].as_u64().unwrap()).sum();
        let min = if deleted { 0 } else { writes.iter().map(|e| e["size"].as_u64().unwrap()).min().unwrap_or(0) };
        let removed_by = events.last().filter(|e| e.get("deleted").is_some()).map(layer);
        if all > min {
            want_files.push((
                all - min,
                path.clone(),
                writes.len() as u64,
                writes.iter().map(|e| layer(e)).collect(),
                removed_by,
            ));
        }
    }
    want_files.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let got_files: Vec<FileRow> = b
        .reclaimable_files
        .iter()
        .map(|f| (f.bytes, f.path.clone(), f.copies, f.layers.clone(), f.removed_by))
        .collect();
    assert_eq!(got_files, want_files);
    assert_eq!(b.reclaimable_files_total, want_files.len() as u64);
    assert_eq!(got_files.iter().map(|f| f.0).sum::<u64>(), b.reclaimable_bytes);
    assert_eq!(p.layers.iter().map(|l| l.lost_bytes).collect::<Vec<_>>(), lost_from_script(&expected, p.layers.len()));

    // The step to fix: each category blames the layer that left most of it.
    let f = finding(p, "BLOAT-PACKAGE-CACHE");
    assert_eq!(f.layer, Some(1));
    assert_eq!(f.created_by, p.layers[1].created_by);
    assert!(f.fix.as_deref().is_some_and(|x| x.contains("rm -rf /var/lib/apt/lists/*")), "{f:?}");
    assert_eq!(finding(p, "BLOAT-DOCS").layer, Some(0));
    // BLOAT-DELETED-LATER: none at 1 MB; at 10 kB, the layer that deletes 78 kB (counted from
    // the script's history) blames the layer that wrote most of it.
    assert!(!ids(p).contains(&"BLOAT-DELETED-LATER"));
    let mut removed: BTreeMap<usize, (u64, BTreeMap<usize, u64>)> = BTreeMap::new();
    for events in expected["paths"].as_object().unwrap().values() {
        let mut visible: Option<(usize, u64)> = None;
        for e in events.as_array().unwrap() {
            let layer = e["layer"].as_u64().unwrap() as usize - 1;
            if let Some((earlier, size)) = visible.take() {
                let r = removed.entry(layer).or_default();
                r.0 += size;
                *r.1.entry(earlier).or_default() += size;
            }
            if e.get("deleted").is_none() {
                visible = Some((layer, e["size"].as_u64().unwrap()));
            }
        }
    }
    let (&remover, (bytes, from)) = removed.iter().max_by_key(|(_, (b, _))| *b).unwrap();
    let blamed = *from.iter().max_by_key(|(_, b)| **b).unwrap().0;
    let opts = ScanOptions {
        policy: Policy { deleted_later_bytes: Some(10_000), ..Policy::default() },
        ..ScanOptions::default()
    };
    let r2 = layerscope::pipeline::scan(&fixture("bloat"), &opts).unwrap();
    let later: Vec<&layerscope::findings::Finding> =
        only_platform(&r2).findings.iter().filter(|f| f.id == "BLOAT-DELETED-LATER").collect();
    assert_eq!(later.len(), 1, "{later:?}");
    assert!(
        later[0]
            .message
            .starts_with(&format!("layer #{remover} deleted or overwrote {}", layerscope::units::human(*bytes))),
        "{}",
        later[0].message
    );
    assert_eq!(later[0].layer, Some(blamed));
    assert!(later[0].fix.as_deref().is_some_and(|f| f.contains(&format!("layer #{blamed}"))));
    assert_eq!(b.metadata_only_rewrites.paths, vec!["/usr/bin/tool"]);
    assert_eq!(b.metadata_only_rewrites.bytes, 17808);
    let cat = |n: &str| b.categories.iter().find(|c| c.name == n).map(|c| (c.bytes, c.files));
    assert_eq!(cat("package-cache"), Some((50_000, 2)));
    assert_eq!(cat("docs"), Some((9_000, 3)));
    assert_eq!(cat("locales"), Some((1_500, 1)));
    assert_eq!(cat("dev-files"), Some((9_800, 2)));
    assert_eq!(cat("debug-info"), Some((2_500 + expected["hello_debug_debug_bytes"].as_u64().unwrap(), 2)));
    assert_eq!(cat("toolchain"), Some((5_000, 2)));
    assert_eq!(cat("pycache"), Some((600, 1)));
    assert_eq!(cat("temp"), Some((500, 1)), "build.log was deleted; app.log remains");
    assert_eq!((b.largest_files[0].bytes, b.largest_files[0].layer), (30_000, 1));
    let tool = b.largest_files.iter().find(|f| f.path == "/usr/bin/tool").unwrap();
    assert_eq!(tool.layer, 2, "the layer that wrote it last (0-based)");
    assert_eq!(b.base.method, "annotations+history");
    assert_eq!(b.base.name.as_deref(), Some("docker.io/library/debian:12"));
    assert_eq!(b.base.layers, 1);
    assert_eq!(b.user_bytes, p.layers[1].uncompressed_bytes + p.layers[2].uncompressed_bytes);
    for id in
        ["BLOAT-PACKAGE-CACHE", "BLOAT-DOCS", "BLOAT-DEV-FILES", "BLOAT-DEBUG-INFO", "BLOAT-TOOLCHAIN", "BLOAT-TEMP"]
    {
        finding(p, id);
    }
    assert!(!ids(p).contains(&"RUN-AS-ROOT"), "User 1000");
    assert!(r.findings.iter().all(|f| f.id != "SRC-NO-PROVENANCE"), "source and revision annotations are set");
    // A clean image has none of the bloat findings.
    let clean = scan(&fixture("static"));
    assert!(ids(only_platform(&clean)).iter().all(|i| !i.starts_with("BLOAT-")));
}

#[test]
fn every_planted_run_defect_is_found_and_a_clean_image_has_none() {
    let r = scan(&fixture("broken"));
    let p = only_platform(&r);
    let planted = [
        ("RUN-SHELL-FORM-NO-SHELL", "/bin/sh"),
        ("ARCH-MISMATCH", "/app/arm64-hello"),
        ("LIBC-GLIBC-TOO-OLD", "/app/needs-newer-glibc"),
        ("LIBC-MISSING-LIBRARY", "/app/needs-libm"),
        ("LIBC-MISSING-LOADER", "/app/needs-missing-loader"),
        ("RUN-INTERPRETER-MISSING", "/app/run.sh"),
        ("SEC-SETUID", "/app/suid-tool"),
        ("SEC-WORLD-WRITABLE", "/data/shared"),
    ];
    for (id, path) in planted {
        let f = finding(p, id);
        assert_eq!(f.paths, vec![path.to_string()], "{id}");
    }
    finding(p, "RUN-AS-ROOT");
    assert!(finding(p, "LIBC-MISSING-LIBRARY").message.contains("libm.so.6"));
    assert!(finding(p, "LIBC-GLIBC-TOO-OLD").message.contains("2.99"));
    assert!(finding(p, "RUN-INTERPRETER-MISSING").message.contains("interpreter /usr/bin/python3 does not exist"));
    assert_eq!(p.findings[0].id, "RUN-SHELL-FORM-NO-SHELL", "the entrypoint's problem ranks first");
    assert!(p.findings[0].entrypoint);
    assert!(p.run.shell_form && !p.run.can_start);
    // /app/good is fine: no finding names it.
    assert!(p.findings.iter().all(|f| !f.paths.iter().any(|x| x.starts_with("/app/good"))));
    assert_eq!(p.libc.kind, LibcKind::Glibc, "a binary asking for a missing musl loader does not make the image mixed");

    let r = scan(&fixture("broken-entrypoint"));
    let p = only_platform(&r);
    assert_eq!(p.findings[0].id, "RUN-ENTRYPOINT-MISSING");
    assert_eq!(p.findings[0].paths, vec!["/app/missing-binary"]);

    for clean in ["glibc", "multiarch", "musl", "go", "distroless"] {
        let r = scan(&fixture(clean));
        for p in &r.platforms {
            let bad: Vec<&str> = ids(p)
                .into_iter()
                .filter(|i| {
                    i.starts_with("LIBC-")
                        || i.starts_with("ARCH-")
                        || (i.starts_with("RUN-") && *i != "RUN-AS-ROOT")
                        || i.starts_with("SEC-")
                })
                .collect();
            assert!(bad.is_empty(), "{clean} {}: {bad:?}", p.platform);
            assert!(p.run.can_start, "{clean}");
        }
    }
}

#[test]
fn distroless_and_go_fixtures() {
    let r = scan(&fixture("distroless"));
    let p = only_platform(&r);
    assert_eq!(p.distroless.verdict, Verdict::Distroless);
    assert!(p.distroless.os_release_says_distroless);
    let dbs: Vec<(&str, Option<u64>)> = p.package_databases.iter().map(|d| (d.path.as_str(), d.packages)).collect();
    // One database for the directory (base-files and tzdata, testdata/README.md), not one per file.
    assert_eq!(dbs, vec![("/var/lib/dpkg/status.d", Some(2))]);
    let names: Vec<&str> = p.package_databases[0].package_list.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["base-files", "tzdata"]);
    assert_eq!(p.distroless.reasons.iter().filter(|r| r.contains("status.d")).count(), 1, "{:?}", p.distroless.reasons);
    assert!(p.package_databases.iter().all(|d| d.kind == layerscope::layer::pkgdb::DbKind::DpkgStatusD));
    assert!(p.package_managers.is_empty());
    assert!(!ids(p).contains(&"RUN-AS-ROOT"));

    let r = scan(&fixture("go"));
    let p = only_platform(&r);
    let b = common::binary(p, "/app/hello-go");
    assert_eq!(b.go_version.as_deref(), Some("go1.19.8"));
    assert_eq!(b.linkage, layerscope::elf::Linkage::Static);
    assert_eq!(p.elf_summary.go_binaries, 1);
    assert_eq!(p.distroless.verdict, Verdict::Scratch);
}

#[test]
fn mixed_libc_no_command_and_script_entrypoints() {
    let tmp = tempfile::tempdir().unwrap();
    let layer = common::tar(&[
        E::File("lib/ld-musl-x86_64.so.1", b"musl loader stand-in"),
        E::File("lib64/ld-linux-x86-64.so.2", b"glibc loader stand-in"),
        E::File("usr/bin/env", b"#!/bin/false\n"),
        E::File("app/ok.sh", b"#!/usr/bin/env sh\necho\n"),
    ]);
    let r = scan(&layout(&tmp.path().join("a"), &Image::new("amd64", vec![(layer.clone(), Comp::Gzip)])));
    let p = only_platform(&r);
    assert_eq!(p.libc.kind, LibcKind::Mixed);
    finding(p, "LIBC-MIXED");
    assert_eq!(p.findings[0].id, "RUN-NO-COMMAND");
    assert!(p.findings[0].entrypoint);
    // usr/bin/env (in PATH: the image can start it) is itself a script whose /bin/false is
    // missing: medium. /app/ok.sh (env is there but finds no sh) is neither in PATH nor in the
    // command: info, in a finding of its own.
    let found: Vec<&layerscope::findings::Finding> =
        p.findings.iter().filter(|f| f.id == "RUN-INTERPRETER-MISSING").collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(
        (found[0].severity, found[0].paths.as_slice()),
        (layerscope::findings::Severity::Medium, &["/usr/bin/env".to_string()][..])
    );
    assert_eq!(
        (found[1].severity, found[1].paths.as_slice()),
        (layerscope::findings::Severity::Info, &["/app/ok.sh".to_string()][..])
    );
    assert!(found[1].message.contains("finds no sh") && found[1].message.contains("outside the command and PATH"));

    let mut img = Image::new("amd64", vec![(layer, Comp::Gzip)]);
    img.config = serde_json::json!({"Entrypoint": ["ok.sh"], "WorkingDir": "/app", "Env": ["PATH=/app:/usr/bin"]});
    let r = scan(&layout(&tmp.path().join("b"), &img));
    let p = only_platform(&r);
    assert_eq!(p.run.program.as_deref(), Some("/app/ok.sh"));
    let f = &p.findings[0];
    assert_eq!(f.id, "RUN-ENTRYPOINT-MISSING");
    assert!(f.message.contains("finds no sh in PATH"), "{}", f.message);
}

#[test]
fn a_hardlink_adds_no_bytes() {
    // Layer 1: busybox (1000 B) and two hardlinks to it, data (1000 B). Layer 2: data rewritten
    // (1000 B, other content). Layer 3: one hardlink deleted. By hand: written 1000 + 0 + 0 +
    // 1000 + 1000 = 3000, smallest copies 1000 + 0 + 0 + 1000 = 2000: efficiency 2/3,
    // reclaimable 1000; the deleted hardlink frees 0 bytes.
    let busybox = vec![b'b'; 1000];
    let (d1, d2) = (vec![b'1'; 1000], vec![b'2'; 1000]);
    let l1 = common::tar(&[
        E::File("bin/busybox", &busybox),
        E::Hardlink("bin/sh", "bin/busybox"),
        E::Hardlink("bin/ls", "bin/busybox"),
        E::File("data", &d1),
    ]);
    let l2 = common::tar(&[E::File("data", &d2)]);
    let l3 = common::tar(&[E::File("bin/.wh.ls", b"")]);
    let tmp = tempfile::tempdir().unwrap();
    let img = Image::new("amd64", vec![(l1, Comp::Gzip), (l2, Comp::Gzip), (l3, Comp::Gzip)]);
    let p = only_platform(&scan(&layout(tmp.path(), &img))).clone();
    assert!((p.bloat.efficiency - 2.0 / 3.0).abs() < 1e-9, "{}", p.bloat.efficiency);
    assert_eq!((p.bloat.reclaimable_bytes, p.bloat.deleted_bytes), (1000, 0));
    assert_eq!(p.bloat.duplicate_bytes, 0, "hardlinks share one content: no duplicate");
}

#[test]
fn layers_carry_their_build_step_and_the_bytes_later_layers_lost() {
    // Layer 0 writes a (100 B), b (200 B) and d/x (300 B); layer 1 overwrites a (50 B) and
    // deletes d (so d/x); layer 2 overwrites a again (10 B) and deletes b. By hand: layer 0
    // lost 100 (a) + 300 (d/x) + 200 (b) = 600, layer 1 lost 50 (a), layer 2 lost nothing.
    let l0 = common::tar(&[E::File("a", &[b'a'; 100]), E::File("b", &[b'b'; 200]), E::File("d/x", &[b'x'; 300])]);
    let l1 = common::tar(&[E::File("a", &[b'A'; 50]), E::File(".wh.d", b"")]);
    let l2 = common::tar(&[E::File("a", &[b'z'; 10]), E::File(".wh.b", b"")]);
    let tmp = tempfile::tempdir().unwrap();
    let mut img =
        Image::new("amd64", vec![(l0.clone(), Comp::Gzip), (l1.clone(), Comp::Gzip), (l2.clone(), Comp::Gzip)]);
    let history = serde_json::json!([
        {"created_by": "ADD rootfs.tar /", "comment": "base"},
        {"created_by": "ENV X=1", "empty_layer": true},
        {"created_by": "RUN write a, rm -rf d"},
        {"created_by": "RUN write a, rm b"},
    ]);
    img.history = Some(history.clone());
    let p = only_platform(&scan(&layout(&tmp.path().join("a"), &img))).clone();
    let steps: Vec<(Option<&str>, Option<&str>, u64)> =
        p.layers.iter().map(|l| (l.created_by.as_deref(), l.comment.as_deref(), l.lost_bytes)).collect();
    assert_eq!(
        steps,
        [
            (Some("ADD rootfs.tar /"), Some("base"), 600),
            (Some("RUN write a, rm -rf d"), None, 50),
            (Some("RUN write a, rm b"), None, 0)
        ]
    );
    // A history that does not line up (one layer entry missing) names no step at all.
    let mut short = Image::new("amd64", vec![(l0, Comp::Gzip), (l1, Comp::Gzip), (l2, Comp::Gzip)]);
    short.history = Some(serde_json::json!([{"created_by": "ADD rootfs.tar /"}, {"created_by": "RUN one"}]));
    let p = only_platform(&scan(&layout(&tmp.path().join("b"), &short))).clone();
    assert!(p.layers.iter().all(|l| l.created_by.is_none() && l.comment.is_none()));
    assert_eq!(p.layers[0].lost_bytes, 600);
}

#[test]
fn markdown_shows_where_the_bytes_went() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .args(["scan", "-q", "--format", "markdown", &fixture("bloat")])
        .output()
        .unwrap();
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("<details><summary>linux/amd64: where the bytes went</summary>"), "{md}");
    assert!(md.contains("| #1 |") && md.contains("RUN /bin/sh -c apt-get update"), "{md}");
    assert!(md.contains("- 50.0 kB `/opt/data/big.bin` (written by #0, deleted by #2)"), "{md}");
    assert!(md.contains("Duplicates:\n\n- 6.0 kB: `/opt/copy1.bin`, `/opt/copy2.bin`"), "{md}");
    assert!(md.contains("fix in layer #1: apt: `rm -rf /var/lib/apt/lists/*`"), "{md}");
    assert_eq!(md.matches("<details>").count(), md.matches("</details>").count());
}

#[test]
fn hardlinks_fixture_matches_the_script() {
    // busybox with hardlinked applets; a copy, a move and a directory deleted; a link deleted and
    // one added (scripts/fixtures/fixtures.py, "hardlinks"). The script counts a hardlink as 0
    // bytes where it is written and as its target's content in the final view.
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(common::testdata("hardlinks-expected.json")).unwrap()).unwrap();
    let r = scan(&fixture("hardlinks"));
    let p = only_platform(&r);
    let b = &p.bloat;
    assert!((b.efficiency - expected["efficiency"].as_f64().unwrap()).abs() < 1e-12, "{}", b.efficiency);
    assert_eq!(b.reclaimable_bytes, expected["reclaimable"].as_u64().unwrap());
    assert_eq!(b.deleted_bytes, expected["deleted_bytes"].as_u64().unwrap());
    assert_eq!(b.duplicate_bytes, expected["duplicate_bytes"].as_u64().unwrap());
    assert_eq!(b.duplicate_groups[0].paths, vec!["/opt/copy.bin", "/opt/moved.bin"], "the applets are no duplicates");
    assert_eq!(
        (p.files, p.bytes),
        (expected["final_files"].as_u64().unwrap(), expected["final_bytes"].as_u64().unwrap())
    );
    // Lost bytes per layer, from the script's per-path history.
    let want_lost = lost_from_script(&expected, p.layers.len());
    assert_eq!(p.layers.iter().map(|l| l.lost_bytes).collect::<Vec<_>>(), want_lost);
    assert_eq!(want_lost[0], 48_000, "file.bin and the directory's two files; the deleted link frees nothing");
}
