//! Where the bytes of a merged view are, as a tree folded to a node budget: the data of the HTML
//! report's treemap (docs/html.md). Directories and files are nodes while they are among the
//! [`MAX_NODES`] biggest; the smaller ones are folded into their directory (its `folded_bytes`).
//! Each node names the layer that wrote most of its bytes and its main bloat category.

use serde::ser::{Serialize, SerializeTuple, Serializer};

use super::bloat::category;
use crate::fs::{MergedFs, NodeKind};

/// Paths to what is kept of them, hashed as the merged view hashes paths (foldhash, seeded per
/// process).
type PathMap<'a, V> = std::collections::HashMap<&'a str, V, foldhash::quality::RandomState>;

/// At most this many nodes, the root included.
pub const MAX_NODES: usize = 5000;
/// A node's name is cut to this many characters (an ellipsis marks the cut).
pub const NAME_CHARS: usize = 255;

/// The folded tree of one platform's merged view.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Usage {
    /// Parents before their children; node 0 is the root (name `""`).
    pub nodes: Vec<UsageNode>,
    /// The bloat categories the nodes' `category` indexes.
    pub categories: Vec<&'static str>,
    /// Regular files of the view, and those folded into a directory rather than shown.
    pub files: u64,
    pub folded_files: u64,
}

/// One directory or file of [`Usage`]. As JSON, an array: `[parent, name, dir, bytes, files,
/// folded_bytes, layer, category]` (`layer` and `category` -1 when none).
#[derive(Debug, Clone, PartialEq)]
pub struct UsageNode {
    pub parent: u32,
    pub name: String,
    pub dir: bool,
    /// Bytes of regular files at or below the node.
    pub bytes: u64,
    pub files: u64,
    /// Bytes of the files below a directory too small to be nodes of their own.
    pub folded_bytes: u64,
    /// The layer that wrote most of the node's bytes.
    pub layer: Option<usize>,
    /// Index in [`Usage::categories`] of the category most of the node's bytes are in.
    pub category: Option<usize>,
}

impl Serialize for UsageNode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let opt = |v: Option<usize>| v.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
        let mut t = s.serialize_tuple(8)?;
        t.serialize_element(&self.parent)?;
        t.serialize_element(&self.name)?;
        t.serialize_element(&u8::from(self.dir))?;
        t.serialize_element(&self.bytes)?;
        t.serialize_element(&self.files)?;
        t.serialize_element(&self.folded_bytes)?;
        t.serialize_element(&opt(self.layer))?;
        t.serialize_element(&opt(self.category))?;
        t.end()
    }
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

fn name_of(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.chars().count() <= NAME_CHARS {
        return name.to_string();
    }
    let mut cut: String = name.chars().take(NAME_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Bytes per key, few keys: a short list rather than a map.
fn add(tally: &mut Vec<(usize, u64)>, key: usize, bytes: u64) {
    match tally.iter_mut().find(|(k, _)| *k == key) {
        Some(e) => e.1 = e.1.saturating_add(bytes),
        None => tally.push((key, bytes)),
    }
}

/// The key with the most bytes (the lowest key on a tie), if any has bytes.
fn top(tally: &[(usize, u64)]) -> Option<usize> {
    tally.iter().filter(|e| e.1 > 0).max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).map(|e| e.0)
}

/// The folded tree of `fs`, at most `max_nodes` nodes (root included; at least 1).
pub fn usage(fs: &MergedFs, max_nodes: usize) -> Usage {
    // Bytes and files under every directory (each regular file counted at each of its paths, as
    // the report's `bytes` counts them).
    let mut dirs: PathMap<(u64, u64)> = PathMap::default();
    let mut files = 0u64;
    for (path, f, _) in fs.files() {
        files += 1;
        let mut p = path;
        while !p.is_empty() {
            p = parent_of(p);
            let e = dirs.entry(p).or_default();
            e.0 = e.0.saturating_add(f.size);
            e.1 += 1;
        }
    }
    let bytes_of = |path: &str, kind: &NodeKind| match kind {
        NodeKind::File(f) => f.size,
        NodeKind::Dir => dirs.get(path).map_or(0, |d| d.0),
        _ => 0,
    };
    // Keep the nodes bigger than the budget's first left out: a parent is at least as big as
    // its children, so every kept node's parent is kept.
    let budget = max_nodes.max(1) - 1;
    let mut sizes: Vec<u64> =
        fs.iter().filter(|(p, _)| !p.is_empty()).map(|(p, n)| bytes_of(p, &n.kind)).filter(|&b| b > 0).collect();
    let floor = if sizes.len() <= budget {
        0
    } else {
        let (_, nth, _) = sizes.select_nth_unstable_by(budget, |a, b| b.cmp(a));
        *nth
    };
    drop(sizes);
    let mut out = Usage { files, ..Usage::default() };
    // Kept directories and files by path, to their node.
    let mut index: PathMap<u32> = PathMap::default();
    let mut file_ids: PathMap<u32> = PathMap::default();
    let total = dirs.get("").copied().unwrap_or_default();
    out.nodes.push(UsageNode {
        parent: 0,
        name: String::new(),
        dir: true,
        bytes: total.0,
        files: total.1,
        folded_bytes: 0,
        layer: None,
        category: None,
    });
    index.insert("", 0);
    for (path, node) in fs.iter() {
        if path.is_empty() {
            continue;
        }
        let bytes = bytes_of(path, &node.kind);
        if bytes <= floor || bytes == 0 {
            continue;
        }
        let dir = matches!(node.kind, NodeKind::Dir);
        let Some(&parent) = index.get(parent_of(path)) else { continue };
        let id = u32::try_from(out.nodes.len()).unwrap_or(u32::MAX);
        if dir {
            index.insert(path, id);
        } else {
            file_ids.insert(path, id);
        }
        out.nodes.push(UsageNode {
            parent,
            name: name_of(path),
            dir,
            bytes,
            files: if dir { dirs.get(path).map_or(0, |d| d.1) } else { 1 },
            folded_bytes: 0,
            layer: None,
            category: None,
        });
    }
    // Layers and categories: each file counts for itself when it is a node, else for the
    // nearest directory that is.
    let n = out.nodes.len();
    let mut layers: Vec<Vec<(usize, u64)>> = vec![Vec::new(); n];
    let mut cats: Vec<Vec<(usize, u64)>> = vec![Vec::new(); n];
    for (path, f, node) in fs.files() {
        let at = match file_ids.get(path) {
            Some(&id) => id,
            None => {
                let mut p = parent_of(path);
                loop {
                    if let Some(&id) = index.get(p) {
                        break id;
                    }
                    p = parent_of(p);
                }
            }
        } as usize;
        add(&mut layers[at], node.layer, f.size);
        let c = category(path).map(|c| match out.categories.iter().position(|k| *k == c) {
            Some(i) => i,
            None => {
                out.categories.push(c);
                out.categories.len() - 1
            }
        });
        add(&mut cats[at], c.map_or(usize::MAX, |c| c), f.size);
    }
    // Children after their parents: sum up from the last node back.
    for i in (1..n).rev() {
        let p = out.nodes[i].parent as usize;
        let (child_layers, child_cats) = (std::mem::take(&mut layers[i]), std::mem::take(&mut cats[i]));
        out.nodes[i].layer = top(&child_layers);
        out.nodes[i].category = top(&child_cats).filter(|&c| c != usize::MAX);
        for (k, v) in child_layers {
            add(&mut layers[p], k, v);
        }
        for (k, v) in child_cats {
            add(&mut cats[p], k, v);
        }
    }
    out.nodes[0].layer = top(&layers[0]);
    out.nodes[0].category = top(&cats[0]).filter(|&c| c != usize::MAX);
    finish(&mut out);
    out
}

impl Usage {
    /// The same tree with at most `max_nodes` nodes (root included): the smallest nodes folded
    /// into their directories.
    pub fn folded(&self, max_nodes: usize) -> Usage {
        let budget = max_nodes.max(1) - 1;
        if self.nodes.len() <= budget + 1 {
            return self.clone();
        }
        let mut sizes: Vec<u64> = self.nodes.iter().skip(1).map(|n| n.bytes).collect();
        let (_, nth, _) = sizes.select_nth_unstable_by(budget, |a, b| b.cmp(a));
        let floor = *nth;
        let mut out = Usage { categories: self.categories.clone(), files: self.files, ..Usage::default() };
        let mut map = vec![u32::MAX; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            let parent = map.get(node.parent as usize).copied().unwrap_or(u32::MAX);
            if i == 0 || (node.bytes > floor && parent != u32::MAX) {
                map[i] = u32::try_from(out.nodes.len()).unwrap_or(u32::MAX);
                out.nodes.push(UsageNode { parent: if i == 0 { 0 } else { parent }, ..node.clone() });
            }
        }
        finish(&mut out);
        out
    }
}

/// `folded_bytes` of each directory (what its child nodes do not account for) and the count of
/// folded files.
fn finish(u: &mut Usage) {
    let mut children = vec![0u64; u.nodes.len()];
    for node in u.nodes.iter().skip(1) {
        if let Some(c) = children.get_mut(node.parent as usize) {
            *c = c.saturating_add(node.bytes);
        }
    }
    for (node, c) in u.nodes.iter_mut().zip(children) {
        node.folded_bytes = if node.dir { node.bytes.saturating_sub(c) } else { 0 };
    }
    let shown = u.nodes.iter().filter(|n| !n.dir).count() as u64;
    u.folded_files = u.files.saturating_sub(shown);
}
