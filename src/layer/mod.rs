//! The single streaming pass over one layer: verify the blob, decompress, walk the tar entries,
//! and keep, per entry, only metadata plus what the detectors asked for (ELF facts, small text
//! files, package lists, version banners).

mod delta;
pub mod pkgdb;

pub use delta::{Contents, Entry, EntryKind, EntryRef, Kind, LayerDelta, EMPTY_FILE};

use std::io::{self, Read};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::blob::{self, Compression, DiffIdReader, VerifyingReader};
use crate::diag::Diagnostic;
use crate::elf::capture::ElfCapture;
use crate::elf::ElfInfo;
use crate::limits::Limits;
use crate::oci::LayerRef;
use crate::oci::{layer_type, LayerType};
use crate::pattern::Scanner;
use crate::tarwalk::{RawEntry, TarReader};
use pkgdb::{DbKind, PkgDbParser, PkgList};

/// Which digests a scan checks (docs/report.md, `verification`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Verify {
    /// Every blob's digest and every layer's diff_id.
    #[default]
    Full,
    /// Every blob's digest; the diff_id only where it is the one check there is (a plain tar,
    /// whose diff_id is its blob's digest, and a `docker save` layer, whose digest is made up).
    /// Saves the SHA-256 of every compressed layer's uncompressed bytes.
    Blobs,
}

impl Verify {
    pub fn is_full(&self) -> bool {
        *self == Verify::Full
    }
}

/// How one layer is read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading {
    /// No other layer is read at the same time. A `docker save` layer of plain tar is then read
    /// in three stages (read, hash, walk: the two cores share three jobs); with other layers
    /// beside it in two (read and hash, walk: one hand-over less per layer, the cores are busy
    /// anyway). Measured in the README, "Performance".
    pub alone: bool,
    pub verify: Verify,
}

/// Content of a regular file, shared between hardlinks. Most files are only a size and a hash:
/// what few have (ELF facts, texts, package lists) is behind one pointer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FileData {
    pub size: u64,
    /// xxh3-64 of the content, for duplicate detection.
    pub hash: u64,
    pub more: Option<Box<More>>,
}

/// The facts only some files have.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct More {
    pub elf: Option<ElfInfo>,
    pub extra: Option<Extra>,
}

impl FileData {
    /// ELF facts, for ELF files that could be parsed.
    pub fn elf(&self) -> Option<&ElfInfo> {
        self.more.as_ref()?.elf.as_ref()
    }

    /// Texts, package lists, banners, shebangs and errors, for the files that have one.
    pub fn extra(&self) -> Option<&Extra> {
        self.more.as_ref()?.extra.as_ref()
    }
}

/// The rarer facts about a file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Extra {
    /// Whole content of a small text file a detector asked for.
    pub text: Option<Vec<u8>>,
    pub pkgdb: Option<(DbKind, PkgList)>,
    /// A version banner found in the content (`GNU C Library … version 2.36`, `BusyBox v1.35.0`).
    pub banner: Option<String>,
    /// The `#!` line of an executable script (without `#!`, trimmed).
    pub shebang: Option<String>,
    /// Why the file's facts are missing or partial.
    pub error: Option<String>,
}

/// Paths whose whole (small) content detectors need.
fn wants_text(path: &str) -> bool {
    matches!(
        path,
        "etc/os-release"
            | "usr/lib/os-release"
            | "etc/shells"
            | "etc/ld.so.conf"
            | "etc/alpine-release"
            | "etc/debian_version"
            | "etc/redhat-release"
    ) || path.starts_with("etc/ld.so.conf.d/")
        || (path.starts_with("etc/ld-musl-") && path.ends_with(".path"))
}

/// Patterns whose surrounding bytes hold a version, by file name.
fn banner_pattern(path: &str) -> Option<&'static [u8]> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name == "libc.so.6" || (name.starts_with("libc-2.") && name.ends_with(".so")) {
        Some(b"GNU C Library")
    } else if name == "busybox" {
        Some(b"BusyBox v")
    } else {
        None
    }
}

/// Normalises a tar path: strips `./` and `/`, resolves `.`/`..` lexically (clamped at the
/// root), drops empty components. Returns the path and whether it tried to climb out. A path
/// already in that form (most are) is borrowed, not copied.
pub fn normalize(raw: &str) -> (std::borrow::Cow<'_, str>, bool) {
    if raw.split('/').all(|c| !c.is_empty() && c != "." && c != "..") {
        return (std::borrow::Cow::Borrowed(raw), false);
    }
    let mut parts: Vec<&str> = Vec::new();
    let mut escaped = false;
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    escaped = true;
                }
            }
            p => parts.push(p),
        }
    }
    (std::borrow::Cow::Owned(parts.join("/")), escaped)
}

/// Reads one layer completely (`open` gives its blob): verifies its blob digest and size and
/// its diff_id (as `how.verify` says), and returns what it contains. Failures become
/// diagnostics on a delta marked incomplete.
pub fn analyse<'a>(
    open: impl FnOnce() -> crate::error::Result<Box<dyn io::Read + Send + 'a>>,
    layer: &LayerRef,
    limits: &Limits,
    progress: &(dyn Fn(u64) + Sync),
    how: Reading,
) -> LayerDelta {
    let d = &layer.descriptor;
    let digest = d.digest().to_string();
    let media_type = d.media_type().to_string();
    let mut delta = LayerDelta::named(&digest);
    delta.compressed_bytes = d.size();
    let declared = layer_type(&media_type);
    if declared == LayerType::Unknown && !media_type.contains("tar") {
        delta.skipped = true;
        delta.complete = true;
        delta.diagnostics.push(Diagnostic::warning(
            Some(&digest),
            None,
            format!("media type {media_type} is not a filesystem layer; skipped"),
        ));
        return delta;
    }
    let blob = match open() {
        Ok(b) => b,
        Err(e) => {
            delta.diagnostics.push(Diagnostic::error(Some(&digest), None, e.to_string()));
            return delta;
        }
    };
    analyse_blob(blob, layer, limits, progress, delta, how)
}

/// [`analyse`] of a blob already open (a streamed source reads it as it passes): `delta` has
/// its digest and compressed size set. Records the diff_id the layer hashed to.
pub fn analyse_blob(
    blob: Box<dyn io::Read + Send + '_>,
    layer: &LayerRef,
    limits: &Limits,
    progress: &(dyn Fn(u64) + Sync),
    mut delta: LayerDelta,
    how: Reading,
) -> LayerDelta {
    let d = &layer.descriptor;
    let digest = delta.digest.clone();
    let media_type = d.media_type().to_string();
    let declared = layer_type(&media_type);
    let mut counting = io::BufReader::with_capacity(64 << 10, Counting { inner: blob, progress });
    // A synthesized digest (a `docker save` layer) says nothing: the diff_id checks the bytes.
    // Such a layer is nearly always a plain tar, whose diff_id is the hash of the blob: beside
    // other layers, the blob's reader hashes it (sha256, what a diff_id is), so that no stage
    // only passes bytes on; alone, the hash is a stage of its own (see `analyse`).
    let plain = match io::BufRead::fill_buf(&mut counting) {
        Ok(head) => blob::sniff(head) == Compression::None,
        Err(e) => {
            delta.diagnostics.push(Diagnostic::error(Some(&digest), None, format!("reading the blob: {e}")));
            return delta;
        }
    };
    let (mut verify, blob_is_diff_id) = if layer.synthesized && plain && !how.alone {
        (VerifyingReader::new(counting, d.size()), true)
    } else if layer.synthesized {
        (VerifyingReader::counting(counting, d.size()), false)
    } else {
        (VerifyingReader::for_digest(counting, d.size(), &digest), digest.starts_with("sha256:"))
    };
    // Set when the layer is a plain tar whose diff_id is then its blob digest: hashed once.
    let mut diff_id_is_blob = false;
    // Three stages on their own threads: read and hash the blob, decompress, walk and hash the
    // tar; so one big layer uses more than one core.
    let outcome = blob::pipelined(&mut verify, |compressed| {
        let walked =
            read_layer(compressed, layer, (&media_type, declared), (blob_is_diff_id, how.verify), limits, &mut delta)
                .map(|same| diff_id_is_blob = same);
        // The blob digest must cover bytes the decoder did not need (trailing padding).
        let drained = drain(compressed).map_err(|e| format!("reading the blob: {e}"));
        walked.and(drained)
    });
    // A failed walk still gets the blob checked: a digest or size mismatch says more than a
    // decompression error alone.
    if let Err(message) = outcome {
        delta.diagnostics.push(Diagnostic::error(Some(&digest), None, message));
    }
    if let Err(e) = verify.drain() {
        delta.diagnostics.push(Diagnostic::error(Some(&digest), None, format!("reading the blob: {e}")));
        return delta;
    }
    let read = verify.finish();
    if diff_id_is_blob {
        delta.diff_id = read.digest.clone();
    }
    if let (true, Some(expected), Some(got)) = (diff_id_is_blob, &layer.diff_id, &read.digest) {
        if expected != got {
            delta.diagnostics.push(Diagnostic::error(
                Some(&digest),
                None,
                format!("diff_id mismatch: config expects {expected}, uncompressed layer hashes to {got}"),
            ));
        }
    }
    let verdict = if layer.synthesized {
        let expected = d.size();
        if read.count != expected {
            Err(format!("size mismatch: {expected} bytes expected, {} read", read.count))
        } else {
            Ok(())
        }
    } else {
        read.check(&digest)
    };
    match verdict {
        Ok(()) => delta.complete = delta.diagnostics.iter().all(|d| d.severity != crate::diag::Level::Error),
        Err(m) => {
            delta.diagnostics.push(Diagnostic::error(Some(&digest), None, format!("blob verification failed: {m}")))
        }
    }
    delta
}

/// A reader that tells `progress` how many bytes passed (a layer's bar, a stream's).
pub struct Counting<'p, R> {
    pub inner: R,
    pub progress: &'p (dyn Fn(u64) + Sync),
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.progress)(n as u64);
        Ok(n)
    }
}

fn drain(r: &mut dyn std::io::BufRead) -> io::Result<()> {
    loop {
        let n = r.fill_buf()?.len();
        if n == 0 {
            return Ok(());
        }
        r.consume(n);
    }
}

/// Decompresses and walks a layer, checking its diff_id. `Ok(true)` when the layer is a plain
/// tar whose diff_id is left to the blob's own hash (the caller compares them).
///
/// `blob_is_diff_id`: the blob's own reader hashes it with sha256, which is the diff_id of a
/// plain tar. Such a layer is walked straight from the blob's stream: no stage in between that
/// would only pass its bytes on.
fn read_layer(
    raw: &mut (dyn std::io::BufRead + Send),
    layer: &LayerRef,
    (media_type, declared): (&str, LayerType),
    (blob_is_diff_id, verify): (bool, Verify),
    limits: &Limits,
    delta: &mut LayerDelta,
) -> Result<bool, String> {
    let digest = delta.digest.clone();
    let head = raw.fill_buf().map_err(|e| format!("reading the blob: {e}"))?;
    let (compression, note) = blob::detect(head, declared, media_type);
    delta.compression = Some(compression);
    if let Some(note) = note {
        if declared != LayerType::Unspecified {
            delta.diagnostics.push(Diagnostic::warning(Some(&digest), None, note));
        }
    }
    let compressed = layer.descriptor.size();
    if compression == Compression::None && blob_is_diff_id {
        let (count, drained) = walk_stream(raw, compressed, limits, delta);
        delta.uncompressed_bytes = count;
        drained?;
        return Ok(true);
    }
    let decoder = blob::decoder(raw, compression).map_err(|e| format!("reading the blob: {e}"))?;
    // The diff_id is hashed where the stream is decompressed; the walk only counts and bounds it.
    // A `docker save` layer's diff_id is its one check: hashed whatever `verify` says.
    let mut decoded = blob::Sha256Reader::new(decoder, verify.is_full() || layer.synthesized);
    let (count, drained) = blob::pipelined(&mut decoded, |decoded| walk_stream(decoded, compressed, limits, delta));
    let diff_id = decoded.digest();
    delta.diff_id.clone_from(&diff_id);
    delta.uncompressed_bytes = count;
    drained?;
    if let (Some(expected), Some(diff_id)) = (&layer.diff_id, diff_id) {
        if *expected != diff_id {
            return Err(format!("diff_id mismatch: config expects {expected}, uncompressed layer hashes to {diff_id}"));
        }
    }
    Ok(false)
}

/// Walks the uncompressed layer stream `decoded` into `delta`, then reads it to its end (so
/// that the digests cover trailing padding). Returns the bytes the stream had.
fn walk_stream(
    decoded: &mut (dyn std::io::BufRead + Send),
    compressed: u64,
    limits: &Limits,
    delta: &mut LayerDelta,
) -> (u64, Result<(), String>) {
    let digest = delta.digest.clone();
    let counted = DiffIdReader::counting(decoded, limits.layer_bytes, compressed, limits.compression_ratio);
    let mut tar = TarReader::new(counted, limits);
    let walked = walk(&mut tar, limits, delta);
    delta.entry_diagnostics.finish(&mut delta.diagnostics, Some(&digest), "about entries of this layer");
    let mut rest = tar.into_inner();
    if let Err(e) = walked {
        delta.diagnostics.push(Diagnostic::error(
            Some(&digest),
            e.1.as_deref(),
            format!("layer tar is damaged {}; entries before it are kept", e.0),
        ));
    }
    let drained = rest.drain().map_err(|e| format!("decompressing: {e}"));
    let (_, count) = rest.digest();
    (count, drained)
}

/// Walks the entries of a tar stream into `delta`. On a damaged stream returns the error and
/// the path of the entry being read, keeping what was read before.
fn walk<R: std::io::BufRead>(
    tar: &mut TarReader<R>,
    limits: &Limits,
    delta: &mut LayerDelta,
) -> Result<(), (crate::tarwalk::TarError, Option<String>)> {
    let digest = delta.digest.clone();
    while let Some(raw) = tar.next_entry().map_err(|e| (e, None))? {
        let raw_path = String::from_utf8_lossy(&raw.path);
        let (path, escaped) = normalize(&raw_path);
        let path: &str = &path;
        if escaped {
            delta.note(Diagnostic::warning(
                Some(&digest),
                Some(&raw_path),
                format!("path climbs above the root; kept as /{path}"),
            ));
        }
        let depth = path.bytes().filter(|&b| b == b'/').count() as u64 + 1;
        if path.len() as u64 > limits.path_bytes || depth > limits.path_depth {
            delta.note(Diagnostic::error(
                Some(&digest),
                Some(&crate::units::clip(&raw_path, 200)),
                format!(
                    "path exceeds limit path-bytes ({}) or path-depth ({}); entry skipped",
                    limits.path_bytes, limits.path_depth
                ),
            ));
            continue;
        }
        let name = path.rsplit('/').next().unwrap_or("");
        let parent = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
        if let Some(target) = name.strip_prefix(".wh.") {
            // Whiteouts are recognised by name whatever their type; their content is skipped.
            let kind = if name == ".wh..wh..opq" {
                Some((parent.to_string(), EntryKind::Opaque))
            } else if name.starts_with(".wh..wh.") {
                None // AUFS metadata (.wh..wh.plnk and friends) is handled below or ignored
            } else {
                if target.is_empty() || target == "." || target == ".." {
                    delta.note(Diagnostic::error(
                        Some(&digest),
                        Some(path),
                        "whiteout without a name to delete; ignored",
                    ));
                    continue;
                }
                let p = if parent.is_empty() { target.to_string() } else { format!("{parent}/{target}") };
                Some((p, EntryKind::Whiteout))
            };
            if let Some((p, kind)) = kind {
                delta.push_parts(&p, kind, 0, 0, 0);
                continue;
            }
            if !path.starts_with(".wh..wh.plnk/") {
                continue;
            }
        }
        let kind = match raw.typeflag {
            b'0' | 0 | b'7' | b'S' => {
                let data = read_file(tar, &raw, path, limits).map_err(|e| (e, Some(path.to_string())))?;
                EntryKind::File(data)
            }
            b'5' => EntryKind::Dir,
            b'2' => {
                if path.is_empty() {
                    delta.note(Diagnostic::warning(
                        Some(&digest),
                        Some(&raw_path),
                        "symlink replacing the root; ignored",
                    ));
                    continue;
                }
                EntryKind::Symlink(String::from_utf8_lossy(&raw.link).into())
            }
            b'1' => {
                let link = String::from_utf8_lossy(&raw.link);
                let (target, escaped) = normalize(&link);
                if escaped || target.is_empty() || target == path {
                    delta.note(Diagnostic::warning(
                        Some(&digest),
                        Some(path),
                        format!("hardlink to {:?} rejected", String::from_utf8_lossy(&raw.link)),
                    ));
                    continue;
                }
                EntryKind::Hardlink(target.as_ref().into())
            }
            b'3' | b'4' | b'6' => EntryKind::Other(raw.typeflag),
            other => {
                delta.note(Diagnostic::warning(
                    Some(&digest),
                    Some(path),
                    format!("unknown tar entry type {:?}; kept as metadata only", other as char),
                ));
                EntryKind::Other(other)
            }
        };
        if path.is_empty() && !matches!(kind, EntryKind::Dir) {
            delta.note(Diagnostic::warning(Some(&digest), Some("/"), "non-directory entry for the root; ignored"));
            continue;
        }
        let (uid, gid) = (u32::try_from(raw.uid).unwrap_or(u32::MAX), u32::try_from(raw.gid).unwrap_or(u32::MAX));
        delta.push_parts(path, kind, raw.mode, uid, gid);
    }
    Ok(())
}

/// Streams one regular file's data, computing its hash and whatever detectors asked for.
fn read_file<R: std::io::BufRead>(
    tar: &mut TarReader<R>,
    raw: &RawEntry,
    path: &str,
    limits: &Limits,
) -> Result<FileData, crate::tarwalk::TarError> {
    let size = raw.size;
    let mut hasher = Xxh3::new();
    let mut elf: Option<ElfCapture> = None;
    let mut elf_note: Option<String> = None;
    let mut text: Option<Vec<u8>> = wants_text(path).then(Vec::new);
    let mut db = pkgdb::kind_for(path).map(|k| (k, PkgDbParser::new(k, path)));
    let mut banner = banner_pattern(path).map(|p| Scanner::new(p, 160));
    let mut first = true;
    let mut shebang = None;
    loop {
        let chunk = tar.data_chunk()?;
        let n = chunk.len();
        if n == 0 {
            break;
        }
        hasher.update(chunk);
        if first {
            first = false;
            if chunk.starts_with(b"#!") && raw.mode & 0o111 != 0 {
                let line = &chunk[2..chunk.len().min(258)];
                let line = line.split(|b| *b == b'\n').next().unwrap_or_default();
                shebang = Some(String::from_utf8_lossy(line).trim().to_string());
            }
            if chunk.starts_with(b"\x7fELF") && size >= 52 {
                if size > limits.elf_bytes {
                    elf_note = Some(format!(
                        "ELF file of {size} bytes exceeds limit elf-bytes ({}); not parsed (raise it with --limit elf-bytes=N)",
                        limits.elf_bytes
                    ));
                } else {
                    match ElfCapture::new(size, limits) {
                        Ok(c) => elf = Some(c),
                        Err(e) => elf_note = Some(format!("cannot allocate a buffer for the ELF parse: {e}")),
                    }
                }
            }
        }
        if let Some(c) = &mut elf {
            c.feed(chunk);
        }
        if let Some(t) = &mut text {
            if (t.len() as u64) < limits.text_bytes {
                let room = (limits.text_bytes - t.len() as u64) as usize;
                t.extend_from_slice(&chunk[..room.min(chunk.len())]);
            }
        }
        if let Some((_, p)) = &mut db {
            p.feed(chunk);
        }
        if let Some(s) = &mut banner {
            s.feed(chunk);
        }
        tar.consume_data(n);
    }
    let elf_info = match elf.map(ElfCapture::finish) {
        Some(Ok(info)) => Some(info),
        Some(Err(e)) => {
            elf_note = Some(format!("ELF not parseable: {e}"));
            None
        }
        None => None,
    };
    let banner = banner.and_then(|s| s.result().map(|r| String::from_utf8_lossy(r).into_owned()));
    let extra = if text.is_some() || db.is_some() || banner.is_some() || elf_note.is_some() || shebang.is_some() {
        Some(Extra { text, pkgdb: db.map(|(k, p)| (k, p.finish())), banner, shebang, error: elf_note })
    } else {
        None
    };
    let more = (elf_info.is_some() || extra.is_some()).then(|| Box::new(More { elf: elf_info, extra }));
    Ok(FileData { size: raw.logical_size, hash: hasher.digest(), more })
}

/// Runs the scanner's tar walk (with every capture: xxh3 content hash, ELF facts, texts,
/// package databases, banners) over an uncompressed layer tar held in memory. A damaged stream
/// keeps the entries read before it, as in a scan. No digests are checked. For the fuzz
/// targets and benchmarks; not a stable API.
#[doc(hidden)]
pub fn delta_from_tar(bytes: &[u8], digest: &str, limits: &Limits) -> LayerDelta {
    let mut delta = LayerDelta::named(digest);
    delta.uncompressed_bytes = bytes.len() as u64;
    let mut tar = TarReader::new(bytes, limits);
    let _ = walk(&mut tar, limits, &mut delta);
    delta.entry_diagnostics.finish(&mut delta.diagnostics, None, "about entries");
    delta
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_clamps_and_flags() {
        let n = |p| {
            let (path, escaped) = normalize(p);
            (path.into_owned(), escaped)
        };
        assert_eq!(n("./etc//x/."), ("etc/x".to_string(), false));
        assert_eq!(n("/etc/shadow"), ("etc/shadow".to_string(), false));
        assert_eq!(n("../../etc/passwd"), ("etc/passwd".to_string(), true));
        assert_eq!(n("..\\..\\tmp\\x"), ("..\\..\\tmp\\x".to_string(), false));
        assert_eq!(n("./"), (String::new(), false));
        assert_eq!(n("etc/x/"), ("etc/x".to_string(), false));
        assert_eq!(n("etc/./x"), ("etc/x".to_string(), false));
        assert_eq!(n("etc/x"), ("etc/x".to_string(), false));
        assert!(matches!(normalize("usr/lib/x.so").0, std::borrow::Cow::Borrowed(_)), "a clean path is not copied");
    }
}
