//! The merged filesystem a container sees: layers applied in order with OCI whiteout and opaque
//! semantics, hardlinks sharing content, per-path layer history, and symlink resolution
//! confined to the image root with a hop limit.

pub mod linker;

mod tree;

use std::collections::HashMap;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::diag::Diagnostic;
use crate::layer::{EntryKind, FileData, LayerDelta};
use tree::{Tree, NONE, ROOT};

/// A node of the merged view.
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Index of the layer that last wrote this path.
    pub layer: usize,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Dir,
    File(Arc<FileData>),
    Symlink(Box<str>),
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

/// What happened to one path, in layer order: (layer index, event). One event inline (most
/// paths are written once), more on the heap.
pub type Events = SmallVec<[(usize, Event); 1]>;

/// A path's history as a slice.
pub type EventList = [(usize, Event)];

/// Per-layer counts of what the layer did to the view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerChanges {
    pub added: u64,
    pub changed: u64,
    pub deleted: u64,
}

/// The merged view of one platform's layers: a tree of paths (`tree.rs`), each path's bytes
/// allocated once, in the layer entry that wrote it, and shared (`Arc<str>`).
#[derive(Debug)]
pub struct MergedFs {
    tree: Tree,
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

fn dir_node(layer: usize) -> Node {
    Node { kind: NodeKind::Dir, mode: 0o755, uid: 0, gid: 0, layer }
}

impl Default for MergedFs {
    fn default() -> Self {
        Self::new()
    }
}

impl MergedFs {
    pub fn new() -> Self {
        MergedFs { tree: Tree::new(dir_node(0)), changes: Vec::new(), diagnostics: Vec::new(), removals: 0 }
    }

    /// Applies layers in order.
    pub fn build<'a>(layers: impl IntoIterator<Item = &'a LayerDelta>) -> Self {
        let mut fs = MergedFs::new();
        for (i, l) in layers.into_iter().enumerate() {
            fs.apply(i, l);
        }
        fs
    }

    pub fn get(&self, path: &str) -> Option<&Node> {
        self.tree.node(self.tree.find(path)?)
    }

    /// Every node, in path order (the root is `""`).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.tree.order().iter().filter_map(move |&id| self.entry(id))
    }

    /// Like [`MergedFs::iter`], with each path's shared allocation (to keep it without a copy)
    /// and its history (no lookup per path).
    pub fn iter_shared(&self) -> impl Iterator<Item = (&Arc<str>, &Node, &EventList)> {
        self.tree.order().iter().filter_map(move |&id| {
            let s = &self.tree.slots[id as usize];
            Some((&s.path, s.node.as_ref()?, s.events.as_slice()))
        })
    }

    fn entry(&self, id: u32) -> Option<(&str, &Node)> {
        let s = &self.tree.slots[id as usize];
        Some((&*s.path, s.node.as_ref()?))
    }

    /// Direct and indirect children of a directory, in path order (for `""`, the root too).
    pub fn descendants<'a>(&'a self, dir: &str) -> impl Iterator<Item = (&'a str, &'a Node)> + 'a {
        let mut ids = Vec::new();
        if let Some(id) = self.tree.find_live(dir) {
            if id == ROOT {
                ids.push(ROOT);
            }
            self.tree.subtree_in_order(id, &mut ids);
        }
        ids.into_iter().filter_map(move |id| self.entry(id))
    }

    /// Every path that has a history (written as a regular file at some point), with it.
    pub fn history(&self) -> impl Iterator<Item = (&str, &[(usize, Event)])> {
        self.tree.slots.iter().filter(|s| !s.events.is_empty()).map(|s| (&*s.path, s.events.as_slice()))
    }

    /// Every copy of a file that stopped being visible: (path, layer that wrote it, layer that
    /// overwrote or deleted it, bytes the copy carried), in path order within each path's history.
    pub fn losses(&self) -> impl Iterator<Item = (&str, usize, usize, u64)> {
        self.history().flat_map(|(path, events)| {
            let mut visible: Option<(usize, u64)> = None;
            events.iter().filter_map(move |(layer, e)| {
                let lost = visible.take().map(|(writer, size)| (path, writer, *layer, size));
                if let Event::Written { size, .. } = e {
                    visible = Some((*layer, *size));
                }
                lost
            })
        })
    }

    /// Per layer, the bytes of content it wrote that a later layer overwrote or deleted (the
    /// copy visible until then is charged to the layer that wrote it).
    pub fn lost_bytes(&self) -> Vec<u64> {
        let mut lost = vec![0u64; self.changes.len()];
        for (_, writer, _, size) in self.losses() {
            if let Some(x) = lost.get_mut(writer) {
                *x = x.saturating_add(size);
            }
        }
        lost
    }

    /// The history of one path.
    pub fn events(&self, path: &str) -> Option<&[(usize, Event)]> {
        Some(self.tree.slots[self.tree.find(path)? as usize].events.as_slice())
    }

    /// Removes `id` and everything below it; the root stays, as a fresh directory of `layer`.
    fn remove_subtree(&mut self, id: u32, layer: usize, deleted: &mut u64) {
        self.removals += 1;
        self.tree.changed();
        let mut stack = vec![id];
        while let Some(i) = stack.pop() {
            let slot = &mut self.tree.slots[i as usize];
            let mut c = slot.first_child;
            if let Some(n) = slot.node.take() {
                match n.kind {
                    NodeKind::Dir => {}
                    NodeKind::File(f) => {
                        *deleted += 1;
                        // What this path's last write carried (0 for a hardlink).
                        let size = slot
                            .events
                            .iter()
                            .rev()
                            .find_map(|(_, e)| match e {
                                Event::Written { size, .. } => Some(*size),
                                Event::Deleted { .. } => None,
                            })
                            .unwrap_or(f.size);
                        slot.events.push((layer, Event::Deleted { size }));
                    }
                    _ => *deleted += 1,
                }
            }
            while c != NONE {
                stack.push(c);
                c = self.tree.slots[c as usize].next_sibling;
            }
        }
        if id == ROOT {
            self.tree.slots[ROOT as usize].node = Some(dir_node(layer));
        }
    }

    /// Makes every parent of `path` a directory (replacing what is in the way, as overlayfs
    /// does); returns the slot of its direct parent.
    fn ensure_parents(&mut self, path: &Arc<str>, layer: usize) -> u32 {
        let mut id = ROOT;
        let mut start = 0;
        while let Some(pos) = path[start..].find('/') {
            let end = start + pos;
            let parent_path: Arc<str> = match self.tree.child(id, &path[start..end]) {
                Some(c) => self.tree.slots[c as usize].path.clone(),
                None => Arc::from(&path[..end]),
            };
            let c = self.tree.child_or_insert(id, &parent_path, start);
            match self.tree.node(c).map(|n| matches!(n.kind, NodeKind::Dir)) {
                Some(true) => {}
                Some(false) => {
                    // A non-directory in the way is replaced by a directory (overlay semantics).
                    let mut deleted = 0;
                    self.remove_subtree(c, layer, &mut deleted);
                    self.tree.slots[c as usize].node = Some(dir_node(layer));
                }
                None => {
                    self.tree.changed();
                    self.tree.slots[c as usize].node = Some(dir_node(layer));
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
        self.tree.changed();
        self.tree.reserve(delta.entries.len());
        let mut ch = LayerChanges::default();
        let mut capped = crate::diag::Capped::default();
        let lower_exists: Vec<bool> = delta.entries.iter().map(|e| self.tree.find_live(&e.path).is_some()).collect();
        for e in &delta.entries {
            match e.kind {
                EntryKind::Whiteout => match self.tree.find_live(&e.path) {
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
                EntryKind::Opaque => {
                    if let Some(dir) = self.tree.find_live(&e.path) {
                        if dir == ROOT {
                            self.remove_subtree(ROOT, layer, &mut ch.deleted);
                        } else {
                            let mut c = self.tree.slots[dir as usize].first_child;
                            while c != NONE {
                                if self.tree.slots[c as usize].node.is_some() {
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
        // AUFS hardlink targets (.wh..wh.plnk/…) are never visible.
        let mut hidden: HashMap<&str, Arc<FileData>> = HashMap::new();
        let mut seen: std::collections::HashSet<&str, foldhash::quality::RandomState> =
            std::collections::HashSet::with_capacity_and_hasher(delta.entries.len(), Default::default());
        // Entries of one directory come together in a tar: its parents are made once while
        // nothing is removed in between.
        let mut parents_ok: (Option<&str>, u64, u32) = (None, 0, NONE);
        for (e, existed) in delta.entries.iter().zip(lower_exists) {
            if !matches!(e.kind, EntryKind::Whiteout | EntryKind::Opaque) && !seen.insert(&*e.path) {
                capped.push(
                    &mut self.diagnostics,
                    Diagnostic::warning(
                        Some(&delta.digest),
                        Some(&format!("/{}", e.path)),
                        "the layer has this path more than once; the last entry wins",
                    ),
                );
            }
            let kind = match &e.kind {
                EntryKind::Whiteout | EntryKind::Opaque => continue,
                EntryKind::File(f) if e.path.starts_with(".wh..wh.plnk/") => {
                    hidden.insert(&e.path, f.clone());
                    continue;
                }
                EntryKind::File(f) => NodeKind::File(f.clone()),
                EntryKind::Dir => NodeKind::Dir,
                EntryKind::Symlink(t) => NodeKind::Symlink(t.clone()),
                EntryKind::Other(t) => NodeKind::Other(*t),
                EntryKind::Hardlink(target) => {
                    let shared = hidden.get(&**target).cloned().or_else(|| match self.get(target) {
                        Some(Node { kind: NodeKind::File(f), .. }) => Some(f.clone()),
                        _ => None,
                    });
                    match shared {
                        Some(f) => NodeKind::File(f),
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
            let is_dir = matches!(kind, NodeKind::Dir);
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
                    let p = self.ensure_parents(&e.path, layer);
                    parents_ok = (parent_path, self.removals, p);
                    p
                };
                self.tree.child_or_insert(parent, &e.path, split.map_or(0, |i| i + 1))
            };
            match &mut self.tree.slots[id as usize].node {
                Some(existing) if is_dir && matches!(existing.kind, NodeKind::Dir) => {
                    existing.mode = e.mode;
                    existing.uid = e.uid;
                    existing.gid = e.gid;
                    existing.layer = layer;
                    continue;
                }
                Some(existing) if matches!(existing.kind, NodeKind::Dir) => {
                    let mut deleted = 0;
                    self.remove_subtree(id, layer, &mut deleted);
                    ch.deleted += deleted;
                }
                _ => {}
            }
            let slot = &mut self.tree.slots[id as usize];
            if let NodeKind::File(f) = &kind {
                // A hardlink carries no content in its layer: 0 bytes written (docs/report.md §3.8).
                let size = if matches!(e.kind, EntryKind::Hardlink(_)) { 0 } else { f.size };
                slot.events.push((layer, Event::Written { size, hash: f.hash }));
            }
            if !is_dir {
                if existed {
                    ch.changed += 1;
                } else {
                    ch.added += 1;
                }
            }
            slot.node = Some(Node { kind, mode: e.mode, uid: e.uid, gid: e.gid, layer });
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
    pub fn resolve(&self, path: &str, max_hops: u64) -> Result<(String, &Node), ResolveError> {
        self.resolve_traced(path, max_hops, &mut Vec::new())
    }

    /// Like [`MergedFs::resolve`], also pushing onto `links` the path of every symlink followed
    /// on the way (in the order followed; a directory link and a file link alike).
    pub fn resolve_traced(
        &self,
        path: &str,
        max_hops: u64,
        links: &mut Vec<String>,
    ) -> Result<(String, &Node), ResolveError> {
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
            let node = self.tree.node(id).ok_or(ResolveError::NotFound)?;
            current.push(id);
            if let NodeKind::Symlink(target) = &node.kind {
                hops += 1;
                if hops > max_hops {
                    return Err(ResolveError::TooManyHops(max_hops));
                }
                links.push(self.tree.slots[id as usize].path.to_string());
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
        let node = self.tree.node(id).ok_or(ResolveError::NotFound)?;
        Ok((self.tree.slots[id as usize].path.to_string(), node))
    }

    /// Regular files of the view with their content, in path order.
    pub fn files(&self) -> impl Iterator<Item = (&str, &Arc<FileData>, &Node)> {
        self.iter().filter_map(|(p, n)| match &n.kind {
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
mod tests {
    use super::*;
    use crate::layer::Entry;

    fn file(path: &str, size: u64) -> Entry {
        Entry {
            path: path.into(),
            kind: EntryKind::File(Arc::new(FileData { size, hash: size, ..Default::default() })),
            mode: 0o644,
            uid: 0,
            gid: 0,
        }
    }
    fn entry(path: &str, kind: EntryKind) -> Entry {
        Entry { path: path.into(), kind, mode: 0o755, uid: 0, gid: 0 }
    }
    fn layer(entries: Vec<Entry>) -> LayerDelta {
        LayerDelta { digest: "sha256:test".into(), entries, complete: true, ..Default::default() }
    }
    fn size_of(fs: &MergedFs, p: &str) -> Option<u64> {
        match &fs.get(p)?.kind {
            NodeKind::File(f) => Some(f.size),
            _ => None,
        }
    }

    #[test]
    fn whiteout_and_opaque() {
        let l1 = layer(vec![
            entry("etc", EntryKind::Dir),
            file("etc/a", 1),
            file("etc/b", 2),
            file("d/old/x", 3),
            file("d/old/sub/y", 4),
        ]);
        // The opaque marker comes after a new file in the same layer: the new file survives.
        let l2 =
            layer(vec![entry("etc/a", EntryKind::Whiteout), file("d/old/z", 5), entry("d/old", EntryKind::Opaque)]);
        let fs = MergedFs::build([&l1, &l2]);
        assert!(fs.get("etc/a").is_none());
        assert_eq!(size_of(&fs, "etc/b"), Some(2));
        assert!(fs.get("d/old/x").is_none());
        assert!(fs.get("d/old/sub/y").is_none());
        assert!(fs.get("d/old/sub").is_none());
        assert_eq!(size_of(&fs, "d/old/z"), Some(5));
        assert_eq!(fs.changes[1], LayerChanges { added: 1, changed: 0, deleted: 3 });
        assert_eq!(
            fs.events("etc/a").unwrap(),
            [(0, Event::Written { size: 1, hash: 1 }), (1, Event::Deleted { size: 1 })]
        );
    }

    #[test]
    fn whiteout_in_same_layer_does_not_hit_that_layer() {
        let l1 = layer(vec![file("foo", 1)]);
        let l2 = layer(vec![
            file("bar", 2),
            entry("bar", EntryKind::Whiteout),
            entry("foo", EntryKind::Whiteout),
            file("foo", 3),
        ]);
        let fs = MergedFs::build([&l1, &l2]);
        assert_eq!(size_of(&fs, "foo"), Some(3));
        assert_eq!(size_of(&fs, "bar"), Some(2));
    }

    #[test]
    fn hardlink_keeps_content_after_target_is_replaced() {
        let l1 = layer(vec![file("opt/keep", 7)]);
        let l2 = layer(vec![entry("opt/link", EntryKind::Hardlink("opt/keep".into()))]);
        let l3 = layer(vec![file("opt/keep", 9)]);
        let l4 = layer(vec![entry("opt/nothing", EntryKind::Hardlink("opt/missing".into()))]);
        let fs = MergedFs::build([&l1, &l2, &l3, &l4]);
        assert_eq!(size_of(&fs, "opt/link"), Some(7));
        assert_eq!(size_of(&fs, "opt/keep"), Some(9));
        assert!(fs.get("opt/nothing").is_none());
        assert_eq!(fs.diagnostics.len(), 1);
    }

    #[test]
    fn file_replaces_directory_and_back() {
        let l1 = layer(vec![file("a/b/c", 1), file("a/b/d", 1)]);
        let l2 = layer(vec![file("a/b", 5)]);
        let fs = MergedFs::build([&l1, &l2]);
        assert_eq!(size_of(&fs, "a/b"), Some(5));
        assert!(fs.get("a/b/c").is_none());
        let l3 = layer(vec![file("a/b/e", 2)]);
        let fs = MergedFs::build([&l1, &l2, &l3]);
        assert!(matches!(fs.get("a/b").unwrap().kind, NodeKind::Dir));
    }

    #[test]
    fn symlinks_resolve_inside_root() {
        let l1 = layer(vec![
            entry("usr/lib", EntryKind::Dir),
            file("usr/lib/libc.so.6", 10),
            entry("lib", EntryKind::Symlink("usr/lib".into())),
            entry("lib64", EntryKind::Symlink("/lib".into())),
            entry("evil", EntryKind::Symlink("../../../..".into())),
            entry("loop1", EntryKind::Symlink("loop2".into())),
            entry("loop2", EntryKind::Symlink("/loop1".into())),
            entry("dotdot", EntryKind::Symlink("../../usr/lib/libc.so.6".into())),
        ]);
        let fs = MergedFs::build([&l1]);
        assert_eq!(fs.resolve("/lib64/libc.so.6", 40).unwrap().0, "usr/lib/libc.so.6");
        assert_eq!(fs.resolve("/evil/usr/lib/libc.so.6", 40).unwrap().0, "usr/lib/libc.so.6");
        assert_eq!(fs.resolve("dotdot", 40).unwrap().0, "usr/lib/libc.so.6");
        assert_eq!(fs.resolve("/loop1", 40).unwrap_err(), ResolveError::TooManyHops(40));
        assert_eq!(fs.resolve("/nope", 40).unwrap_err(), ResolveError::NotFound);
    }

    #[test]
    fn paths_come_in_byte_order_as_a_sorted_map_would_give() {
        // `-` (0x2d) and `.` (0x2e) sort below `/` (0x2f): `a-b` and `a.c` come between `a`
        // and `a/x`; `a0` after the whole of `a/`.
        let names = ["a/x", "a-b", "a.c/d", "a0", "a/x/y", "a/-", "a/x-", "b", "a/x/y/z", "a!", "a/0"];
        let l1 = layer(names.iter().map(|n| file(n, 1)).collect());
        // Delete some, recreate one below a deleted file's path, add more: removed slots stay in
        // the tree and must not show.
        let l2 = layer(vec![
            entry("a.c", EntryKind::Whiteout),
            entry("a/x", EntryKind::Opaque),
            file("a0/n", 2),
            file("a.c", 3),
            entry("z", EntryKind::Symlink("a".into())),
        ]);
        let fs = MergedFs::build([&l1, &l2]);
        let got: Vec<&str> = fs.iter().map(|(p, _)| p).collect();
        let mut want = got.clone();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(got.first(), Some(&""));
        for gone in ["a.c/d", "a/x/y", "a/x/y/z"] {
            assert!(fs.get(gone).is_none(), "{gone}");
        }
        assert!(got.contains(&"a0/n") && got.contains(&"a.c") && got.contains(&"a/x") && got.contains(&"a-b"));
        for dir in ["a", "a/x", "a0", ""] {
            let below: Vec<&str> = fs.descendants(dir).map(|(p, _)| p).collect();
            let prefix = format!("{dir}/");
            let want: Vec<&str> = got.iter().copied().filter(|p| dir.is_empty() || p.starts_with(&prefix)).collect();
            assert_eq!(below, want, "descendants of {dir:?}");
        }
        assert_eq!(fs.resolve("z/x", 8).map(|(p, _)| p), Ok("a/x".to_string()));
        assert_eq!(fs.events("a.c/d").map(|e| e.len()), Some(2), "written, then deleted");
    }
}
