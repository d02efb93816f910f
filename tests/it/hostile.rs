//! Cases from docs/hostile-inputs.md that apply to the local sources: each one a fixture built
//! here and an assertion on the outcome (numbers in comments are the catalogue's).

use crate::common;

use std::io::Write;

use crate::common::{layout, only_platform, scan, sha256, Comp, Image, E};
use layerscope::diag::Level;
use layerscope::pipeline::{self, ScanOptions};

fn errors(p: &layerscope::report::PlatformReport) -> Vec<String> {
    p.diagnostics.iter().filter(|d| d.severity == Level::Error).map(|d| d.message.clone()).collect()
}

/// Writes a layout whose single layer blob is `blob` (with the given media type and diff_id).
fn raw_layer_image(dir: &std::path::Path, blob: &[u8], media_type: &str, diff_id: &str) -> String {
    raw_layers_image(dir, &[(media_type, blob.to_vec(), diff_id.to_string())])
}

#[test]
fn gzip_with_zero_padding_is_accepted_and_garbage_is_not() {
    // 32: valid gzip + 512 NUL bytes.
    let tmp = tempfile::tempdir().unwrap();
    let tar = common::tar(&[E::File("a.txt", b"hello\n")]);
    let (gz, mt) = common::compress(&tar, Comp::Gzip);
    let mut padded = gz.clone();
    padded.extend([0u8; 512]);
    let r = scan(&raw_layer_image(&tmp.path().join("a"), &padded, mt, &sha256(&tar)));
    let p = only_platform(&r);
    assert!(errors(p).is_empty(), "{:?}", p.diagnostics);
    assert_eq!(p.files, 1);
    assert_eq!(p.layers[0].compressed_bytes, padded.len() as u64, "the digest covers the padding");
    let mut garbage = gz;
    garbage.extend(b"GARBAGE!");
    let r = scan(&raw_layer_image(&tmp.path().join("b"), &garbage, mt, &sha256(&tar)));
    let errs = errors(only_platform(&r));
    assert!(errs.iter().any(|e| e.contains("neither a new member nor zero padding")), "{errs:?}");
}

#[test]
fn empty_blob_and_empty_tar_are_empty_layers() {
    // 36
    let tmp = tempfile::tempdir().unwrap();
    let r = scan(&raw_layer_image(&tmp.path().join("a"), b"", "application/vnd.oci.image.layer.v1.tar", &sha256(b"")));
    assert!(errors(only_platform(&r)).is_empty());
    let empty_tar = [0u8; 1024];
    let (gz, mt) = common::compress(&empty_tar, Comp::Gzip);
    let r = scan(&raw_layer_image(&tmp.path().join("b"), &gz, mt, &sha256(&empty_tar)));
    let p = only_platform(&r);
    assert!(errors(p).is_empty());
    assert_eq!((p.files, p.layers[0].uncompressed_bytes), (0, 1024));
}

#[test]
fn zstd_frame_asking_for_a_2_gib_window_is_refused() {
    // 30: window_log 31 is over the decoder's default limit (2^27).
    let tmp = tempfile::tempdir().unwrap();
    let tar = common::tar(&[E::File("a", b"x")]);
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    enc.set_parameter(zstd::zstd_safe::CParameter::WindowLog(31)).unwrap();
    enc.write_all(&tar).unwrap();
    let blob = enc.finish().unwrap();
    let r = scan(&raw_layer_image(
        &tmp.path().join("a"),
        &blob,
        "application/vnd.oci.image.layer.v1.tar+zstd",
        &sha256(&tar),
    ));
    let errs = errors(only_platform(&r));
    assert!(!errs.is_empty(), "a 2 GiB window must not be accepted");
}

#[test]
fn gzip_bomb_stops_at_the_ratio_limit() {
    // 29: 256 MiB of zeros compress to about 250 kB (ratio > 1000).
    let tmp = tempfile::tempdir().unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_path("zeros").unwrap();
    header.set_size(256 << 20);
    header.set_mode(0o644);
    header.set_cksum();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(header.as_bytes()).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..256 {
        enc.write_all(&chunk).unwrap();
    }
    let gz = enc.finish().unwrap();
    assert!(gz.len() < (256 << 20) / 1000, "the fixture is a bomb: {} bytes", gz.len());
    let diff_id = format!("sha256:{}", "0".repeat(64));
    let r = scan(&raw_layer_image(&tmp.path().join("a"), &gz, "application/vnd.oci.image.layer.v1.tar+gzip", &diff_id));
    let errs = errors(only_platform(&r));
    assert!(errs.iter().any(|e| e.contains("compression-ratio")), "{errs:?}");
}

#[test]
fn tar_headers_that_lie() {
    let tmp = tempfile::tempdir().unwrap();
    // 18: a size field of 2^62 with 10 bytes of data: an error, no allocation from the size.
    let mut h = tar::Header::new_gnu();
    h.set_path("huge").unwrap();
    h.set_size(1 << 62);
    h.set_cksum();
    let mut layer = h.as_bytes().to_vec();
    layer.extend([7u8; 10]);
    let r = scan(&raw_layer_image(
        &tmp.path().join("a"),
        &layer,
        "application/vnd.oci.image.layer.v1.tar",
        &sha256(&layer),
    ));
    let errs = errors(only_platform(&r));
    assert!(errs.iter().any(|e| e.contains("damaged") && e.contains("bytes of entry data missing")), "{errs:?}");

    // 11 (whiteout without a name), 25 (unknown type), 10 (same path twice: last wins).
    let mut odd = tar::Header::new_gnu();
    odd.set_path("weird").unwrap();
    odd.set_entry_type(tar::EntryType::new(b'Z'));
    odd.set_size(0);
    odd.set_cksum();
    let mut layer = common::tar(&[E::File("dir/.wh.", b""), E::File("twice", b"first"), E::Dir("twice/")]);
    layer.truncate(layer.len() - 1024);
    layer.extend_from_slice(odd.as_bytes());
    layer.extend([0u8; 1024]);
    let r = scan(&raw_layer_image(
        &tmp.path().join("b"),
        &layer,
        "application/vnd.oci.image.layer.v1.tar",
        &sha256(&layer),
    ));
    let p = only_platform(&r);
    let msgs: Vec<&str> = p.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(msgs.iter().any(|m| m.contains("whiteout without a name")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("unknown tar entry type 'Z'")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("more than once; the last entry wins")), "{msgs:?}");
    let loaded = pipeline::load(&format!("oci:{}", tmp.path().join("b").display()), &ScanOptions::default()).unwrap();
    let fs = loaded.merged(&loaded.resolution.targets[0]);
    assert!(matches!(fs.get("twice").unwrap().kind, layerscope::fs::NodeKind::Dir), "the last entry wins");
}

#[test]
fn archives_that_point_outside_themselves() {
    let tmp = tempfile::tempdir().unwrap();
    // 27: a legacy docker-archive whose manifest.json names a layer outside the archive.
    let cfg = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#;
    let manifest = br#"[{"Config":"c.json","RepoTags":["x:1"],"Layers":["../../../../etc/passwd"]}]"#;
    let t = tmp.path().join("escape.tar");
    std::fs::write(&t, common::tar(&[E::File("manifest.json", manifest), E::File("c.json", cfg)])).unwrap();
    let e = pipeline::scan(t.to_str().unwrap(), &ScanOptions::default()).unwrap_err().to_string();
    assert!(e.contains("points outside the archive") && e.contains("../../../../etc/passwd"), "{e}");
    // A layer.tar symlinked inside the archive is accepted (old docker save de-duplication),
    // one pointing out of it is not.
    let layer = common::tar(&[E::File("f", b"1")]);
    let cfg = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}","{}"]}}}}"#,
        sha256(&layer),
        sha256(&layer)
    );
    let manifest = br#"[{"Config":"c.json","RepoTags":["x:1"],"Layers":["a/layer.tar","b/layer.tar"]}]"#;
    let ok = tmp.path().join("ok.tar");
    std::fs::write(
        &ok,
        common::tar(&[
            E::File("manifest.json", manifest),
            E::File("c.json", cfg.as_bytes()),
            E::File("a/layer.tar", &layer),
            E::Symlink("b/layer.tar", "../a/layer.tar"),
        ]),
    )
    .unwrap();
    let r = scan(ok.to_str().unwrap());
    assert!(errors(only_platform(&r)).is_empty());
    let bad = tmp.path().join("bad.tar");
    std::fs::write(
        &bad,
        common::tar(&[
            E::File("manifest.json", manifest),
            E::File("c.json", cfg.as_bytes()),
            E::File("a/layer.tar", &layer),
            E::Symlink("b/layer.tar", "../../../etc/passwd"),
        ]),
    )
    .unwrap();
    let e = pipeline::scan(bad.to_str().unwrap(), &ScanOptions::default()).unwrap_err().to_string();
    assert!(e.contains("outside the archive"), "{e}");

    // 28: an OCI archive whose blob is a symlink to another member is refused for that blob.
    let img = tmp.path().join("img");
    layout(&img, &Image::new("amd64", vec![(common::tar(&[E::File("a", b"a")]), Comp::Gzip)]));
    let loaded = pipeline::load(&format!("oci:{}", img.display()), &ScanOptions::default()).unwrap();
    let layer_digest = loaded.resolution.targets[0].layers[0].descriptor.digest().to_string();
    let mut entries_owned: Vec<(String, Vec<u8>)> = Vec::new();
    for e in walk(&img) {
        let rel = e.strip_prefix(&img).unwrap().to_string_lossy().into_owned();
        if rel.ends_with(&layer_digest[7..]) {
            continue;
        }
        entries_owned.push((rel, std::fs::read(&e).unwrap()));
    }
    let mut entries: Vec<E> = entries_owned.iter().map(|(p, b)| E::File(p, b)).collect();
    entries.push(E::File("oci-layout-copy", b"x"));
    let link = format!("blobs/sha256/{}", &layer_digest[7..]);
    entries.push(E::Symlink(&link, "../../oci-layout-copy"));
    let archive = tmp.path().join("img.oci.tar");
    std::fs::write(&archive, common::tar(&entries)).unwrap();
    let r = scan(&format!("oci-archive:{}", archive.display()));
    let errs = errors(only_platform(&r));
    assert!(errs.iter().any(|e| e.contains("is a link inside the archive; refused")), "{errs:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn index_cycles_depth_and_attestation_only_indexes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("img");
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    // 46: an index holding only attestation entries.
    let d = common::write_image(&dir, &Image::new("amd64", vec![(common::tar(&[E::File("a", b"a")]), Comp::None)]));
    let mut att = d.clone();
    att["platform"] = serde_json::json!({"architecture":"unknown","os":"unknown"});
    att["annotations"] = serde_json::json!({"vnd.docker.reference.type":"attestation-manifest"});
    common::write_layout(&dir, vec![att]);
    let e = pipeline::scan(&format!("oci:{}", dir.display()), &ScanOptions::default()).unwrap_err().to_string();
    assert!(e.contains("no manifest for any platform"), "{e}");
    // 44: 64 nested indexes stop at the depth limit with an error naming it.
    let mut child = d.clone();
    for _ in 0..64 {
        let idx = serde_json::to_vec(&serde_json::json!({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[child]})).unwrap();
        let digest = sha256(&idx);
        std::fs::write(dir.join("blobs/sha256").join(&digest[7..]), &idx).unwrap();
        child =
            serde_json::json!({"mediaType":"application/vnd.oci.image.index.v1+json","digest":digest,"size":idx.len()});
    }
    common::write_layout(&dir, vec![child]);
    let e = pipeline::scan(&format!("oci:{}", dir.display()), &ScanOptions::default()).unwrap_err().to_string();
    assert!(e.contains("index-depth"), "{e}");
    // 41: a malformed digest is refused before any path is built from it.
    common::write_layout(
        &dir,
        vec![
            serde_json::json!({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../etc/passwd","size":10}),
        ],
    );
    let e = pipeline::scan(&format!("oci:{}", dir.display()), &ScanOptions::default()).unwrap_err().to_string();
    assert!(e.contains("index.json") && e.contains("malformed"), "{e}");
    // 48: deeply nested JSON is a parse error, not a stack overflow.
    std::fs::write(dir.join("index.json"), "[".repeat(100_000)).unwrap();
    let e = pipeline::scan(&format!("oci:{}", dir.display()), &ScanOptions::default()).unwrap_err().to_string();
    assert!(e.contains("index.json"), "{e}");
}

#[test]
fn sha512_layer_digests_are_verified_with_sha512() {
    use sha2::Digest as _;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("img");
    let layer = common::tar(&[E::File("a", b"a")]);
    let hex512: String = sha2::Sha512::digest(&layer).iter().map(|b| format!("{b:02x}")).collect();
    std::fs::create_dir_all(dir.join("blobs/sha512")).unwrap();
    std::fs::write(dir.join("blobs/sha512").join(&hex512), &layer).unwrap();
    let put = |b: &[u8]| {
        let d = sha256(b);
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("blobs/sha256").join(&d[7..]), b).unwrap();
        d
    };
    let cfg = serde_json::to_vec(&serde_json::json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[sha256(&layer)]}})).unwrap();
    let cd = put(&cfg);
    let m = serde_json::to_vec(&serde_json::json!({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":cd,"size":cfg.len()},
        "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":format!("sha512:{hex512}"),"size":layer.len()}]}))
    .unwrap();
    let md = put(&m);
    common::write_layout(
        &dir,
        vec![serde_json::json!({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":md,"size":m.len()})],
    );
    let r = scan(&format!("oci:{}", dir.display()));
    let p = only_platform(&r);
    assert!(errors(p).is_empty(), "{:?}", p.diagnostics);
    assert_eq!(p.files, 1);
    // A wrong sha512 is a mismatch that names the algorithm used.
    std::fs::write(dir.join("blobs/sha512").join(&hex512), common::tar(&[E::File("a", b"b")])).unwrap();
    let r = scan(&format!("oci:{}", dir.display()));
    assert!(errors(only_platform(&r)).iter().any(|e| e.contains("content hashes to sha512:")));
}

/// Writes a layout whose layers are the given raw blobs (media type, blob, diff_id), in order.
fn raw_layers_image(dir: &std::path::Path, layers: &[(&str, Vec<u8>, String)]) -> String {
    let put = |b: &[u8]| {
        let d = sha256(b);
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("blobs/sha256").join(&d[7..]), b).unwrap();
        d
    };
    let descriptors: Vec<serde_json::Value> = layers
        .iter()
        .map(|(mt, blob, _)| serde_json::json!({"mediaType": mt, "digest": put(blob), "size": blob.len()}))
        .collect();
    let diff_ids: Vec<&str> = layers.iter().map(|(_, _, d)| d.as_str()).collect();
    let cfg = serde_json::to_vec(
        &serde_json::json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":diff_ids}}),
    )
    .unwrap();
    let cd = put(&cfg);
    let m = serde_json::to_vec(
        &serde_json::json!({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
        "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":cd,"size":cfg.len()},
        "layers":descriptors}),
    )
    .unwrap();
    let md = put(&m);
    common::write_layout(
        dir,
        vec![serde_json::json!({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":md,"size":m.len()})],
    );
    format!("oci:{}", dir.display())
}

#[test]
fn damaged_gzip_and_zstd_trailers_fail_their_layer_only() {
    // 34: a bad CRC32, a bad ISIZE, a deflate stream cut short, a zstd frame whose content
    // checksum is wrong. The decompressed bytes of the first two are intact (the diff_id
    // matches), so only the decoder's trailer check can tell. The layer before and the one after
    // are still read, and the scan is partial (exit 3).
    let tmp = tempfile::tempdir().unwrap();
    let before = common::tar(&[E::File("before.txt", b"first layer\n")]);
    let after = common::tar(&[E::File("after.txt", b"last layer\n")]);
    let victim = common::tar(&[E::File("victim.txt", &b"the damaged layer\n".repeat(200))]);
    let (gz, gz_mt) = common::compress(&victim, Comp::Gzip);
    let n = gz.len();
    let mut bad_crc = gz.clone();
    bad_crc[n - 8] ^= 0xff;
    let mut bad_isize = gz.clone();
    bad_isize[n - 4] ^= 0x01;
    let truncated = gz[..n / 2].to_vec();
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    enc.include_checksum(true).unwrap();
    enc.write_all(&victim).unwrap();
    let mut bad_xxh = enc.finish().unwrap();
    let z = bad_xxh.len();
    bad_xxh[z - 1] ^= 0xff; // the last 4 bytes of the frame are the content checksum
    let zstd_mt = "application/vnd.oci.image.layer.v1.tar+zstd";
    for (what, blob, mt, says) in [
        ("bad CRC32", bad_crc, gz_mt, "checksum"),
        ("bad ISIZE", bad_isize, gz_mt, "checksum"),
        ("truncated deflate", truncated, gz_mt, "deflate"),
        ("bad zstd checksum", bad_xxh, zstd_mt, "checksum"),
    ] {
        let (b1, m1) = common::compress(&before, Comp::Gzip);
        let (b3, m3) = common::compress(&after, Comp::Zstd);
        let dir = tmp.path().join(what.replace(' ', "-"));
        let damaged = sha256(&blob);
        let reference =
            raw_layers_image(&dir, &[(m1, b1, sha256(&before)), (mt, blob, sha256(&victim)), (m3, b3, sha256(&after))]);
        let r = scan(&reference);
        let p = only_platform(&r);
        let errs: Vec<&layerscope::diag::Diagnostic> =
            p.diagnostics.iter().filter(|d| d.severity == Level::Error).collect();
        assert!(!errs.is_empty(), "{what}: no error: {:?}", p.diagnostics);
        assert!(errs.iter().all(|d| d.layer.as_deref() == Some(damaged.as_str())), "{what}: {errs:?}");
        assert!(
            errs.iter().any(|d| d.message.to_ascii_lowercase().contains(says)),
            "{what}: no error saying {says:?}: {errs:?}"
        );
        assert!(r.incomplete(), "{what}: the scan must be partial (exit 3)");
        let loaded = pipeline::load(&reference, &ScanOptions::default()).unwrap();
        let fs = loaded.merged(&loaded.resolution.targets[0]);
        assert!(fs.get("before.txt").is_some() && fs.get("after.txt").is_some(), "{what}: other layers read");
    }
}

/// A small 64-bit little-endian x86-64 ELF for crafting: one PT_LOAD mapping the whole file at
/// address 0 (so addresses are offsets), PT_INTERP when `interp` is set, and a PT_DYNAMIC whose
/// string table holds the names given. `dyn_extra` entries are appended to the dynamic section
/// (after the ones built from the names, which use DT_STRTAB = `STRTAB` unless overridden).
struct Elf<'a> {
    interp: Option<&'a str>,
    needed: Vec<&'a str>,
    rpath: Option<&'a str>,
    soname: Option<&'a str>,
    /// Raw bytes of the string table instead of the names (for names without a NUL).
    strtab_bytes: Option<Vec<u8>>,
    /// DT_STRTAB and DT_STRSZ values instead of the real ones.
    strtab_addr: Option<u64>,
    strsz: Option<u64>,
    /// Section headers appended at the end (64 bytes each); `e_shoff` points at them.
    sections: Vec<[u8; 64]>,
    /// `e_shstrndx`.
    shstrndx: u16,
}

const STRTAB: usize = 0x300;
const DYNAMIC: usize = 0x800;

impl Default for Elf<'_> {
    fn default() -> Self {
        Elf {
            interp: Some("/lib64/ld-linux-x86-64.so.2"),
            needed: vec![],
            rpath: None,
            soname: None,
            strtab_bytes: None,
            strtab_addr: None,
            strsz: None,
            sections: vec![],
            shstrndx: 0,
        }
    }
}

impl Elf<'_> {
    fn build(&self) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut name = |s: &str| {
            let off = strtab.len() as u64;
            strtab.extend_from_slice(s.as_bytes());
            strtab.push(0);
            off
        };
        let mut dynamic: Vec<(u64, u64)> = Vec::new();
        for n in &self.needed {
            dynamic.push((1, name(n))); // DT_NEEDED
        }
        if let Some(r) = self.rpath {
            dynamic.push((15, name(r))); // DT_RPATH
        }
        if let Some(s) = self.soname {
            dynamic.push((14, name(s))); // DT_SONAME
        }
        let strtab = self.strtab_bytes.clone().unwrap_or(strtab);
        assert!(strtab.len() < DYNAMIC - STRTAB);
        dynamic.push((5, self.strtab_addr.unwrap_or(STRTAB as u64))); // DT_STRTAB
        dynamic.push((10, self.strsz.unwrap_or(strtab.len() as u64))); // DT_STRSZ
        dynamic.push((0, 0)); // DT_NULL
        let dyn_end = DYNAMIC + dynamic.len() * 16;
        let sh_off = dyn_end.div_ceil(64) * 64;
        let size = sh_off + self.sections.len() * 64;
        let mut f = vec![0u8; size];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // 64-bit
        f[5] = 1; // little-endian
        f[6] = 1;
        f[16] = 3; // ET_DYN
        f[18] = 62; // x86-64
        f[20] = 1;
        f[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        if !self.sections.is_empty() {
            f[0x28..0x30].copy_from_slice(&(sh_off as u64).to_le_bytes());
            f[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
            f[0x3c..0x3e].copy_from_slice(&(self.sections.len() as u16).to_le_bytes());
            f[0x3e..0x40].copy_from_slice(&self.shstrndx.to_le_bytes());
        }
        f[0x34..0x36].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        f[0x36..0x38].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        let mut phdrs: Vec<[u64; 7]> = Vec::new(); // type|flags, offset, vaddr, paddr, filesz, memsz, align
        phdrs.push([1 | (5 << 32), 0, 0, 0, size as u64, size as u64, 0x1000]); // PT_LOAD R+X
        phdrs.push([2 | (6 << 32), DYNAMIC as u64, DYNAMIC as u64, 0, (dyn_end - DYNAMIC) as u64, 0, 8]);
        if let Some(i) = self.interp {
            f[0x200..0x200 + i.len()].copy_from_slice(i.as_bytes());
            phdrs.push([3 | (4 << 32), 0x200, 0x200, 0, i.len() as u64 + 1, i.len() as u64 + 1, 1]);
        }
        f[0x38..0x3a].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        for (i, p) in phdrs.iter().enumerate() {
            for (j, v) in p.iter().enumerate() {
                let at = 64 + i * 56 + if j == 0 { 0 } else { 8 * j };
                f[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
        }
        f[STRTAB..STRTAB + strtab.len()].copy_from_slice(&strtab);
        for (i, (tag, val)) in dynamic.iter().enumerate() {
            f[DYNAMIC + i * 16..DYNAMIC + i * 16 + 8].copy_from_slice(&tag.to_le_bytes());
            f[DYNAMIC + i * 16 + 8..DYNAMIC + i * 16 + 16].copy_from_slice(&val.to_le_bytes());
        }
        for (i, s) in self.sections.iter().enumerate() {
            f[sh_off + i * 64..sh_off + i * 64 + 64].copy_from_slice(s);
        }
        f
    }
}

/// A section header: name (offset in the section name table), type, offset, size, entry size.
fn section(name: u32, sh_type: u32, offset: u64, size: u64, entsize: u64) -> [u8; 64] {
    let mut s = [0u8; 64];
    s[..4].copy_from_slice(&name.to_le_bytes());
    s[4..8].copy_from_slice(&sh_type.to_le_bytes());
    s[24..32].copy_from_slice(&offset.to_le_bytes());
    s[32..40].copy_from_slice(&size.to_le_bytes());
    s[56..64].copy_from_slice(&entsize.to_le_bytes());
    s
}

/// ELF facts as the scanner gets them: the capture fed in odd chunks, then parsed.
fn elf_facts(bytes: &[u8]) -> Result<layerscope::elf::ElfInfo, String> {
    let limits = layerscope::limits::Limits::default();
    let mut c = layerscope::elf::capture::ElfCapture::new(bytes.len() as u64, &limits).unwrap();
    for chunk in bytes.chunks(1000) {
        c.feed(chunk);
    }
    c.finish()
}

#[test]
fn the_elf_builder_makes_what_the_parser_reads() {
    let e = Elf { needed: vec!["libz.so.1", "libc.so.6"], rpath: Some("$ORIGIN/../lib"), ..Default::default() };
    let info = elf_facts(&e.build()).unwrap();
    assert_eq!(info.needed, ["libz.so.1", "libc.so.6"]);
    assert_eq!(info.rpath, ["$ORIGIN/../lib"]);
    assert_eq!(info.interpreter.as_deref(), Some("/lib64/ld-linux-x86-64.so.2"));
    assert_eq!(info.incomplete, None);
}

#[test]
fn symbol_table_claiming_2_pow_63_bytes() {
    // 64: SHT_SYMTAB with sh_size 2^63 and sh_entsize 1, and a `.debug_info` of the same size:
    // no allocation from the size (the parse reads no symbols), the sections are noted as lying
    // outside the file and not counted; a `.debug_info` inside the file still is. The section
    // names are in the dynamic string table: "libc.so.6" at 1, ".debug_info" at 11.
    let mut e = Elf { needed: vec!["libc.so.6"], soname: Some(".debug_info"), ..Default::default() };
    e.sections = vec![
        [0u8; 64],
        section(0, 2, 0x40, 1 << 63, 1),     // SHT_SYMTAB
        section(11, 1, 0x40, 1 << 63, 1),    // SHT_PROGBITS .debug_info
        section(11, 1, 0x40, 16, 1),         // SHT_PROGBITS .debug_info, in the file
        section(0, 3, STRTAB as u64, 64, 0), // SHT_STRTAB: the section names
    ];
    e.shstrndx = 4;
    let bytes = e.build();
    let info = elf_facts(&bytes).expect("the dynamic facts are still read");
    assert_eq!(info.needed, ["libc.so.6"]);
    assert_eq!(info.debug_bytes, 16);
    assert!(info.stripped, "a symbol table outside the file is not there");
    let why = info.incomplete.expect("a section table pointing past the end is noted");
    assert!(why.contains("2 sections lie beyond the end of the file"), "{why}");
}

#[test]
fn dynamic_string_tables_that_lie() {
    // 68: DT_STRTAB outside every loaded segment and outside the file, DT_STRSZ of 2^62, names
    // without a NUL: the names that cannot be read are reported missing, never made up.
    let outside = Elf { needed: vec!["libz.so.1"], strtab_addr: Some(0x7fff_0000_0000), ..Default::default() };
    let info = elf_facts(&outside.build()).unwrap();
    assert!(info.needed.is_empty(), "{:?}", info.needed);
    let why = info.incomplete.expect("unreadable names are reported");
    assert!(why.contains("DT_NEEDED") && why.contains("DT_STRTAB"), "{why}");

    // A huge DT_STRSZ: the names are still read (the loader does not use DT_STRSZ), up to the
    // end of the file.
    let huge = Elf { needed: vec!["libz.so.1"], strsz: Some(1 << 62), ..Default::default() };
    let info = elf_facts(&huge.build()).unwrap();
    assert_eq!(info.needed, ["libz.so.1"]);

    // A string table whose last name has no NUL (and the table is cut right there).
    let mut table = b"\0libz.so.1\0libunterminated".to_vec();
    let len = table.len() as u64;
    let no_nul = Elf {
        needed: vec!["libz.so.1", "x"],
        strtab_bytes: Some(std::mem::take(&mut table)),
        strsz: Some(len),
        ..Default::default()
    };
    let info = elf_facts(&no_nul.build()).unwrap();
    assert_eq!(info.needed, ["libz.so.1"], "the unterminated name is not taken");
    let why = info.incomplete.expect("the unterminated name is reported");
    assert!(why.contains("1 DT_NEEDED"), "{why}");
}

#[test]
fn sixty_five_thousand_program_headers() {
    // 63, program header side: e_phnum 65535 (a 3.6 MiB table), every entry a PT_NOTE of 8
    // bytes at its own offset past the table. The capture keeps a bounded set of ranges and
    // the parse ends in bounded time.
    let phnum = 65535usize;
    let notes_at = 17usize << 20;
    let size = notes_at + phnum * 64;
    let mut f = vec![0u8; size];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2;
    f[5] = 1;
    f[6] = 1;
    f[16] = 2;
    f[18] = 62;
    f[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
    f[0x34..0x36].copy_from_slice(&64u16.to_le_bytes());
    f[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
    f[0x38..0x3a].copy_from_slice(&(phnum as u16).to_le_bytes());
    for i in 0..phnum {
        let at = 64 + i * 56;
        f[at..at + 4].copy_from_slice(&4u32.to_le_bytes()); // PT_NOTE
        f[at + 8..at + 16].copy_from_slice(&((notes_at + i * 64) as u64).to_le_bytes());
        f[at + 32..at + 40].copy_from_slice(&8u64.to_le_bytes());
    }
    let started = std::time::Instant::now();
    let limits = layerscope::limits::Limits::default();
    let mut c = layerscope::elf::capture::ElfCapture::new(size as u64, &limits).unwrap();
    for chunk in f.chunks(256 << 10) {
        c.feed(chunk);
    }
    let info = c.finish().expect("a header with notes only still parses");
    let took = started.elapsed();
    eprintln!("65535 program headers: {took:?}");
    assert_eq!(info.machine, "amd64");
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
}

#[test]
fn library_names_and_run_paths_climbing_out_and_needed_cycles() {
    // 67: DT_NEEDED `../../../../etc/passwd` (a text file once clamped to the root: not a
    // library the loader can map), `../../../../lib/libq.so` (clamped to /lib/libq.so, an ELF
    // there), RPATH `$ORIGIN/../../../..` (clamped to /), and libA ⇄ libB needing each other:
    // every lookup stays in the image, the cycle is checked once per library, the scan ends.
    let tmp = tempfile::tempdir().unwrap();
    let loader = Elf { interp: None, soname: Some("ld-linux-x86-64.so.2"), ..Default::default() }.build();
    let libc = Elf { interp: None, soname: Some("libc.so.6"), ..Default::default() }.build();
    let lib = |soname: &'static str, needs: &'static str| {
        Elf { interp: None, soname: Some(soname), needed: vec![needs, "libc.so.6"], ..Default::default() }.build()
    };
    let (lib_a, lib_b) = (lib("libA.so", "libB.so"), lib("libB.so", "libA.so"));
    let libq = Elf { interp: None, soname: Some("libq.so"), ..Default::default() }.build();
    let libz = Elf { interp: None, soname: Some("libz.so.1"), ..Default::default() }.build();
    let passwd_app = Elf { needed: vec!["../../../../etc/passwd", "libc.so.6"], ..Default::default() }.build();
    let climbing_app = Elf { needed: vec!["../../../../lib/libq.so", "libc.so.6"], ..Default::default() }.build();
    let rpath_app = Elf {
        needed: vec!["libz.so.1", "libA.so", "libc.so.6"],
        rpath: Some("$ORIGIN/../../../..:/usr/lib/cycle"),
        ..Default::default()
    }
    .build();
    let layer = common::tar(&[
        E::File("lib64/ld-linux-x86-64.so.2", &loader),
        E::File("lib/x86_64-linux-gnu/libc.so.6", &libc),
        E::File("usr/lib/cycle/libA.so", &lib_a),
        E::File("usr/lib/cycle/libB.so", &lib_b),
        E::File("lib/libq.so", &libq),
        E::File("libz.so.1", &libz),
        E::FileMode("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644),
        E::File("usr/bin/passwd-app", &passwd_app),
        E::File("usr/bin/climbing-app", &climbing_app),
        E::File("usr/local/bin/rpath-app", &rpath_app),
    ]);
    let mut img = Image::new("amd64", vec![(layer, Comp::Gzip)]);
    img.config = serde_json::json!({"Entrypoint": ["/usr/local/bin/rpath-app"],
        "Env": ["LD_LIBRARY_PATH=/usr/lib/cycle"]});
    let started = std::time::Instant::now();
    let r = scan(&layout(&tmp.path().join("img"), &img));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    let p = only_platform(&r);
    let missing: Vec<&layerscope::report::Finding> =
        p.findings.iter().filter(|f| f.id == "LIBC-MISSING-LIBRARY").collect();
    assert_eq!(missing.len(), 1, "{missing:#?}");
    assert!(
        missing[0].message.starts_with("../../../../etc/passwd is not found")
            && missing[0].paths == ["/usr/bin/passwd-app"],
        "{missing:#?}"
    );
    assert!(p.run.can_start, "the entrypoint's libraries resolve: {:#?}", p.findings);
}

#[test]
fn ld_so_conf_counts_only_with_the_loader_cache() {
    // glibc's loader reads /etc/ld.so.cache (what ldconfig makes of ld.so.conf), never
    // ld.so.conf itself: a library only in a directory ld.so.conf names is found when the image
    // has a cache, and is missing (the command cannot start) when it has none.
    let tmp = tempfile::tempdir().unwrap();
    let loader = Elf { interp: None, soname: Some("ld-linux-x86-64.so.2"), ..Default::default() }.build();
    let libc = Elf { interp: None, soname: Some("libc.so.6"), ..Default::default() }.build();
    let libfoo = Elf { interp: None, soname: Some("libfoo.so.1"), ..Default::default() }.build();
    let app = Elf { needed: vec!["libfoo.so.1", "libc.so.6"], ..Default::default() }.build();
    for with_cache in [false, true] {
        let mut entries = vec![
            E::File("lib64/ld-linux-x86-64.so.2", &loader),
            E::File("lib/x86_64-linux-gnu/libc.so.6", &libc),
            E::File("opt/foo/lib/libfoo.so.1", &libfoo),
            E::FileMode("etc/ld.so.conf", b"include /etc/ld.so.conf.d/*.conf\n", 0o644),
            E::FileMode("etc/ld.so.conf.d/foo.conf", b"/opt/foo/lib\n", 0o644),
            E::File("app/run", &app),
        ];
        if with_cache {
            entries.push(E::FileMode("etc/ld.so.cache", b"glibc-ld.so.cache1.1", 0o644));
        }
        let mut img = Image::new("amd64", vec![(common::tar(&entries), Comp::Gzip)]);
        img.config = serde_json::json!({"Entrypoint": ["/app/run"]});
        let r = scan(&layout(&tmp.path().join(format!("cache-{with_cache}")), &img));
        let p = only_platform(&r);
        let missing: Vec<&layerscope::report::Finding> =
            p.findings.iter().filter(|f| f.id == "LIBC-MISSING-LIBRARY").collect();
        assert_eq!(p.run.can_start, with_cache, "cache {with_cache}: {:#?}", p.findings);
        assert_eq!(missing.len(), usize::from(!with_cache), "cache {with_cache}: {missing:#?}");
        if let Some(m) = missing.first() {
            assert!(m.message.contains("libfoo.so.1") && m.paths == ["/app/run"], "{m:#?}");
        }
    }
}

#[test]
fn entries_that_each_earn_a_warning_do_not_flood_the_report() {
    // 10/14/1 at scale (with 23): 10 000 entries of one path, 300 paths climbing out of the
    // root, and 500 whiteouts of nothing in the layer above: the first hundred diagnostics of
    // each layer's walk and merge are listed, the rest counted in one line per layer.
    let tmp = tempfile::tempdir().unwrap();
    let climbing: Vec<String> = (0..300).map(|i| format!("../up{i}")).collect();
    let whiteouts: Vec<String> = (0..500).map(|i| format!(".wh.nothing{i}")).collect();
    let mut lower: Vec<E> = (0..10_000).map(|_| E::File("dup", b"")).collect();
    lower.extend(climbing.iter().map(|p| E::File(p, b"")));
    let upper: Vec<E> = whiteouts.iter().map(|p| E::File(p, b"")).collect();
    let img = Image::new("amd64", vec![(common::tar(&lower), Comp::Gzip), (common::tar(&upper), Comp::Gzip)]);
    let r = scan(&layout(&tmp.path().join("img"), &img));
    let p = only_platform(&r);
    assert!(p.diagnostics.len() <= 4 * 101, "{} diagnostics", p.diagnostics.len());
    let summaries: Vec<&str> =
        p.diagnostics.iter().map(|d| d.message.as_str()).filter(|m| m.contains("not listed")).collect();
    assert!(
        summaries.contains(&"200 more warnings about entries of this layer not listed (the first 100 are)"),
        "{summaries:?}"
    );
    assert!(
        summaries.contains(&"9899 more warnings about paths of this layer not listed (the first 100 are)"),
        "{summaries:?}"
    );
    assert!(
        summaries.contains(&"400 more warnings about paths of this layer not listed (the first 100 are)"),
        "{summaries:?}"
    );
    assert!(!r.incomplete(), "warnings only");
    assert_eq!(p.files, 301);
}

#[test]
fn gnu_tar_sparse_files_in_every_format() {
    // 22, the well-formed side: GNU tar's sparse files (old GNU, PAX 0.1, PAX 1.0) are read as
    // GNU tar reads them back: the real name (not `GNUSparseFile.N/…`), the real size, and the
    // entry after them in place. GNU tar is part of every Debian system.
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(src.join("big")).unwrap();
        f.set_len(1 << 20).unwrap();
        f.write_at(b"hello", 4096).unwrap();
        f.write_at(b"world", 900_000).unwrap();
    }
    std::fs::write(src.join("after"), b"after\n").unwrap();
    for (name, args) in [
        ("old-gnu", &["--format=gnu"][..]),
        ("pax-0.1", &["--format=posix", "--sparse-version=0.1"][..]),
        ("pax-1.0", &["--format=posix", "--sparse-version=1.0"][..]),
    ] {
        let out = std::process::Command::new("tar")
            .args(["--sparse", "-c", "-C"])
            .arg(&src)
            .args(args)
            .args(["big", "after"])
            .output()
            .expect("GNU tar");
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let reference = raw_layer_image(
            &tmp.path().join(name),
            &out.stdout,
            "application/vnd.oci.image.layer.v1.tar",
            &sha256(&out.stdout),
        );
        let r = scan(&reference);
        assert!(errors(only_platform(&r)).is_empty(), "{name}: {:?}", only_platform(&r).diagnostics);
        let loaded = pipeline::load(&reference, &ScanOptions::default()).unwrap();
        let fs = loaded.merged(&loaded.resolution.targets[0]);
        let paths: Vec<&str> = fs.iter().map(|(p, _)| p).collect();
        assert_eq!(paths, ["", "after", "big"], "{name}");
        let size = |p: &str| match &fs.get(p).unwrap().kind {
            layerscope::fs::NodeKind::File(f) => f.size,
            _ => panic!("{p} is not a file"),
        };
        assert_eq!((size("big"), size("after")), (1 << 20, 6), "{name}");
    }
}

/// Options with `--limit` settings applied.
fn opts_with(limits: &[&str], platforms: &str) -> ScanOptions {
    let mut o = ScanOptions {
        platforms: layerscope::oci::platform::PlatformFilter::parse(platforms).unwrap(),
        ..Default::default()
    };
    for l in limits {
        o.limits.set(l).unwrap();
    }
    o
}

#[test]
fn an_index_of_100_000_entries() {
    // 45: index.json with one real image and 99 999 entries for manifests that are not there,
    // on 4 platforms (about 19 MB). Over json-bytes by default: refused before parsing. With the
    // limit raised, parsed; the walk is linear (timed against a 10 000-entry index), the missing
    // manifests are counted rather than listed one by one, and the platforms not asked for are
    // named once each.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("img");
    let real = common::write_image(&dir, &Image::new("amd64", vec![(common::tar(&[E::File("a", b"a")]), Comp::Gzip)]));
    common::write_layout(&dir, vec![real.clone()]);
    let arches = ["arm64", "s390x", "ppc64le", "riscv64"];
    let index = |n: usize| {
        let mut text =
            format!(r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{real}"#);
        for i in 1..n {
            text.push_str(&format!(
                r#",{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{i:064x}","size":1000,"platform":{{"os":"linux","architecture":"{}","variant":"v{}"}}}}"#,
                arches[i % 4],
                i % 3
            ));
        }
        text.push_str("]}");
        std::fs::write(dir.join("index.json"), text).unwrap();
    };
    let reference = format!("oci:{}", dir.display());
    let raised = ["json-bytes=67108864"];
    let timed = |platforms: &str| {
        let started = std::time::Instant::now();
        let r = pipeline::scan(&reference, &opts_with(&raised, platforms));
        (r, started.elapsed())
    };

    index(100_000);
    let bytes = std::fs::metadata(dir.join("index.json")).unwrap().len();
    assert!(bytes > 16 << 20, "{bytes}");
    let e = pipeline::scan(&reference, &ScanOptions::default()).unwrap_err().to_string();
    assert!(e.contains("index.json") && e.contains("json-bytes"), "{e}");
    // Every platform: the real one is scanned, the others fail to open (counted past 100).
    let (r, big) = timed("all");
    let r = r.unwrap();
    assert_eq!(r.platforms.len(), 1);
    assert!(r.diagnostics.len() <= 102, "{} diagnostics", r.diagnostics.len());
    assert!(
        r.diagnostics.iter().any(|d| d.message == "99899 more errors about the index not listed (the first 100 are)"),
        "{:?}",
        r.diagnostics.last()
    );
    // One platform asked for: the others are named once each (4 architectures × 3 variants).
    let r = timed("linux/amd64").0.unwrap();
    assert_eq!(r.platforms.len(), 1);
    assert_eq!(r.platforms_skipped.len(), 12, "{:?}", r.platforms_skipped);
    // Nothing for the platform asked: the error names what there is, once each.
    let e = timed("linux/mips64le").0.unwrap_err().to_string();
    assert!(e.contains("linux/s390x/v2") && e.len() < 400, "{e}");

    index(10_000);
    let (r, small) = timed("all");
    assert_eq!(r.unwrap().platforms.len(), 1);
    eprintln!("10 000 entries: {small:?}; 100 000 entries: {big:?}");
    assert!(big < small * 30 + std::time::Duration::from_secs(2), "not linear: {small:?} then {big:?}");
}

#[test]
fn json_with_huge_numbers_duplicate_keys_and_unknown_fields() {
    // 48 (the nesting part is in index_cycles_depth_and_attestation_only_indexes).
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("img");
    let mut img = Image::new("amd64", vec![(common::tar(&[E::File("a", b"a")]), Comp::Gzip)]);
    img.config = serde_json::json!({"Labels": {"x": "1"}});
    let d = common::write_image(&dir, &img);
    common::write_layout(&dir, vec![d.clone()]);
    let reference = format!("oci:{}", dir.display());
    let loaded = pipeline::load(&reference, &ScanOptions::default()).unwrap();
    let t = &loaded.resolution.targets[0];
    let blob = |digest: &str| std::fs::read_to_string(dir.join("blobs/sha256").join(&digest[7..])).unwrap();
    let (manifest, config) = (blob(&t.manifest_digest), blob(&t.config_digest));
    let put = |text: &str| {
        let digest = sha256(text.as_bytes());
        std::fs::write(dir.join("blobs/sha256").join(&digest[7..]), text).unwrap();
        digest
    };
    // Points index.json at a manifest text (and that manifest at a config text, when given).
    let with = |manifest_text: &str, config_text: Option<&str>| {
        let mut m = manifest_text.to_string();
        if let Some(c) = config_text {
            let cd = put(c);
            m = m
                .replace(&t.config_digest, &cd)
                .replace(&format!("\"size\":{}", config.len()), &format!("\"size\":{}", c.len()));
        }
        let md = put(&m);
        let index = format!(
            r#"{{"schemaVersion":2,"x-vendor-extension":{{"a":[1,2,3]}},"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{md}","size":{},"x-unknown":true,"annotations":{{"k":"first","k":"last"}}}}]}}"#,
            m.len()
        );
        std::fs::write(dir.join("index.json"), index).unwrap();
        pipeline::scan(&reference, &ScanOptions::default())
    };
    // Unknown fields everywhere are ignored; in an annotation map a repeated key keeps the last.
    let unknown_manifest = manifest.replacen('{', r#"{"x-future":{"nested":[{}]},"#, 1);
    let unknown_config =
        config.replacen('{', r#"{"x-future":1e308,"#, 1).replace(r#"{"x":"1"}"#, r#"{"x":"1","x":"2"}"#);
    assert_ne!(unknown_config, config.replacen('{', r#"{"x-future":1e308,"#, 1));
    let r = with(&unknown_manifest, Some(&unknown_config)).unwrap();
    let p = only_platform(&r);
    assert!(errors(p).is_empty(), "{:?}", p.diagnostics);
    assert_eq!(p.labels.get("x").map(String::as_str), Some("2"), "a repeated label keeps the last value");
    // A repeated field of a manifest, a config or the index itself is an error: two readers of
    // the same bytes could otherwise see two different images.
    let dup_config = config.replacen('{', r#"{"architecture":"arm64","#, 1);
    let e = with(&manifest, Some(&dup_config)).unwrap_err().to_string();
    assert!(e.contains("duplicate field `architecture`"), "{e}");
    let dup_manifest = manifest.replacen('{', r#"{"layers":[],"#, 1);
    let e = with(&dup_manifest, None).unwrap_err().to_string();
    assert!(e.contains("duplicate field `layers`"), "{e}");
    let dup_media_type = manifest.replacen(
        '{',
        r#"{"mediaType":"application/vnd.oci.image.index.v1+json","mediaType":"application/vnd.oci.image.manifest.v1+json","#,
        1,
    );
    let e = with(&dup_media_type, None).unwrap_err().to_string();
    assert!(e.contains("duplicate field `mediaType`"), "{e}");
    let index = std::fs::read_to_string(dir.join("index.json")).unwrap();
    std::fs::write(dir.join("index.json"), index.replacen('{', r#"{"manifests":[],"#, 1)).unwrap();
    let e = pipeline::scan(&reference, &ScanOptions::default()).unwrap_err().to_string();
    assert!(e.contains("index.json") && e.contains("duplicate field `manifests`"), "{e}");
    // Numbers: a 5 MiB one in index.json is over json-bytes before any parsing; a 3 MiB one in a
    // manifest (within the limit) is a parse error, in linear time.
    let huge = "9".repeat(5 << 20);
    std::fs::write(dir.join("index.json"), format!(r#"{{"schemaVersion":{huge},"manifests":[]}}"#)).unwrap();
    let e = pipeline::scan(&reference, &ScanOptions::default()).unwrap_err().to_string();
    assert!(e.contains("json-bytes"), "{e}");
    let big = "9".repeat(3 << 20);
    let started = std::time::Instant::now();
    let e = with(&manifest.replacen("\"schemaVersion\":2", &format!("\"schemaVersion\":2{big}"), 1), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("malformed JSON") && e.len() < 1000, "{}", &e[..e.len().min(1000)]);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
}

#[test]
fn platform_choice_among_near_duplicates_is_the_closest_then_the_first() {
    // 47: arm64 with and without `variant: v8`, arm v6 and v7, Windows entries differing only
    // in os.version. A platform asked for gets one image: the closest variant (defaults applied:
    // arm64 = arm64/v8, a bare arm asks for v7), then the first in index order; the others are
    // "not selected" and a warning names the one taken. `all` scans every entry.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("img");
    let entry = |arch: &'static str, variant: Option<&'static str>, file: &str| {
        let mut img = Image::new(arch, vec![(common::tar(&[E::File(file, b"x")]), Comp::Gzip)]);
        img.variant = variant;
        common::write_image(&dir, &img)
    };
    let arm64 = entry("arm64", None, "arm64");
    let arm64_v8 = entry("arm64", Some("v8"), "arm64-v8");
    let arm_v6 = entry("arm", Some("v6"), "arm-v6");
    let arm_v7 = entry("arm", Some("v7"), "arm-v7");
    let windows = |version: &str, file: &str| {
        let mut d = entry("amd64", None, file);
        d["platform"] = serde_json::json!({"os": "windows", "architecture": "amd64", "os.version": version});
        d
    };
    let (win_2019, win_2022) = (windows("10.0.17763.5820", "ltsc2019"), windows("10.0.20348.2461", "ltsc2022"));
    let digest = |d: &serde_json::Value| d["digest"].as_str().unwrap().to_string();
    let reference = format!("oci:{}", dir.display());
    let chosen = |platform: &str| -> (Vec<String>, layerscope::report::ImageReport) {
        let r = pipeline::scan(&reference, &opts_with(&[], platform)).unwrap();
        (r.platforms.iter().map(|p| p.manifest_digest.clone()).collect(), r)
    };
    common::write_layout(
        &dir,
        vec![arm64.clone(), arm64_v8.clone(), arm_v6.clone(), arm_v7.clone(), win_2019.clone(), win_2022.clone()],
    );
    let (got, r) = chosen("linux/arm64");
    assert_eq!(got, [digest(&arm64)]);
    assert_eq!(r.platforms_skipped, ["linux/arm/v6", "linux/arm/v7", "windows/amd64", "linux/arm64/v8"]);
    let notes: Vec<&str> = r.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(
        notes.iter().any(|n| n.starts_with("linux/arm64: 2 index entries match; linux/arm64 (")
            && n.contains("the first in index order")),
        "{notes:?}"
    );
    assert_eq!(chosen("linux/arm64/v8").0, [digest(&arm64)], "v8 is arm64's default: equals, the first wins");
    assert_eq!(chosen("linux/arm/v7").0, [digest(&arm_v7)]);
    assert_eq!(chosen("linux/arm/v6").0, [digest(&arm_v6)]);
    assert_eq!(chosen("arm").0, [digest(&arm_v7)], "a bare arm asks for v7, listed after v6");
    assert_eq!(chosen("windows/amd64").0, [digest(&win_2019)], "os.version is not compared: the first");
    assert_eq!(chosen("linux/arm64,linux/arm/v7").0, [digest(&arm64), digest(&arm_v7)]);
    assert_eq!(chosen("all").0.len(), 6);
    // The same entries in another order: the first still wins, whichever it is.
    common::write_layout(&dir, vec![win_2022.clone(), arm64_v8.clone(), arm64.clone(), win_2019.clone()]);
    assert_eq!(chosen("linux/arm64").0, [digest(&arm64_v8)]);
    assert_eq!(chosen("windows/amd64").0, [digest(&win_2022)]);
}

/// ELF files of the fixture images (decompressed layers walked with the `tar` crate), largest
/// first cut at 256 KiB, deduplicated by content.
fn fixture_elf_files() -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut blobs = Vec::new();
    for image in std::fs::read_dir(common::testdata("images")).unwrap() {
        let dir = image.unwrap().path().join("oci/blobs/sha256");
        if let Ok(entries) = std::fs::read_dir(&dir) {
            blobs.extend(entries.map(|e| e.unwrap().path()));
        }
    }
    blobs.sort();
    for blob in blobs {
        let raw = std::fs::read(&blob).unwrap();
        let mut tar_bytes = Vec::new();
        let ok = match raw.get(..4) {
            Some([0x1f, 0x8b, ..]) => flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut tar_bytes).is_ok(),
            Some([0x28, 0xb5, 0x2f, 0xfd]) => {
                zstd::stream::read::Decoder::new(&raw[..]).and_then(|mut d| d.read_to_end(&mut tar_bytes)).is_ok()
            }
            _ => {
                tar_bytes = raw;
                true
            }
        };
        if !ok || tar_bytes.len() < 512 || tar_bytes.starts_with(b"{") {
            continue;
        }
        let mut archive = tar::Archive::new(&tar_bytes[..]);
        let Ok(entries) = archive.entries() else { continue };
        for entry in entries.flatten() {
            let mut entry = entry;
            let path = entry.path().map(|p| p.display().to_string()).unwrap_or_default();
            let mut head = [0u8; 4];
            let mut bytes = Vec::new();
            if entry.header().entry_type().is_file() && entry.read_to_end(&mut bytes).is_ok() && bytes.len() >= 64 {
                head.copy_from_slice(&bytes[..4]);
                if &head == b"\x7fELF" && seen.insert(sha256(&bytes)) {
                    out.push((path, bytes));
                }
            }
        }
    }
    out
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Values that break size arithmetic.
const BOUNDARY: &[u64] = &[
    0,
    1,
    7,
    0x7f,
    0xff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    1 << 32,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX - 7,
    u64::MAX,
];

/// One mutant of `seed`: header fields, table entries and dynamic entries set to boundary
/// values, byte flips, truncation; several at once.
fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    let is64 = b.get(4) == Some(&2);
    let le = b.get(5) != Some(&2);
    let put = |b: &mut Vec<u8>, at: usize, width: usize, v: u64| {
        if at + width <= b.len() {
            let bytes = if le { v.to_le_bytes() } else { v.to_be_bytes() };
            let slice = if le { &bytes[..width] } else { &bytes[8 - width..] };
            b[at..at + width].copy_from_slice(slice);
        }
    };
    let get = |b: &[u8], at: usize, width: usize| -> u64 {
        let mut v = 0u64;
        for i in 0..width {
            let byte = *b.get(at + i).unwrap_or(&0) as u64;
            v |= if le { byte << (8 * i) } else { byte << (8 * (width - 1 - i)) };
        }
        v
    };
    // (offset, width) of e_phoff, e_shoff, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx.
    let header: &[(usize, usize)] = if is64 {
        &[(0x20, 8), (0x28, 8), (0x36, 2), (0x38, 2), (0x3a, 2), (0x3c, 2), (0x3e, 2)]
    } else {
        &[(0x1c, 4), (0x20, 4), (0x2a, 2), (0x2c, 2), (0x2e, 2), (0x30, 2), (0x32, 2)]
    };
    let phoff = get(&b, header[0].0, header[0].1) as usize;
    let phnum = get(&b, header[3].0, 2) as usize;
    let shoff = get(&b, header[1].0, header[1].1) as usize;
    let shnum = get(&b, header[5].0, 2) as usize;
    let word = if is64 { 8 } else { 4 };
    for _ in 0..1 + rng.below(4) {
        let v = BOUNDARY[rng.below(BOUNDARY.len())];
        match rng.below(6) {
            0 => {
                let (at, width) = header[rng.below(header.len())];
                put(&mut b, at, width, v);
            }
            1 if phnum > 0 => {
                // A program header's offset, vaddr, filesz or memsz.
                let ph = phoff + rng.below(phnum) * if is64 { 56 } else { 32 };
                let field = if is64 { [8, 16, 32, 40][rng.below(4)] } else { [4, 8, 16, 20][rng.below(4)] };
                put(&mut b, ph + field, word, v);
            }
            2 if shnum > 0 => {
                // A section header's type, offset, size, link, info or entsize.
                let sh = shoff + rng.below(shnum) * if is64 { 64 } else { 40 };
                let (field, width) = if is64 {
                    [(4, 4), (24, 8), (32, 8), (40, 4), (44, 4), (56, 8)][rng.below(6)]
                } else {
                    [(4, 4), (16, 4), (20, 4), (24, 4), (28, 4), (36, 4)][rng.below(6)]
                };
                put(&mut b, sh + field, width, v);
            }
            3 => {
                // A value in what may be the dynamic section: any aligned word after the headers.
                let at = (64 + rng.below(b.len().saturating_sub(64))) / word * word;
                put(&mut b, at, word, v);
            }
            4 => {
                for _ in 0..1 + rng.below(16) {
                    let at = rng.below(b.len());
                    b[at] ^= 1 << rng.below(8);
                }
            }
            _ => {
                let keep = 4 + rng.below(b.len().saturating_sub(4));
                b.truncate(keep);
            }
        }
    }
    b
}

/// What the scanner does with one file's bytes, as the `elf_facts` fuzz target does it: the
/// whole-file parse, then the streaming capture and its parse; `opt` picks (as the target's
/// first input byte) padding past the whole-file size so the sparse capture runs, a 4 KiB head
/// limit, and the chunk size. A panic, even one the wrapper's isolation contains (counted by
/// the panic hook `elf_corpus_replay_through_the_wrapper` installs), or one file taking over a
/// second, fails the test.
/// CPU time of the calling thread: unlike wall time, not stretched by other processes (a
/// loaded CI machine made a wall-time bound fail).
fn thread_cpu() -> std::time::Duration {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn replay(what: &str, opt: u8, file: &[u8]) {
    let started = thread_cpu();
    let panics_before = PANICS.load(std::sync::atomic::Ordering::SeqCst);
    let outcome = std::panic::catch_unwind(|| {
        let _ = layerscope::elf::parse(file, file.len() as u64);
        if file.len() < 52 || !file.starts_with(b"\x7fELF") {
            return;
        }
        let mut limits = layerscope::limits::Limits::default();
        if opt & 2 != 0 {
            limits.elf_head_bytes = 4096;
        }
        let mut file = file.to_vec();
        if opt & 1 != 0 && file.len() < (256 << 10) + 4096 {
            file.resize((256 << 10) + 4096, 0);
        }
        let mut c = layerscope::elf::capture::ElfCapture::new(file.len() as u64, &limits).unwrap();
        let chunk = [61, 509, 4093, 65521][(opt as usize >> 2) & 3] + (opt as usize >> 4) * 7;
        for piece in file.chunks(chunk) {
            c.feed(piece);
        }
        let _ = c.finish();
    });
    assert!(outcome.is_ok(), "{what}: a panic escaped the ELF wrapper");
    let panics = PANICS.load(std::sync::atomic::Ordering::SeqCst) - panics_before;
    assert_eq!(panics, 0, "{what}: {panics} panic(s) inside the ELF wrapper (contained, but a bug)");
    let spent = thread_cpu().saturating_sub(started);
    assert!(spent < std::time::Duration::from_secs(1), "{what}: {spent:?} of CPU");
}

/// Panics seen by the hook of `elf_corpus_replay_through_the_wrapper`.
static PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[test]
fn elf_corpus_replay_through_the_wrapper() {
    // 71. goblin's fuzz corpus is not in its repository (cargo-fuzz corpora are not committed)
    // nor in the crate, and the samples of goblin issue #120 are a zip attached to the issue:
    // neither can be fetched here. What is replayed instead, deterministically: the fixtures' ELF
    // files, the crafted ELF of this file, and 300 mutants of each (header fields, program and
    // section headers, dynamic entries set to values that break size arithmetic, bit flips,
    // truncations), through `elf::parse` and the streaming capture with odd chunk sizes; plus
    // fuzz/corpus/elf_facts and fuzz/artifacts/elf_facts when `fuzz/seed.sh` or a fuzzing run
    // made them (not in a fresh checkout).
    let mut seeds = fixture_elf_files();
    assert!(seeds.len() >= 10, "the fixtures hold {} ELF files", seeds.len());
    for (path, bytes) in &mut seeds {
        // Big static binaries: their first 256 KiB (headers, and tables past the end for the
        // mutants to point at).
        if bytes.len() > 256 << 10 {
            bytes.truncate(256 << 10);
            path.push_str(" (first 256 KiB)");
        }
    }
    let crafted = Elf {
        needed: vec!["libc.so.6", "libz.so.1"],
        rpath: Some("$ORIGIN"),
        soname: Some(".debug_info"),
        sections: vec![
            [0u8; 64],
            section(0, 2, 0x40, 64, 24),
            section(11, 1, 0x40, 16, 1),
            section(0, 3, 0x300, 64, 0),
        ],
        shstrndx: 3,
        ..Default::default()
    };
    seeds.push(("crafted".into(), crafted.build()));
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        previous(info);
    }));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut replayed = 0;
    let started = std::time::Instant::now();
    for (path, seed) in &seeds {
        replay(path, 8, seed);
        for i in 0..300 {
            let m = mutate(seed, &mut rng);
            replay(&format!("{path} mutant {i}"), rng.next() as u8, &m);
            replayed += 1;
        }
    }
    let mut from_fuzzing = 0;
    for dir in ["fuzz/corpus/elf_facts", "fuzz/artifacts/elf_facts"] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let bytes = std::fs::read(entry.path()).unwrap();
            // The fuzz target's input: byte 0 holds the options, the rest is the file.
            if let Some((&opt, file)) = bytes.split_first() {
                replay(&entry.path().display().to_string(), opt, file);
                from_fuzzing += 1;
            }
        }
    }
    eprintln!(
        "replayed {} seeds, {replayed} mutants and {from_fuzzing} inputs from fuzz/ in {:?}",
        seeds.len(),
        started.elapsed()
    );
}
