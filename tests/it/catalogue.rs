//! More cases of docs/hostile-inputs.md (numbers are the catalogue's): tar oddities, unknown
//! media types, broken documents, crafted ELF headers. tests/hostile.rs has the first batch.

use crate::common;

use crate::common::{layout, only_platform, scan, sha256, Comp, Image, E};
use layerscope::diag::Level;
use layerscope::fs::NodeKind;
use layerscope::pipeline::{self, ScanOptions};

fn view(reference: &str) -> layerscope::fs::MergedFs {
    let loaded = pipeline::load(reference, &ScanOptions::default()).unwrap();
    loaded.merged(&loaded.resolution.targets[0])
}

fn messages(p: &layerscope::report::PlatformReport) -> Vec<String> {
    p.diagnostics
        .iter()
        .map(|d| format!("{:?} {} {}", d.severity, d.path.as_deref().unwrap_or("-"), d.message))
        .collect()
}

/// A raw tar header with any name bytes and type.
fn raw(name: &[u8], typeflag: u8, link: &[u8], data: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    h.set_entry_type(tar::EntryType::new(typeflag));
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    let mut v = h.as_bytes().to_vec();
    v.extend_from_slice(data);
    v.resize(v.len().div_ceil(512) * 512, 0);
    v
}

fn end(mut v: Vec<u8>) -> Vec<u8> {
    v.extend([0u8; 1024]);
    v
}

#[test]
fn root_symlinks_self_links_and_aufs_links() {
    let tmp = tempfile::tempdir().unwrap();
    // 4: symlink entries named `.` and `/` are ignored; the root stays a directory.
    // 9: hardlinks to a directory, to themselves, and out of the root are rejected.
    // 16: an AUFS .wh..wh.plnk file is invisible but a hardlink to it resolves.
    let mut l = Vec::new();
    l.extend(raw(b".", b'2', b"/etc", b""));
    l.extend(raw(b"/", b'2', b"/tmp", b""));
    l.extend(raw(b"dir/", b'5', b"", b""));
    l.extend(raw(b"linkdir", b'1', b"dir", b""));
    l.extend(raw(b"self", b'1', b"self", b""));
    l.extend(raw(b"out", b'1', b"../../etc/shadow", b""));
    l.extend(raw(b".wh..wh.plnk/42.7", b'0', b"", b"aufs content"));
    l.extend(raw(b"app/data", b'1', b".wh..wh.plnk/42.7", b""));
    let l = end(l);
    let reference = layout(&tmp.path().join("a"), &Image::new("amd64", vec![(l, Comp::None)]));
    let fs = view(&reference);
    assert!(matches!(fs.get("").unwrap().kind, NodeKind::Dir));
    assert!(fs.get("linkdir").is_none() && fs.get("self").is_none() && fs.get("out").is_none());
    assert!(fs.iter().all(|(p, _)| !p.contains(".wh.")));
    assert!(matches!(&fs.get("app/data").unwrap().kind, NodeKind::File(f) if f.size == 12));
    let r = scan(&reference);
    let m = messages(only_platform(&r));
    assert!(m.iter().any(|x| x.contains("symlink replacing the root")), "{m:?}");
    assert!(m.iter().any(|x| x.contains("/linkdir") && x.contains("is not a regular file")), "{m:?}");
}

#[test]
fn whiteouts_of_nothing_of_the_root_and_with_content() {
    let tmp = tempfile::tempdir().unwrap();
    // 14: whiteout whose parent does not exist, and `.wh..` at the root: no effect, warned.
    // 15: a whiteout with 1 MiB of content is a whiteout by name; its content is skipped.
    let l1 = common::tar(&[E::File("keep", b"1"), E::File("gone", b"2")]);
    let big = vec![b'x'; 1 << 20];
    let mut l2 = Vec::new();
    l2.extend(raw(b"nope/.wh.x", b'0', b"", b""));
    l2.extend(raw(b".wh..", b'0', b"", b""));
    l2.extend(raw(b".wh.gone", b'0', b"", &big));
    let l2 = end(l2);
    let reference = layout(&tmp.path().join("a"), &Image::new("amd64", vec![(l1, Comp::Gzip), (l2, Comp::Gzip)]));
    let fs = view(&reference);
    assert!(fs.get("keep").is_some() && fs.get("gone").is_none());
    let r = scan(&reference);
    let p = only_platform(&r);
    let m = messages(p);
    assert!(m.iter().any(|x| x.contains("/nope/x") && x.contains("no effect")), "{m:?}");
    assert!(m.iter().any(|x| x.contains("whiteout without a name")), "{m:?}");
    assert_eq!(p.files, 1);
}

#[test]
fn path_depth_and_length_limits_and_non_utf8_names() {
    let tmp = tempfile::tempdir().unwrap();
    // 23: a path of depth 300 and one with a 5000-byte component are refused with the limit's
    // name; the rest of the layer is read. 24: latin-1 names are kept (lossily) and found again.
    let deep = vec!["d"; 300].join("/") + "/f";
    let long = format!("x/{}", "y".repeat(5000));
    let mut pax = tar::Header::new_ustar();
    pax.set_path("././@PaxHeader").unwrap();
    let rec_body = format!(" path={long}\n");
    let mut n = rec_body.len() + 4;
    while (n.to_string().len() + rec_body.len()) != n {
        n = n.to_string().len() + rec_body.len();
    }
    let rec = format!("{n}{rec_body}");
    pax.set_size(rec.len() as u64);
    pax.set_entry_type(tar::EntryType::XHeader);
    pax.set_cksum();
    let mut l = common::tar(&[E::File(&deep[..deep.len().min(99)], b"short enough")]);
    l.truncate(l.len() - 1024);
    // the deep path, through a GNU long name
    let mut ln = raw(b"././@LongLink", b'L', b"", deep.as_bytes());
    ln.extend(raw(b"placeholder", b'0', b"", b"deep"));
    l.extend(ln);
    l.extend(pax.as_bytes());
    let mut recb = rec.into_bytes();
    recb.resize(recb.len().div_ceil(512) * 512, 0);
    l.extend(recb);
    l.extend(raw(b"placeholder2", b'0', b"", b"long"));
    l.extend(raw(b"caf\xe9", b'0', b"", b"latin-1"));
    l.extend(raw(b"ok", b'0', b"", b"ok"));
    let l = end(l);
    let reference = layout(&tmp.path().join("a"), &Image::new("amd64", vec![(l, Comp::Gzip)]));
    let r = scan(&reference);
    let p = only_platform(&r);
    let m = messages(p);
    assert_eq!(m.iter().filter(|x| x.contains("path-depth") || x.contains("path-bytes")).count(), 2, "{m:?}");
    let fs = view(&reference);
    assert!(fs.get("ok").is_some(), "the layer is read past the refused entries");
    assert!(
        fs.get("caf\u{fffd}").is_some(),
        "non-UTF-8 names are kept lossily: {:?}",
        fs.iter().map(|x| x.0).collect::<Vec<_>>()
    );
}

#[test]
fn trailing_garbage_after_the_end_blocks_is_hashed_not_parsed() {
    // 26
    let tmp = tempfile::tempdir().unwrap();
    let mut t = common::tar(&[E::File("a", b"a")]);
    t.extend(b"trailing garbage that is not a tar header".repeat(20));
    let dir = tmp.path().join("a");
    let reference = layout(&dir, &Image::new("amd64", vec![(t.clone(), Comp::Gzip)]));
    let r = scan(&reference);
    let p = only_platform(&r);
    assert!(p.diagnostics.iter().all(|d| d.severity != Level::Error), "{:?}", p.diagnostics);
    assert_eq!(p.layers[0].uncompressed_bytes, t.len() as u64, "the diff_id covers the garbage");
}

#[test]
fn unknown_layer_media_types_are_skipped_not_parsed() {
    // 35
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let reference = layout(&dir, &Image::new("amd64", vec![(common::tar(&[E::File("a", b"a")]), Comp::Gzip)]));
    let loaded = pipeline::load(&reference, &ScanOptions::default()).unwrap();
    let t = &loaded.resolution.targets[0];
    let manifest_path = dir.join("blobs/sha256").join(&t.manifest_digest[7..]);
    let m = std::fs::read_to_string(&manifest_path)
        .unwrap()
        .replace("application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.in-toto+json");
    let md = sha256(m.as_bytes());
    std::fs::write(dir.join("blobs/sha256").join(&md[7..]), &m).unwrap();
    common::write_layout(
        &dir,
        vec![serde_json::json!({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":md,"size":m.len()})],
    );
    let r = scan(&reference);
    let p = only_platform(&r);
    assert_eq!(p.files, 0);
    assert!(
        messages(p).iter().any(|x| x.contains("application/vnd.in-toto+json is not a filesystem layer; skipped")),
        "{:?}",
        messages(p)
    );
    assert!(p.diagnostics.iter().all(|d| d.severity != Level::Error));
}

#[test]
fn broken_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let reference = layout(&dir, &Image::new("amd64", vec![(common::tar(&[E::File("a", b"a")]), Comp::Gzip)]));
    let index = std::fs::read_to_string(dir.join("index.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&index).unwrap();
    let manifest = v["manifests"][0].clone();
    let rewrite = |m: serde_json::Value| common::write_layout(&dir, vec![m]);
    // 40: a negative size, a size smaller than the bytes.
    let mut m = manifest.clone();
    m["size"] = (-1).into();
    rewrite(m);
    assert!(pipeline::scan(&reference, &ScanOptions::default()).is_err());
    let mut m = manifest.clone();
    m["size"] = (manifest["size"].as_u64().unwrap() - 1).into();
    rewrite(m);
    let e = pipeline::scan(&reference, &ScanOptions::default()).unwrap_err().to_string();
    assert!(e.contains("size mismatch"), "{e}");
    // 37: a manifest descriptor claiming 200 MiB is refused before reading.
    let mut m = manifest.clone();
    m["size"] = (200u64 << 20).into();
    rewrite(m);
    let e = pipeline::scan(&reference, &ScanOptions::default()).unwrap_err().to_string();
    assert!(e.contains("json-bytes"), "{e}");
    rewrite(manifest);
    assert!(pipeline::scan(&reference, &ScanOptions::default()).is_ok());
}

#[test]
fn rootfs_type_and_layer_count_are_checked() {
    // 43
    let tmp = tempfile::tempdir().unwrap();
    for (n, edit) in [("type", r#""type":"foo""#), ("count", r#""type":"layers","diff_ids":[]"#)] {
        let dir = tmp.path().join(n);
        let reference = layout(&dir, &Image::new("amd64", vec![(common::tar(&[E::File("a", b"a")]), Comp::None)]));
        let loaded = pipeline::load(&reference, &ScanOptions::default()).unwrap();
        let t = &loaded.resolution.targets[0];
        let cfg_path = dir.join("blobs/sha256").join(&t.config_digest[7..]);
        let cfg = std::fs::read_to_string(&cfg_path).unwrap();
        let cfg2 = if n == "type" {
            cfg.replace(r#""type":"layers""#, edit)
        } else {
            let start = cfg.find(r#""rootfs":{"#).unwrap() + 10;
            let stop = start + cfg[start..].find('}').unwrap();
            format!("{}{}{}", &cfg[..start], edit, &cfg[stop..])
        };
        assert_ne!(cfg, cfg2);
        let cd = sha256(cfg2.as_bytes());
        std::fs::write(dir.join("blobs/sha256").join(&cd[7..]), &cfg2).unwrap();
        let m = std::fs::read_to_string(dir.join("blobs/sha256").join(&t.manifest_digest[7..]))
            .unwrap()
            .replace(&t.config_digest, &cd)
            .replace(&format!("\"size\":{}", cfg.len()), &format!("\"size\":{}", cfg2.len()));
        let md = sha256(m.as_bytes());
        std::fs::write(dir.join("blobs/sha256").join(&md[7..]), &m).unwrap();
        common::write_layout(
            &dir,
            vec![
                serde_json::json!({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":md,"size":m.len()}),
            ],
        );
        let e = pipeline::scan(&reference, &ScanOptions::default()).unwrap_err().to_string();
        let want = if n == "type" { "rootfs.type" } else { "layers length mismatch" };
        assert!(e.contains(want), "{n}: {e}");
    }
}

/// A minimal 64-bit little-endian ELF header for crafting.
fn elf_header() -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2;
    h[5] = 1;
    h[6] = 1;
    h[16] = 2; // ET_EXEC
    h[18] = 62; // x86-64
    h[0x34..0x36].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    h
}

#[test]
fn crafted_elf_headers_are_diagnostics_not_crashes() {
    use layerscope::limits::Limits;
    let feed = |bytes: &[u8]| {
        let mut c = layerscope::elf::capture::ElfCapture::new(bytes.len() as u64, &Limits::default()).unwrap();
        for chunk in bytes.chunks(7) {
            c.feed(chunk);
        }
        c.finish()
    };
    // 62: e_phoff / e_shoff at u64::MAX.
    let mut h = elf_header();
    h[0x20..0x28].copy_from_slice(&u64::MAX.to_le_bytes());
    h[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
    h[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
    assert!(feed(&h).is_err());
    // 63: e_shnum 65535 with the table beyond EOF; e_phnum 0 with e_phoff set: parsed, no sections.
    let mut h = elf_header();
    h[0x28..0x30].copy_from_slice(&1_000_000u64.to_le_bytes());
    h[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
    h[0x3c..0x3e].copy_from_slice(&65535u16.to_le_bytes());
    h[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
    let info = feed(&h).expect("a header without program headers still parses");
    assert_eq!(info.machine, "amd64");
    assert!(info.stripped);
    // 65: a PT_DYNAMIC whose offset + size overflow.
    let mut h = elf_header();
    h[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
    h[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
    h[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
    let mut ph = vec![0u8; 56];
    ph[..4].copy_from_slice(&2u32.to_le_bytes()); // PT_DYNAMIC
    ph[8..16].copy_from_slice(&(u64::MAX - 8).to_le_bytes());
    ph[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
    h.extend(ph);
    let _ = feed(&h); // an error or facts without a dynamic section; never a panic
                      // 66: PT_INTERP that is `/..` without a NUL, non-UTF-8.
    let mut h = elf_header();
    h[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
    h[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
    h[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
    let mut ph = vec![0u8; 56];
    ph[..4].copy_from_slice(&3u32.to_le_bytes()); // PT_INTERP
    ph[8..16].copy_from_slice(&120u64.to_le_bytes());
    ph[32..40].copy_from_slice(&4u64.to_le_bytes());
    h.extend(ph);
    h.extend(b"/..\xff");
    let info = feed(&h).expect("parses");
    assert_eq!(info.interpreter, None, "an unterminated, non-UTF-8 interpreter is unknown");
    // 70: 32-bit big-endian MIPS and an unknown machine are named, never taken for the host.
    let mut h = elf_header();
    h[4] = 1;
    h[5] = 2;
    h[18] = 0;
    h[19] = 8;
    let mut h32 = h[..52].to_vec();
    h32[0x28..0x2a].copy_from_slice(&52u16.to_be_bytes());
    assert_eq!(feed(&h32).map(|i| i.machine).unwrap_or_default(), "mips");
    let mut h = elf_header();
    h[18..20].copy_from_slice(&4242u16.to_le_bytes());
    assert_eq!(feed(&h).unwrap().machine, "unknown-4242");
}
