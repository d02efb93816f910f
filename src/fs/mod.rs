//! The merged filesystem a container sees: layers applied in order with OCI whiteout and opaque
//! semantics, hardlinks sharing content, per-path layer history, and symlink resolution
//! confined to the image root with a hop limit.

pub mod linker;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use smallvec::SmallVec;

use crate::diag::Diagnostic;
use crate::layer::{EntryKind, FileData, LayerDelta};

/// A node of the merged view.
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Index of the layer that last wrote this path.
    pub layer: usize,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Dir,
    File(Arc<FileData>),
    Symlink(String),
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

/// Per-layer counts of what the layer did to the view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerChanges {
    pub added: u64,
    pub changed: u64,
    pub deleted: u64,
}

/// What happened to one path, in layer order: (layer index, event). One event inline (most
/// paths are written once), more on the heap.
pub type Events = SmallVec<[(usize, Event); 1]>;

/// Per path, its [`Events`]. Keys share their allocation with the view's and the layer's paths.
pub type History = HashMap<Arc<str>, Events, foldhash::quality::RandomState>;

/// The merged view of one platform's layers. A path's bytes are allocated once, in the layer
/// entry that wrote it, and shared (`Arc<str>`) by the view and the history.
#[derive(Debug, Default)]
pub struct MergedFs {
    nodes: BTreeMap<Arc<str>, Node>,
    /// Per path: (layer index, event), in layer order.
    pub history: History,
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

fn descendants_range(dir: &str) -> (String, String) {
    // All paths starting with "dir/": from "dir/" up to "dir0" ('0' follows '/').
    if dir.is_empty() {
        (String::new(), "\u{10FFFF}".to_string())
    } else {
        (format!("{dir}/"), format!("{dir}0"))
    }
}

impl MergedFs {
    pub fn new() -> Self {
        let mut fs = MergedFs::default();
        fs.nodes.insert(Arc::from(""), Node { kind: NodeKind::Dir, mode: 0o755, uid: 0, gid: 0, layer: 0 });
        fs
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
        self.nodes.get(path)
    }

    /// Every node, in path order (the root is `""`).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.nodes.iter().map(|(k, n)| (&**k, n))
    }

    /// Direct and indirect children of a directory, in path order.
    pub fn descendants<'a>(&'a self, dir: &str) -> impl Iterator<Item = (&'a str, &'a Node)> + 'a {
        let (lo, hi) = descendants_range(dir);
        self.nodes
            .range::<str, _>((std::ops::Bound::Included(lo.as_str()), std::ops::Bound::Excluded(hi.as_str())))
            .map(|(k, n)| (&**k, n))
    }

    fn remove_subtree(&mut self, path: &str, layer: usize, deleted: &mut u64) {
        self.removals += 1;
        let (lo, hi) = descendants_range(path);
        let mut doomed: Vec<Arc<str>> = self
            .nodes
            .range::<str, _>((std::ops::Bound::Included(lo.as_str()), std::ops::Bound::Excluded(hi.as_str())))
            .map(|(k, _)| k.clone())
            .collect();
        if !path.is_empty() {
            if let Some((k, _)) = self.nodes.get_key_value(path) {
                doomed.push(k.clone());
            }
        }
        for k in doomed {
            if let Some(n) = self.nodes.remove(&*k) {
                match n.kind {
                    NodeKind::Dir => {}
                    NodeKind::File(f) => {
                        *deleted += 1;
                        self.history.entry(k).or_default().push((layer, Event::Deleted { size: f.size }));
                    }
                    _ => *deleted += 1,
                }
            }
        }
        if path.is_empty() {
            self.nodes.insert(Arc::from(""), Node { kind: NodeKind::Dir, mode: 0o755, uid: 0, gid: 0, layer });
        }
    }

    fn ensure_parents(&mut self, path: &str, layer: usize) {
        let mut idx = 0;
        while let Some(pos) = path[idx..].find('/') {
            let parent = &path[..idx + pos];
            match self.nodes.get(parent).map(|n| matches!(n.kind, NodeKind::Dir)) {
                Some(true) => {}
                Some(false) => {
                    // A non-directory in the way is replaced by a directory (overlay semantics).
                    let mut deleted = 0;
                    self.remove_subtree(parent, layer, &mut deleted);
                    self.nodes
                        .insert(Arc::from(parent), Node { kind: NodeKind::Dir, mode: 0o755, uid: 0, gid: 0, layer });
                }
                None => {
                    self.nodes
                        .insert(Arc::from(parent), Node { kind: NodeKind::Dir, mode: 0o755, uid: 0, gid: 0, layer });
                }
            }
            idx += pos + 1;
        }
    }

    /// Applies one layer: its whiteouts and opaque markers first (they only affect lower
    /// layers, wherever they appear in the tar), then its entries in order.
    pub fn apply(&mut self, layer: usize, delta: &LayerDelta) {
        let mut ch = LayerChanges::default();
        let mut capped = crate::diag::Capped::default();
        let lower_exists: Vec<bool> = delta.entries.iter().map(|e| self.nodes.contains_key(&*e.path)).collect();
        for e in &delta.entries {
            match e.kind {
                EntryKind::Whiteout => {
                    if self.nodes.contains_key(&*e.path) {
                        self.remove_subtree(&e.path, layer, &mut ch.deleted);
                    } else {
                        capped.push(
                            &mut self.diagnostics,
                            Diagnostic::warning(
                                Some(&delta.digest),
                                Some(&format!("/{}", e.path)),
                                "whiteout for a path no lower layer has; no effect",
                            ),
                        );
                    }
                }
                EntryKind::Opaque => {
                    let (lo, hi) = descendants_range(&e.path);
                    let children: Vec<Arc<str>> = self
                        .nodes
                        .range::<str, _>((
                            std::ops::Bound::Included(lo.as_str()),
                            std::ops::Bound::Excluded(hi.as_str()),
                        ))
                        .map(|(k, _)| k.clone())
                        .collect();
                    for c in children {
                        if self.nodes.contains_key(&*c) {
                            self.remove_subtree(&c, layer, &mut ch.deleted);
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
        let mut parents_ok: (Option<&str>, u64) = (None, 0);
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
                    let shared =
                        hidden.get(target.as_str()).cloned().or_else(|| match self.nodes.get(target.as_str()) {
                            Some(Node { kind: NodeKind::File(f), .. }) => Some(f.clone()),
                            _ => None,
                        });
                    match shared {
                        Some(f) => NodeKind::File(f),
                        None => {
                            let why = match self.nodes.get(target.as_str()) {
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
            // Entries of one directory come together in a tar: its parents are checked once while
            // nothing is removed in between.
            let parent = e.path.rfind('/').map(|i| &e.path[..i]);
            if parent.is_some() && (parent, self.removals) != parents_ok {
                self.ensure_parents(&e.path, layer);
                parents_ok = (parent, self.removals);
            }
            match self.nodes.get_mut(&*e.path) {
                Some(existing) if is_dir && matches!(existing.kind, NodeKind::Dir) => {
                    existing.mode = e.mode;
                    existing.uid = e.uid;
                    existing.gid = e.gid;
                    existing.layer = layer;
                    continue;
                }
                Some(existing) if matches!(existing.kind, NodeKind::Dir) => {
                    let mut deleted = 0;
                    self.remove_subtree(&e.path, layer, &mut deleted);
                    ch.deleted += deleted;
                }
                _ => {}
            }
            if let NodeKind::File(f) = &kind {
                // Most paths are written once: no room for more until a second event.
                self.history
                    .entry(e.path.clone())
                    .or_default()
                    .push((layer, Event::Written { size: f.size, hash: f.hash }));
            }
            if !is_dir {
                if existed {
                    ch.changed += 1;
                } else {
                    ch.added += 1;
                }
            }
            self.nodes.insert(e.path.clone(), Node { kind, mode: e.mode, uid: e.uid, gid: e.gid, layer });
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
        let mut hops = 0u64;
        let mut pending: Vec<String> = path.split('/').rev().filter(|c| !c.is_empty()).map(str::to_string).collect();
        let mut current: Vec<String> = Vec::new();
        while let Some(comp) = pending.pop() {
            match comp.as_str() {
                "." => continue,
                ".." => {
                    current.pop();
                    continue;
                }
                _ => {}
            }
            current.push(comp);
            let joined = current.join("/");
            let node = self.nodes.get(joined.as_str()).ok_or(ResolveError::NotFound)?;
            if let NodeKind::Symlink(target) = &node.kind {
                hops += 1;
                if hops > max_hops {
                    return Err(ResolveError::TooManyHops(max_hops));
                }
                current.pop();
                if target.starts_with('/') {
                    current.clear();
                }
                for c in target.split('/').rev().filter(|c| !c.is_empty()) {
                    pending.push(c.to_string());
                }
            }
        }
        let joined = current.join("/");
        let node = self.nodes.get(joined.as_str()).ok_or(ResolveError::NotFound)?;
        Ok((joined, node))
    }

    /// Regular files of the view with their content, in path order.
    pub fn files(&self) -> impl Iterator<Item = (&str, &Arc<FileData>, &Node)> {
        self.nodes.iter().filter_map(|(p, n)| match &n.kind {
            NodeKind::File(f) => Some((&**p, f, n)),
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
            fs.history["etc/a"].as_slice(),
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
}
