//! Tests of the merged view: whiteouts, opaque directories, hardlinks, replacements, owners,
//! symlink resolution and path order.

use super::*;
use crate::layer::{Entry, EntryKind};

fn file(path: &str, size: u64) -> Entry {
    Entry {
        path: path.into(),
        kind: EntryKind::File(FileData { size, hash: size, ..Default::default() }),
        mode: 0o644,
        uid: 0,
        gid: 0,
    }
}
fn entry(path: &str, kind: EntryKind) -> Entry {
    Entry { path: path.into(), kind, mode: 0o755, uid: 0, gid: 0 }
}
fn layer(entries: Vec<Entry>) -> LayerDelta {
    LayerDelta::from_entries("sha256:test", entries)
}
fn size_of(fs: &MergedFs, p: &str) -> Option<u64> {
    match fs.get(p)?.kind {
        NodeKind::File(f) => Some(f.size),
        _ => None,
    }
}

#[test]
fn owners_survive_the_merge() {
    let owned = |mut e: Entry, uid, gid| {
        (e.uid, e.gid) = (uid, gid);
        e
    };
    let l1 =
        layer(vec![owned(file("a", 1), 1000, 100), owned(file("b", 1), 0, 5), owned(entry("d", EntryKind::Dir), 7, 7)]);
    // The second layer knows the owners in another order: its indexes are not the view's.
    let l2 = layer(vec![owned(entry("d", EntryKind::Dir), 1000, 100), owned(file("c", 1), 7, 7)]);
    let fs = MergedFs::build([&l1, &l2]);
    let owner = |p: &str| fs.get(p).map(|n| (n.uid, n.gid));
    assert_eq!(owner("a"), Some((1000, 100)));
    assert_eq!(owner("b"), Some((0, 5)));
    assert_eq!(owner("d"), Some((1000, 100)));
    assert_eq!(owner("c"), Some((7, 7)));
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
    let l2 = layer(vec![entry("etc/a", EntryKind::Whiteout), file("d/old/z", 5), entry("d/old", EntryKind::Opaque)]);
    let fs = MergedFs::build([&l1, &l2]);
    assert!(fs.get("etc/a").is_none());
    assert_eq!(size_of(&fs, "etc/b"), Some(2));
    assert!(fs.get("d/old/x").is_none());
    assert!(fs.get("d/old/sub/y").is_none());
    assert!(fs.get("d/old/sub").is_none());
    assert_eq!(size_of(&fs, "d/old/z"), Some(5));
    assert_eq!(fs.changes[1], LayerChanges { added: 1, changed: 0, deleted: 3 });
    assert_eq!(
        *fs.events("etc/a").unwrap(),
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
