//! The paths of the merged view as a tree of 40-byte slots with u32 ids: a path is found by its
//! parent's id and its last component (one hash lookup per component), a directory's subtree by
//! its children, and the whole view in path order without a string map. A slot names its path
//! by where its bytes are in a layer's arena (the layer entry that made it, or a prefix of one
//! for a parent directory), so no path is copied. A slot keeps its history when its node is
//! removed, so a path written, deleted and written again is one slot.

use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};

use hashbrown::HashTable;

use crate::layer::Contents;

/// No slot.
pub(super) const NONE: u32 = u32::MAX;
/// The root directory's slot.
pub(super) const ROOT: u32 = 0;

/// What a slot's node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
    /// Removed (a whiteout, an opaque directory, a replacement), or never made live.
    Gone,
    Dir,
    /// A regular file: its facts are file `data` of layer `layer`.
    File,
    /// A regular file made by a hardlink: its facts are those of the view's shared file `data`.
    Linked,
    /// A symlink: its target is link `data` of layer `layer`.
    Symlink,
    /// A device, FIFO or unknown type: `data` is the tar type flag.
    Other,
}

/// A node, as read from or written to a slot.
#[derive(Debug, Clone, Copy)]
pub(super) struct Packed {
    pub tag: Tag,
    /// The layer that last wrote the path.
    pub layer: u32,
    pub mode: u32,
    /// Index of the (uid, gid) pair in the view's owners.
    pub owner: u32,
    pub data: u32,
}

impl Packed {
    pub const GONE: Packed = Packed { tag: Tag::Gone, layer: 0, mode: 0, owner: 0, data: 0 };

    pub fn dir(layer: u32) -> Packed {
        Packed { tag: Tag::Dir, layer, mode: 0o755, ..Packed::GONE }
    }

    pub fn is_file(&self) -> bool {
        matches!(self.tag, Tag::File | Tag::Linked)
    }
}

/// One path of the view, live or removed: 40 bytes.
#[derive(Debug)]
pub(super) struct Slot {
    /// The path's bytes: layer `plane`'s arena from `start`, `len` bytes (no leading `/`).
    pub start: u32,
    pub len: u16,
    tag: Tag,
    pub plane: u32,
    pub parent: u32,
    pub first_child: u32,
    pub next_sibling: u32,
    layer: u32,
    mode: u32,
    owner: u32,
    data: u32,
}

impl Slot {
    pub fn node(&self) -> Packed {
        Packed { tag: self.tag, layer: self.layer, mode: self.mode, owner: self.owner, data: self.data }
    }

    pub fn set(&mut self, p: Packed) {
        (self.tag, self.layer, self.mode, self.owner, self.data) = (p.tag, p.layer, p.mode, p.owner, p.data);
    }

    pub fn live(&self) -> bool {
        self.tag != Tag::Gone
    }

    pub fn tag(&self) -> Tag {
        self.tag
    }

    /// Where the path's bytes are.
    pub fn at(&self) -> super::PathAt {
        super::PathAt { plane: self.plane, start: self.start, len: self.len }
    }
}

/// The slots, the (parent, name) index and the layers' contents the slots point into.
#[derive(Debug)]
pub(super) struct Tree {
    pub slots: Vec<Slot>,
    /// Each layer's contents, by layer index.
    pub planes: Vec<Arc<Contents>>,
    index: HashTable<u32>,
    hasher: foldhash::quality::RandomState,
    /// Live slots in path order, computed when first asked for after a change.
    order: OnceLock<Vec<u32>>,
}

/// The last component of a path.
fn last(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

/// The full path of slot `s`.
fn path_of<'a>(planes: &'a [Arc<Contents>], s: &Slot) -> &'a str {
    s.at().resolve(planes)
}

/// The index's hash of slot `i`: its parent and name, as [`Tree::child`] looks it up.
fn slot_hash(slots: &[Slot], planes: &[Arc<Contents>], hasher: &foldhash::quality::RandomState, i: u32) -> u64 {
    use std::hash::BuildHasher;
    let s = &slots[i as usize];
    hasher.hash_one((s.parent, last(path_of(planes, s))))
}

impl Tree {
    pub fn new(root: Packed) -> Self {
        let mut slot = Slot {
            start: 0,
            len: 0,
            tag: Tag::Gone,
            plane: 0,
            parent: NONE,
            first_child: NONE,
            next_sibling: NONE,
            layer: 0,
            mode: 0,
            owner: 0,
            data: 0,
        };
        slot.set(root);
        Tree {
            slots: vec![slot],
            planes: Vec::new(),
            index: HashTable::new(),
            hasher: foldhash::quality::RandomState::default(),
            order: OnceLock::new(),
        }
    }

    /// The full path of slot `id` (`""` for the root).
    pub fn path(&self, id: u32) -> &str {
        self.slots.get(id as usize).map_or("", |s| path_of(&self.planes, s))
    }

    /// Where slot `id`'s path bytes are.
    pub fn at(&self, id: u32) -> super::PathAt {
        self.slots.get(id as usize).map_or_else(Default::default, Slot::at)
    }

    /// The last component of slot `id`'s path.
    pub fn name(&self, id: u32) -> &str {
        last(self.path(id))
    }

    /// Room for `n` more slots without rehashing the index on the way.
    pub fn reserve(&mut self, n: usize) {
        self.slots.reserve(n);
        let (slots, planes, hasher) = (&self.slots, &self.planes, &self.hasher);
        self.index.reserve(n, |&i| slot_hash(slots, planes, hasher, i));
    }

    fn hash(&self, parent: u32, name: &str) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one((parent, name))
    }

    /// The slot of `name` under `parent`, live or removed.
    pub fn child(&self, parent: u32, name: &str) -> Option<u32> {
        self.lookup(self.hash(parent, name), parent, name)
    }

    /// [`Tree::child`] with the (parent, name) hash already made.
    fn lookup(&self, h: u64, parent: u32, name: &str) -> Option<u32> {
        self.index.find(h, |&id| self.slots[id as usize].parent == parent && self.name(id) == name).copied()
    }

    /// The slot of the path whose bytes are layer `plane`'s arena from `start`, `len` bytes,
    /// under `parent` (its last component is the name), made when missing.
    pub fn child_or_insert(&mut self, parent: u32, plane: u32, start: u32, len: u16) -> u32 {
        let planes = &self.planes;
        let path = planes.get(plane as usize).map_or("", |c| c.path(start, start.saturating_add(u32::from(len))));
        let name = last(path);
        let h = self.hash(parent, name);
        if let Some(id) = self.lookup(h, parent, name) {
            return id;
        }
        self.order = OnceLock::new();
        let id = self.slots.len() as u32;
        let parent_slot = &mut self.slots[parent as usize];
        let next_sibling = parent_slot.first_child;
        parent_slot.first_child = id;
        self.slots.push(Slot {
            start,
            len,
            tag: Tag::Gone,
            plane,
            parent,
            first_child: NONE,
            next_sibling,
            layer: 0,
            mode: 0,
            owner: 0,
            data: 0,
        });
        let (slots, planes, hasher) = (&self.slots, &self.planes, &self.hasher);
        self.index.insert_unique(h, id, |&i| slot_hash(slots, planes, hasher, i));
        id
    }

    /// The slot of a normalised path (`""` is the root; no empty, `.` or `..` components).
    pub fn find(&self, path: &str) -> Option<u32> {
        if path.is_empty() {
            return Some(ROOT);
        }
        let mut id = ROOT;
        for c in path.split('/') {
            if c.is_empty() || c == "." || c == ".." {
                return None;
            }
            id = self.child(id, c)?;
        }
        Some(id)
    }

    /// The slot of a normalised path when its node is live.
    pub fn find_live(&self, path: &str) -> Option<u32> {
        self.find(path).filter(|&id| self.slots[id as usize].live())
    }

    /// Something changed: the path order is computed again when asked for.
    pub fn changed(&mut self) {
        self.order = OnceLock::new();
    }

    /// Live slots in path order (byte order of the full paths, as a sorted map of them would
    /// give): the root first.
    pub fn order(&self) -> &[u32] {
        self.order.get_or_init(|| {
            let mut out = Vec::new();
            if self.slots[ROOT as usize].live() {
                out.push(ROOT);
            }
            self.subtree_in_order(ROOT, &mut out);
            out
        })
    }

    /// The live slots below `id` (not `id` itself), in path order.
    ///
    /// Sorting full paths is not a depth-first walk with sorted names: `a-b` sorts between `a`
    /// and `a/x` (`-` is below `/`). So each directory sorts its children's own paths (`name`)
    /// together with their subtrees (`name/`), and a subtree is expanded where it sorts.
    pub fn subtree_in_order(&self, id: u32, out: &mut Vec<u32>) {
        // (slot, expand): `expand` stands for the slot's subtree, placed as "name/".
        let mut stack: Vec<(u32, bool)> = vec![(id, true)];
        // (name, slot, expand): each name is found once, not at every comparison.
        let mut items: Vec<(&[u8], u32, bool)> = Vec::new();
        while let Some((id, expand)) = stack.pop() {
            if !expand {
                out.push(id);
                continue;
            }
            items.clear();
            let mut c = self.slots[id as usize].first_child;
            while c != NONE {
                let s = &self.slots[c as usize];
                if s.live() {
                    let name = self.name(c).as_bytes();
                    items.push((name, c, false));
                    if s.first_child != NONE {
                        items.push((name, c, true));
                    }
                }
                c = s.next_sibling;
            }
            items.sort_unstable_by(|a, b| key_cmp((a.0, a.2), (b.0, b.2)));
            // The stack pops the last pushed first: push in reverse path order.
            stack.extend(items.iter().rev().map(|&(_, c, expand)| (c, expand)));
        }
    }
}

/// Orders `name` against `name/` keys of two children of one directory.
fn key_cmp(a: (&[u8], bool), b: (&[u8], bool)) -> Ordering {
    fn key((name, expand): (&[u8], bool)) -> impl Iterator<Item = &u8> {
        name.iter().chain(if expand { &b"/"[..] } else { &b""[..] })
    }
    match a.0.cmp(b.0) {
        // Neither name is a prefix of the other: the first differing byte decides.
        Ordering::Less if !b.0.starts_with(a.0) => Ordering::Less,
        Ordering::Greater if !a.0.starts_with(b.0) => Ordering::Greater,
        _ => key(a).cmp(key(b)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_slot_stays_at_40_bytes() {
        // One per path of the view: README, Performance (bytes per entry).
        assert_eq!(std::mem::size_of::<super::Slot>(), 40);
    }
}
