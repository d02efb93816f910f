//! The file trees `explore` shows, computed once when the image opens: the merged view, each
//! layer's changes, and the paths with reclaimable bytes. Nodes have u32 ids, children in path
//! order and directory sizes aggregated, so moving around reads nothing and sums nothing.

use std::collections::HashSet;
use std::sync::Arc;

use hashbrown::HashTable;

use crate::fs::{Event, FileRef, MergedFs, NodeKind, PathAt};
use crate::layer::{Contents, Kind as EntryKind, LayerDelta};

/// No node.
pub const NONE: u32 = u32::MAX;
/// The root directory.
pub const ROOT: u32 = 0;

/// What a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
    Other,
}

/// What the layer (or the image, for the merged view) did to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing of its own (a directory holding changes, the root).
    None,
    /// Written by one layer only (merged view), or new in this layer.
    Added,
    /// Written by more than one layer (merged view), or there before this layer.
    Modified,
    /// Deleted (a whiteout, an opaque directory's contents, or gone from the merged view).
    Removed,
}

impl Change {
    /// The one-character marker drawn before a name (colour is not the only cue).
    pub fn marker(self) -> char {
        match self {
            Change::None => ' ',
            Change::Added => '+',
            Change::Modified => '~',
            Change::Removed => '-',
        }
    }
}

/// One path of a tree: 48 bytes, the path itself being where its bytes are in the image's
/// layers (no copy of it).
#[derive(Debug)]
pub struct Node {
    /// Where the full path is (no leading `/`, `""` for the root): [`FileTree::path_of`].
    at: PathAt,
    /// The file's content facts (regular files).
    pub data: FileRef,
    /// A file's size, or the sum of the files below a directory.
    pub size: u64,
    pub parent: u32,
    pub first_child: u32,
    pub next_sibling: u32,
    pub kind: Kind,
    pub change: Change,
    /// An ELF file (its facts were read).
    pub elf: bool,
}

/// The last component of a path.
fn last(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

/// A tree of paths, the root first.
#[derive(Debug)]
pub struct FileTree {
    pub nodes: Vec<Node>,
    /// The layers' contents the nodes' paths point into (the view's, shared).
    planes: Vec<Arc<Contents>>,
}

/// Builds a tree from paths given in any order, making the missing parent directories.
struct Builder {
    nodes: Vec<Node>,
    planes: Vec<Arc<Contents>>,
    /// Directories by path (files need no finding again: they have no children).
    ids: HashTable<u32>,
    hasher: foldhash::quality::RandomState,
    /// The last parent found: entries of one directory come together.
    last_parent: u32,
    /// Last child of each node, to append in order.
    last_child: Vec<u32>,
}

impl Builder {
    fn new(planes: &[Arc<Contents>]) -> Self {
        let root = Node {
            at: PathAt::default(),
            data: FileRef::NONE,
            size: 0,
            parent: NONE,
            first_child: NONE,
            next_sibling: NONE,
            kind: Kind::Dir,
            change: Change::None,
            elf: false,
        };
        let mut b = Builder {
            nodes: vec![root],
            planes: planes.to_vec(),
            ids: HashTable::new(),
            hasher: Default::default(),
            last_child: vec![NONE],
            last_parent: ROOT,
        };
        let h = b.hash("");
        b.ids.insert_unique(h, ROOT, |_| h);
        b
    }

    /// The contents `at` points into (empty when there are none).
    fn plane(&self, at: PathAt) -> Arc<Contents> {
        self.planes.get(at.plane as usize).cloned().unwrap_or_default()
    }

    fn hash(&self, path: &str) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(path)
    }

    /// The directory node of `path`, if made.
    fn dir(&self, path: &str) -> Option<u32> {
        let h = self.hash(path);
        self.ids.find(h, |&id| self.nodes[id as usize].at.resolve(&self.planes) == path).copied()
    }

    /// The node of the path at `at`: a directory's is found again by its path, anything else
    /// is a node of its own (only directories have children). Missing parents are made as
    /// directories.
    fn node(&mut self, at: PathAt, dir: bool) -> u32 {
        // The path's layer, held apart from `self` while nodes are added.
        let plane = self.plane(at);
        let path = at.resolve_in(&plane);
        if dir {
            if let Some(id) = self.dir(path) {
                return id;
            }
        }
        let parent = match path.rfind('/') {
            Some(i) if self.nodes[self.last_parent as usize].at.resolve(&self.planes) == &path[..i] => self.last_parent,
            Some(i) => {
                let p = self.parent(at.prefix(i));
                self.last_parent = p;
                p
            }
            None => ROOT,
        };
        self.push(at, parent, dir)
    }

    /// The directory at `at`, made with its missing parents.
    fn parent(&mut self, at: PathAt) -> u32 {
        let plane = self.plane(at);
        let path = at.resolve_in(&plane);
        if let Some(id) = self.dir(path) {
            return id;
        }
        // The missing ancestors, deepest first, up to the first one known.
        let mut missing: Vec<PathAt> = vec![at];
        let mut parent = ROOT;
        let mut end = path.len();
        while let Some(i) = path[..end].rfind('/') {
            if let Some(id) = self.dir(&path[..i]) {
                parent = id;
                break;
            }
            missing.push(at.prefix(i));
            end = i;
        }
        while let Some(p) = missing.pop() {
            parent = self.push(p, parent, true);
        }
        parent
    }

    /// Appends a node below `parent` (a directory, until its caller says otherwise).
    fn push(&mut self, at: PathAt, parent: u32, dir: bool) -> u32 {
        let id = u32::try_from(self.nodes.len()).unwrap_or(NONE - 1);
        self.nodes.push(Node {
            at,
            data: FileRef::NONE,
            size: 0,
            parent,
            first_child: NONE,
            next_sibling: NONE,
            kind: Kind::Dir,
            change: Change::None,
            elf: false,
        });
        self.last_child.push(NONE);
        let p = parent as usize;
        match self.last_child[p] {
            NONE => self.nodes[p].first_child = id,
            prev => self.nodes[prev as usize].next_sibling = id,
        }
        self.last_child[p] = id;
        if dir {
            let h = self.hash(at.resolve(&self.planes));
            let (nodes, planes, hasher) = (&self.nodes, &self.planes, &self.hasher);
            self.ids.insert_unique(h, id, |&i| {
                use std::hash::BuildHasher;
                hasher.hash_one(nodes[i as usize].at.resolve(planes))
            });
        }
        id
    }

    /// Sorts each directory's children by name and adds the file sizes up into directories.
    fn finish(mut self) -> FileTree {
        let n = self.nodes.len();
        // Children sorted by name, directories and files together, as `ls` does.
        let mut kids: Vec<u32> = Vec::new();
        for id in 0..n {
            kids.clear();
            let mut c = self.nodes[id].first_child;
            while c != NONE {
                kids.push(c);
                c = self.nodes[c as usize].next_sibling;
            }
            if kids.len() < 2 {
                continue;
            }
            let (nodes, planes) = (&self.nodes, &self.planes);
            let name = |id: &u32| last(nodes[*id as usize].at.resolve(planes));
            kids.sort_by(|a, b| name(a).cmp(name(b)));
            self.nodes[id].first_child = kids[0];
            for w in kids.windows(2) {
                self.nodes[w[0] as usize].next_sibling = w[1];
            }
            if let Some(&last) = kids.last() {
                self.nodes[last as usize].next_sibling = NONE;
            }
        }
        // Parents are made before their children: sum from the last node back.
        for id in (1..n).rev() {
            let (parent, size, counted) = {
                let node = &self.nodes[id];
                (node.parent, node.size, node.change != Change::Removed || node.kind == Kind::Dir)
            };
            if counted && parent != NONE {
                let p = &mut self.nodes[parent as usize];
                p.size = p.size.saturating_add(size);
            }
        }
        FileTree { nodes: self.nodes, planes: self.planes }
    }
}

fn kind_of<'a>(k: &NodeKind<'a>) -> (Kind, Option<crate::fs::File<'a>>) {
    match *k {
        NodeKind::Dir => (Kind::Dir, None),
        NodeKind::File(f) => (Kind::File, Some(f)),
        NodeKind::Symlink(_) => (Kind::Symlink, None),
        NodeKind::Other(_) => (Kind::Other, None),
    }
}

/// Bytes a path's history wastes, by dive's formula: every copy written less the smallest
/// (0 when the path ends deleted, so every copy counts).
pub fn reclaimable(events: &[(usize, Event)]) -> u64 {
    let (mut all, mut min) = (0u64, u64::MAX);
    for (_, e) in events {
        match *e {
            Event::Written { size, .. } => {
                all = all.saturating_add(size);
                min = min.min(size);
            }
            Event::Deleted { .. } => min = 0,
        }
    }
    all.saturating_sub(if min == u64::MAX { 0 } else { min })
}

fn writes(events: &[(usize, Event)]) -> usize {
    events.iter().filter(|(_, e)| matches!(e, Event::Written { .. })).count()
}

impl FileTree {
    /// The merged view: every path a container sees; a file written by more than one layer is
    /// modified, else added.
    pub fn merged(fs: &MergedFs) -> FileTree {
        let mut b = Builder::new(fs.planes());
        for (at, path, node, events) in fs.iter_history() {
            if path.is_empty() {
                continue;
            }
            let (kind, data) = kind_of(&node.kind);
            let id = b.node(at, kind == Kind::Dir) as usize;
            let n = &mut b.nodes[id];
            n.kind = kind;
            n.elf = data.as_ref().is_some_and(|d| d.elf().is_some());
            n.size = data.as_ref().map_or(0, |d| d.size);
            n.data = data.map_or(FileRef::NONE, |d| d.id);
            if kind != Kind::Dir {
                let rewritten = writes(&events) > 1;
                n.change = if rewritten { Change::Modified } else { Change::Added };
            }
        }
        b.finish()
    }

    /// The paths with reclaimable bytes (sized by those bytes): deleted ones as removed, the
    /// ones still there as modified.
    pub fn waste(fs: &MergedFs) -> FileTree {
        let mut b = Builder::new(fs.planes());
        for (at, path, events) in fs.history_at() {
            let bytes = reclaimable(&events);
            if bytes == 0 {
                continue;
            }
            let id = b.node(at, false) as usize;
            let live = fs.get(path);
            let n = &mut b.nodes[id];
            n.kind = Kind::File;
            n.size = bytes;
            match live.map(|x| x.kind) {
                Some(NodeKind::File(f)) => {
                    n.elf = f.elf().is_some();
                    n.data = f.id;
                    n.change = Change::Modified;
                }
                // Deleted: counted all the same, the bytes are in the image.
                _ => n.change = Change::Removed,
            }
        }
        let mut t = b.finish();
        // Removed files count here: their bytes are the waste.
        t.resum(true);
        t
    }

    /// A tree with the root alone (a layer that could not be read).
    pub fn empty() -> FileTree {
        Builder::new(&[]).finish()
    }

    /// What layer `index` changed: its entries as added, or modified when an earlier layer
    /// wrote a file at the path (the path's history), and its whiteouts as removed (with the
    /// bytes the deleted file had). An opaque directory is marked removed: what lower layers
    /// had below it is gone.
    pub fn layer(index: usize, delta: &LayerDelta, fs: &MergedFs) -> FileTree {
        // The layer's paths, at its index among the view's layers (as the view's own are).
        let mut planes: Vec<Arc<Contents>> = vec![Arc::default(); index];
        planes.push(delta.contents.clone());
        let mut b = Builder::new(&planes);
        for e in delta.entries() {
            if e.path.is_empty() || e.path.starts_with(".wh..wh.plnk/") {
                continue;
            }
            let dir = matches!(e.kind, EntryKind::Dir | EntryKind::Opaque);
            let at = PathAt { plane: index as u32, start: e.at, len: u16::try_from(e.path.len()).unwrap_or(u16::MAX) };
            let id = b.node(at, dir) as usize;
            let n = &mut b.nodes[id];
            match e.kind {
                EntryKind::Whiteout => {
                    n.change = Change::Removed;
                    // What the deleted file carried, from its history.
                    let gone = fs.events(e.path).and_then(|ev| {
                        ev.iter().find_map(|(l, x)| match x {
                            Event::Deleted { size } if *l == index => Some(*size),
                            _ => None,
                        })
                    });
                    n.kind = if gone.is_some() { Kind::File } else { Kind::Other };
                    n.size = gone.unwrap_or(0);
                }
                EntryKind::Opaque => {
                    // The directory stays; what lower layers had below it is gone.
                    n.change = Change::Removed;
                    n.kind = Kind::Dir;
                }
                k => {
                    let (kind, data) = match k {
                        EntryKind::File(i, f) => (Kind::File, Some((FileRef { layer: index as u32, index: i }, f))),
                        EntryKind::Hardlink(_) => (Kind::File, None),
                        EntryKind::Dir => (Kind::Dir, None),
                        EntryKind::Symlink(_) => (Kind::Symlink, None),
                        _ => (Kind::Other, None),
                    };
                    n.kind = kind;
                    n.elf = data.is_some_and(|(_, d)| d.elf().is_some());
                    n.size = data.map_or(0, |(_, d)| d.size);
                    n.data = data.map_or(FileRef::NONE, |(r, _)| r);
                    if kind != Kind::Dir {
                        // Nothing is below the first layer: no lookup there.
                        let before =
                            index > 0 && fs.events(e.path).is_some_and(|ev| ev.iter().any(|(l, _)| *l < index));
                        n.change = if before { Change::Modified } else { Change::Added };
                    }
                }
            }
        }
        b.finish()
    }

    /// Recomputes directory sizes, counting removed files when `removed` is true.
    fn resum(&mut self, removed: bool) {
        for n in self.nodes.iter_mut().filter(|n| n.kind == Kind::Dir) {
            n.size = 0;
        }
        for id in (1..self.nodes.len()).rev() {
            let (parent, size, counted) = {
                let n = &self.nodes[id];
                (n.parent, n.size, removed || n.change != Change::Removed || n.kind == Kind::Dir)
            };
            if counted && parent != NONE {
                let p = &mut self.nodes[parent as usize];
                p.size = p.size.saturating_add(size);
            }
        }
    }

    /// The full path of `n` (no leading `/`, `""` for the root).
    pub fn path_of(&self, n: &Node) -> &str {
        n.at.resolve(&self.planes)
    }

    /// The full path of node `id`.
    pub fn path(&self, id: u32) -> &str {
        self.nodes.get(id as usize).map_or("", |n| self.path_of(n))
    }

    /// The last component of `n`'s path.
    pub fn name_of(&self, n: &Node) -> &str {
        last(self.path_of(n))
    }

    /// The node at `path` (no leading `/`), walking down from the root.
    pub fn find(&self, path: &str) -> Option<u32> {
        let mut id = ROOT;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            id = self.children(id).find(|&c| last(self.path(c)) == part)?;
        }
        Some(id)
    }

    /// The children of a node, in name order.
    pub fn children(&self, id: u32) -> impl Iterator<Item = u32> + '_ {
        let first = self.nodes.get(id as usize).map_or(NONE, |n| n.first_child);
        std::iter::successors((first != NONE).then_some(first), move |&c| {
            let next = self.nodes[c as usize].next_sibling;
            (next != NONE).then_some(next)
        })
    }

    pub fn has_children(&self, id: u32) -> bool {
        self.nodes.get(id as usize).is_some_and(|n| n.first_child != NONE)
    }
}

/// One line of the tree as shown: a node and its depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub id: u32,
    pub depth: u16,
}

/// The rows shown: the children of expanded directories, depth first; with a filter, only the
/// paths containing it and their parents (all open).
fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// With `waste`, only the files whose history in that view wastes bytes (and their parents).
pub fn rows(tree: &FileTree, expanded: &HashSet<u32>, filter: &str, waste: Option<&MergedFs>) -> Vec<Row> {
    let mut out = Vec::new();
    if filter.is_empty() && waste.is_none() {
        let mut stack: Vec<(u32, u16)> = tree.children(ROOT).map(|c| (c, 0)).collect();
        stack.reverse();
        while let Some((id, depth)) = stack.pop() {
            out.push(Row { id, depth });
            if expanded.contains(&id) {
                let mut kids: Vec<(u32, u16)> = tree.children(id).map(|c| (c, depth.saturating_add(1))).collect();
                kids.reverse();
                stack.extend(kids);
            }
        }
        return out;
    }
    let needle = filter.as_bytes();
    // A node shows when its path matches or one below it does.
    let mut shown = vec![false; tree.nodes.len()];
    for id in (1..tree.nodes.len()).rev() {
        let n = &tree.nodes[id];
        let path = tree.path_of(n);
        let hit = || {
            contains_ignore_case(path.as_bytes(), needle)
                && waste.is_none_or(|fs| n.kind != Kind::Dir && fs.events(path).is_some_and(|e| reclaimable(&e) > 0))
        };
        if shown[id] || hit() {
            shown[id] = true;
            if n.parent != NONE {
                shown[n.parent as usize] = true;
            }
        }
    }
    let mut stack: Vec<(u32, u16)> = tree.children(ROOT).filter(|c| shown[*c as usize]).map(|c| (c, 0)).collect();
    stack.reverse();
    while let Some((id, depth)) = stack.pop() {
        out.push(Row { id, depth });
        let mut kids: Vec<(u32, u16)> =
            tree.children(id).filter(|c| shown[*c as usize]).map(|c| (c, depth.saturating_add(1))).collect();
        kids.reverse();
        stack.extend(kids);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{Entry, EntryKind, FileData};

    fn entry(path: &str, kind: EntryKind) -> Entry {
        Entry { path: path.into(), kind, mode: 0o644, uid: 0, gid: 0 }
    }
    fn file(path: &str, size: u64) -> Entry {
        entry(path, EntryKind::File(FileData { size, hash: size, ..Default::default() }))
    }
    fn layer(entries: Vec<Entry>) -> LayerDelta {
        LayerDelta::from_entries("sha256:test", entries)
    }
    fn names(t: &FileTree, id: u32) -> Vec<&str> {
        t.children(id).map(|c| last(t.path(c))).collect()
    }

    #[test]
    fn explore_node_stays_small() {
        // Two trees of these per file: every byte counts (README, Performance).
        assert_eq!(std::mem::size_of::<Node>(), 48);
    }

    #[test]
    fn explore_layer_tree_from_entries_in_any_order_without_their_directories() {
        let l0 = layer(vec![file("usr/lib/b", 10), file("etc/x", 1), file("usr/lib/a", 5)]);
        let l1 = layer(vec![
            file("usr/lib/a", 7),
            entry("etc/x", EntryKind::Whiteout),
            file("usr/z/deep/new", 3),
            entry("usr", EntryKind::Dir),
        ]);
        let fs = MergedFs::build([&l0, &l1]);
        let t = FileTree::layer(1, &l1, &fs);
        assert_eq!(names(&t, ROOT), ["etc", "usr"]);
        let usr = t.find("usr").expect("usr");
        assert_eq!(names(&t, usr), ["lib", "z"], "children in name order, one node per directory");
        let a = &t.nodes[t.find("usr/lib/a").expect("a") as usize];
        assert_eq!((a.change, a.size), (Change::Modified, 7));
        let new = &t.nodes[t.find("usr/z/deep/new").expect("new") as usize];
        assert_eq!(new.change, Change::Added);
        let x = &t.nodes[t.find("etc/x").expect("x") as usize];
        assert_eq!((x.change, x.size), (Change::Removed, 1), "a whiteout, with what the file had");
        // Directory sizes: what this layer wrote below them; the removed file is not counted.
        assert_eq!(t.nodes[usr as usize].size, 10);
        assert_eq!(t.nodes[t.find("etc").expect("etc") as usize].size, 0);
        assert_eq!(t.nodes[ROOT as usize].size, 10);
        // The merged view: a rewritten file is modified, the deleted one is gone.
        let m = FileTree::merged(&fs);
        assert_eq!(m.nodes[m.find("usr/lib/a").expect("a") as usize].change, Change::Modified);
        assert_eq!(m.nodes[m.find("usr/lib/b").expect("b") as usize].change, Change::Added);
        assert!(m.find("etc/x").is_none());
        assert_eq!(m.nodes[ROOT as usize].size, 7 + 10 + 3);
        // Waste: /usr/lib/a's first copy (5) and /etc/x, deleted (1).
        let w = FileTree::waste(&fs);
        assert_eq!(w.nodes[ROOT as usize].size, 5 + 7 - 5 + 1);
        assert_eq!(w.nodes[w.find("etc/x").expect("x") as usize].change, Change::Removed);
    }

    #[test]
    fn explore_rows_follow_expansion_and_filter() {
        let l0 = layer(vec![file("a/one", 1), file("a/two", 2), file("b/three", 3)]);
        let fs = MergedFs::build([&l0]);
        let t = FileTree::merged(&fs);
        let path = |r: &Row| t.path(r.id).to_string();
        let closed = rows(&t, &HashSet::new(), "", None);
        assert_eq!(closed.iter().map(path).collect::<Vec<_>>(), ["a", "b"]);
        let open: HashSet<u32> = [t.find("a").expect("a")].into();
        let rs = rows(&t, &open, "", None);
        assert_eq!(rs.iter().map(path).collect::<Vec<_>>(), ["a", "a/one", "a/two", "b"]);
        assert_eq!(rs[1].depth, 1);
        let rs = rows(&t, &HashSet::new(), "THREE", None);
        assert_eq!(rs.iter().map(path).collect::<Vec<_>>(), ["b", "b/three"]);
    }
}
