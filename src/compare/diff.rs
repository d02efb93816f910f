//! What differs between two sides: files after architecture normalisation, kinds of path,
//! binaries, packages, directory sizes and findings.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::model::*;
use super::normalize::Normalizer;
use crate::elf::Linkage;
use crate::findings::Finding;
use crate::fs::{MergedFs, NodeKind};
use crate::layer::pkgdb::DbKind;
use crate::oci::platform::Platform;
use crate::report::PlatformReport;

/// One side as the diff sees it.
pub(super) struct View<'a> {
    pub(super) side: &'a Side,
    pub(super) report: &'a PlatformReport,
    pub(super) fs: &'a MergedFs,
}

impl View<'_> {
    fn normalizer(&self) -> Normalizer {
        Normalizer::for_platform(&self.side.platform)
    }
    fn arch(&self) -> String {
        Platform::parse(&self.side.platform).map(|p| p.architecture).unwrap_or_default()
    }
}

pub(super) fn diff(l: usize, r: usize, left: &View, right: &View) -> Comparison {
    let (ln, rn) = (left.normalizer(), right.normalizer());
    let le = Entries::of(left.fs, &ln);
    let re = Entries::of(right.fs, &rn);
    let files = FileDiff {
        left_paths: le.count,
        right_paths: re.count,
        normalised_paths: le.rewritten + re.rewritten,
        only_left: one_side(&le, &re),
        only_right: one_side(&re, &le),
        kind_changed: kind_changed(&le, &re),
    };
    let binaries = binaries(left, right);
    let packages = packages(left.report, right.report);
    let directories = directories(&le, &re);
    let findings = findings(left.report, &ln, right.report, &rn);
    let differences = files.only_left.len()
        + files.only_right.len()
        + files.kind_changed.len()
        + binaries.len()
        + packages.only_left.len()
        + packages.only_right.len()
        + packages.different_versions.len()
        + findings.only_left.len()
        + findings.only_right.len();
    Comparison { left: l, right: r, differences, files, binaries, packages, directories, findings }
}

/// A non-directory entry of a side, under its normalised path.
struct PathInfo {
    original: String,
    kind: &'static str,
    size: u64,
}

/// The paths of one side, normalised.
struct Entries {
    /// Normalised path (no leading `/`) → the entry.
    nondirs: BTreeMap<String, PathInfo>,
    /// Normalised directory path → the path as the image has it.
    dirs: BTreeMap<String, String>,
    /// Non-directory entries, and those whose path normalisation rewrote.
    count: u64,
    rewritten: u64,
}

impl Entries {
    fn of(fs: &MergedFs, n: &Normalizer) -> Self {
        let mut e = Entries { nondirs: BTreeMap::new(), dirs: BTreeMap::new(), count: 0, rewritten: 0 };
        for (path, node) in fs.iter() {
            if path.is_empty() {
                continue;
            }
            let key = n.path(path);
            let (kind, size) = match &node.kind {
                NodeKind::Dir => {
                    e.dirs.entry(key).or_insert_with(|| path.to_string());
                    continue;
                }
                NodeKind::File(f) => ("file", f.size),
                NodeKind::Symlink(_) => ("symlink", 0),
                NodeKind::Other(_) => ("other", 0),
            };
            e.count += 1;
            if key != *path {
                e.rewritten += 1;
            }
            // Two paths of one side may meet (a loader and the symlink to it): keep the file.
            match e.nondirs.get(&key) {
                Some(have) if have.kind == "file" || kind != "file" => {}
                _ => {
                    e.nondirs.insert(key, PathInfo { original: path.to_string(), kind, size });
                }
            }
        }
        e
    }

    fn has(&self, key: &str) -> bool {
        self.nondirs.contains_key(key) || self.dirs.contains_key(key)
    }
}

/// Ancestor directories of a path (no leading `/`), outermost first.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// Entries of `a` that `b` lacks. Everything under a directory `b` lacks is one `dir` entry
/// (unless it is a single entry).
fn one_side(a: &Entries, b: &Entries) -> Vec<PathEntry> {
    let mut groups: BTreeMap<&str, Vec<&PathInfo>> = BTreeMap::new();
    for (key, info) in &a.nondirs {
        if b.has(key) {
            continue;
        }
        let group = ancestors(key).find(|d| !b.has(d)).unwrap_or(key);
        groups.entry(group).or_default().push(info);
    }
    groups
        .into_iter()
        .map(|(group, members)| match members.as_slice() {
            [one] => PathEntry {
                path: format!("/{}", one.original),
                kind: one.kind.to_string(),
                entries: 1,
                bytes: one.size,
            },
            many => PathEntry {
                path: format!("/{}", a.dirs.get(group).map(String::as_str).unwrap_or(group)),
                kind: "dir".into(),
                entries: many.len() as u64,
                bytes: many.iter().map(|m| m.size).fold(0, u64::saturating_add),
            },
        })
        .collect()
}

/// Paths that are a directory on one side and something else on the other.
fn kind_changed(l: &Entries, r: &Entries) -> Vec<KindChange> {
    let mut out: Vec<KindChange> = l
        .nondirs
        .iter()
        .filter(|(k, _)| r.dirs.contains_key(*k))
        .map(|(_, i)| KindChange { path: format!("/{}", i.original), left: i.kind.into(), right: "dir".into() })
        .chain(l.dirs.iter().filter_map(|(k, orig)| {
            let i = r.nondirs.get(k)?;
            Some(KindChange { path: format!("/{orig}"), left: "dir".into(), right: i.kind.into() })
        }))
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn linkage(l: Linkage) -> &'static str {
    match l {
        Linkage::Dynamic => "dynamic",
        Linkage::Static => "static",
        Linkage::StaticPie => "static-pie",
    }
}

/// ELF files on both sides (normalised path) whose machine (native or not), linkage,
/// interpreter or NEEDED list (normalised) differ.
fn binaries(left: &View, right: &View) -> Vec<BinaryDiff> {
    let (ln, rn) = (left.normalizer(), right.normalizer());
    let (la, ra) = (left.arch(), right.arch());
    fn index<'a>(v: &View<'a>, n: &Normalizer) -> BTreeMap<String, &'a crate::report::Binary> {
        let mut m = BTreeMap::new();
        for b in &v.report.binaries {
            m.entry(n.path(&b.path)).or_insert(b);
        }
        m
    }
    let rmap = index(right, &rn);
    let mut out = Vec::new();
    for (key, lb) in index(left, &ln) {
        let Some(rb) = rmap.get(&key) else { continue };
        let facts = |b: &crate::report::Binary, arch: &str| BinaryFacts {
            machine: b.machine.clone(),
            native: b.machine == arch,
            linkage: linkage(b.linkage).into(),
            interpreter: b.interpreter.clone(),
            needed: b.needed.clone(),
        };
        let (lf, rf) = (facts(lb, &la), facts(rb, &ra));
        let machine_key = |f: &BinaryFacts| if f.native { "native".to_string() } else { f.machine.clone() };
        let needed = |f: &BinaryFacts, n: &Normalizer| f.needed.iter().map(|x| n.library(x)).collect::<BTreeSet<_>>();
        let interp = |f: &BinaryFacts, n: &Normalizer| f.interpreter.as_deref().map(|i| n.path(i));
        let mut differs = Vec::new();
        if machine_key(&lf) != machine_key(&rf) {
            differs.push("machine".to_string());
        }
        if lf.linkage != rf.linkage {
            differs.push("linkage".into());
        }
        // Same names that normalise apart (an amd64 loader asked for in an arm64 variant) are
        // the machine difference again, said above.
        if interp(&lf, &ln) != interp(&rf, &rn) && lf.interpreter != rf.interpreter {
            differs.push("interpreter".into());
        }
        let literal = |f: &BinaryFacts| f.needed.iter().cloned().collect::<BTreeSet<String>>();
        if needed(&lf, &ln) != needed(&rf, &rn) && literal(&lf) != literal(&rf) {
            differs.push("needed".into());
        }
        if !differs.is_empty() {
            out.push(BinaryDiff {
                left_path: lb.path.clone(),
                right_path: rb.path.clone(),
                differs,
                left: lf,
                right: rf,
            });
        }
    }
    out
}

fn manager(kind: DbKind) -> &'static str {
    match kind {
        DbKind::Dpkg | DbKind::DpkgStatusD => "dpkg",
        DbKind::Apk => "apk",
        DbKind::Rpm => "rpm",
    }
}

type PackageSet = BTreeMap<(&'static str, String), BTreeSet<String>>;

fn package_set(p: &PlatformReport) -> PackageSet {
    let mut m: PackageSet = BTreeMap::new();
    for db in &p.package_databases {
        for (name, version) in &db.package_list {
            m.entry((manager(db.kind), name.clone())).or_default().insert(version.clone());
        }
    }
    m
}

fn packages(left: &PlatformReport, right: &PlatformReport) -> PackageDiff {
    let (l, r) = (package_set(left), package_set(right));
    let join = |v: &BTreeSet<String>| v.iter().cloned().collect::<Vec<_>>().join(", ");
    let only = |a: &PackageSet, b: &PackageSet| {
        a.iter()
            .filter(|(k, _)| !b.contains_key(*k))
            .map(|((m, name), v)| Package { manager: m.to_string(), name: name.clone(), version: join(v) })
            .collect()
    };
    let different_versions = l
        .iter()
        .filter_map(|(k, lv)| {
            let rv = r.get(k)?;
            (lv != rv).then(|| VersionChange {
                manager: k.0.to_string(),
                name: k.1.clone(),
                left: join(lv),
                right: join(rv),
            })
        })
        .collect();
    PackageDiff { only_left: only(&l, &r), only_right: only(&r, &l), different_versions }
}

/// Bytes of regular files under each directory (normalised, depth ≤ [`DIRECTORY_DEPTH`]).
fn directory_sizes(e: &Entries) -> BTreeMap<&str, u64> {
    let mut m = BTreeMap::new();
    for (key, info) in &e.nondirs {
        for (depth, dir) in ancestors(key).enumerate() {
            if depth >= DIRECTORY_DEPTH {
                break;
            }
            let e = m.entry(dir).or_default();
            *e = u64::saturating_add(*e, info.size);
        }
    }
    m
}

/// The directories whose size differs most. A directory whose difference is all in one
/// listed subdirectory is left out (the subdirectory says it).
fn directories(left: &Entries, right: &Entries) -> Vec<DirectoryDiff> {
    let (l, r) = (directory_sizes(left), directory_sizes(right));
    let keys: BTreeSet<&str> = l.keys().chain(r.keys()).copied().collect();
    let mut all: Vec<DirectoryDiff> = keys
        .into_iter()
        .map(|k| {
            let (a, b) = (l.get(k).copied().unwrap_or(0), r.get(k).copied().unwrap_or(0));
            DirectoryDiff { path: format!("/{k}"), left_bytes: a, right_bytes: b, difference: b as i64 - a as i64 }
        })
        .filter(|d| d.difference != 0)
        .collect();
    let child_differences: HashSet<(String, i64)> = all
        .iter()
        .filter_map(|d| d.path.rsplit_once('/').map(|(parent, _)| (parent.to_string(), d.difference)))
        .collect();
    all.retain(|d| !child_differences.contains(&(d.path.clone(), d.difference)));
    all.sort_by(|a, b| b.difference.unsigned_abs().cmp(&a.difference.unsigned_abs()).then(a.path.cmp(&b.path)));
    all.truncate(TOP_DIRECTORIES);
    all
}

fn findings(left: &PlatformReport, ln: &Normalizer, right: &PlatformReport, rn: &Normalizer) -> FindingDiff {
    let key = |f: &Finding, n: &Normalizer| {
        let paths: BTreeSet<String> =
            f.paths.iter().map(|p| if p.starts_with('/') { n.path(p) } else { p.clone() }).collect();
        (f.id.clone(), paths)
    };
    let lk: HashSet<_> = left.findings.iter().map(|f| key(f, ln)).collect();
    let rk: HashSet<_> = right.findings.iter().map(|f| key(f, rn)).collect();
    FindingDiff {
        only_left: left.findings.iter().filter(|f| !rk.contains(&key(f, ln))).cloned().collect(),
        only_right: right.findings.iter().filter(|f| !lk.contains(&key(f, rn))).cloned().collect(),
    }
}
