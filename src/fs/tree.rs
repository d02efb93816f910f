//! The paths of the merged view as a tree of slots with u32 ids: a path is found by its parent's
//! id and its last component (one hash lookup per component), a directory's subtree by its
//! children, and the whole view in path order without a string map. A slot keeps its path (the
//! `Arc<str>` of the layer entry that wrote it) and its history when its node is removed, so a
//! path written, deleted and written again is one slot.

use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};

use hashbrown::HashTable;

use super::{Events, Node};

/// No slot.
pub(super) const NONE: u32 = u32::MAX;
/// The root directory's slot.
pub(super) const ROOT: u32 = 0;

/// One path of the view, live or removed.
#[derive(Debug)]
pub(super) struct Slot {
    /// The full path, no leading `/` (`""` for the root).
    pub path: Arc<str>,
    pub parent: u32,
    pub first_child: u32,
    pub next_sibling: u32,
    /// Where the last component starts in `path`.
    pub name_at: u32,
    /// `None` once removed (a whiteout, an opaque directory, a replacement).
    pub node: Option<Node>,
    /// What happened to the path, in layer order; kept when the node is removed.
    pub events: Events,
}

impl Slot {
    pub fn name(&self) -> &str {
        self.path.get(self.name_at as usize..).unwrap_or("")
    }
}

/// The index's hash of slot `i`: its parent and name, as [`Tree::child`] looks it up.
fn slot_hash(slots: &[Slot], hasher: &foldhash::quality::RandomState, i: u32) -> u64 {
    use std::hash::BuildHasher;
    let s = &slots[i as usize];
    hasher.hash_one((s.parent, s.name()))
}

/// The slots and the (parent, name) index.
#[derive(Debug)]
pub(super) struct Tree {
    pub slots: Vec<Slot>,
    index: HashTable<u32>,
    hasher: foldhash::quality::RandomState,
    /// Live slots in path order, computed when first asked for after a change.
    order: OnceLock<Vec<u32>>,
}

impl Tree {
    pub fn new(root: Node) -> Self {
        let slot = Slot {
            path: Arc::from(""),
            parent: NONE,
            first_child: NONE,
            next_sibling: NONE,
            name_at: 0,
            node: Some(root),
            events: Events::new(),
        };
        Tree {
            slots: vec![slot],
            index: HashTable::new(),
            hasher: foldhash::quality::RandomState::default(),
            order: OnceLock::new(),
        }
    }

    /// Room for `n` more slots without rehashing the index on the way.
    pub fn reserve(&mut self, n: usize) {
        self.slots.reserve(n);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.reserve(n, |&i| slot_hash(slots, hasher, i));
    }

    fn hash(&self, parent: u32, name: &str) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one((parent, name))
    }

    /// The slot of `name` under `parent`, live or removed.
    pub fn child(&self, parent: u32, name: &str) -> Option<u32> {
        let h = self.hash(parent, name);
        self.index
            .find(h, |&id| {
                let s = &self.slots[id as usize];
                s.parent == parent && s.name() == name
            })
            .copied()
    }

    /// The slot of `name` under `parent`, made when missing; `path` is the full path (its last
    /// component is `name`).
    pub fn child_or_insert(&mut self, parent: u32, path: &Arc<str>, name_at: usize) -> u32 {
        let name = path.get(name_at..).unwrap_or("");
        if let Some(id) = self.child(parent, name) {
            return id;
        }
        self.order = OnceLock::new();
        let id = self.slots.len() as u32;
        let h = self.hash(parent, name);
        let parent_slot = &mut self.slots[parent as usize];
        let next_sibling = parent_slot.first_child;
        parent_slot.first_child = id;
        self.slots.push(Slot {
            path: path.clone(),
            parent,
            first_child: NONE,
            next_sibling,
            name_at: name_at as u32,
            node: None,
            events: Events::new(),
        });
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(h, id, |&i| slot_hash(slots, hasher, i));
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
        self.find(path).filter(|&id| self.slots[id as usize].node.is_some())
    }

    pub fn node(&self, id: u32) -> Option<&Node> {
        self.slots.get(id as usize)?.node.as_ref()
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
            if self.slots[ROOT as usize].node.is_some() {
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
        let mut items: Vec<(u32, bool)> = Vec::new();
        while let Some((id, expand)) = stack.pop() {
            if !expand {
                out.push(id);
                continue;
            }
            items.clear();
            let mut c = self.slots[id as usize].first_child;
            while c != NONE {
                let s = &self.slots[c as usize];
                if s.node.is_some() {
                    items.push((c, false));
                    if s.first_child != NONE {
                        items.push((c, true));
                    }
                }
                c = s.next_sibling;
            }
            items.sort_unstable_by(|a, b| self.key_cmp(*a, *b));
            // The stack pops the last pushed first: push in reverse path order.
            stack.extend(items.iter().rev().copied());
        }
    }

    /// Orders `name` against `name/` keys of two children of one directory.
    fn key_cmp(&self, a: (u32, bool), b: (u32, bool)) -> Ordering {
        let key = |(id, expand): (u32, bool)| {
            let name = self.slots[id as usize].name().as_bytes();
            name.iter().chain(if expand { &b"/"[..] } else { &b""[..] })
        };
        key(a).cmp(key(b))
    }
}
