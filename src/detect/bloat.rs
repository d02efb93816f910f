//! Bloat: efficiency and reclaimable bytes with dive's formula applied per file, bytes deleted by
//! later layers, duplicate content, metadata-only rewrites, categories of usually unneeded files,
//! the largest files, and where the base image ends.

use std::collections::{BTreeMap, HashMap};

use super::{evidence, Context, Detector};
use crate::findings::*;
use crate::fs::{Event, MergedFs};
use crate::report::{
    BaseBoundary, Bloat, Category, DuplicateGroup, LargeFile, PlatformReport, ReclaimableFile, Rewrites,
};

pub struct BloatDetector;

/// Bytes, files, and (size, path) of the files of one category.
type CategoryTally<'a> = (u64, u64, Vec<(u64, &'a str, usize)>);

/// The category of a path of the merged view (no leading `/`), if it is one of the usual
/// suspects.
pub fn category(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| path.starts_with(p));
    let has = |parts: &[&str]| parts.iter().any(|p| path.contains(p));
    // Every cache directory below is a dot directory: one scan for "/." rules them out.
    if starts(&[
        "var/cache/apt/",
        "var/lib/apt/lists/",
        "var/cache/apk/",
        "etc/apk/cache/",
        "var/cache/dnf/",
        "var/cache/yum/",
        "var/cache/zypp/",
        "var/cache/pacman/pkg/",
        "usr/local/share/.cache/yarn/",
        "root/.cache/",
    ]) || path.contains("/.")
        && has(&[
            "/.cache/pip/",
            "/.npm/_cacache/",
            "/.cache/yarn/",
            "/.yarn/cache/",
            "/.cache/go-build/",
            "/.cargo/registry/",
        ])
    {
        return Some("package-cache");
    }
    if name.ends_with(".pyc") || name.ends_with(".pyo") || path.contains("/__pycache__/") {
        return Some("pycache");
    }
    if starts(&[
        "usr/share/doc/",
        "usr/share/man/",
        "usr/share/info/",
        "usr/local/share/doc/",
        "usr/local/share/man/",
        "usr/share/gtk-doc/",
    ]) {
        return Some("docs");
    }
    if starts(&["usr/share/locale/", "usr/lib/locale/", "usr/share/i18n/"]) {
        return Some("locales");
    }
    if starts(&["usr/lib/debug/"]) {
        return Some("debug-info");
    }
    if starts(&["usr/include/", "usr/local/include/"])
        || (name.ends_with(".a") && has(&["lib/"]))
        || name.ends_with(".la")
    {
        return Some("dev-files");
    }
    let compiler = ["gcc", "g++", "cc", "c++", "cpp", "clang", "clang++", "rustc", "go", "gfortran"];
    let in_bin = starts(&["usr/bin/", "usr/local/bin/", "bin/"]);
    if starts(&[
        "usr/lib/gcc/",
        "usr/libexec/gcc/",
        "usr/lib/gcc-cross/",
        "usr/lib/llvm-",
        "usr/local/go/",
        "usr/lib/go-",
        "usr/local/rustup/",
        "usr/local/cargo/bin/",
    ]) || (in_bin
        && (compiler.contains(&name)
            || compiler.iter().any(|c| name.starts_with(&format!("{c}-")))
            || name.contains("-linux-gnu-gcc")
            || name.contains("-linux-gnu-g++")))
    {
        return Some("toolchain");
    }
    if starts(&["tmp/", "var/tmp/", "var/log/"]) {
        return Some("temp");
    }
    None
}

/// What one layer deleted or overwrote of earlier layers: bytes, bytes per earlier layer, and
/// (size, path) of each file.
type Removed<'a> = (u64, BTreeMap<usize, u64>, Vec<(u64, &'a str)>);

/// A category's bytes, files, biggest paths, and the layer that left most of it with its paths.
type Tally<'a> = (u64, u64, Vec<String>, Option<(usize, Vec<&'a str>)>);

/// The bytes above which a layer that deletes or overwrites earlier layers' content is a finding.
const DELETED_LATER_BYTES: u64 = 1_000_000;

/// `BLOAT-DELETED-LATER`: per layer, the content of earlier layers it deleted or overwrote (the
/// copy visible until then); over the threshold, a finding that blames the earlier layer that
/// wrote most of it, since deleting in a later layer saves nothing.
fn deleted_later(cx: &Context, r: &mut PlatformReport, losses: Vec<Loss>) {
    let threshold = cx.policy.deleted_later_bytes.unwrap_or(DELETED_LATER_BYTES);
    // Per remover layer: bytes, bytes per earlier layer, (size, path) removed.
    let mut by: BTreeMap<usize, Removed> = BTreeMap::new();
    for (path, earlier, layer, size) in losses {
        let entry = by.entry(layer).or_default();
        entry.0 = entry.0.saturating_add(size);
        *entry.1.entry(earlier).or_default() += size;
        entry.2.push((size, path));
    }
    for (remover, (bytes, from, mut paths)) in by {
        if bytes <= threshold {
            continue;
        }
        let Some((&earlier, _)) = from.iter().max_by_key(|(l, b)| (**b, std::cmp::Reverse(**l))) else { continue };
        paths.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let files = paths.len() as u64;
        let step = r.layers.get(earlier).and_then(|l| l.created_by.clone());
        let fix = match &step {
            Some(c) => format!(
                "delete them in the step that creates them (layer #{earlier}: {}), or do not create them",
                crate::units::clip(c, 120)
            ),
            None => format!("delete them in the step that creates them (layer #{earlier}), or do not create them"),
        };
        r.findings.push(
            Finding::new(
                BLOAT_DELETED_LATER,
                format!(
                    "layer #{remover} deleted or overwrote {} that earlier layers wrote ({}): deleting later saves nothing",
                    crate::units::human(bytes),
                    crate::units::count(files, "file", "files")
                ),
                evidence(paths.into_iter().map(|(_, p)| format!("/{p}")).collect(), 10),
            )
            .at_layer(earlier, step, fix),
        );
    }
}

/// One line saying what to do about a bloat finding, from what its files are.
fn remedy(id: &str, paths: &[&str]) -> String {
    let any = |parts: &[&str]| paths.iter().any(|p| parts.iter().any(|x| p.contains(x)));
    match id {
        BLOAT_PACKAGE_CACHE => {
            let mut fixes = Vec::new();
            if any(&["var/lib/apt/lists/", "var/cache/apt/"]) {
                fixes.push("apt: `rm -rf /var/lib/apt/lists/*` and `apt-get clean` in the same RUN as the install, or a cache mount");
            }
            if any(&["var/cache/apk/", "etc/apk/cache/"]) {
                fixes.push("apk: `apk add --no-cache`");
            }
            if any(&["/.cache/pip/", "root/.cache/pip"]) {
                fixes.push("pip: `pip install --no-cache-dir`");
            }
            if any(&["/.npm/", "/.cache/yarn/", "/.yarn/cache/", ".cache/yarn/"]) {
                fixes.push("npm/yarn: `npm cache clean --force` / `yarn cache clean` in the same RUN");
            }
            if any(&["var/cache/dnf/", "var/cache/yum/"]) {
                fixes.push("dnf/yum: `dnf clean all` / `yum clean all` in the same RUN");
            }
            if any(&["/.cache/go-build/", "go/pkg/mod/"]) {
                fixes.push("Go: `go clean -cache -modcache`, or build in an earlier stage");
            }
            if any(&["/.cargo/registry/"]) {
                fixes.push("cargo: a cache mount for ~/.cargo/registry, or build in an earlier stage");
            }
            if any(&["var/cache/zypp/"]) {
                fixes.push("zypper: `zypper clean --all` in the same RUN");
            }
            if any(&["var/cache/pacman/"]) {
                fixes.push("pacman: `pacman -Scc --noconfirm` in the same RUN");
            }
            if fixes.is_empty() {
                "remove the cache in the same RUN that fills it, or use a cache mount".into()
            } else {
                fixes.join("; ")
            }
        }
        BLOAT_DOCS => "dpkg `path-exclude` for /usr/share/doc, man and locale (or `--no-install-recommends`)".into(),
        BLOAT_DEV_FILES => "install -dev packages in a build stage only (multi-stage build)".into(),
        BLOAT_DEBUG_INFO => "strip the binaries (`strip --strip-debug`) and drop /usr/lib/debug".into(),
        BLOAT_TOOLCHAIN => "a multi-stage build: compile in a builder stage, copy only the result".into(),
        BLOAT_TEMP if any(&["__pycache__", ".pyc"]) => {
            "`PYTHONDONTWRITEBYTECODE=1`, or do not ship __pycache__; remove temporary files in the RUN that makes them"
                .into()
        }
        _ => "remove temporary files and logs in the same RUN that makes them".into(),
    }
}

/// The files to reclaim listed in the report.
const RECLAIMABLE_FILES: usize = 100;

/// A copy of a file that stopped being visible: (path, layer that wrote it, layer that
/// overwrote or deleted it, its bytes), as [`MergedFs::losses`] gives them.
type Loss<'a> = (&'a str, usize, usize, u64);

/// What the per-path history adds up to.
struct Waste<'a> {
    min_sum: u64,
    all_sum: u64,
    deleted: u64,
    rewrites: Rewrites,
    /// The biggest per-file parts of the reclaimable bytes, and how many files have one.
    files: Vec<ReclaimableFile>,
    files_total: u64,
    /// Per layer, the bytes it wrote that a later layer overwrote or deleted.
    lost_bytes: Vec<u64>,
    /// The losses of content a later layer removed (for `BLOAT-DELETED-LATER`).
    losses: Vec<Loss<'a>>,
}

/// dive's per-file formula over the per-path history, the files it blames, and what each
/// layer lost to later ones: one walk over the history.
fn waste(fs: &MergedFs) -> Waste<'_> {
    let mut lost_bytes = vec![0u64; fs.changes.len()];
    let mut losses: Vec<Loss> = Vec::new();
    let (mut min_sum, mut all_sum, mut deleted) = (0u64, 0u64, 0u64);
    let mut rewrites = Rewrites::default();
    let mut rewritten = Vec::new();
    // (bytes to reclaim, path, history) of each file with some.
    let mut files: Vec<(u64, &str, crate::fs::EventList<'_>)> = Vec::new();
    for (path, events) in fs.history() {
        let mut min = u64::MAX;
        let mut all = 0u64;
        let mut last: Option<(u64, u64)> = None;
        // The copy visible until this event: (layer that wrote it, its bytes).
        let mut visible: Option<(usize, u64)> = None;
        for (layer, e) in events.iter() {
            if let Some((writer, bytes)) = visible.take() {
                if let Some(x) = lost_bytes.get_mut(writer) {
                    *x = x.saturating_add(bytes);
                }
                if writer < *layer && bytes > 0 {
                    losses.push((path, writer, *layer, bytes));
                }
            }
            if let Event::Written { size, .. } = e {
                visible = Some((*layer, *size));
            }
            match *e {
                Event::Written { size, hash } => {
                    all = all.saturating_add(size);
                    min = min.min(size);
                    if last == Some((size, hash)) {
                        rewrites.files += 1;
                        rewrites.bytes = rewrites.bytes.saturating_add(size);
                        rewritten.push(format!("/{path}"));
                    }
                    last = Some((size, hash));
                }
                Event::Deleted { size } => {
                    min = 0;
                    deleted = deleted.saturating_add(size);
                    last = None;
                }
            }
        }
        if min == u64::MAX {
            min = 0;
        }
        min_sum = min_sum.saturating_add(min);
        all_sum = all_sum.saturating_add(all);
        if all > min {
            files.push((all - min, path, events));
        }
    }
    rewrites.paths = evidence(rewritten, 20);
    let files_total = files.len() as u64;
    files.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    files.truncate(RECLAIMABLE_FILES);
    let files = files
        .into_iter()
        .map(|(bytes, path, events)| ReclaimableFile {
            path: format!("/{path}"),
            bytes,
            copies: events.iter().filter(|(_, e)| matches!(e, Event::Written { .. })).count() as u64,
            layers: events.iter().filter(|(_, e)| matches!(e, Event::Written { .. })).map(|(l, _)| *l).collect(),
            removed_by: match events.last() {
                Some((l, Event::Deleted { .. })) => Some(*l),
                _ => None,
            },
        })
        .collect();
    Waste { min_sum, all_sum, deleted, rewrites, files, files_total, lost_bytes, losses }
}

/// Where the base image ends: annotations, else the history's base CMD entry, else layer 0.
fn base_boundary(cx: &Context, layers: usize) -> BaseBoundary {
    let mut b = BaseBoundary { method: "first-layer".into(), layers: layers.min(1), ..Default::default() };
    let ann = cx.target.manifest.annotations().clone().unwrap_or_default();
    let labels = cx.target.config.config().as_ref().and_then(|c| c.labels().clone()).unwrap_or_default();
    let get = |k: &str| ann.get(k).or_else(|| labels.get(k)).cloned();
    b.name = get("org.opencontainers.image.base.name");
    b.digest = get("org.opencontainers.image.base.digest");
    // The history heuristic (trivy's): walking back, after the first entry that made a layer,
    // the next empty-layer CMD entry is the last of the base image.
    let history = cx.target.config.history().clone().unwrap_or_default();
    let mut seen_layer = false;
    let mut base_end: Option<usize> = None;
    for (i, h) in history.iter().enumerate().rev() {
        let empty = h.empty_layer().unwrap_or(false);
        let created = h.created_by().clone().unwrap_or_default();
        if !empty {
            seen_layer = true;
        } else if seen_layer && (created.contains("#(nop)  CMD") || created.trim_start().starts_with("CMD")) {
            base_end = Some(i);
            break;
        }
    }
    let from_history = base_end.map(|end| history[..=end].iter().filter(|h| !h.empty_layer().unwrap_or(false)).count());
    if let Some(n) = from_history {
        b.layers = n.min(layers);
        b.method = "history".into();
    }
    if b.name.is_some() || b.digest.is_some() {
        b.method = if from_history.is_some() { "annotations+history".into() } else { "annotations".into() };
    }
    b
}

/// What one pass over the view's files gathers for the bloat figures.
struct FileTally<'a> {
    /// (content hash, place among the files) of every non-empty file: 16 bytes each.
    keys: Vec<(u64, u32)>,
    cats: HashMap<&'static str, CategoryTally<'a>>,
    /// The ten largest, biggest first, then by path.
    largest: Vec<(u64, &'a str, usize)>,
}

/// One pass over the files: the duplicate keys, the categories and the largest files. Paths
/// are borrowed from the view.
fn tally(fs: &MergedFs) -> FileTally<'_> {
    let mut keys: Vec<(u64, u32)> = Vec::new();
    let mut cats: HashMap<&'static str, CategoryTally> = HashMap::new();
    let mut largest: Vec<(u64, &str, usize)> = Vec::with_capacity(11);
    let before = |a: &(u64, &str, usize), b: &(u64, &str, usize)| b.0.cmp(&a.0).then(a.1.cmp(b.1));
    for (i, (path, f, node)) in fs.files().enumerate() {
        if f.size > 0 {
            keys.push((f.hash, u32::try_from(i).unwrap_or(u32::MAX)));
        }
        if let Some(c) = category(path) {
            let e = cats.entry(c).or_default();
            e.0 = e.0.saturating_add(f.size);
            e.1 += 1;
            e.2.push((f.size, path, node.layer));
        } else if let Some(elf) = f.data.elf().filter(|e| e.debug_bytes > 0) {
            let e = cats.entry("debug-info").or_default();
            e.0 = e.0.saturating_add(elf.debug_bytes);
            e.1 += 1;
            e.2.push((elf.debug_bytes, path, node.layer));
        }
        let candidate = (f.size, path, node.layer);
        if largest.len() < 10 || largest.last().is_some_and(|l| before(&candidate, l).is_lt()) {
            let at = largest.partition_point(|l| before(l, &candidate).is_lt());
            largest.insert(at, candidate);
            largest.truncate(10);
        }
    }
    FileTally { keys, cats, largest }
}

impl Detector for BloatDetector {
    fn name(&self) -> &'static str {
        "bloat"
    }

    fn run(&self, cx: &Context, r: &mut PlatformReport) {
        // The history walk and the pass over the files read the view apart: on two threads.
        let (waste, FileTally { mut keys, cats, largest }) = rayon::join(|| waste(cx.fs), || tally(cx.fs));
        let Waste { min_sum, all_sum, deleted, rewrites, files: reclaimable_files, files_total, lost_bytes, losses } =
            waste;
        for (l, lost) in r.layers.iter_mut().zip(lost_bytes) {
            l.lost_bytes = lost;
        }
        let efficiency = if all_sum == 0 { 1.0 } else { min_sum as f64 / all_sum as f64 };

        let largest: Vec<LargeFile> =
            largest.into_iter().map(|(bytes, p, layer)| LargeFile { path: format!("/{p}"), bytes, layer }).collect();
        keys.sort_unstable();
        let mut shared: Vec<u32> =
            keys.chunk_by(|a, b| a.0 == b.0).filter(|c| c.len() > 1).flatten().map(|k| k.1).collect();
        drop(keys);
        shared.sort_unstable();
        // (size, content hash, file record, path) of the files whose hash another file has.
        let mut contents: Vec<(u64, u64, crate::fs::FileRef, &str)> = Vec::with_capacity(shared.len());
        if !shared.is_empty() {
            let mut next = shared.iter().copied().peekable();
            for (i, (path, f, _)) in cx.fs.files().enumerate() {
                if next.peek() == Some(&u32::try_from(i).unwrap_or(u32::MAX)) {
                    next.next();
                    contents.push((f.size, f.hash, f.id, path));
                }
            }
        }
        let mut duplicate_bytes = 0u64;
        let mut dup_groups = Vec::new();
        contents.sort_unstable();
        for members in contents.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            // Hardlinks share one content object: they are one copy, not duplicates.
            let distinct = 1 + members.windows(2).filter(|w| w[0].2 != w[1].2).count();
            if distinct > 1 {
                let wasted = (distinct as u64 - 1).saturating_mul(members[0].0);
                duplicate_bytes = duplicate_bytes.saturating_add(wasted);
                dup_groups.push(DuplicateGroup {
                    bytes: wasted,
                    paths: evidence(members.iter().map(|m| format!("/{}", m.3)).collect(), 10),
                });
            }
        }
        dup_groups.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.paths.cmp(&b.paths)));
        dup_groups.truncate(10);

        let order = ["package-cache", "docs", "locales", "dev-files", "debug-info", "toolchain", "pycache", "temp"];
        let categories: Vec<Category> = order
            .iter()
            .filter_map(|n| cats.get(n).map(|(b, f, _)| Category { name: n.to_string(), bytes: *b, files: *f }))
            .collect();
        // A category's bytes, files, biggest paths, and the layer that left most of it (with
        // that layer's paths, for the remedy).
        let top = |names: &[&str]| -> Tally {
            let mut bytes = 0;
            let mut files = 0;
            let mut all = Vec::new();
            for n in names {
                if let Some((b, f, p)) = cats.get(n) {
                    bytes = u64::saturating_add(bytes, *b);
                    files += f;
                    all.extend(p.iter().copied());
                }
            }
            let mut by_layer: BTreeMap<usize, u64> = BTreeMap::new();
            for (size, _, layer) in &all {
                *by_layer.entry(*layer).or_default() += size;
            }
            let blamed = by_layer.iter().max_by_key(|(l, b)| (**b, std::cmp::Reverse(**l))).map(|(l, _)| *l);
            let blamed = blamed.map(|l| (l, all.iter().filter(|(_, _, x)| *x == l).map(|(_, p, _)| *p).collect()));
            all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
            let paths = all.into_iter().take(5).map(|(_, p, _)| format!("/{p}")).collect();
            (bytes, files, paths, blamed)
        };
        let human = crate::units::human;
        for (id, names, what) in [
            (BLOAT_PACKAGE_CACHE, &["package-cache"][..], "package manager caches and indexes"),
            (BLOAT_DOCS, &["docs", "locales"][..], "documentation, man pages and locales"),
            (BLOAT_DEV_FILES, &["dev-files"][..], "headers and static libraries"),
            (BLOAT_DEBUG_INFO, &["debug-info"][..], "debug information"),
            (BLOAT_TOOLCHAIN, &["toolchain"][..], "compilers and toolchains"),
            (BLOAT_TEMP, &["temp", "pycache"][..], "temporary files, logs and bytecode caches"),
        ] {
            let (bytes, files, paths, blamed) = top(names);
            if files > 0 {
                let mut f = Finding::new(
                    id,
                    format!("{} in {} of {what}", human(bytes), crate::units::count(files, "file", "files")),
                    paths,
                );
                if let Some((layer, layer_paths)) = blamed {
                    let step = r.layers.get(layer).and_then(|l| l.created_by.clone());
                    f = f.at_layer(layer, step, remedy(id, &layer_paths));
                }
                r.findings.push(f);
            }
        }

        deleted_later(cx, r, losses);

        let base = base_boundary(cx, r.layers.len());
        let user_bytes = r.layers.iter().skip(base.layers).map(|l| l.uncompressed_bytes).fold(0, u64::saturating_add);
        let reclaimable = all_sum - min_sum;
        let mut over = Vec::new();
        if let Some(min) = cx.policy.min_efficiency {
            if efficiency < min {
                over.push(format!("efficiency {efficiency:.4} is below {min}"));
            }
        }
        if let Some(max) = cx.policy.max_reclaimable {
            if reclaimable > max {
                over.push(format!("reclaimable {} exceeds {}", human(reclaimable), human(max)));
            }
        }
        if !over.is_empty() {
            r.findings.push(Finding::new(BLOAT_WASTE, over.join("; "), vec![]));
        }
        r.bloat = Bloat {
            efficiency,
            reclaimable_bytes: reclaimable,
            deleted_bytes: deleted,
            duplicate_bytes,
            duplicate_groups: dup_groups,
            metadata_only_rewrites: rewrites,
            categories,
            largest_files: largest,
            base,
            user_bytes,
            reclaimable_files,
            reclaimable_files_total: files_total,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::category;

    #[test]
    fn categories() {
        assert_eq!(category("var/cache/apt/archives/x.deb"), Some("package-cache"));
        assert_eq!(category("var/lib/apt/lists/x_Packages.lz4"), Some("package-cache"));
        assert_eq!(category("root/.cache/pip/http/a"), Some("package-cache"));
        assert_eq!(category("usr/share/doc/x/copyright"), Some("docs"));
        assert_eq!(category("usr/share/locale/de/LC_MESSAGES/x.mo"), Some("locales"));
        assert_eq!(category("usr/include/stdio.h"), Some("dev-files"));
        assert_eq!(category("usr/lib/x86_64-linux-gnu/libc.a"), Some("dev-files"));
        assert_eq!(category("usr/bin/gcc-12"), Some("toolchain"));
        assert_eq!(category("usr/lib/gcc/x86_64-linux-gnu/12/cc1"), Some("toolchain"));
        assert_eq!(category("app/__pycache__/m.cpython-311.pyc"), Some("pycache"));
        assert_eq!(category("var/log/app.log"), Some("temp"));
        assert_eq!(category("usr/bin/ls"), None);
        assert_eq!(category("usr/bin/gzip"), None);
    }
}
