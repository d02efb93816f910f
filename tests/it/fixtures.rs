//! Per-fixture facts: the exact libc verdict, loaders, shells, package managers and ELF facts of
//! the images under testdata/, built by scripts/fixtures/build-fixtures.sh from real toolchains.

use crate::common::{binary, only_platform, scan, testdata};
use layerscope::elf::{ElfKind, Linkage};
use layerscope::layer::pkgdb::DbKind;
use layerscope::report::LibcKind;
use layerscope::report::PlatformReport;

fn oci(name: &str) -> String {
    format!("oci:{}", testdata(&format!("images/{name}/oci")).display())
}

fn names(tools: &[layerscope::report::Tool]) -> Vec<&str> {
    tools.iter().map(|t| t.name.as_str()).collect()
}

fn clean(p: &PlatformReport) {
    let errors: Vec<_> = p.diagnostics.iter().filter(|d| d.severity == layerscope::diag::Level::Error).collect();
    assert!(errors.is_empty(), "{}: unexpected errors {errors:?}", p.platform);
}

#[test]
fn glibc_image_from_debian_packages() {
    let r = scan(&oci("glibc"));
    let p = only_platform(&r);
    clean(p);
    assert_eq!(p.platform, "linux/amd64");
    assert_eq!(p.libc.kind, LibcKind::Glibc);
    assert_eq!(p.libc.version.as_deref(), Some("2.36"));
    assert_eq!(p.libc.version_source.as_deref(), Some("libc.so.6 version string"));
    assert!(p.libc.loaders.contains(&"/lib64/ld-linux-x86-64.so.2".to_string()), "{:?}", p.libc.loaders);
    assert_eq!(p.libc.newest_glibc_required.as_deref(), Some("2.34"));
    assert_eq!(p.os_release.as_ref().and_then(|o| o.id.as_deref()), Some("debian"));

    let hello = binary(p, "/usr/local/bin/hello");
    assert_eq!(hello.machine, "amd64");
    assert_eq!(hello.kind, ElfKind::Executable);
    assert_eq!(hello.linkage, Linkage::Dynamic);
    assert_eq!(hello.interpreter.as_deref(), Some("/lib64/ld-linux-x86-64.so.2"));
    assert_eq!(hello.needed, vec!["libc.so.6"]);
    assert!(!hello.stripped);
    assert_eq!(hello.glibc_required.as_deref(), Some("2.34"));
    assert_eq!(hello.size, 15960);

    let mathy = binary(p, "/usr/local/bin/mathy");
    assert_eq!(mathy.needed, vec!["libm.so.6", "libc.so.6"]);
    assert!(mathy.stripped);
    assert_eq!(mathy.glibc_required.as_deref(), Some("2.34"));

    let libc = binary(p, "/usr/lib/x86_64-linux-gnu/libc.so.6");
    assert_eq!(libc.kind, ElfKind::SharedLibrary);
    assert_eq!(libc.soname.as_deref(), Some("libc.so.6"));
    assert_eq!(libc.needed, vec!["ld-linux-x86-64.so.2"]);
    let ld = binary(p, "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    assert_eq!(ld.kind, ElfKind::SharedLibrary);
    assert!(ld.interpreter.is_none());
    assert_eq!(p.binaries.len(), 5);

    assert!(p.shells.is_empty(), "{:?}", p.shells);
    assert!(p.package_managers.is_empty(), "{:?}", p.package_managers);
    assert_eq!(p.package_databases.len(), 1);
    let db = &p.package_databases[0];
    assert_eq!((db.kind, db.path.as_str(), db.packages), (DbKind::Dpkg, "/var/lib/dpkg/status", Some(2)));
    assert!(db.package_list.iter().any(|(n, v)| n == "libc6" && v.starts_with("2.36-")));
    // Layer 2 replaces layer 1's dpkg status: a change, not an addition.
    assert_eq!(p.layers[1].files_changed, 1);
}

#[test]
fn static_and_static_pie() {
    let r = scan(&oci("static"));
    let p = only_platform(&r);
    clean(p);
    assert_eq!(p.libc.kind, LibcKind::Static);
    assert!(p.libc.loaders.is_empty());
    assert_eq!(p.libc.version, None);
    let b = binary(p, "/hello");
    assert_eq!((b.kind, b.linkage, b.stripped), (ElfKind::Executable, Linkage::Static, true));
    assert!(b.interpreter.is_none() && b.needed.is_empty());

    let r = scan(&oci("static-pie"));
    let p = only_platform(&r);
    assert_eq!(p.libc.kind, LibcKind::Static);
    let b = binary(p, "/hello");
    assert_eq!((b.kind, b.linkage), (ElfKind::Executable, Linkage::StaticPie));
}

#[test]
fn musl_image_with_apk_database_but_no_apk() {
    let r = scan(&oci("musl"));
    let p = only_platform(&r);
    clean(p);
    assert_eq!(p.libc.kind, LibcKind::Musl);
    assert_eq!(p.libc.version.as_deref(), Some("1.2.3"));
    assert_eq!(p.libc.version_source.as_deref(), Some("apk package database"));
    assert_eq!(p.libc.loaders, vec!["/lib/ld-musl-x86_64.so.1"]);
    assert_eq!(p.libc.newest_glibc_required, None);
    let b = binary(p, "/app/hello");
    assert_eq!(b.interpreter.as_deref(), Some("/lib/ld-musl-x86_64.so.1"));
    assert_eq!(b.needed, vec!["libc.so"]);
    assert!(!b.stripped);
    assert!(p.package_managers.is_empty(), "an apk database is not a package manager");
    assert_eq!(p.package_databases.len(), 1);
    assert_eq!(p.package_databases[0].kind, DbKind::Apk);
    assert_eq!(p.package_databases[0].packages, Some(2));
}

#[test]
fn busybox_shells_through_applet_links() {
    let r = scan(&oci("busybox"));
    let p = only_platform(&r);
    clean(p);
    assert_eq!(p.libc.kind, LibcKind::Static);
    assert_eq!(names(&p.shells), vec!["sh", "ash", "busybox"]);
    let sh = &p.shells[0];
    assert_eq!((sh.path.as_str(), sh.target.as_deref()), ("/bin/sh", Some("/bin/busybox")));
    assert!(p.package_managers.is_empty());
    assert_eq!(p.binaries.len(), 1, "applet links are not separate binaries");
}

#[test]
fn whiteouts_opaque_dirs_and_hardlinks() {
    let r = scan(&oci("layers"));
    let p = only_platform(&r);
    clean(p);
    let loaded = layerscope::pipeline::load(&oci("layers"), &Default::default()).unwrap();
    let fs = loaded.merged(&loaded.resolution.targets[0]);
    let size = |path: &str| match fs.get(path).map(|n| n.kind) {
        Some(layerscope::fs::NodeKind::File(f)) => Some(f.size),
        _ => None,
    };
    assert_eq!(size("etc/b.conf"), Some(27), "layer 2 overwrote b.conf");
    assert_eq!(size("data/old/z.txt"), Some(15));
    assert_eq!(size("opt/link.txt"), Some(28), "the hardlink keeps keep.txt's content");
    assert_eq!(size("bin/true-static"), Some(17808));
    assert_eq!(size("usr/bin/tool"), Some(17808));
    for gone in ["etc/a.conf", "data/old/x.txt", "data/old/y.txt", "opt/keep.txt"] {
        assert!(fs.get(gone).is_none(), "{gone} should be deleted");
    }
    assert!(fs.iter().all(|(path, _)| !path.contains(".wh.")), "whiteout names are hidden");
    assert!(matches!(fs.get("opt/sym").map(|n| n.kind), Some(layerscope::fs::NodeKind::Symlink(t)) if t == "keep.txt"));
    assert!(fs.resolve("opt/sym", 40).is_err(), "the symlink dangles once keep.txt is gone");
    // Per-layer counts: layer 2 adds z.txt and tool, changes b.conf, deletes a.conf, x.txt, y.txt.
    assert_eq!((p.layers[1].files_added, p.layers[1].files_changed, p.layers[1].files_deleted), (2, 1, 3));
    assert_eq!(p.layers[2].files_deleted, 1);
    assert_eq!(p.files, 5, "true-static, z.txt, b.conf, link.txt, tool");
    // History keeps the deleted copies for the bloat analysis.
    assert_eq!(fs.events("etc/a.conf").unwrap().len(), 2);
}

#[test]
fn multiarch_index_with_attestation_and_shared_layer() {
    let r = scan(&oci("multiarch"));
    assert_eq!(r.attestations_skipped, 1);
    assert_eq!(r.digest.as_deref().map(|d| &d[..19]), Some("sha256:4d9cd58adfd4"));
    let plats: Vec<&str> = r.platforms.iter().map(|p| p.platform.as_str()).collect();
    assert_eq!(plats, vec!["linux/amd64", "linux/arm64/v8"]);
    let shared = "sha256:02a1076dd4403ec8f0ef8fdbcaabae9ea2b7810fb7f554e33110ca7d54821e06";
    for p in &r.platforms {
        clean(p);
        assert_eq!(p.layers[0].digest, shared);
        assert_eq!(p.libc.kind, LibcKind::Glibc);
        assert_eq!(p.libc.version.as_deref(), Some("2.36"));
        assert_eq!(p.libc.newest_glibc_required.as_deref(), Some("2.34"));
    }
    let arm = &r.platforms[1];
    let hello = binary(arm, "/usr/local/bin/hello");
    assert_eq!(hello.machine, "arm64");
    assert_eq!(hello.interpreter.as_deref(), Some("/lib/ld-linux-aarch64.so.1"));
    assert_eq!(arm.libc.loaders, vec!["/lib/ld-linux-aarch64.so.1"]);
    assert!(arm.binaries.iter().all(|b| b.machine == "arm64"));
    assert!(r.platforms[0].binaries.iter().all(|b| b.machine == "amd64"));

    // The shared layer is read once: one delta per distinct digest.
    let loaded = layerscope::pipeline::load(&oci("multiarch"), &Default::default()).unwrap();
    let referenced: usize = loaded.resolution.targets.iter().map(|t| t.layers.len()).sum();
    assert_eq!((referenced, loaded.deltas.len()), (6, 5));
}

#[test]
fn platform_filter_uses_docker_syntax() {
    use layerscope::oci::platform::PlatformFilter;
    for spec in ["arm64", "linux/arm64", "linux/arm64/v8"] {
        let opts =
            layerscope::pipeline::ScanOptions { platforms: PlatformFilter::parse(spec).unwrap(), ..Default::default() };
        let r = layerscope::pipeline::scan(&oci("multiarch"), &opts).unwrap();
        assert_eq!(r.platforms.len(), 1, "{spec}");
        assert_eq!(r.platforms[0].platform, "linux/arm64/v8");
        assert_eq!(r.platforms_skipped, vec!["linux/amd64"]);
    }
    let opts = layerscope::pipeline::ScanOptions {
        platforms: PlatformFilter::parse("linux/s390x").unwrap(),
        ..Default::default()
    };
    let e = layerscope::pipeline::scan(&oci("multiarch"), &opts).unwrap_err().to_string();
    assert!(e.contains("no manifest for linux/s390x") && e.contains("linux/arm64/v8"), "{e}");
}

#[test]
fn gzip_zstd_and_plain_layers_and_mislabelled_media_types() {
    let good = scan(&oci("compression"));
    let p = only_platform(&good);
    clean(p);
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    assert_eq!(p.files, 3);
    assert_eq!(p.bytes, 17808 + 112000 + 31);

    let bad = scan(&oci("compression-mislabeled"));
    let q = only_platform(&bad);
    clean(q);
    assert_eq!((q.files, q.bytes), (p.files, p.bytes), "same content read despite the labels");
    let notes: Vec<&str> = q.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("says Gzip but the bytes are Zstd"), "{notes:?}");
    assert!(q.diagnostics[0].layer.as_deref().unwrap().starts_with("sha256:829636263c59"));
}

/// The same image through every transport gives the same facts.
#[test]
fn every_format_gives_the_same_facts() {
    for name in ["static", "layers"] {
        let base = scan(&oci(name));
        let dir = testdata("images").display().to_string();
        for reference in [
            format!("{dir}/{name}/oci"),
            format!("oci-archive:{dir}/{name}.oci.tar"),
            format!("{dir}/{name}.oci.tar"),
            format!("docker-archive:{dir}/{name}.docker-legacy.tar"),
            format!("{dir}/{name}.docker-legacy.tar"),
            format!("docker-archive:{dir}/{name}.docker.tar"),
            format!("docker-archive:{dir}/{name}.docker.tar:{name}:latest"),
        ] {
            let r = scan(&reference);
            let (a, b) = (only_platform(&base), only_platform(&r));
            clean(b);
            assert_eq!((a.files, a.bytes), (b.files, b.bytes), "{reference}");
            assert_eq!(a.binaries, b.binaries, "{reference}");
            assert_eq!(a.libc, b.libc, "{reference}");
            assert_eq!(a.config_digest, b.config_digest, "{reference}");
            let unc = |p: &PlatformReport| p.layers.iter().map(|l| l.uncompressed_bytes).collect::<Vec<_>>();
            assert_eq!(unc(a), unc(b), "{reference}");
            let counts = |p: &PlatformReport| {
                p.layers.iter().map(|l| (l.files_added, l.files_changed, l.files_deleted)).collect::<Vec<_>>()
            };
            assert_eq!(counts(a), counts(b), "{reference}");
        }
    }
    let dir = testdata("images").display().to_string();
    for (name, others) in [
        (
            "musl",
            vec![
                format!("docker-archive:{dir}/musl.docker-legacy.tar"),
                format!("{dir}/musl.docker.tar"),
                format!("{dir}/musl.oci.tar"),
            ],
        ),
        (
            "multiarch",
            vec![format!("oci-archive:{dir}/multiarch.oci.tar"), format!("oci-archive:{dir}/multiarch.oci.tar:latest")],
        ),
    ] {
        let base = scan(&oci(name));
        for reference in others {
            let r = scan(&reference);
            assert_eq!(r.platforms.len(), base.platforms.len(), "{reference}");
            for (a, b) in base.platforms.iter().zip(&r.platforms) {
                clean(b);
                assert_eq!((&a.platform, a.files, a.bytes), (&b.platform, b.files, b.bytes), "{reference}");
                assert_eq!(
                    (&a.binaries, &a.libc, &a.package_databases),
                    (&b.binaries, &b.libc, &b.package_databases),
                    "{reference}"
                );
            }
        }
    }
    let legacy = scan(&format!("docker-archive:{}", testdata("images/static.docker-legacy.tar").display()));
    assert_eq!(
        legacy.digest.as_deref(),
        Some(only_platform(&legacy).config_digest.as_str()),
        "legacy pin is the image ID"
    );
}

#[test]
fn tags_select_images_and_unknown_tags_are_clear_errors() {
    let dir = testdata("images/static/oci").display().to_string();
    assert_eq!(scan(&format!("oci:{dir}:latest")).platforms.len(), 1);
    let e = layerscope::pipeline::scan(&format!("oci:{dir}:nope"), &Default::default()).unwrap_err().to_string();
    assert!(e.contains("no image tagged \"nope\"") && e.contains("latest"), "{e}");
}
