//! `docker save` streams (stdin, a daemon's image export), read once from start to end. The
//! manifest comes after the layers, so every member that looks like a layer (a tar, gzip or
//! zstd stream) is analysed as it passes and only its delta is kept; small members (the JSON
//! documents) are kept whole; anything else is dropped. At the end the image is assembled from
//! what was kept by the same readers as a `docker save` file ([`super::docker_archive`]): both
//! forms, legacy and the OCI layout inside. See docs/sources.md.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, Cursor, Read};
use std::sync::{Arc, Mutex};

use super::files::{normalize_inside, Files};
use super::resolve::LayerRef;
use super::{ArcBytes, ImageSource, Roots};
use crate::diag::Diagnostic;
use crate::error::{Error, Result};
use crate::layer::{self, LayerDelta};
use crate::limits::Limits;
use crate::oci::Descriptor;
use crate::progress::Observer;

/// Small members kept whole: at most this many JSON documents' worth of bytes in all.
const SMALL_BUDGET_DOCS: u64 = 16;
/// Members remembered (documents, layers, links, dropped names), at most: a stream of millions
/// of links or tiny members is refused rather than kept.
const MEMBER_COUNT: usize = 100_000;

/// What the stream held, by member path.
#[derive(Default)]
struct Kept {
    small: HashMap<String, Arc<Vec<u8>>>,
    /// Members analysed as layers: their size.
    layers: HashMap<String, u64>,
    /// Symlinks and hardlinks among members (legacy `docker save` links a repeated layer).
    links: HashMap<String, (u8, String)>,
    /// Members dropped for their size (neither a layer nor a small document).
    dropped: HashSet<String>,
}

impl Kept {
    fn len(&self) -> usize {
        self.small.len() + self.layers.len() + self.links.len() + self.dropped.len()
    }

    /// Follows links among members (relative symlinks, hardlinks by archive path), confined to
    /// the stream's tree, with a hop limit.
    fn resolve(&self, path: &str) -> io::Result<String> {
        let mut current = normalize_inside(path).ok_or_else(|| not_found(path))?;
        for _ in 0..40 {
            let Some((typeflag, target)) = self.links.get(&current) else { return Ok(current) };
            let joined = if *typeflag == b'1' {
                target.clone()
            } else {
                let base = current.rsplit_once('/').map(|(b, _)| b).unwrap_or("");
                format!("{base}/{target}")
            };
            current = normalize_inside(&joined).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, format!("{path}: link points outside the stream"))
            })?;
        }
        Err(io::Error::new(io::ErrorKind::InvalidData, format!("{path}: too many link hops")))
    }
}

fn not_found(path: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{path}: not in the stream (named, but it never came)"))
}

/// The members of a stream as the archive readers see them: documents open, layers only sized.
struct StreamFiles {
    kept: Arc<Kept>,
    json_bytes: u64,
}

impl Files for StreamFiles {
    fn open(&self, path: &str, _follow_links: bool) -> io::Result<(Box<dyn Read + Send>, u64)> {
        let path = self.kept.resolve(path)?;
        if let Some(b) = self.kept.small.get(&path) {
            return Ok((Box::new(Cursor::new(ArcBytes(b.clone()))), b.len() as u64));
        }
        if let Some(size) = self.kept.layers.get(&path) {
            return Ok((Box::new(Passed(path)), *size));
        }
        if self.kept.dropped.contains(&path) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{path}: exceeds limit json-bytes ({}) and is not a layer; dropped", self.json_bytes),
            ));
        }
        Err(not_found(&path))
    }

    fn exists(&self, path: &str) -> bool {
        self.kept.resolve(path).is_ok_and(|p| {
            self.kept.small.contains_key(&p) || self.kept.layers.contains_key(&p) || self.kept.dropped.contains(&p)
        })
    }
}

/// A layer member read as it passed: its bytes are gone.
struct Passed(String);

impl Read for Passed {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::other(format!("{}: a streamed layer is read once, as it passes", self.0)))
    }
}

/// An image read from a stream: the archive reader over the kept documents, and the deltas of
/// the layers analysed as they passed, handed out once each.
pub struct StreamSource {
    inner: Box<dyn ImageSource>,
    kept: Arc<Kept>,
    deltas: Mutex<HashMap<String, LayerDelta>>,
    origin: String,
}

impl StreamSource {
    /// Reads a `docker save` stream to its end. `origin` names it in messages (`stdin`, `the
    /// Docker daemon at unix:///run/docker.sock`); `name` selects an image of a multi-image
    /// stream (`NAME:TAG`). An `Err` when the stream is not a readable archive or ends early.
    pub fn read(
        reference: &str,
        origin: &str,
        input: impl Read + Send,
        name: Option<&str>,
        limits: &Limits,
        progress: &Observer,
    ) -> Result<Self> {
        let fail = |m: String| Error::reference(reference, format!("{origin}: {m}"));
        let task = progress.layer(origin, 0);
        let counting = layer::Counting { inner: input, progress: &|n| task.advance(n) };
        let mut tar = crate::tarwalk::TarReader::new(io::BufReader::with_capacity(256 << 10, counting), limits);
        let mut kept = Kept::default();
        let mut deltas = HashMap::new();
        let mut small_bytes = 0u64;
        let mut members = 0u64;
        loop {
            let entry = tar.next_entry().map_err(|e| {
                fail(if members == 0 {
                    format!("not a docker save archive: {e}")
                } else {
                    format!("stream damaged {e}")
                })
            })?;
            let Some(entry) = entry else { break };
            members += 1;
            let raw = String::from_utf8_lossy(&entry.path).into_owned();
            let Some(path) = normalize_inside(&raw).filter(|p| !p.is_empty()) else { continue };
            if kept.len() >= MEMBER_COUNT {
                return Err(fail(format!("more than {MEMBER_COUNT} members: not a docker save archive")));
            }
            match entry.typeflag {
                b'1' | b'2' => {
                    kept.links.insert(path, (entry.typeflag, String::from_utf8_lossy(&entry.link).into_owned()));
                    continue;
                }
                b'0' | 0 | b'7' => {}
                _ => continue,
            }
            let mut head = Vec::with_capacity(512);
            let mut member = Member(&mut tar);
            (&mut member).take(512).read_to_end(&mut head).map_err(|e| fail(format!("{path}: {e}")))?;
            if looks_like_layer(&head, entry.size) {
                let delta = analyse_member(&path, entry.size, Cursor::new(head).chain(member), limits);
                // What the analysis left unread (it stops at a damaged tar) is passed over here:
                // a stream cut inside the layer ends the image, naming the layer.
                io::copy(&mut Member(&mut tar), &mut io::sink())
                    .map_err(|e| fail(format!("the stream ends inside layer {path}: {e}")))?;
                kept.layers.insert(path.clone(), entry.size);
                deltas.insert(path, delta);
            } else if entry.size <= limits.json_bytes
                && small_bytes.saturating_add(entry.size) <= limits.json_bytes.saturating_mul(SMALL_BUDGET_DOCS)
            {
                member.read_to_end(&mut head).map_err(|e| fail(format!("the stream ends inside {path}: {e}")))?;
                small_bytes += head.len() as u64;
                kept.small.insert(path, Arc::new(head));
            } else {
                kept.dropped.insert(path);
            }
        }
        let kept = Arc::new(kept);
        let files = Box::new(StreamFiles { kept: kept.clone(), json_bytes: limits.json_bytes });
        let inner = super::docker_archive::from_files(reference, files, name, limits).map_err(|e| match e {
            Error::Reference { message, .. } => fail(message),
            e => e,
        })?;
        Ok(StreamSource { inner, kept, deltas: Mutex::new(deltas), origin: origin.to_string() })
    }

    /// The member a layer descriptor names: the legacy form records its path, the OCI layout
    /// names blobs by digest.
    fn member(&self, layer: &LayerRef) -> Option<String> {
        let d = &layer.descriptor;
        let path = d
            .annotations()
            .as_ref()
            .and_then(|a| a.get(super::LAYER_PATH).cloned())
            .unwrap_or_else(|| format!("blobs/{}/{}", d.digest().algorithm(), d.digest().digest()));
        self.kept.resolve(&path).ok()
    }
}

/// Reads the data of the tar member being walked.
struct Member<'a, R>(&'a mut crate::tarwalk::TarReader<R>);

impl<R: BufRead> Read for Member<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_data(buf).map_err(|e| io::Error::new(io::ErrorKind::UnexpectedEof, e.to_string()))
    }
}

/// A tar (`ustar` magic, or the zero block of an empty archive), gzip or zstd stream.
fn looks_like_layer(head: &[u8], size: u64) -> bool {
    let tar = head.len() >= 262 && &head[257..262] == b"ustar";
    let empty_tar = size >= 1024 && head.len() == 512 && head.iter().all(|b| *b == 0);
    tar || empty_tar || head.starts_with(&[0x1f, 0x8b]) || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
}

/// Analyses one member as a layer. A member named by digest (`blobs/sha256/<hex>`) is checked
/// against it; any other is named by a placeholder until the manifest says which layer it is.
fn analyse_member(path: &str, size: u64, blob: impl Read + Send, limits: &Limits) -> LayerDelta {
    let named = path
        .strip_prefix("blobs/sha256/")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    let (digest, synthesized) = match named {
        Some(hex) => (format!("sha256:{hex}"), false),
        None => (crate::blob::sha256_digest(path.as_bytes()), true),
    };
    let descriptor: Option<Descriptor> =
        serde_json::from_value(serde_json::json!({ "mediaType": "", "digest": digest, "size": size })).ok();
    let mut delta = LayerDelta::named(&digest);
    delta.compressed_bytes = size;
    let Some(descriptor) = descriptor else { return delta };
    let layer = LayerRef { descriptor, diff_id: None, synthesized };
    // A stream's layers come one after the other: each is read alone.
    let how = layer::Reading { alone: true, verify: layer::Verify::Full };
    let mut delta = layer::analyse_blob(Box::new(blob), &layer, limits, &|_| {}, delta, how);
    // Until the manifest names it, the layer is known by its place in the stream.
    for d in &mut delta.diagnostics {
        if d.layer.as_deref() == Some(digest.as_str()) {
            d.layer = Some(path.to_string());
        }
    }
    delta.digest = path.to_string();
    delta
}

impl ImageSource for StreamSource {
    fn reference(&self) -> &str {
        self.inner.reference()
    }

    fn roots(&self) -> Result<Roots> {
        let mut roots = self.inner.roots()?;
        roots.notes.push(format!("read from {} as a stream", self.origin));
        Ok(roots)
    }

    fn open_blob(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        self.inner.open_blob(descriptor).map_err(|e| match e {
            Error::Blob { digest, message } if message.contains("not in the stream") => Error::Blob {
                message: format!("the manifest names this blob but {} did not hold it", self.origin),
                digest,
            },
            e => e,
        })
    }

    fn streamed(&self) -> bool {
        true
    }

    fn take_streamed(&self, layer: &LayerRef) -> Option<LayerDelta> {
        let member = self.member(layer)?;
        let mut delta = self.deltas.lock().ok()?.remove(&member)?;
        let digest = layer.descriptor.digest().to_string();
        for d in &mut delta.diagnostics {
            if d.layer.as_deref() == Some(member.as_str()) {
                d.layer = Some(digest.clone());
            }
        }
        delta.digest = digest.clone();
        let mut fail = |m: String| {
            delta.diagnostics.push(Diagnostic::error(Some(&digest), Some(&member), m));
            delta.complete = false;
        };
        if layer.descriptor.size() != delta.compressed_bytes {
            let (want, got) = (layer.descriptor.size(), delta.compressed_bytes);
            fail(format!("size mismatch: the manifest says {want} bytes, the stream held {got}"));
        }
        match (&layer.diff_id, delta.diff_id.clone()) {
            (Some(expected), Some(got)) if *expected != got => {
                fail(format!("diff_id mismatch: config expects {expected}, uncompressed layer hashes to {got}"))
            }
            _ => {}
        }
        Some(delta)
    }
}
