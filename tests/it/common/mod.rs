//! Test support: builds small OCI image layouts in memory (raw tar entries, gzip/zstd/plain
//! layers, index with several platforms) and runs the scanner on them.

#![allow(dead_code)]

pub mod daemon;
pub mod registry;

use std::io::Write;
use std::path::{Path, PathBuf};

use layerscope::pipeline::{self, ScanOptions};
use layerscope::report::{Binary, ImageReport, PlatformReport};
use sha2::{Digest, Sha256};

pub fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(rel)
}

pub fn scan(reference: &str) -> ImageReport {
    pipeline::scan(reference, &ScanOptions::default()).unwrap_or_else(|e| panic!("scan {reference}: {e}"))
}

pub fn only_platform(r: &ImageReport) -> &PlatformReport {
    assert_eq!(r.platforms.len(), 1, "expected one platform in {}", r.reference);
    &r.platforms[0]
}

pub fn binary<'a>(p: &'a PlatformReport, path: &str) -> &'a Binary {
    p.binaries.iter().find(|b| b.path == path).unwrap_or_else(|| {
        panic!("no binary {path}; have {:?}", p.binaries.iter().map(|b| &b.path).collect::<Vec<_>>())
    })
}

pub fn sha256(b: &[u8]) -> String {
    let d = Sha256::digest(b);
    format!("sha256:{}", d.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

/// One tar entry to write.
pub enum E<'a> {
    File(&'a str, &'a [u8]),
    FileMode(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
}

/// A tar stream of the entries, with raw GNU headers (paths are written as given).
pub fn tar(entries: &[E]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let (path, data, kind, link, mode): (&str, &[u8], tar::EntryType, &str, u32) = match e {
            E::File(p, d) => (p, d, tar::EntryType::Regular, "", 0o755),
            E::FileMode(p, d, m) => (p, d, tar::EntryType::Regular, "", *m),
            E::Dir(p) => (p, b"", tar::EntryType::Directory, "", 0o755),
            E::Symlink(p, t) => (p, b"", tar::EntryType::Symlink, t, 0o777),
            E::Hardlink(p, t) => (p, b"", tar::EntryType::Link, t, 0o644),
        };
        {
            let name = &mut h.as_old_mut().name;
            name.fill(0);
            name[..path.len()].copy_from_slice(path.as_bytes());
        }
        if !link.is_empty() {
            let l = &mut h.as_old_mut().linkname;
            l.fill(0);
            l[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Comp {
    Gzip,
    Zstd,
    None,
}

pub fn compress(tar: &[u8], c: Comp) -> (Vec<u8>, &'static str) {
    match c {
        Comp::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(tar).unwrap();
            (e.finish().unwrap(), "application/vnd.oci.image.layer.v1.tar+gzip")
        }
        Comp::Zstd => (zstd::encode_all(tar, 3).unwrap(), "application/vnd.oci.image.layer.v1.tar+zstd"),
        Comp::None => (tar.to_vec(), "application/vnd.oci.image.layer.v1.tar"),
    }
}

/// An image to write as an OCI layout.
pub struct Image {
    pub arch: &'static str,
    pub variant: Option<&'static str>,
    pub layers: Vec<(Vec<u8>, Comp)>,
    pub config: serde_json::Value,
    /// The config's `created`, when set.
    pub created: Option<&'static str>,
    /// The config's `history`, when set.
    pub history: Option<serde_json::Value>,
}

impl Image {
    pub fn new(arch: &'static str, layers: Vec<(Vec<u8>, Comp)>) -> Self {
        Image { arch, variant: None, layers, config: serde_json::json!({}), created: None, history: None }
    }
}

fn put_blob(dir: &Path, bytes: &[u8]) -> String {
    let d = sha256(bytes);
    let p = dir.join("blobs/sha256").join(&d[7..]);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
    d
}

/// Writes the manifest (and its blobs) of one image; returns its descriptor.
pub fn write_image(dir: &Path, img: &Image) -> serde_json::Value {
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for (t, c) in &img.layers {
        let (blob, mt) = compress(t, *c);
        diff_ids.push(sha256(t));
        let d = put_blob(dir, &blob);
        layers.push(serde_json::json!({"mediaType": mt, "digest": d, "size": blob.len()}));
    }
    let mut config = serde_json::json!({
        "architecture": img.arch, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": img.config,
    });
    if let Some(v) = img.variant {
        config["variant"] = v.into();
    }
    if let Some(c) = img.created {
        config["created"] = c.into();
    }
    if let Some(h) = &img.history {
        config["history"] = h.clone();
    }
    let config = serde_json::to_vec(&config).unwrap();
    let cd = put_blob(dir, &config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": layers,
    }))
    .unwrap();
    let md = put_blob(dir, &manifest);
    let mut platform = serde_json::json!({"architecture": img.arch, "os": "linux"});
    if let Some(v) = img.variant {
        platform["variant"] = v.into();
    }
    serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
        "size": manifest.len(), "platform": platform})
}

/// Writes an OCI layout whose index.json lists the given descriptors.
pub fn write_layout(dir: &Path, manifests: Vec<serde_json::Value>) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// Writes a one-image OCI layout in `dir` and returns the `oci:` reference.
pub fn layout(dir: &Path, img: &Image) -> String {
    let d = write_image(dir, img);
    write_layout(dir, vec![d]);
    format!("oci:{}", dir.display())
}

/// Copies a directory tree (for damaging fixtures in a temp dir).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}
