//! A layer's entries stored by column: every path in one byte arena, one 24-byte record per
//! entry, file facts in one vector and link targets in another arena. The arena and the vectors
//! ([`Contents`]) are shared, never copied, with the merged views that use the layer: a view
//! names a path by where its bytes are and a file by its index (docs/report.md, "Performance").

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::FileData;
use crate::diag::Diagnostic;

/// The facts of a file record that is not there: what a lookup out of range gets.
pub static EMPTY_FILE: FileData = FileData { size: 0, hash: 0, more: None };

/// Strings in one buffer, each found by its index.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Strings {
    bytes: String,
    ends: Vec<u32>,
}

impl Strings {
    /// Appends `s`; `None` when the buffer would pass 4 GiB (offsets are u32).
    fn push(&mut self, s: &str) -> Option<u32> {
        let end = u32::try_from(self.bytes.len().checked_add(s.len())?).ok()?;
        let index = u32::try_from(self.ends.len()).ok()?;
        self.bytes.push_str(s);
        self.ends.push(end);
        Some(index)
    }

    /// The string at `index` (`""` when there is none).
    pub fn get(&self, index: u32) -> &str {
        let i = index as usize;
        let start = if i == 0 { 0 } else { self.ends.get(i - 1).copied().unwrap_or(0) as usize };
        let end = self.ends.get(i).copied().unwrap_or(0) as usize;
        self.bytes.get(start..end).unwrap_or("")
    }
}

/// What a layer holds that outlives its entry records: the path bytes, the link targets and
/// the regular files' facts. Shared (`Arc`) between the layer and every view it is merged into.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Contents {
    /// Every entry's path, one after the other, in entry order.
    paths: String,
    /// Symlink and hardlink targets.
    links: Strings,
    /// Regular files, in entry order.
    pub files: Vec<FileData>,
    /// Distinct (uid, gid) pairs of the entries; a record keeps an index.
    pub owners: Vec<(u32, u32)>,
}

impl Contents {
    /// The path bytes from `start` to `end` (an entry's path, or a prefix of it: its parent).
    pub fn path(&self, start: u32, end: u32) -> &str {
        self.paths.get(start as usize..end as usize).unwrap_or("")
    }

    /// A symlink's or hardlink's target.
    pub fn link(&self, index: u32) -> &str {
        self.links.get(index)
    }

    /// The facts of file `index` ([`EMPTY_FILE`] when there is none).
    pub fn file(&self, index: u32) -> &FileData {
        self.files.get(index as usize).unwrap_or(&EMPTY_FILE)
    }
}

/// The kinds of entry, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Tag {
    File,
    Dir,
    Symlink,
    Hardlink,
    Whiteout,
    Opaque,
    Other,
}

/// One entry in 16 bytes: where its path starts in the arena (it ends where the next one
/// starts), its kind, what the kind points at (a file's index, a link target's index, a tar
/// type flag), its owner (an index into [`Contents::owners`]) and its permission bits.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Record {
    at: u32,
    data: u32,
    owner: u32,
    mode: u16,
    tag: Tag,
}

/// What one tar entry does to the filesystem, given to [`LayerDelta::push`].
#[derive(Debug, Clone)]
pub enum EntryKind {
    File(FileData),
    Dir,
    Symlink(Box<str>),
    /// Hardlink to the given normalised path.
    Hardlink(Box<str>),
    /// Deletes `path` from lower layers.
    Whiteout,
    /// Hides everything below directory `path` in lower layers.
    Opaque,
    /// Devices, FIFOs and unknown types: metadata only.
    Other(u8),
}

/// One entry to store, with its path normalised (no leading `/`, `""` is the root).
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: Box<str>,
    pub kind: EntryKind,
    /// The mode; only its permission bits (`0o7777`) are kept.
    pub mode: u32,
    /// Owner ids (ids past u32 are kept as u32::MAX).
    pub uid: u32,
    pub gid: u32,
}

/// A stored entry's kind, borrowing what it points at.
#[derive(Debug, Clone, Copy)]
pub enum Kind<'a> {
    /// A regular file: its index in [`Contents::files`] and its facts.
    File(u32, &'a FileData),
    Dir,
    Symlink(&'a str),
    Hardlink(&'a str),
    Whiteout,
    Opaque,
    Other(u8),
}

/// A stored entry, read back.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    pub path: &'a str,
    /// Where the path's bytes start in the layer's arena (see [`Contents::path`]).
    pub at: u32,
    pub kind: Kind<'a>,
    /// What the kind points at: the file's index, the link target's index, the tar type flag.
    pub data: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// The owner's index in [`Contents::owners`].
    pub owner: u32,
}

/// Everything one layer contributed, read in one pass.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LayerDelta {
    pub digest: String,
    /// Paths, link targets and files, shared with the views the layer is merged into.
    pub contents: Arc<Contents>,
    records: Vec<Record>,
    pub diagnostics: Vec<Diagnostic>,
    pub compressed_bytes: u64,
    pub uncompressed_bytes: u64,
    pub compression: Option<crate::blob::Compression>,
    /// False when the layer could not be read completely or failed verification.
    pub complete: bool,
    /// True when the media type is not a filesystem layer; nothing was read.
    pub skipped: bool,
    /// The diff_id the uncompressed layer hashed to, when it was read (not kept in a store).
    #[serde(skip)]
    pub diff_id: Option<String>,
    /// Bounds the diagnostics the entries of the layer earn (walk state: not kept in a store).
    #[serde(skip)]
    pub(crate) entry_diagnostics: crate::diag::Capped,
    /// The index of each (uid, gid) pair in the contents' owners (walk state).
    #[serde(skip)]
    owner_ids: std::collections::HashMap<(u32, u32), u32, foldhash::fast::RandomState>,
}

impl LayerDelta {
    /// An empty delta of the layer with this digest.
    pub fn named(digest: &str) -> Self {
        LayerDelta { digest: digest.into(), ..Default::default() }
    }

    /// A complete layer of the given entries (tests and benchmarks).
    pub fn from_entries(digest: &str, entries: impl IntoIterator<Item = Entry>) -> Self {
        let mut d = LayerDelta { digest: digest.into(), complete: true, ..Default::default() };
        for e in entries {
            d.push(e);
        }
        d
    }

    /// Records a diagnostic about one entry (the first hundred are kept, the rest counted).
    pub(super) fn note(&mut self, d: Diagnostic) {
        self.entry_diagnostics.push(&mut self.diagnostics, d);
    }

    /// Stores one entry. An entry whose path is over 65 535 bytes (the most `path-bytes`
    /// allows), or that would take the layer's path or link bytes past 4 GiB, is refused with a
    /// diagnostic (what a layer within the limits never reaches).
    pub fn push(&mut self, e: Entry) {
        self.push_parts(&e.path, e.kind, e.mode, e.uid, e.gid);
    }

    /// [`LayerDelta::push`] of an entry given by its parts (the path is copied into the arena).
    pub fn push_parts(&mut self, path: &str, kind: EntryKind, mode: u32, uid: u32, gid: u32) {
        if path.len() > usize::from(u16::MAX) {
            return self.refuse(path);
        }
        let c = Arc::make_mut(&mut self.contents);
        let Ok(at) = u32::try_from(c.paths.len()) else { return self.refuse(path) };
        if u32::try_from(c.paths.len().saturating_add(path.len())).is_err() {
            return self.refuse(path);
        }
        let (tag, data) = match kind {
            EntryKind::File(f) => match u32::try_from(c.files.len()) {
                Ok(i) => {
                    c.files.push(f);
                    (Tag::File, i)
                }
                Err(_) => return self.refuse(path),
            },
            EntryKind::Dir => (Tag::Dir, 0),
            EntryKind::Symlink(ref t) | EntryKind::Hardlink(ref t) => {
                let tag = if matches!(kind, EntryKind::Symlink(_)) { Tag::Symlink } else { Tag::Hardlink };
                match c.links.push(t) {
                    Some(i) => (tag, i),
                    None => return self.refuse(path),
                }
            }
            EntryKind::Whiteout => (Tag::Whiteout, 0),
            EntryKind::Opaque => (Tag::Opaque, 0),
            EntryKind::Other(t) => (Tag::Other, u32::from(t)),
        };
        c.paths.push_str(path);
        let owner = match self.owner_ids.get(&(uid, gid)) {
            Some(&i) => i,
            None => {
                let i = u32::try_from(c.owners.len()).unwrap_or(u32::MAX);
                c.owners.push((uid, gid));
                self.owner_ids.insert((uid, gid), i);
                i
            }
        };
        let mode = (mode & 0o7777) as u16;
        self.records.push(Record { at, data, owner, mode, tag });
    }

    fn refuse(&mut self, path: &str) {
        let digest = self.digest.clone();
        self.note(Diagnostic::error(
            Some(&digest),
            Some(&crate::units::clip(path, 200)),
            "path over 65 535 bytes, or the layer's paths or link targets pass 4 GiB; entry skipped",
        ));
    }

    /// How many entries are stored (0 once dropped).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The entries, in tar order.
    pub fn entries(&self) -> impl Iterator<Item = EntryRef<'_>> + '_ {
        let c = &*self.contents;
        let ends = self.records.iter().skip(1).map(|r| r.at).chain(std::iter::once(c.paths.len() as u32));
        self.records.iter().zip(ends).map(move |(r, end)| EntryRef {
            path: c.path(r.at, end),
            at: r.at,
            kind: match r.tag {
                Tag::File => Kind::File(r.data, c.file(r.data)),
                Tag::Dir => Kind::Dir,
                Tag::Symlink => Kind::Symlink(c.link(r.data)),
                Tag::Hardlink => Kind::Hardlink(c.link(r.data)),
                Tag::Whiteout => Kind::Whiteout,
                Tag::Opaque => Kind::Opaque,
                Tag::Other => Kind::Other(r.data as u8),
            },
            data: r.data,
            mode: u32::from(r.mode),
            uid: c.owners.get(r.owner as usize).map_or(0, |o| o.0),
            gid: c.owners.get(r.owner as usize).map_or(0, |o| o.1),
            owner: r.owner,
        })
    }

    /// Drops the entry records and this layer's hold on its contents (the views merged from it
    /// keep theirs): what a scan does once every platform using the layer is merged.
    pub fn drop_entries(&mut self) {
        self.records = Vec::new();
        self.contents = Arc::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_stays_at_16_bytes() {
        // One per entry of every layer until the layer is merged: README, Performance.
        assert_eq!(std::mem::size_of::<Record>(), 16);
    }

    #[test]
    fn entries_read_back_as_pushed() {
        let file = |size| EntryKind::File(FileData { size, hash: size * 3, more: None });
        let entries = vec![
            Entry { path: "".into(), kind: EntryKind::Dir, mode: 0o755, uid: 0, gid: 0 },
            Entry { path: "a/b".into(), kind: file(7), mode: 0o100644, uid: 1, gid: 2 },
            Entry { path: "a/l".into(), kind: EntryKind::Symlink("b".into()), mode: 0o777, uid: 0, gid: 0 },
            Entry { path: "a/h".into(), kind: EntryKind::Hardlink("a/b".into()), mode: 0, uid: 0, gid: 0 },
            Entry { path: "x".into(), kind: EntryKind::Whiteout, mode: 0, uid: 0, gid: 0 },
            Entry { path: "dev/null".into(), kind: EntryKind::Other(b'3'), mode: 0o666, uid: 0, gid: 0 },
            Entry { path: "a/c".into(), kind: file(9), mode: 0o600, uid: 0, gid: 0 },
        ];
        let d = LayerDelta::from_entries("sha256:t", entries);
        let got: Vec<String> = d
            .entries()
            .map(|e| {
                let k = match e.kind {
                    Kind::File(i, f) => format!("file#{i}:{}:{}", f.size, f.hash),
                    Kind::Symlink(t) => format!("symlink:{t}"),
                    Kind::Hardlink(t) => format!("hardlink:{t}"),
                    Kind::Other(t) => format!("other:{}", t as char),
                    k => format!("{k:?}"),
                };
                format!("{}|{k}|{:o}|{}|{}|{}", e.path, e.mode, e.uid, e.gid, d.contents.path(e.at, e.at + 1))
            })
            .collect();
        assert_eq!(
            got,
            [
                "|Dir|755|0|0|a",
                "a/b|file#0:7:21|644|1|2|a",
                "a/l|symlink:b|777|0|0|a",
                "a/h|hardlink:a/b|0|0|0|a",
                "x|Whiteout|0|0|0|x",
                "dev/null|other:3|666|0|0|d",
                "a/c|file#1:9:27|600|0|0|a",
            ]
        );
        let json = serde_json::to_string(&d).unwrap();
        let back: LayerDelta = serde_json::from_str(&json).unwrap();
        assert_eq!(back.entries().map(|e| e.path).collect::<Vec<_>>(), d.entries().map(|e| e.path).collect::<Vec<_>>());
        let mut d = d;
        // A path over 16 bits of length is refused with a diagnostic, the rest kept.
        d.push(Entry { path: "p".repeat(65_536).into(), kind: file(1), mode: 0, uid: 0, gid: 0 });
        d.push(Entry { path: "q".repeat(65_535).into(), kind: file(2), mode: 0, uid: 0, gid: 0 });
        assert_eq!(d.len(), 8);
        assert_eq!(d.entries().last().map(|e| e.path.len()), Some(65_535));
        assert_eq!(d.diagnostics.len(), 1);
        assert!(d.diagnostics[0].message.contains("over 65 535 bytes"), "{:?}", d.diagnostics);
        d.drop_entries();
        assert_eq!(d.len(), 0);
        assert!(d.contents.files.is_empty());
    }
}
