//! Writes a closure out of the image's layers into a directory: a second, selective pass over
//! the layers that hold the needed files' visible content (the layer that wrote each path's final
//! version; for a hardlink, the entry whose content it shares), checked against the scan's
//! content hash and the blob digest.
//!
//! Nothing is written outside the directory: every path component is created and opened
//! relative to the directory's own descriptor (`mkdirat`/`openat` with `O_NOFOLLOW`, regular
//! files with `O_CREAT|O_EXCL`), so no symlink on the host is ever followed; link targets are
//! written as links only (`symlinkat`), after every file. The directory must not exist or be
//! empty (docs/slim.md, "Export").

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rayon::prelude::*;
use rustix::fs::{AtFlags, Gid, Mode, OFlags, Uid, CWD};
use xxhash_rust::xxh3::Xxh3;

use super::closure::Kind;
use super::Plan;
use crate::fs::{FileRef, MergedFs, NodeKind};
use crate::layer::{normalize, Kind as EntryKind, LayerDelta};
use crate::limits::Limits;
use crate::source::resolve::{LayerRef, Target};
use crate::source::ImageSource;
use crate::tarwalk::TarReader;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{dir}: {message}")]
    Directory { dir: String, message: String },
    #[error("/{path}: {message}")]
    Path { path: String, message: String },
    #[error("layer {digest}: {message}")]
    Layer { digest: String, message: String },
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Exported {
    pub files: u64,
    pub symlinks: u64,
    pub directories: u64,
    pub bytes: u64,
    /// Whether owners were set (only when running as root).
    pub owners: bool,
}

/// Where a needed file's content is: (layer index, path in that layer's tar, which file entry
/// of that path it is, counting from 0 in tar order).
type Source = (usize, String, usize);

fn perr(path: &str, message: impl std::fmt::Display) -> ExportError {
    ExportError::Path { path: path.to_string(), message: message.to_string() }
}

/// Where each file content of the layers is, by its file record (a hardlink names the record
/// of the entry it links to): one pass over the entries.
fn sources(layers: &[&LayerDelta]) -> HashMap<FileRef, Source> {
    let mut out = HashMap::new();
    for (l, delta) in layers.iter().enumerate() {
        let mut count: HashMap<&str, usize> = HashMap::new();
        for e in delta.entries() {
            if let EntryKind::File(index, _) = e.kind {
                let n = count.entry(e.path).or_default();
                out.insert(FileRef { layer: l as u32, index }, (l, e.path.to_string(), *n));
                *n += 1;
            }
        }
    }
    out
}

/// One component of a path from the merged view, checked again: no empty, `.` or `..` part.
fn components(path: &str) -> Result<Vec<&str>, ExportError> {
    let parts: Vec<&str> = path.split('/').collect();
    if parts.iter().any(|c| c.is_empty() || *c == "." || *c == ".." || c.contains('\0')) {
        return Err(perr(path, "path is not a plain relative path; refused"));
    }
    Ok(parts)
}

/// The export directory and how to create things in it.
struct Root<'a> {
    fd: OwnedFd,
    fs: &'a MergedFs,
    as_root: bool,
    /// Directories made, by path (for their modes and owners at the end).
    made: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl Root<'_> {
    /// Opens (making it when missing) the directory `dir` (relative, no leading `/`) inside the
    /// root, one component at a time, never following a symlink.
    fn open_dir(&self, dir: &str) -> Result<OwnedFd, ExportError> {
        let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
        let mut fd = rustix::fs::openat(&self.fd, ".", flags, Mode::empty()).map_err(|e| perr(dir, e))?;
        if dir.is_empty() {
            return Ok(fd);
        }
        let mut so_far = String::new();
        for c in components(dir)? {
            if !so_far.is_empty() {
                so_far.push('/');
            }
            so_far.push_str(c);
            match rustix::fs::mkdirat(&fd, c, Mode::from_raw_mode(0o700)) {
                Ok(()) => {
                    self.made.lock().map_err(|_| perr(dir, "lock poisoned"))?.insert(so_far.clone());
                }
                Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(perr(&so_far, format!("cannot make the directory: {e}"))),
            }
            fd = rustix::fs::openat(&fd, c, flags, Mode::empty())
                .map_err(|e| perr(&so_far, format!("cannot open as a directory without following links: {e}")))?;
        }
        Ok(fd)
    }

    fn split(path: &str) -> (&str, &str) {
        path.rsplit_once('/').unwrap_or(("", path))
    }

    /// Creates a new regular file. `last` keeps the directory opened for the previous file (a
    /// tar lists a directory's files together): one `openat` per file instead of one per
    /// component.
    fn create_file(&self, path: &str, last: &mut Option<(String, OwnedFd)>) -> Result<std::fs::File, ExportError> {
        let (dir, name) = Self::split(path);
        components(path)?;
        if last.as_ref().is_none_or(|(d, _)| d != dir) {
            *last = Some((dir.to_string(), self.open_dir(dir)?));
        }
        let Some((_, parent)) = last.as_ref() else { return Err(perr(path, "no parent directory")) };
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(parent, name, flags, Mode::from_raw_mode(0o600))
            .map_err(|e| perr(path, format!("cannot create: {e}")))?;
        Ok(std::fs::File::from(fd))
    }

    fn symlink(&self, path: &str, target: &str, uid: u32, gid: u32) -> Result<(), ExportError> {
        let (dir, name) = Self::split(path);
        components(path)?;
        let parent = self.open_dir(dir)?;
        rustix::fs::symlinkat(target, &parent, name).map_err(|e| perr(path, format!("cannot make the link: {e}")))?;
        if self.as_root {
            rustix::fs::chownat(
                &parent,
                name,
                Some(Uid::from_raw(uid)),
                Some(Gid::from_raw(gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| perr(path, format!("cannot set the link's owner: {e}")))?;
        }
        Ok(())
    }

    /// Sets the modes (and owners) of every directory made, from the merged view, deepest first.
    fn finish_dirs(&self) -> Result<u64, ExportError> {
        let made: Vec<String> = match self.made.lock() {
            Ok(m) => m.iter().rev().cloned().collect(),
            Err(_) => return Err(perr("", "lock poisoned")),
        };
        for d in &made {
            let (mode, uid, gid) = match self.fs.get(d) {
                Some(n) if matches!(n.kind, NodeKind::Dir) => (n.mode & 0o7777, n.uid, n.gid),
                _ => (0o755, 0, 0),
            };
            let fd = self.open_dir(d)?;
            if self.as_root {
                rustix::fs::fchown(&fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                    .map_err(|e| perr(d, format!("cannot set the owner: {e}")))?;
            }
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))
                .map_err(|e| perr(d, format!("cannot set the mode: {e}")))?;
        }
        Ok(made.len() as u64)
    }
}

/// Opens `dir` for the export: made when missing; refused when it is not an empty directory
/// (or is a symlink).
fn prepare(dir: &Path) -> Result<OwnedFd, ExportError> {
    let name = dir.display().to_string();
    let err = |m: String| ExportError::Directory { dir: name.clone(), message: m };
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => return Err(err("is a symlink; refused".into())),
        Ok(m) if !m.is_dir() => return Err(err("exists and is not a directory".into())),
        Ok(_) => {
            let mut it = std::fs::read_dir(dir).map_err(|e| err(e.to_string()))?;
            if it.next().is_some() {
                return Err(err("is not empty; the export writes only into a new or empty directory".into()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir(dir).map_err(|e| err(format!("cannot make it: {e}")))?;
        }
        Err(e) => return Err(err(e.to_string())),
    }
    rustix::fs::openat(CWD, dir, OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| err(format!("cannot open: {e}")))
}

/// Writes the plan's closure into `dir`. `layers` are the target's deltas in order (with their
/// entries: from [`crate::pipeline::load`]).
pub fn export(
    source: &dyn ImageSource,
    target: &Target,
    layers: &[&LayerDelta],
    fs: &MergedFs,
    plan: &Plan,
    dir: &Path,
    limits: &Limits,
) -> Result<Exported, ExportError> {
    let fd = prepare(dir)?;
    let as_root = rustix::process::geteuid().is_root();
    let root = Root { fd, fs, as_root, made: Default::default() };
    let mut out = Exported { owners: as_root, ..Default::default() };

    // Where each needed file's content is, grouped by layer.
    let index = sources(layers);
    let mut wanted: BTreeMap<usize, Want> = BTreeMap::new();
    let mut expect: Expect = HashMap::new();
    for e in plan.closure.paths.iter().filter(|e| e.kind == Kind::File) {
        let path = e.path.trim_start_matches('/');
        let Some(node) = fs.get(path) else { return Err(perr(path, "not in the merged view")) };
        let NodeKind::File(f) = &node.kind else { return Err(perr(path, "is no longer a regular file")) };
        let Some((l, p, n)) = index.get(&f.id).cloned() else {
            return Err(perr(path, "its content is in no layer entry (the layers' entries were dropped?)"));
        };
        wanted.entry(l).or_default().entry((p, n)).or_default().push(path.to_string());
        expect.insert(path.to_string(), (f.size, f.hash, node.mode & 0o7777, node.uid, node.gid));
    }
    // Layers are read in parallel: each needed path has one source, so they write apart.
    let jobs: Vec<(&usize, &Want)> = wanted.iter().collect();
    let done: Vec<Result<(u64, u64), ExportError>> = jobs
        .par_iter()
        .map(|(l, want)| match target.layers.get(**l) {
            Some(layer) => write_layer(&root, source, layer, want, &expect, limits),
            None => Ok((0, 0)),
        })
        .collect();
    for d in done {
        let (files, bytes) = d?;
        out.files += files;
        out.bytes += bytes;
    }
    // Links last: nothing is ever written through one.
    for e in plan.closure.paths.iter().filter(|e| e.kind == Kind::Symlink) {
        let path = e.path.trim_start_matches('/');
        let Some(node) = fs.get(path) else { continue };
        if let NodeKind::Symlink(t) = &node.kind {
            root.symlink(path, t, node.uid, node.gid)?;
            out.symlinks += 1;
        }
    }
    out.directories = root.finish_dirs()?;
    Ok(out)
}

/// Needed content of one layer: (path in the layer's tar, which file entry of that path) ->
/// the paths to write it to.
type Want = HashMap<(String, usize), Vec<String>>;

/// What each destination must get: (size, content hash, mode, uid, gid).
type Expect = HashMap<String, (u64, u64, u32, u32, u32)>;

/// Reads one layer up to its last needed file, writing each into the export; then checks the
/// blob's digest. Returns (files, bytes) written.
fn write_layer(
    root: &Root,
    source: &dyn ImageSource,
    layer: &LayerRef,
    want: &Want,
    expect: &Expect,
    limits: &Limits,
) -> Result<(u64, u64), ExportError> {
    let (mut files_done, mut bytes_done) = (0u64, 0u64);
    let mut last_dir = None;
    let digest = layer.descriptor.digest().to_string();
    let lerr = |m: String| ExportError::Layer { digest: digest.clone(), message: m };
    let media_type = layer.descriptor.media_type().to_string();
    let blob = source.open_blob(&layer.descriptor).map_err(|e| lerr(e.to_string()))?;
    let mut verify = if layer.synthesized {
        crate::blob::VerifyingReader::counting(blob, layer.descriptor.size())
    } else {
        crate::blob::VerifyingReader::for_digest(blob, layer.descriptor.size(), &digest)
    };
    {
        let raw = BufReader::with_capacity(256 << 10, &mut verify);
        let (decoder, _, _) = crate::blob::decompress(raw, crate::oci::layer_type(&media_type), &media_type)
            .map_err(|e| lerr(format!("decompressing: {e}")))?;
        let counted = crate::blob::DiffIdReader::counting(
            BufReader::with_capacity(256 << 10, decoder),
            limits.layer_bytes,
            layer.descriptor.size(),
            limits.compression_ratio,
        );
        let mut tar = TarReader::new(counted, limits);
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut left: usize = want.len();
        while left > 0 {
            let Some(raw) = tar.next_entry().map_err(|e| lerr(format!("reading the tar: {e}")))? else { break };
            if !raw.is_file() {
                continue;
            }
            let path = normalize(&String::from_utf8_lossy(&raw.path)).0.into_owned();
            if path.len() as u64 > limits.path_bytes || path.matches('/').count() as u64 + 1 > limits.path_depth {
                continue;
            }
            let name = path.rsplit('/').next().unwrap_or("");
            if name.starts_with(".wh.") && !path.starts_with(".wh..wh.plnk/") {
                continue;
            }
            let n = seen.entry(path.clone()).or_default();
            let key = (path, *n);
            *n += 1;
            let Some(dests) = want.get(&key) else { continue };
            left -= 1;
            if raw.typeflag == b'S' {
                return Err(perr(&key.0, "a sparse file: not exported"));
            }
            let mut files = Vec::new();
            for d in dests {
                files.push((d, root.create_file(d, &mut last_dir)?));
            }
            let mut hasher = Xxh3::new();
            let mut written = 0u64;
            loop {
                let chunk = tar.data_chunk().map_err(|e| lerr(format!("reading /{}: {e}", key.0)))?;
                let len = chunk.len();
                if len == 0 {
                    break;
                }
                hasher.update(chunk);
                for (d, f) in &mut files {
                    f.write_all(chunk).map_err(|e| perr(d, format!("writing: {e}")))?;
                }
                written += len as u64;
                tar.consume_data(len);
            }
            for (d, f) in files {
                let (size, hash, mode, uid, gid) = expect.get(d.as_str()).copied().unwrap_or_default();
                if written != size || hasher.digest() != hash {
                    return Err(perr(d, "the content read now differs from what the scan read; export refused"));
                }
                if root.as_root {
                    rustix::fs::fchown(f.as_fd(), Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                        .map_err(|e| perr(d, format!("cannot set the owner: {e}")))?;
                }
                rustix::fs::fchmod(f.as_fd(), Mode::from_raw_mode(mode))
                    .map_err(|e| perr(d, format!("cannot set the mode: {e}")))?;
                files_done += 1;
                bytes_done += written;
            }
        }
        if left > 0 {
            return Err(lerr(format!("{left} needed file(s) not found in the layer on the second pass")));
        }
    }
    if !layer.synthesized {
        verify.drain().map_err(|e| lerr(format!("reading the blob: {e}")))?;
        verify.finish().check(&digest).map_err(|m| lerr(format!("blob verification failed: {m}")))?;
    }
    Ok((files_done, bytes_done))
}
