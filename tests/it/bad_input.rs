//! Bad input: missing files, non-image tars, corrupt, truncated and mismatched layers, malformed
//! ELF files, a platform whose manifest is gone. Each gives a clear error naming the image, layer
//! and path; the rest of the image is still reported; nothing panics.

use crate::common;

use crate::common::{copy_dir, layout, only_platform, scan, testdata, Comp, Image, E};
use layerscope::diag::Level;
use layerscope::pipeline::{self, ScanOptions};
use layerscope::report::PlatformReport;

fn errors(p: &PlatformReport) -> Vec<String> {
    p.diagnostics
        .iter()
        .filter(|d| d.severity == Level::Error)
        .map(|d| format!("{} {} {}", d.layer.as_deref().unwrap_or("-"), d.path.as_deref().unwrap_or("-"), d.message))
        .collect()
}

fn has_file(p: &PlatformReport, path: &str) -> bool {
    p.binaries.iter().any(|b| b.path == path)
}

/// The blobs of the `compression` fixture's layers, by index, in a writable copy.
fn damaged_compression_copy() -> (tempfile::TempDir, String, Vec<(String, std::path::PathBuf)>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("img");
    copy_dir(&testdata("images/compression/oci"), &dir);
    let loaded = pipeline::load(&format!("oci:{}", dir.display()), &ScanOptions::default()).unwrap();
    let layers = loaded.resolution.targets[0]
        .layers
        .iter()
        .map(|l| {
            let d = l.descriptor.digest().to_string();
            let path = dir.join("blobs/sha256").join(&d[7..]);
            (d, path)
        })
        .collect();
    (tmp, format!("oci:{}", dir.display()), layers)
}

#[test]
fn missing_file_and_non_image_tar_are_clear_errors() {
    let e = pipeline::scan("/no/such/image.tar", &ScanOptions::default()).unwrap_err().to_string();
    assert!(e.contains("/no/such/image.tar") && e.contains("no such file"), "{e}");

    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().join("random.tar");
    std::fs::write(&t, common::tar(&[E::File("hello.txt", b"not an image")])).unwrap();
    let e = pipeline::scan(t.to_str().unwrap(), &ScanOptions::default()).unwrap_err().to_string();
    assert!(e.contains("random.tar") && e.contains("not an image archive"), "{e}");

    let junk = tmp.path().join("junk.bin");
    std::fs::write(&junk, vec![7u8; 3000]).unwrap();
    let e = pipeline::scan(junk.to_str().unwrap(), &ScanOptions::default()).unwrap_err().to_string();
    assert!(e.contains("junk.bin") && e.contains("not a readable tar archive"), "{e}");
}

#[test]
fn corrupt_compressed_layer_names_the_layer_and_keeps_the_others() {
    let (_tmp, reference, layers) = damaged_compression_copy();
    // Flip bytes in the middle of the zstd layer (layer 2 of 3).
    let (digest, path) = &layers[1];
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 16] {
        *b ^= 0x5a;
    }
    std::fs::write(path, &bytes).unwrap();
    let r = scan(&reference);
    let p = only_platform(&r);
    let errs = errors(p);
    assert!(!errs.is_empty() && errs.iter().all(|e| e.starts_with(digest.as_str())), "{errs:?}");
    assert!(r.incomplete());
    assert!(has_file(p, "/hello"), "layer 1 still read");
    let clean = scan(&format!("oci:{}", testdata("images/compression/oci").display()));
    assert_eq!(p.layers[2].uncompressed_bytes, clean.platforms[0].layers[2].uncompressed_bytes, "layer 3 still read");
}

#[test]
fn digest_mismatch_of_an_uncompressed_layer() {
    let (_tmp, reference, layers) = damaged_compression_copy();
    let (digest, path) = &layers[2];
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes.windows(10).position(|w| w == b"layerscope").unwrap();
    bytes[at] = b'L';
    std::fs::write(path, &bytes).unwrap();
    let p = only_platform(&scan(&reference)).clone();
    let errs = errors(&p);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs.iter().all(|e| e.starts_with(digest.as_str())), "{errs:?}");
    assert!(
        errs[0].contains("diff_id mismatch") && errs[1].contains("blob verification failed: digest mismatch"),
        "{errs:?}"
    );
}

#[test]
fn truncated_gzip_layer() {
    let (_tmp, reference, layers) = damaged_compression_copy();
    let (digest, path) = &layers[0];
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
    let r = scan(&reference);
    let p = only_platform(&r);
    let errs = errors(p);
    assert!(!errs.is_empty() && errs[0].starts_with(digest.as_str()), "{errs:?}");
    let clean = scan(&format!("oci:{}", testdata("images/compression/oci").display()));
    for i in [1, 2] {
        assert_eq!(
            p.layers[i].uncompressed_bytes, clean.platforms[0].layers[i].uncompressed_bytes,
            "layer {i} still read"
        );
    }
}

#[test]
fn malformed_elf_is_a_diagnostic_naming_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bad = vec![0u8; 200];
    bad[..4].copy_from_slice(b"\x7fELF");
    bad[4] = 2;
    bad[5] = 1;
    bad[6] = 1;
    bad[0x20..0x28].copy_from_slice(&u64::MAX.to_le_bytes()); // e_phoff far outside the file
    bad[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
    bad[0x38..0x3a].copy_from_slice(&3u16.to_le_bytes());
    let good = std::fs::read("/proc/self/exe").unwrap_or_default();
    let layer = common::tar(&[
        E::Dir("bin/"),
        E::File("bin/bad", &bad),
        E::File("bin/tiny", b"\x7fELF"),
        E::File("bin/ok", &good[..good.len().min(64 << 10)]),
    ]);
    let reference = layout(&tmp.path().join("img"), &Image::new("amd64", vec![(layer, Comp::Gzip)]));
    let r = scan(&reference);
    let p = only_platform(&r);
    let bad_diag =
        p.diagnostics.iter().find(|d| d.path.as_deref() == Some("/bin/bad")).expect("diagnostic for /bin/bad");
    assert!(bad_diag.message.contains("ELF"), "{bad_diag:?}");
    assert!(bad_diag.layer.as_deref().unwrap().starts_with("sha256:"));
    assert_eq!(bad_diag.severity, Level::Error, "facts of a file are missing: the scan is partial");
    assert!(!has_file(p, "/bin/bad"));
    assert_eq!(p.files, 3, "the files are still in the view");
}

#[test]
fn a_platform_whose_manifest_is_missing_leaves_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("img");
    copy_dir(&testdata("images/multiarch/oci"), &dir);
    let loaded = pipeline::load(&format!("oci:{}", dir.display()), &ScanOptions::default()).unwrap();
    let arm = loaded.resolution.targets.iter().find(|t| t.platform.architecture == "arm64").unwrap();
    std::fs::remove_file(dir.join("blobs/sha256").join(&arm.manifest_digest[7..])).unwrap();
    let r = scan(&format!("oci:{}", dir.display()));
    assert_eq!(r.platforms.len(), 1);
    assert_eq!(r.platforms[0].platform, "linux/amd64");
    assert!(r.incomplete());
    assert!(r.diagnostics[0].message.contains(&arm.manifest_digest), "{:?}", r.diagnostics);
}

#[test]
fn wrong_diff_id_and_ambiguous_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let layer = common::tar(&[E::File("a", b"a")]);
    let dir = tmp.path().join("img");
    let reference = layout(&dir, &Image::new("amd64", vec![(layer.clone(), Comp::Gzip)]));
    // Rewrite the config with a wrong diff_id (and the manifest/index to match).
    let loaded = pipeline::load(&reference, &ScanOptions::default()).unwrap();
    let t = &loaded.resolution.targets[0];
    assert!(errors(only_platform(&scan(&reference))).is_empty());
    let mut img = Image::new("amd64", vec![(layer, Comp::Gzip)]);
    img.config = serde_json::json!({"Labels": {"x": "y"}});
    let dir2 = tmp.path().join("img2");
    let reference2 = layout(&dir2, &img);
    let cfg_path = dir2.join("blobs/sha256").join(&t.config_digest[7..]);
    let _ = cfg_path; // configs differ (labels): find the one in dir2
    let loaded2 = pipeline::load(&reference2, &ScanOptions::default()).unwrap();
    let cfg = dir2.join("blobs/sha256").join(&loaded2.resolution.targets[0].config_digest[7..]);
    let text = std::fs::read_to_string(&cfg).unwrap();
    let wrong = text.replace(
        &loaded2.resolution.targets[0].layers[0].diff_id.clone().unwrap(),
        &format!("sha256:{}", "0".repeat(64)),
    );
    // Same length, so only the digest in the manifest changes: rewrite it too.
    std::fs::write(&cfg, &wrong).unwrap();
    let manifest_path = dir2.join("blobs/sha256").join(&loaded2.resolution.targets[0].manifest_digest[7..]);
    let new_cfg_digest = common::sha256(wrong.as_bytes());
    std::fs::rename(&cfg, dir2.join("blobs/sha256").join(&new_cfg_digest[7..])).unwrap();
    let manifest = std::fs::read_to_string(&manifest_path)
        .unwrap()
        .replace(&loaded2.resolution.targets[0].config_digest, &new_cfg_digest);
    let new_manifest_digest = common::sha256(manifest.as_bytes());
    std::fs::write(dir2.join("blobs/sha256").join(&new_manifest_digest[7..]), &manifest).unwrap();
    let index = std::fs::read_to_string(dir2.join("index.json"))
        .unwrap()
        .replace(&loaded2.resolution.targets[0].manifest_digest, &new_manifest_digest);
    std::fs::write(dir2.join("index.json"), index).unwrap();
    let r = scan(&reference2);
    let errs = errors(only_platform(&r));
    assert!(errs.len() == 1 && errs[0].contains("diff_id mismatch"), "{errs:?}");

    // A manifest that is also an index is refused (CVE-2021-41190).
    let amb = br#"{"schemaVersion":2,"manifests":[],"layers":[],"config":{}}"#;
    let d = common::sha256(amb);
    std::fs::write(dir2.join("blobs/sha256").join(&d[7..]), amb).unwrap();
    std::fs::write(
        dir2.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":d,"size":amb.len()}]})).unwrap(),
    )
    .unwrap();
    let e = pipeline::scan(&reference2, &ScanOptions::default()).unwrap_err().to_string();
    assert!(e.contains("ambiguous") && e.contains(&d), "{e}");
}

#[test]
fn paths_climbing_out_of_the_root_stay_inside() {
    let tmp = tempfile::tempdir().unwrap();
    let layer = common::tar(&[
        E::File("../../etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
        E::Symlink("evil", "../../../.."),
        E::File("./etc//x/.", b"x"),
    ]);
    let reference = layout(&tmp.path().join("img"), &Image::new("amd64", vec![(layer, Comp::None)]));
    let loaded = pipeline::load(&reference, &ScanOptions::default()).unwrap();
    let fs = loaded.merged(&loaded.resolution.targets[0]);
    assert!(fs.get("etc/passwd").is_some());
    assert!(fs.get("etc/x").is_some());
    assert_eq!(fs.resolve("/evil/etc/passwd", 40).unwrap().0, "etc/passwd");
    let r = scan(&reference);
    let warn = &only_platform(&r).diagnostics;
    assert!(
        warn.iter().any(|d| d.path.as_deref() == Some("../../etc/passwd") && d.message.contains("climbs")),
        "{warn:?}"
    );
}

/// An OCI layout of one plain-tar layer whose config names `diff_id` (right or wrong).
fn plain_tar_image(dir: &std::path::Path, diff_id: Option<&str>) -> (String, String) {
    layer_image(dir, Comp::None, diff_id)
}

/// An OCI layout of one layer compressed with `comp` whose config names `diff_id` (right when
/// `None`). Returns the reference and the layer blob's digest.
fn layer_image(dir: &std::path::Path, comp: Comp, diff_id: Option<&str>) -> (String, String) {
    let tar = common::tar(&[E::File("etc/hello", b"hello\n"), E::File("bin/tool", b"#!/bin/sh\n")]);
    let (layer, media_type) = common::compress(&tar, comp);
    let digest = common::sha256(&layer);
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("blobs/sha256").join(&digest[7..]), &layer).unwrap();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id.unwrap_or(&common::sha256(&tar))]},
    }))
    .unwrap();
    let cd = common::sha256(&config);
    std::fs::write(dir.join("blobs/sha256").join(&cd[7..]), &config).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": [{"mediaType": media_type, "digest": digest, "size": layer.len()}],
    }))
    .unwrap();
    let md = common::sha256(&manifest);
    std::fs::write(dir.join("blobs/sha256").join(&md[7..]), &manifest).unwrap();
    common::write_layout(
        dir,
        vec![serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
            "size": manifest.len(), "platform": {"architecture": "amd64", "os": "linux"}})],
    );
    (format!("oci:{}", dir.display()), digest)
}

#[test]
fn plain_tar_layer_hashed_once_still_checks_its_diff_id() {
    // A plain tar layer's diff_id is its blob digest: one hash serves both checks.
    let tmp = tempfile::tempdir().unwrap();
    let (good, _) = plain_tar_image(&tmp.path().join("good"), None);
    assert!(errors(only_platform(&scan(&good))).is_empty());

    let wrong = format!("sha256:{}", "ab".repeat(32));
    let (bad, digest) = plain_tar_image(&tmp.path().join("bad"), Some(&wrong));
    let p = only_platform(&scan(&bad)).clone();
    let errs = errors(&p);
    assert_eq!(
        errs,
        vec![format!("{digest} - diff_id mismatch: config expects {wrong}, uncompressed layer hashes to {digest}")]
    );
    assert!(!p.layers.is_empty() && p.files == 2, "the entries are still read: {} files", p.files);

    // The verified floor checks the same; the plain floor does not hash at all.
    let floor =
        |args: &[&str]| std::process::Command::new(env!("CARGO_BIN_EXE_layerscope")).args(args).output().unwrap();
    let o = floor(&["floor", "--verify", &bad]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("diff_id mismatch"), "{o:?}");
    let o = floor(&["floor", &bad]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let o = floor(&["floor", "--verify", &good]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"verified\": true"));
}

#[test]
fn verified_floor_refuses_a_damaged_blob() {
    let (_tmp, reference, layers) = damaged_compression_copy();
    let (_, path) = &layers[0];
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(path, &bytes).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .args(["floor", "--verify", &reference])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}

#[test]
fn docker_save_layers_are_checked_against_their_diff_id_plain_or_compressed() {
    // A `docker save` layer has no digest of its own: its bytes are checked through the config's
    // diff_id. A plain tar is hashed as it is read: in a stage of its own when the layer is read
    // alone (one layer, or a stream), by the blob's reader when other layers are read beside it;
    // a compressed one after decompression. Each must catch a wrong diff_id.
    let tar = common::tar(&[E::File("etc/a", b"one"), E::File("etc/b", b"two")]);
    let other = common::tar(&[E::File("usr/c", b"three")]);
    let tmp = tempfile::tempdir().unwrap();
    for (comp, beside) in [(Comp::None, false), (Comp::None, true), (Comp::Gzip, false), (Comp::Gzip, true)] {
        let (blob, _) = common::compress(&tar, comp);
        for diff_id in [common::sha256(&tar), format!("sha256:{}", "cd".repeat(32))] {
            let mut diff_ids = vec![format!("{diff_id:?}")];
            let mut layers = vec![r#""l/layer.tar""#];
            let mut members = vec![E::File("l/layer.tar", &blob)];
            if beside {
                diff_ids.push(format!("{:?}", common::sha256(&other)));
                layers.push(r#""m/layer.tar""#);
                members.push(E::File("m/layer.tar", &other));
            }
            let cfg = format!(
                r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
                diff_ids.join(",")
            );
            let manifest = format!(r#"[{{"Config":"c.json","RepoTags":["x:1"],"Layers":[{}]}}]"#, layers.join(","));
            members.push(E::File("manifest.json", manifest.as_bytes()));
            members.push(E::File("c.json", cfg.as_bytes()));
            let archive = common::tar(&members);
            let path = tmp.path().join("a.tar");
            std::fs::write(&path, &archive).unwrap();
            let from_file = only_platform(&scan(path.to_str().unwrap())).clone();
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_layerscope"))
                .args(["scan", "-q", "--format", "json", "-"])
                .stdin(std::fs::File::open(&path).unwrap())
                .output()
                .unwrap();
            let stream: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let stream_errors = stream["platforms"][0]["diagnostics"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["severity"] == "error")
                .map(|d| d["message"].as_str().unwrap().to_string())
                .collect::<Vec<_>>();
            let files = if beside { 3 } else { 2 };
            assert_eq!(from_file.files, files, "{comp:?} beside {beside}: the entries are read either way");
            if diff_id == common::sha256(&tar) {
                assert_eq!(errors(&from_file), Vec::<String>::new(), "{comp:?} beside {beside}");
                assert_eq!(stream_errors, Vec::<String>::new(), "{comp:?} beside {beside}, from stdin");
                assert_eq!(from_file.layers[0].uncompressed_bytes, tar.len() as u64, "{comp:?}");
            } else {
                let want = format!(
                    "diff_id mismatch: config expects {diff_id}, uncompressed layer hashes to {}",
                    common::sha256(&tar)
                );
                let errs = errors(&from_file);
                assert!(errs.len() == 1 && errs[0].ends_with(&want), "{comp:?} beside {beside}: {errs:?}");
                assert!(stream_errors.iter().any(|e| e.contains("diff_id")), "{comp:?} from stdin: {stream_errors:?}");
            }
        }
    }
}

#[test]
fn verify_blobs_skips_only_the_diff_id_of_compressed_layers() {
    // `--verify blobs`: every blob digest is checked, a compressed layer's diff_id is not
    // hashed, and the report says so; a plain tar layer's diff_id (its blob digest) still is.
    let tmp = tempfile::tempdir().unwrap();
    let wrong = format!("sha256:{}", "ef".repeat(32));
    let scan = |reference: &str, verify: &str| -> serde_json::Value {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_layerscope"))
            .args(["scan", "-q", "--format", "json", "--verify", verify, reference])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
    };
    let errors = |v: &serde_json::Value| -> Vec<String> {
        v["platforms"][0]["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["severity"] == "error")
            .map(|d| d["message"].as_str().unwrap().to_string())
            .collect()
    };
    let (gz, digest) = layer_image(&tmp.path().join("gz"), Comp::Gzip, Some(&wrong));
    let full = scan(&gz, "full");
    assert!(errors(&full).iter().any(|e| e.contains("diff_id mismatch")), "{:?}", errors(&full));
    assert!(full.get("verification").is_none(), "a full scan's report has no verification field");
    let blobs = scan(&gz, "blobs");
    assert_eq!(errors(&blobs), Vec::<String>::new());
    assert_eq!(blobs["verification"], "blobs");
    assert_eq!(blobs["platforms"][0]["files"], 2);

    // The blob's own digest is still checked: other bytes under its name are caught.
    let other = common::compress(&common::tar(&[E::File("etc/other", b"other\n")]), Comp::Gzip).0;
    std::fs::write(tmp.path().join("gz/blobs/sha256").join(&digest[7..]), other).unwrap();
    let damaged = scan(&gz, "blobs");
    assert!(errors(&damaged).iter().any(|e| e.contains("blob verification failed")), "{:?}", errors(&damaged));

    // A plain tar layer's diff_id is its blob's digest: checked in either mode.
    let (plain, _) = plain_tar_image(&tmp.path().join("plain"), Some(&wrong));
    let p = scan(&plain, "blobs");
    assert!(errors(&p).iter().any(|e| e.contains("diff_id mismatch")), "{:?}", errors(&p));
}
