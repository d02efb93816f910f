//! The merged filesystem a container sees: layers applied in order with OCI whiteout and opaque
//! semantics, hardlinks sharing content, per-path layer history, and symlink resolution
//! confined to the image root with a hop limit.

pub mod linker;

mod tree;

use std::collections::HashMap;
use std::sync::Arc;

use crate::diag::Diagnostic;
use crate::layer::{Contents, FileData, Kind, LayerDelta, EMPTY_FILE};
use tree::{Packed, Tag, Tree, NONE, ROOT};

/// Which file record a regular file's facts are: file `index` of layer `layer` (a hardlink
/// names the record of the entry it links to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileRef {
    pub layer: u32,
    pub index: u32,
}

impl FileRef {
    /// No file (what [`MergedFs::file`] finds nothing for).
    pub const NONE: FileRef = FileRef { layer: u32::MAX, index: u32::MAX };
}

/// Where a path's bytes are: layer `plane`'s arena ([`Contents::path`]) from `start`, `len`
/// bytes. What a tree built from the view keeps instead of a copy of the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PathAt {
    pub plane: u32,
    pub start: u32,
    pub len: u16,
}

impl PathAt {
    /// The path in `planes` (the view's [`MergedFs::planes`]); `""` when it is not there.
    pub fn resolve(self, planes: &[Arc<Contents>]) -> &str {
        planes.get(self.plane as usize).map_or("", |c| self.resolve_in(c))
    }

    /// The path in its layer's contents.
    pub fn resolve_in(self, contents: &Contents) -> &str {
        contents.path(self.start, self.start.saturating_add(u32::from(self.len)))
    }

    /// The first `len` bytes of the path (a parent directory's).
    pub fn prefix(self, len: usize) -> PathAt {
        PathAt { len: u16::try_from(len).unwrap_or(self.len).min(self.len), ..self }
    }
}

/// A regular file of the view: its record and its facts (`f.size`, `f.elf()` through `Deref`).
#[derive(Debug, Clone, Copy)]
pub struct File<'a> {
    pub id: FileRef,
    pub data: &'a FileData,
}

impl std::ops::Deref for File<'_> {
    type Target = FileData;
    fn deref(&self) -> &FileData {
        self.data
    }
}

/// A node of the merged view, read from its packed slot.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    pub kind: NodeKind<'a>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Index of the layer that last wrote this path.
    pub layer: usize,
}

#[derive(Debug, Clone, Copy)]
pub enum NodeKind<'a> {
    Dir,
    File(File<'a>),
    Symlink(&'a str),
    Other(u8),
}

/// What happened to a path in one layer, for the bloat analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A regular file written with this size and content hash.
    Written { size: u64, hash: u64 },
    /// Removed by a whiteout or opaque directory (the size it had).
    Deleted { size: u64 },
}

/// What happened to one path, in layer order: (layer index, event). Most paths are written
/// once and still there: their one event is read from the node, and only the others store
/// a list (see [`MergedFs::events`]). Dereferences to a slice.
#[derive(Debug, Clone, Copy)]
pub enum EventList<'a> {
    One([(usize, Event); 1]),
    Many(&'a [(usize, Event)]),
}

impl std::ops::Deref for EventList<'_> {
    type Target = [(usize, Event)];
    fn deref(&self) -> &[(usize, Event)] {
        match self {
            EventList::One(one) => one,
            EventList::Many(many) => many,
        }
    }
}

/// Per-layer counts of what the layer did to the view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerChanges {
    pub added: u64,
    pub changed: u64,
    pub deleted: u64,
}

/// The merged view of one platform's layers: a tree of paths (`tree.rs`) pointing into the
/// layers' shared contents (paths, link targets, file facts are never copied).
#[derive(Debug)]
pub struct MergedFs {
    tree: Tree,
    /// Histories of the paths that have more than the one event a live file's node gives, by
    /// slot.
    hist: HashMap<u32, Vec<(usize, Event)>, foldhash::fast::RandomState>,
    /// The files made by hardlinks: the record each shares.
    linked: Vec<FileRef>,
    /// Distinct (uid, gid) pairs; nodes keep an index.
    owners: Vec<(u32, u32)>,
    owner_ids: HashMap<(u32, u32), u32, foldhash::fast::RandomState>,
    pub changes: Vec<LayerChanges>,
    pub diagnostics: Vec<Diagnostic>,
    /// Counts subtree removals: a directory known to exist stays so while this is unchanged.
    removals: u64,
}

/// Why a path could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("more than {0} symlink hops (a loop?)")]
    TooManyHops(u64),
    #[error("not found")]
    NotFound,
}

/// A layer index as stored in a slot (a manifest lists far fewer than 2^32 layers).
fn layer_u32(layer: usize) -> u32 {
    u32::try_from(layer).unwrap_or(u32::MAX)
}

impl Default for MergedFs {
    fn default() -> Self {
        Self::new()
    }
}

impl MergedFs {
    pub fn new() -> Self {
        MergedFs {
            tree: Tree::new(Packed::dir(0)),
            hist: HashMap::default(),
            linked: Vec::new(),
            owners: vec![(0, 0)],
            owner_ids: [((0, 0), 0)].into_iter().collect(),
            changes: Vec::new(),
            diagnostics: Vec::new(),
            removals: 0,
        }
    }

    /// Applies layers in order.
    pub fn build<'a>(layers: impl IntoIterator<Item = &'a LayerDelta>) -> Self {
        let mut fs = MergedFs::new();
        for (i, l) in layers.into_iter().enumerate() {
            fs.apply(i, l);
        }
        fs
    }

    /// The contents of layer `layer` as this view holds them (empty for a layer not merged).
    pub fn contents(&self, layer: usize) -> Option<&Contents> {
        self.tree.planes.get(layer).map(|c| &**c)
    }

    /// The facts of a file record.
    pub fn file(&self, id: FileRef) -> Option<File<'_>> {
        let data = self.tree.planes.get(id.layer as usize)?.files.get(id.index as usize)?;
        Some(File { id, data })
    }

    fn unpack(&self, p: &Packed) -> Option<Node<'_>> {
        let kind = match p.tag {
            Tag::Gone => return None,
            Tag::Dir => NodeKind::Dir,
            Tag::File | Tag::Linked => {
                let id = match p.tag {
                    Tag::Linked => self.linked.get(p.data as usize).copied().unwrap_or(FileRef::NONE),
                    _ => FileRef { layer: p.layer, index: p.data },
                };
                let data = self.tree.planes.get(id.layer as usize).map_or(&EMPTY_FILE, |c| c.file(id.index));
                NodeKind::File(File { id, data })
            }
            Tag::Symlink => NodeKind::Symlink(self.tree.planes.get(p.layer as usize).map_or("", |c| c.link(p.data))),
            Tag::Other => NodeKind::Other(p.data as u8),
        };
        let (uid, gid) = self.owners.get(p.owner as usize).copied().unwrap_or_default();
        Some(Node { kind, mode: p.mode, uid, gid, layer: p.layer as usize })
    }

    fn node_at(&self, id: u32) -> Option<Node<'_>> {
        self.unpack(&self.tree.slots.get(id as usize)?.node())
    }

    pub fn get(&self, path: &str) -> Option<Node<'_>> {
        self.node_at(self.tree.find(path)?)
    }

    /// Every node, in path order (the root is `""`).
    pub fn iter(&self) -> impl Iterator<Item = (&str, Node<'_>)> {
        self.tree.order().iter().filter_map(move |&id| self.entry(id))
    }

    /// Like [`MergedFs::iter`], with where each path's bytes are and its history (no lookup per
    /// path).
    pub fn iter_history(&self) -> impl Iterator<Item = (PathAt, &str, Node<'_>, EventList<'_>)> {
        self.tree.order().iter().filter_map(move |&id| {
            let node = self.node_at(id)?;
            Some((self.tree.at(id), self.tree.path(id), node, self.events_at(id)))
        })
    }

    /// Each layer's contents, by layer index: what a [`PathAt`] of this view points into.
    pub fn planes(&self) -> &[Arc<Contents>] {
        &self.tree.planes
    }

    fn entry(&self, id: u32) -> Option<(&str, Node<'_>)> {
        Some((self.tree.path(id), self.node_at(id)?))
    }

    /// Direct and indirect children of a directory, in path order (for `""`, the root too).
    pub fn descendants<'a>(&'a self, dir: &str) -> impl Iterator<Item = (&'a str, Node<'a>)> + 'a {
        let mut ids = Vec::new();
        if let Some(id) = self.tree.find_live(dir) {
            if id == ROOT {
                ids.push(ROOT);
            }
            self.tree.subtree_in_order(id, &mut ids);
        }
        ids.into_iter().filter_map(move |id| self.entry(id))
    }

    /// The history of slot `id`: its stored list, else the one write of the live file there.
    fn events_at(&self, id: u32) -> EventList<'_> {
        let Some(s) = self.tree.slots.get(id as usize) else { return EventList::Many(&[]) };
        if let Some(h) = self.hist.get(&id) {
            return EventList::Many(h);
        }
        match self.unpack(&s.node()) {
            Some(Node { kind: NodeKind::File(f), layer, .. }) => {
                EventList::One([(layer, Event::Written { size: f.size, hash: f.hash })])
            }
            _ => EventList::Many(&[]),
        }
    }

    /// Every path that has a history (written as a regular file at some point), with it.
    pub fn history(&self) -> impl Iterator<Item = (&str, EventList<'_>)> {
        self.history_at().map(|(_, path, events)| (path, events))
    }

    /// Like [`MergedFs::history`], with where each path's bytes are.
    pub fn history_at(&self) -> impl Iterator<Item = (PathAt, &str, EventList<'_>)> {
        (0..self.tree.slots.len() as u32).filter_map(move |id| {
            let events = self.events_at(id);
            (!events.is_empty()).then(|| (self.tree.at(id), self.tree.path(id), events))
        })
    }

    /// The history of one path.
    pub fn events(&self, path: &str) -> Option<EventList<'_>> {
        Some(self.events_at(self.tree.find(path)?))
    }

    /// The index of the (uid, gid) pair, added when new.
    fn owner(&mut self, uid: u32, gid: u32) -> u32 {
        if let Some(&i) = self.owner_ids.get(&(uid, gid)) {
            return i;
        }
        let i = u32::try_from(self.owners.len()).unwrap_or(u32::MAX);
        self.owners.push((uid, gid));
        self.owner_ids.insert((uid, gid), i);
        i
    }

    /// Makes slot `id`'s history a stored list: the one write its live file gives, or none.
    fn materialize(&mut self, id: u32) {
        if !self.hist.contains_key(&id) {
            let first: Vec<(usize, Event)> = self.events_at(id).to_vec();
            self.hist.insert(id, first);
        }
    }

    /// Appends `event` to slot `id`'s history (made a stored list first).
    fn push_event(&mut self, id: u32, event: (usize, Event)) {
        self.materialize(id);
        if let Some(h) = self.hist.get_mut(&id) {
            h.push(event);
        }
    }

    /// Replaces slot `id`'s node, keeping the history of a file it replaces.
    fn set_node(&mut self, id: u32, node: Packed) {
        if self.tree.slots[id as usize].node().is_file() {
            self.materialize(id);
        }
        self.tree.slots[id as usize].set(node);
    }

    /// Removes `id` and everything below it; the root stays, as a fresh directory of `layer`.
    fn remove_subtree(&mut self, id: u32, layer: usize, deleted: &mut u64) {
        self.removals += 1;
        self.tree.changed();
        let mut stack = vec![id];
        while let Some(i) = stack.pop() {
            let mut c = self.tree.slots[i as usize].first_child;
            match self.tree.slots[i as usize].tag() {
                Tag::Gone => {}
                Tag::Dir => self.set_node(i, Packed::GONE),
                Tag::File | Tag::Linked => {
                    *deleted += 1;
                    // What this path's last write carried (0 for a hardlink).
                    let events = self.events_at(i);
                    let size = events
                        .iter()
                        .rev()
                        .find_map(|(_, e)| match e {
                            Event::Written { size, .. } => Some(*size),
                            Event::Deleted { .. } => None,
                        })
                        .unwrap_or(0);
                    self.set_node(i, Packed::GONE);
                    self.push_event(i, (layer, Event::Deleted { size }));
                }
                _ => {
                    *deleted += 1;
                    self.set_node(i, Packed::GONE);
                }
            }
            while c != NONE {
                stack.push(c);
                c = self.tree.slots[c as usize].next_sibling;
            }
        }
        if id == ROOT {
            self.tree.slots[ROOT as usize].set(Packed::dir(layer_u32(layer)));
        }
    }

    /// Makes every parent of the path whose bytes are layer `layer`'s arena from `at` a
    /// directory (replacing what is in the way, as overlayfs does); returns the slot of its
    /// direct parent.
    fn ensure_parents(&mut self, path: &str, at: u32, layer: usize) -> u32 {
        let plane = layer_u32(layer);
        let mut id = ROOT;
        let mut start = 0;
        while let Some(pos) = path[start..].find('/') {
            let end = start + pos;
            let c = self.tree.child_or_insert(id, plane, at, u16::try_from(end).unwrap_or(u16::MAX));
            match self.tree.slots[c as usize].tag() {
                Tag::Dir => {}
                Tag::Gone => {
                    self.tree.changed();
                    self.tree.slots[c as usize].set(Packed::dir(plane));
                }
                _ => {
                    // A non-directory in the way is replaced by a directory (overlay semantics).
                    let mut deleted = 0;
                    self.remove_subtree(c, layer, &mut deleted);
                    self.tree.slots[c as usize].set(Packed::dir(plane));
                }
            }
            id = c;
            start = end + 1;
        }
        id
    }

    /// Applies one layer: its whiteouts and opaque markers first (they only affect lower
    /// layers, wherever they appear in the tar), then its entries in order.
    pub fn apply(&mut self, layer: usize, delta: &LayerDelta) {
        let plane = layer_u32(layer);
        if self.tree.planes.len() <= layer {
            self.tree.planes.resize(layer + 1, Arc::default());
        }
        self.tree.planes[layer] = delta.contents.clone();
        self.tree.changed();
        self.tree.reserve(delta.len());
        let mut ch = LayerChanges::default();
        let mut capped = crate::diag::Capped::default();
        // Nothing is below the first layer written into an empty view: no lookups there.
        let empty = self.tree.slots.len() == 1;
        let lower_exists: Vec<bool> =
            if empty { Vec::new() } else { delta.entries().map(|e| self.tree.find_live(e.path).is_some()).collect() };
        for e in delta.entries() {
            match e.kind {
                Kind::Whiteout => match self.tree.find_live(e.path) {
                    Some(id) => self.remove_subtree(id, layer, &mut ch.deleted),
                    None => capped.push(
                        &mut self.diagnostics,
                        Diagnostic::warning(
                            Some(&delta.digest),
                            Some(&format!("/{}", e.path)),
                            "whiteout for a path no lower layer has; no effect",
                        ),
                    ),
                },
                Kind::Opaque => {
                    if let Some(dir) = self.tree.find_live(e.path) {
                        if dir == ROOT {
                            self.remove_subtree(ROOT, layer, &mut ch.deleted);
                        } else {
                            let mut c = self.tree.slots[dir as usize].first_child;
                            while c != NONE {
                                if self.tree.slots[c as usize].live() {
                                    self.remove_subtree(c, layer, &mut ch.deleted);
                                }
                                c = self.tree.slots[c as usize].next_sibling;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        // The layer's owners as the view's.
        let owners: Vec<u32> = delta.contents.owners.iter().map(|&(uid, gid)| self.owner(uid, gid)).collect();
        // AUFS hardlink targets (.wh..wh.plnk/…) are never visible.
        let mut hidden: HashMap<&str, FileRef> = HashMap::new();
        // Slots this layer wrote, to tell a path given twice.
        let mut written: Vec<u64> = Vec::new();
        // Entries of one directory come together in a tar: its parents are made once while
        // nothing is removed in between.
        let mut parents_ok: (Option<&str>, u64, u32) = (None, 0, NONE);
        for (n, e) in delta.entries().enumerate() {
            let existed = lower_exists.get(n).copied().unwrap_or(false);
            let (tag, data, shared) = match e.kind {
                Kind::Whiteout | Kind::Opaque => continue,
                Kind::File(index, _) if e.path.starts_with(".wh..wh.plnk/") => {
                    hidden.insert(e.path, FileRef { layer: plane, index });
                    continue;
                }
                Kind::File(index, _) => (Tag::File, index, None),
                Kind::Dir => (Tag::Dir, 0, None),
                Kind::Symlink(_) => (Tag::Symlink, e.data, None),
                Kind::Other(t) => (Tag::Other, u32::from(t), None),
                Kind::Hardlink(target) => {
                    let shared = hidden.get(target).copied().or_else(|| match self.get(target) {
                        Some(Node { kind: NodeKind::File(f), .. }) => Some(f.id),
                        _ => None,
                    });
                    match shared {
                        Some(f) => (Tag::Linked, 0, Some(f)),
                        None => {
                            let why = match self.get(target) {
                                Some(_) => "is not a regular file",
                                None => "does not exist",
                            };
                            capped.push(
                                &mut self.diagnostics,
                                Diagnostic::warning(
                                    Some(&delta.digest),
                                    Some(&format!("/{}", e.path)),
                                    format!("hardlink target /{target} {why}; entry skipped"),
                                ),
                            );
                            continue;
                        }
                    }
                }
            };
            let is_dir = tag == Tag::Dir;
            let id = if e.path.is_empty() {
                ROOT
            } else {
                let split = e.path.rfind('/');
                let parent_path = split.map(|i| &e.path[..i]);
                let parent = if parent_path.is_none() {
                    ROOT
                } else if (parent_path, self.removals) == (parents_ok.0, parents_ok.1) {
                    parents_ok.2
                } else {
                    let p = self.ensure_parents(e.path, e.at, layer);
                    parents_ok = (parent_path, self.removals, p);
                    p
                };
                self.tree.child_or_insert(parent, plane, e.at, u16::try_from(e.path.len()).unwrap_or(u16::MAX))
            };
            let (word, bit) = (id as usize / 64, 1u64 << (id % 64));
            if written.len() <= word {
                written.resize(word + 1, 0);
            }
            if written[word] & bit != 0 {
                capped.push(
                    &mut self.diagnostics,
                    Diagnostic::warning(
                        Some(&delta.digest),
                        Some(&format!("/{}", e.path)),
                        "the layer has this path more than once; the last entry wins",
                    ),
                );
            }
            written[word] |= bit;
            let owner = owners.get(e.owner as usize).copied().unwrap_or(0);
            let existing = self.tree.slots[id as usize].node();
            if is_dir && existing.tag == Tag::Dir {
                self.tree.slots[id as usize].set(Packed { mode: e.mode, owner, layer: plane, ..existing });
                continue;
            }
            if existing.tag == Tag::Dir {
                let mut deleted = 0;
                self.remove_subtree(id, layer, &mut deleted);
                ch.deleted += deleted;
            }
            let data = match shared {
                Some(f) => {
                    self.linked.push(f);
                    u32::try_from(self.linked.len() - 1).unwrap_or(u32::MAX)
                }
                None => data,
            };
            let node = Packed { tag, layer: plane, mode: e.mode, owner, data };
            if node.is_file() {
                // A hardlink carries no content in its layer: 0 bytes written (docs/report.md
                // §3.8), so its write is stored; a plain file's first write is read from it.
                let (size, hash) = match shared {
                    Some(f) => (0, self.file(f).map_or(0, |f| f.hash)),
                    None => {
                        let f = self.tree.planes[layer].file(data);
                        (f.size, f.hash)
                    }
                };
                let has_history = self.hist.contains_key(&id) || existing.is_file();
                if has_history || shared.is_some() {
                    self.materialize(id);
                    self.tree.slots[id as usize].set(node);
                    self.push_event(id, (layer, Event::Written { size, hash }));
                } else {
                    self.tree.slots[id as usize].set(node);
                }
            } else {
                self.set_node(id, node);
            }
            if !is_dir {
                if existed {
                    ch.changed += 1;
                } else {
                    ch.added += 1;
                }
            }
        }
        if self.changes.len() <= layer {
            self.changes.resize(layer + 1, LayerChanges::default());
        }
        self.changes[layer] = ch;
        capped.finish(&mut self.diagnostics, Some(&delta.digest), "about paths of this layer");
    }

    /// Resolves an absolute or relative path (relative to the root) following symlinks in every
    /// component, confined to the root (`..` stops there), with a hop limit.
    /// Returns the final path (no leading `/`) and its node.
    pub fn resolve(&self, path: &str, max_hops: u64) -> Result<(String, Node<'_>), ResolveError> {
        self.resolve_traced(path, max_hops, &mut Vec::new())
    }

    /// Like [`MergedFs::resolve`], also pushing onto `links` the path of every symlink followed
    /// on the way (in the order followed; a directory link and a file link alike).
    pub fn resolve_traced(
        &self,
        path: &str,
        max_hops: u64,
        links: &mut Vec<String>,
    ) -> Result<(String, Node<'_>), ResolveError> {
        let mut hops = 0u64;
        let mut pending: Vec<String> = path.split('/').rev().filter(|c| !c.is_empty()).map(str::to_string).collect();
        // The slots walked through, below the root.
        let mut current: Vec<u32> = Vec::new();
        while let Some(comp) = pending.pop() {
            match comp.as_str() {
                "." => continue,
                ".." => {
                    current.pop();
                    continue;
                }
                _ => {}
            }
            let parent = current.last().copied().unwrap_or(ROOT);
            let id = self.tree.child(parent, &comp).ok_or(ResolveError::NotFound)?;
            let node = self.node_at(id).ok_or(ResolveError::NotFound)?;
            current.push(id);
            if let NodeKind::Symlink(target) = node.kind {
                hops += 1;
                if hops > max_hops {
                    return Err(ResolveError::TooManyHops(max_hops));
                }
                links.push(self.tree.path(id).to_string());
                current.pop();
                if target.starts_with('/') {
                    current.clear();
                }
                for c in target.split('/').rev().filter(|c| !c.is_empty()) {
                    pending.push(c.to_string());
                }
            }
        }
        let id = current.last().copied().unwrap_or(ROOT);
        let node = self.node_at(id).ok_or(ResolveError::NotFound)?;
        Ok((self.tree.path(id).to_string(), node))
    }

    /// Regular files of the view with their content, in path order.
    pub fn files(&self) -> impl Iterator<Item = (&str, File<'_>, Node<'_>)> {
        self.iter().filter_map(|(p, n)| match n.kind {
            NodeKind::File(f) => Some((p, f, n)),
            _ => None,
        })
    }
}

/// Runs the scanner's tar walk (ELF capture, detectors' captures included) over an uncompressed
/// layer tar held in memory, then merges it twice (as a lower and an upper layer, so whiteouts
/// and opaque markers hit something) and resolves every path of the view. For the fuzz targets
/// in `fuzz/`; not a stable API.
#[doc(hidden)]
pub fn walk_for_fuzzing(bytes: &[u8]) -> MergedFs {
    let limits = crate::limits::Limits::default();
    let delta = crate::layer::delta_from_tar(bytes, "sha256:fuzz", &limits);
    let fs = MergedFs::build([&delta, &delta]);
    for (path, _) in fs.iter() {
        let _ = fs.resolve(path, limits.symlink_hops);
    }
    fs
}

#[cfg(test)]
mod tests;
