//! The command's file closure in the merged view: the program (through PATH and the working
//! directory, as the will-it-run check finds it), for an ELF its interpreter and every NEEDED
//! library found as the loader would (`fs/linker.rs`), transitively; for a script its `#!`
//! interpreter's closure and, for interpreters whose runtime is a tree, that tree; every
//! symlink followed on the way, kept as a symlink.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

use crate::detect::runnable::lookup;
use crate::elf::Linkage;
use crate::fs::linker::{find_library, Flavor, SearchPaths};
use crate::fs::{MergedFs, NodeKind};
use crate::report::LibcKind;

/// What a closure path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Symlink,
}

/// One path of the closure.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Absolute path in the image.
    pub path: String,
    pub kind: Kind,
    /// Regular-file bytes (0 for a symlink).
    pub bytes: u64,
    /// Why it is needed (the first reason found).
    pub why: String,
    /// A symlink's target, as stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The layer (index) that wrote the visible version.
    pub layer: usize,
}

/// Something the closure needs that the image does not resolve.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unresolved {
    /// The name or path looked for.
    pub name: String,
    /// Who needs it (absolute path, or `command`).
    pub needed_by: String,
    pub reason: String,
}

/// A runtime tree an interpreter needs, taken whole.
#[derive(Debug, Clone, Serialize)]
pub struct RuntimeTree {
    pub path: String,
    /// The interpreter it belongs to.
    pub interpreter: String,
    pub files: u64,
    pub bytes: u64,
}

/// Walks the merged view from the command outwards.
pub struct Walk<'a> {
    fs: &'a MergedFs,
    hops: u64,
    search: SearchPaths,
    libc: LibcKind,
    path_var: String,
    /// Keyed by path without the leading `/`.
    pub entries: BTreeMap<String, Entry>,
    /// The names files were asked for (the command, an interpreter, a library where the loader
    /// finds it, a kept path), absolute and lexically clean: what a Dockerfile must `COPY`, as
    /// `COPY` cannot make links.
    pub names: BTreeSet<String>,
    pub unresolved: BTreeSet<Unresolved>,
    pub caveats: Vec<String>,
    pub trees: Vec<RuntimeTree>,
    /// Files to examine: (resolved path, the path it is loaded under, for `$ORIGIN`).
    queue: VecDeque<(String, String)>,
    examined: BTreeSet<String>,
    /// Files taken as part of a runtime tree: modules, whose `#!` lines are not followed.
    in_tree: BTreeSet<String>,
}

/// Runtime tree roots of an interpreter, by the file name it resolves to (`python3.11`,
/// `perl`, `ruby3.1`, `node`, `java`); `bin_dir` is the directory it sits in.
fn tree_roots(fs: &MergedFs, name: &str, resolved: &str) -> Vec<String> {
    let existing = |cands: Vec<String>| -> Vec<String> {
        cands.into_iter().filter(|c| matches!(fs.get(c).map(|n| n.kind), Some(NodeKind::Dir))).collect()
    };
    let triplets = ["x86_64-linux-gnu", "aarch64-linux-gnu", "arm-linux-gnueabihf", "i386-linux-gnu"];
    let under = |dir: &str, prefix: &str| -> Vec<String> {
        fs.descendants(dir)
            .filter(|(p, n)| {
                matches!(n.kind, NodeKind::Dir)
                    && p.len() > dir.len() + 1
                    && !p[dir.len() + 1..].contains('/')
                    && p[dir.len() + 1..].starts_with(prefix)
            })
            .map(|(p, _)| p.to_string())
            .collect()
    };
    if let Some(v) = name.strip_prefix("python") {
        if v.chars().all(|c| c.is_ascii_digit() || c == '.') && !v.is_empty() {
            let mut out = Vec::new();
            if v.starts_with('3') {
                // Debian's packaged modules (python3-numpy...): /usr/lib/python3/dist-packages.
                out.extend(existing(vec!["usr/lib/python3".into()]));
            }
            for base in ["usr/lib", "usr/local/lib"] {
                if v.contains('.') {
                    out.extend(existing(vec![format!("{base}/python{v}")]));
                } else {
                    out.extend(under(base, &format!("python{v}.")));
                }
            }
            return out;
        }
    }
    if name == "perl" || (name.starts_with("perl5") && name[5..].chars().all(|c| c.is_ascii_digit() || c == '.')) {
        let mut c = vec!["usr/share/perl".into(), "usr/share/perl5".into(), "usr/local/share/perl".into()];
        for t in triplets {
            c.extend([format!("usr/lib/{t}/perl"), format!("usr/lib/{t}/perl5"), format!("usr/lib/{t}/perl-base")]);
        }
        c.extend(["usr/lib/perl5".into(), "usr/lib/perl".into(), "usr/local/lib/perl5".into()]);
        return existing(c);
    }
    if name.starts_with("ruby") && name[4..].chars().all(|c| c.is_ascii_digit() || c == '.') {
        return existing(vec!["usr/lib/ruby".into(), "usr/local/lib/ruby".into()]);
    }
    if name == "node" || name == "nodejs" {
        return existing(vec!["usr/share/nodejs".into(), "usr/lib/nodejs".into(), "usr/local/lib/node_modules".into()]);
    }
    if name == "java" {
        // JAVA_HOME/bin/java: the whole JAVA_HOME.
        let bin = resolved.rsplit_once('/').map_or("", |(d, _)| d);
        if let Some(home) = bin.strip_suffix("/bin").or_else(|| bin.strip_suffix("/jre/bin")) {
            if !home.is_empty() {
                return existing(vec![home.to_string()]);
            }
        }
    }
    Vec::new()
}

impl<'a> Walk<'a> {
    pub fn new(fs: &'a MergedFs, arch: &str, env: &[String], path_var: &str, libc: LibcKind, hops: u64) -> Self {
        Walk {
            fs,
            hops,
            search: SearchPaths::new(fs, arch, env, hops),
            libc,
            path_var: path_var.to_string(),
            entries: BTreeMap::new(),
            unresolved: BTreeSet::new(),
            caveats: Vec::new(),
            trees: Vec::new(),
            queue: VecDeque::new(),
            examined: BTreeSet::new(),
            in_tree: BTreeSet::new(),
            names: BTreeSet::new(),
        }
    }

    pub fn fs(&self) -> &'a MergedFs {
        self.fs
    }

    pub fn unresolved(&mut self, name: &str, needed_by: &str, reason: impl Into<String>) {
        self.unresolved.insert(Unresolved {
            name: name.to_string(),
            needed_by: needed_by.to_string(),
            reason: reason.into(),
        });
    }

    /// Adds what `path` resolves to (a regular file) and every symlink on the way. Returns the
    /// resolved path (no leading `/`) of a file or directory, `None` when it does not resolve.
    pub fn add(&mut self, path: &str, why: &str) -> Option<String> {
        self.add_as(path, why, false)
    }

    /// [`Walk::add`] for a library: glibc and musl take a library's `$ORIGIN` from the path it
    /// was opened under (`/usr/lib/x86_64-linux-gnu/libblas.so.3`), not from where its links
    /// lead; a program's `$ORIGIN` is its resolved path (`/proc/self/exe`).
    fn add_as(&mut self, path: &str, why: &str, library: bool) -> Option<String> {
        let mut links = Vec::new();
        let (resolved, node) = self.fs.resolve_traced(path, self.hops, &mut links).ok()?;
        for l in links {
            if self.entries.contains_key(&l) {
                continue;
            }
            if let Some(n) = self.fs.get(&l) {
                if let NodeKind::Symlink(t) = &n.kind {
                    let e = Entry {
                        path: format!("/{l}"),
                        kind: Kind::Symlink,
                        bytes: 0,
                        why: format!("symlink on the way to /{resolved} ({why})"),
                        target: Some(t.to_string()),
                        layer: n.layer,
                    };
                    self.entries.insert(l, e);
                }
            }
        }
        match &node.kind {
            NodeKind::File(f) => {
                // The name as asked, when its lexical form leads to the same file (a `..`
                // after a link would not): else the file's own path.
                let clean = crate::layer::normalize(path).0.into_owned();
                let same = self.fs.resolve(&clean, self.hops).is_ok_and(|(r, _)| r == resolved);
                self.names.insert(format!("/{}", if same { clean.as_str() } else { resolved.as_str() }));
                if !self.entries.contains_key(&resolved) {
                    let e = Entry {
                        path: format!("/{resolved}"),
                        kind: Kind::File,
                        bytes: f.size,
                        why: why.to_string(),
                        target: None,
                        layer: node.layer,
                    };
                    self.entries.insert(resolved.clone(), e);
                    let loaded_as =
                        if library { format!("/{}", path.trim_start_matches('/')) } else { format!("/{resolved}") };
                    self.queue.push_back((resolved.clone(), loaded_as));
                }
                Some(resolved)
            }
            NodeKind::Dir => Some(resolved),
            _ => None,
        }
    }

    /// Adds every file and symlink below `dir` (a directory of the view, no leading `/`).
    pub fn add_tree(&mut self, dir: &str, why: &str) -> (u64, u64) {
        let paths: Vec<String> = self
            .fs
            .descendants(dir)
            .filter(|(p, n)| !p.is_empty() && !matches!(n.kind, NodeKind::Dir))
            .map(|(p, _)| p.to_string())
            .collect();
        let (mut files, mut bytes) = (0u64, 0u64);
        for p in paths {
            match self.fs.get(&p).map(|n| n.kind) {
                Some(NodeKind::Symlink(t)) => {
                    let t = t.to_string();
                    let n = self.fs.get(&p).map_or(0, |n| n.layer);
                    self.entries.entry(p.clone()).or_insert_with(|| Entry {
                        path: format!("/{p}"),
                        kind: Kind::Symlink,
                        bytes: 0,
                        why: why.to_string(),
                        target: Some(t),
                        layer: n,
                    });
                    // What it points at is needed too (when it resolves inside the image).
                    self.add(&p, why);
                }
                Some(NodeKind::File(f)) => {
                    files += 1;
                    bytes = bytes.saturating_add(f.size);
                    self.in_tree.insert(p.clone());
                    self.add(&p, why);
                }
                _ => {}
            }
        }
        (files, bytes)
    }

    /// Follows the queue: each file's interpreter, libraries or `#!` interpreter.
    pub fn run(&mut self) {
        while let Some((path, loaded_as)) = self.queue.pop_front() {
            if !self.examined.insert(path.clone()) {
                continue;
            }
            self.examine(&path, &loaded_as);
        }
    }

    fn examine(&mut self, path: &str, loaded_as: &str) {
        let fs = self.fs;
        let Some(NodeKind::File(f)) = fs.get(path).map(|n| n.kind) else { return };
        let abs = format!("/{path}");
        if let Some(e) = f.elf() {
            if let Some(why) = &e.incomplete {
                self.caveats.push(format!("{abs}: ELF facts partial ({why}); its libraries may be incomplete"));
            }
            if let Some(interp) = &e.interpreter {
                if self.add(interp, &format!("interpreter of {abs}")).is_none() {
                    self.unresolved(interp, &abs, "the ELF interpreter (loader) is not in the image");
                }
            }
            if e.linkage == Linkage::Dynamic || !e.needed.is_empty() {
                let flavor = Flavor::of(e.interpreter.as_deref(), self.libc == LibcKind::Musl);
                for name in &e.needed {
                    match find_library(fs, name, loaded_as, e, flavor, &self.search, self.hops) {
                        Some(p) if p == "(loader)" => {}
                        Some(p) => {
                            self.add_as(&p, &format!("{name}, needed by {abs}"), true);
                        }
                        None => self.unresolved(name, &abs, "NEEDED library not found where the loader looks"),
                    }
                }
            }
            return;
        }
        if self.in_tree.contains(path) {
            return;
        }
        let Some(sb) = f.extra().and_then(|x| x.shebang.clone()) else { return };
        let mut words = sb.split_whitespace();
        let Some(interp) = words.next() else {
            self.unresolved("#!", &abs, "empty #! line");
            return;
        };
        let Some(resolved) = self.add(interp, &format!("#! interpreter of {abs}")) else {
            self.unresolved(interp, &abs, "the #! interpreter is not in the image");
            return;
        };
        self.caveats.push(format!(
            "{abs} is a script: its #! interpreter is followed, not the programs the script itself starts"
        ));
        let mut runtime = resolved.clone();
        if interp.ends_with("/env") {
            if let Some(prog) = words.find(|w| !w.starts_with('-')) {
                match lookup(fs, prog, &self.path_var, "/", self.hops) {
                    Some((p, true)) => {
                        if let Some(r) = self.add(&p, &format!("{prog} (via {interp}) of {abs}")) {
                            runtime = r;
                        }
                    }
                    _ => self.unresolved(prog, &abs, format!("{interp} finds no {prog} in PATH")),
                }
            }
        }
        self.add_runtime(&runtime);
    }

    /// The runtime tree of an interpreter (python, perl, ruby, node, java), when it has one.
    pub fn add_runtime(&mut self, resolved: &str) {
        let name = resolved.rsplit('/').next().unwrap_or("").to_string();
        for root in tree_roots(self.fs, &name, resolved) {
            if self.trees.iter().any(|t| t.path == format!("/{root}")) {
                continue;
            }
            let (files, bytes) = self.add_tree(&root, &format!("runtime tree of {name}"));
            self.trees.push(RuntimeTree {
                path: format!("/{root}"),
                interpreter: format!("/{resolved}"),
                files,
                bytes,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{Entry as LEntry, EntryKind, FileData, LayerDelta};

    fn delta(entries: Vec<(&str, EntryKind)>) -> LayerDelta {
        LayerDelta::from_entries(
            "sha256:test",
            entries.into_iter().map(|(p, kind)| LEntry { path: p.into(), kind, mode: 0o755, uid: 0, gid: 0 }),
        )
    }

    #[test]
    fn symlinks_on_the_way_are_kept_and_climbing_stops_at_the_root() {
        let file = |n| EntryKind::File(FileData { size: n, ..Default::default() });
        let d = delta(vec![
            ("usr", EntryKind::Dir),
            ("usr/bin", EntryKind::Dir),
            ("usr/bin/real", file(7)),
            ("bin", EntryKind::Symlink("usr/bin".into())),
            ("usr/bin/up", EntryKind::Symlink("../../../../bin/real".into())),
        ]);
        let fs = MergedFs::build([&d]);
        let mut w = Walk::new(&fs, "amd64", &[], "/bin", LibcKind::Static, 40);
        assert_eq!(w.add("/bin/up", "test").as_deref(), Some("usr/bin/real"));
        let got: Vec<(&str, Kind)> = w.entries.values().map(|e| (e.path.as_str(), e.kind)).collect();
        assert_eq!(got, vec![("/bin", Kind::Symlink), ("/usr/bin/real", Kind::File), ("/usr/bin/up", Kind::Symlink)]);
    }
}
