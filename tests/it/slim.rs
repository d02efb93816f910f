//! `layerscope slim`: the closure checked against lddtree (pax-utils) run on the merged view
//! unpacked by umoci, and the export run under chroot next to the full filesystem (same exit
//! code, same output). Images: the fixtures, plus images built here from the host's real
//! binaries (openssl with libssl/libcrypto, dash for a script entrypoint, a musl program with its
//! own library found through `$ORIGIN`) and a hostile one whose links climb out.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{self, Comp, Image, E};

fn layerscope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_layerscope")).args(args).env("NO_COLOR", "1").output().unwrap()
}

fn plan(reference: &str, extra: &[&str]) -> Value {
    let mut args = vec!["slim", reference, "-q", "-f", "json"];
    args.extend(extra);
    let out = layerscope(&args);
    assert!(out.status.success(), "slim {reference}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Unpacks the whole merged view of `layout:tag` with umoci (an independent layer applier).
fn unpack(layout: &Path, tag: &str, arch: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut src = format!("{}:{tag}", layout.display());
    let single = tempfile::tempdir().unwrap();
    if let Some(arch) = arch {
        // One platform out of an index: skopeo picks it, umoci unpacks it.
        let dst = single.path().join("img");
        let out = Command::new("skopeo")
            .args(["copy", "-q", "--override-arch", arch, &format!("oci:{src}"), &format!("oci:{}:x", dst.display())])
            .output()
            .expect("skopeo (scripts/test.sh installs it)");
        assert!(out.status.success(), "skopeo: {}", String::from_utf8_lossy(&out.stderr));
        src = format!("{}:x", dst.display());
    }
    let root = dir.path().join("rootfs");
    let out = Command::new("umoci")
        .args(["raw", "unpack", "--image", &src, root.to_str().unwrap()])
        .output()
        .expect("umoci (scripts/test.sh installs it)");
    assert!(out.status.success(), "umoci: {}", String::from_utf8_lossy(&out.stderr));
    dir
}

/// Resolves `path` inside `root` as the kernel would in a chroot (links relative to their
/// directory, absolute ones to the root, `..` stopping there): (real path, links followed).
fn resolve_in(root: &Path, path: &str) -> (String, Vec<String>) {
    let mut links = Vec::new();
    let mut pending: Vec<String> = path.split('/').rev().filter(|c| !c.is_empty()).map(String::from).collect();
    let mut cur: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(c) = pending.pop() {
        match c.as_str() {
            "." => continue,
            ".." => {
                cur.pop();
                continue;
            }
            _ => {}
        }
        cur.push(c);
        let here = root.join(cur.join("/"));
        if let Ok(t) = std::fs::read_link(&here) {
            hops += 1;
            assert!(hops < 40, "link loop at {}", here.display());
            links.push(format!("/{}", cur.join("/")));
            cur.pop();
            let t = t.to_string_lossy().to_string();
            if t.starts_with('/') {
                cur.clear();
            }
            pending.extend(t.split('/').rev().filter(|c| !c.is_empty()).map(String::from));
        }
    }
    (format!("/{}", cur.join("/")), links)
}

/// lddtree's list for `prog` in `root`: the real files, and the links on the way to them.
///
/// Two lddtree gaps are bridged, not hidden: it does not know the directories Debian's glibc
/// searches built in (`/lib/TRIPLET`, `/usr/lib/TRIPLET`), named in an `/etc/ld.so.conf` that
/// exists while it runs when the image has none (it ignores `LD_LIBRARY_PATH` with `-R`); and with `-R` it
/// prefixes the root twice to an expanded `$ORIGIN`, so a relative link ROOT/ROOT -> ROOT
/// exists while it runs (and its paths are read back with the doubled prefix removed).
fn lddtree(root: &Path, prog: &str, triplet: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let rel = root.strip_prefix("/").unwrap();
    let doubled = root.join(rel);
    let mut made = Vec::new();
    let mut d = doubled.parent().unwrap().to_path_buf();
    while !d.exists() {
        made.push(d.clone());
        d = d.parent().unwrap().to_path_buf();
    }
    std::fs::create_dir_all(doubled.parent().unwrap()).unwrap();
    let up = vec![".."; rel.components().count() - 1].join("/");
    std::os::unix::fs::symlink(&up, &doubled).unwrap();
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.args(["/usr/bin/lddtree", "-l", "-R", root.to_str().unwrap(), prog]);
    let conf = root.join("etc/ld.so.conf");
    let add_conf = !conf.exists() && root.join("etc").is_dir() && !root.join("etc").is_symlink();
    if add_conf {
        std::fs::write(&conf, format!("/lib/{triplet}\n/usr/lib/{triplet}\n")).unwrap();
    }
    let out = cmd.output().expect("lddtree (pax-utils and python3-pyelftools; scripts/test.sh installs them)");
    if add_conf {
        std::fs::remove_file(&conf).unwrap();
    }
    std::fs::remove_file(&doubled).unwrap();
    for m in made {
        std::fs::remove_dir(m).unwrap();
    }
    assert!(out.status.success(), "lddtree {prog}: {}", String::from_utf8_lossy(&out.stderr));
    let (mut files, mut links) = (BTreeSet::new(), BTreeSet::new());
    let prefix = root.to_str().unwrap();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if !line.contains('/') {
            // Not found. Only musl's libc, which its loader is (lddtree does not know that).
            assert!(line == "libc.so" || line.starts_with("libc.musl-"), "lddtree {prog}: {line} not found");
            continue;
        }
        let p = line.strip_prefix(prefix).unwrap_or(line);
        let p = p.strip_prefix(prefix).unwrap_or(p);
        let (real, l) = resolve_in(root, p);
        files.insert(real);
        links.extend(l);
    }
    (files, links)
}

fn closure(plan: &Value, kind: &str) -> BTreeSet<String> {
    plan["closure"]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == kind)
        .map(|p| p["path"].as_str().unwrap().to_string())
        .collect()
}

/// Runs `argv` with chroot(2) into `root` and chdir to `workdir` (the config's), with `stdin`
/// and a clean environment: (exit code, stdout, stderr).
fn run_in(root: &Path, argv: &[String], workdir: &str, stdin: &[u8]) -> (Option<i32>, String, String) {
    use std::os::unix::process::CommandExt;
    let (root_c, wd) =
        (std::ffi::CString::new(root.to_str().unwrap()).unwrap(), std::ffi::CString::new(workdir).unwrap());
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls (chroot, chdir) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::chroot(root_c.as_ptr()) != 0 || libc::chdir(wd.as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut c = cmd.spawn().unwrap_or_else(|e| panic!("chroot {} {argv:?}: {e}", root.display()));
    c.stdin.take().unwrap().write_all(stdin).unwrap();
    let o = c.wait_with_output().unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stdout).into(), String::from_utf8_lossy(&o.stderr).into())
}

fn export(reference: &str, extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("slim");
    let mut args = vec!["slim", reference, "-q", "-f", "json", "--export", out_dir.to_str().unwrap()];
    args.extend(extra);
    let out = layerscope(&args);
    assert!(out.status.success(), "export {reference}: {}", String::from_utf8_lossy(&out.stderr));
    (dir, out_dir)
}

/// Every regular file and symlink below `root`, as absolute image paths.
fn tree(root: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut files, mut links) = (BTreeSet::new(), BTreeSet::new());
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            let rel = format!("/{}", e.path().strip_prefix(root).unwrap().display());
            if t.is_symlink() {
                links.insert(rel);
            } else if t.is_dir() {
                stack.push(e.path());
            } else {
                files.insert(rel);
            }
        }
    }
    (files, links)
}

/// One image checked end to end.
struct Case<'a> {
    layout: PathBuf,
    tag: &'a str,
    arch: Option<&'a str>,
    platform: Option<&'a str>,
    /// Files the closure holds besides lddtree's (command arguments, included `maybe`).
    extra_files: &'a [&'a str],
    /// Directories taken whole (runtime trees): every file and link below them.
    extra_trees: &'a [&'a str],
    stdin: &'a [u8],
    run: bool,
}

fn check(c: &Case) -> Value {
    let reference = format!("oci:{}", c.layout.display());
    let pf: Vec<&str> = c.platform.map(|p| vec!["--platform", p]).unwrap_or_default();
    let report = plan(&reference, &pf);
    let p = &report["platforms"][0];
    assert_eq!(p["unresolved"], serde_json::json!([]), "{reference}");
    let full = unpack(&c.layout, c.tag, c.arch);
    let root = full.path().join("rootfs");
    let argv: Vec<String> = p["command"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
    let program = p["program"].as_str().unwrap();
    // lddtree is given the command as the config names it (links on the way included).
    let named = if argv[0].starts_with('/') { argv[0].clone() } else { program.to_string() };
    let triplet = if c.arch == Some("arm64") { "aarch64-linux-gnu" } else { "x86_64-linux-gnu" };
    let head = std::fs::read(root.join(program.trim_start_matches('/'))).unwrap();
    let (mut want_files, mut want_links) = if head.starts_with(b"#!") {
        let (real, links) = resolve_in(&root, &named);
        (BTreeSet::from([real]), links.into_iter().collect())
    } else {
        lddtree(&root, &named, triplet)
    };
    for x in c.extra_files {
        let (real, links) = resolve_in(&root, x);
        want_files.insert(real);
        want_links.extend(links);
    }
    for d in c.extra_trees {
        let (files, links) = tree(&root.join(d.trim_start_matches('/')));
        want_files.extend(files.iter().map(|f| format!("{d}{f}")));
        want_links.extend(links.iter().map(|l| format!("{d}{l}")));
    }
    // A script's interpreter, from its `#!` line, through lddtree.
    if head.starts_with(b"#!") {
        let line = String::from_utf8_lossy(&head[2..]).lines().next().unwrap().trim().to_string();
        let interp = line.split_whitespace().next().unwrap().to_string();
        let (f, l) = lddtree(&root, &interp, triplet);
        want_files.extend(f);
        want_links.extend(l);
    }
    assert_eq!(closure(p, "file"), want_files, "{reference}: closure files against lddtree");
    assert_eq!(closure(p, "symlink"), want_links, "{reference}: closure links against the links on the way");
    let bytes: u64 = p["closure"]["paths"].as_array().unwrap().iter().map(|e| e["bytes"].as_u64().unwrap()).sum();
    assert_eq!(p["closure"]["bytes"].as_u64(), Some(bytes));
    assert!(bytes <= p["image_bytes"].as_u64().unwrap());

    let (_keep, out) = export(&reference, &pf);
    let (files, links) = tree(&out);
    assert_eq!(files, closure(p, "file"), "{reference}: exported files");
    assert_eq!(links, closure(p, "symlink"), "{reference}: exported links");
    for f in &files {
        let a = std::fs::read(out.join(&f[1..])).unwrap();
        let b = std::fs::read(root.join(&f[1..])).unwrap();
        assert!(a == b, "{reference}: {f} differs from the unpacked image");
        let (ma, mb) = (std::fs::metadata(out.join(&f[1..])).unwrap(), std::fs::metadata(root.join(&f[1..])).unwrap());
        use std::os::unix::fs::MetadataExt;
        assert_eq!((ma.mode(), ma.uid(), ma.gid()), (mb.mode(), mb.uid(), mb.gid()), "{reference}: {f} mode/owner");
    }
    if c.run {
        let workdir = p["config"]["working_dir"].as_str().unwrap_or("/");
        let slim = run_in(&out, &argv, workdir, c.stdin);
        let whole = run_in(&root, &argv, workdir, c.stdin);
        assert_eq!(slim, whole, "{reference}: the export runs as the full image does");
        assert!(slim.0.is_some() && (!slim.1.is_empty() || slim.0 != Some(0)), "{reference}: it ran: {slim:?}");
    }
    report
}

fn fixture(name: &str) -> PathBuf {
    common::testdata(&format!("images/{name}/oci"))
}

#[test]
fn fixtures_closure_is_lddtree_and_the_export_runs_under_chroot() {
    let sh = b"echo hello from sh; ls / >/dev/null 2>&1; exit 7\n".as_slice();
    for (name, stdin) in [
        ("glibc", b"".as_slice()),
        ("static", b""),
        ("static-pie", b""),
        ("musl", b""),
        ("go", b""),
        ("busybox", sh),
        ("hardlinks", sh),
    ] {
        let c = Case {
            layout: fixture(name),
            tag: "latest",
            arch: None,
            platform: None,
            extra_files: &[],
            extra_trees: &[],
            stdin,
            run: true,
        };
        check(&c);
    }
}

/// Builds the layer entries for host files: each path's links on the way (as links, with their
/// host targets) and the real file's content at its real path, parents first.
struct HostTree {
    dirs: BTreeSet<String>,
    files: std::collections::BTreeMap<String, Vec<u8>>,
    links: std::collections::BTreeMap<String, String>,
}

impl HostTree {
    fn new() -> Self {
        HostTree { dirs: BTreeSet::new(), files: Default::default(), links: Default::default() }
    }

    fn parents(&mut self, path: &str) {
        let mut p = String::new();
        for c in path.split('/').filter(|c| !c.is_empty()).collect::<Vec<_>>().split_last().map_or(&[][..], |x| x.1) {
            if !p.is_empty() {
                p.push('/');
            }
            p.push_str(c);
            self.dirs.insert(p.clone());
        }
    }

    /// Adds a host path as the host resolves it.
    fn host(&mut self, path: &str) {
        let (real, links) = resolve_in(Path::new("/"), path);
        for l in links {
            let t = std::fs::read_link(&l).unwrap().to_string_lossy().to_string();
            self.parents(&l);
            self.links.insert(l[1..].to_string(), t);
        }
        self.parents(&real);
        self.files.insert(real[1..].to_string(), std::fs::read(&real).unwrap());
    }

    fn file(&mut self, path: &str, content: &[u8]) {
        self.parents(path);
        self.files.insert(path.to_string(), content.to_vec());
    }

    fn link(&mut self, path: &str, target: &str) {
        self.parents(path);
        self.links.insert(path.to_string(), target.to_string());
    }

    fn tar(&self) -> Vec<u8> {
        let dirs: Vec<String> =
            self.dirs.iter().filter(|d| !self.links.contains_key(*d)).map(|d| format!("{d}/")).collect();
        let mut entries: Vec<E> = dirs.iter().map(|d| E::Dir(d)).collect();
        entries.extend(self.files.iter().map(|(p, c)| E::File(p, c)));
        entries.extend(self.links.iter().map(|(p, t)| E::Symlink(p, t)));
        common::tar(&entries)
    }
}

/// The host's library list of a program (lddtree on the host).
fn host_libs(prog: &str) -> Vec<String> {
    let out = Command::new("/usr/bin/python3").args(["/usr/bin/lddtree", "-l", prog]).output().unwrap();
    assert!(out.status.success(), "lddtree {prog}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect()
}

/// An OCI layout of one image with `layers` and `config`, tagged `latest` (for umoci).
fn write(dir: &Path, layers: Vec<Vec<u8>>, config: Value) -> PathBuf {
    let mut img = Image::new("amd64", layers.into_iter().map(|l| (l, Comp::None)).collect());
    img.config = config;
    let mut d = common::write_image(dir, &img);
    d["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "latest"});
    common::write_layout(dir, vec![d]);
    dir.to_path_buf()
}

fn gcc(cc: &str, dir: &Path, args: &[&str]) {
    let out = Command::new(cc).current_dir(dir).args(args).output().unwrap_or_else(|e| panic!("{cc}: {e}"));
    assert!(out.status.success(), "{cc} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn glibc_with_libssl_and_a_script_entrypoint_built_from_the_host() {
    let mut t = HostTree::new();
    for p in host_libs("/usr/bin/openssl").iter().chain(&host_libs("/usr/bin/dash")) {
        t.host(p);
    }
    t.host("/bin/sh");
    t.host("/etc/ssl/certs/ca-certificates.crt");
    t.host("/usr/bin/bash"); // not needed by either command
    t.file("app/data.txt", b"some data to hash\n");
    t.file("app/run.sh", b"#!/bin/sh\necho \"script $0 ran with $# args in $(pwd)\"\nexit 3\n");
    let layer = t.tar();
    let tmp = tempfile::tempdir().unwrap();
    let env = serde_json::json!(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
    let ssl = write(
        &tmp.path().join("ssl"),
        vec![layer.clone()],
        serde_json::json!({"Entrypoint": ["openssl", "dgst", "-sha256", "data.txt"], "WorkingDir": "/app", "Env": env}),
    );
    let script = write(
        &tmp.path().join("script"),
        vec![layer],
        serde_json::json!({"Entrypoint": ["/app/run.sh"], "Cmd": ["one", "two"], "Env": env}),
    );
    let r = check(&Case {
        layout: ssl,
        tag: "latest",
        arch: None,
        platform: None,
        extra_files: &["/app/data.txt", "/etc/ssl/certs/ca-certificates.crt"],
        extra_trees: &[],
        stdin: b"",
        run: true,
    });
    let p = &r["platforms"][0];
    let certs = p["maybe"].as_array().unwrap().iter().find(|m| m["path"] == "/etc/ssl/certs/ca-certificates.crt");
    assert_eq!(certs.map(|m| m["included"].clone()), Some(Value::Bool(true)), "{p}");
    assert!(p["base"]["suggestion"].as_str().unwrap().starts_with("gcr.io/distroless/base-debian"), "{}", p["base"]);
    for lib in ["libssl.so.3", "libcrypto.so.3"] {
        assert!(p["base"]["libraries"].as_array().unwrap().iter().any(|l| l == lib), "{}", p["base"]);
    }
    assert!(!closure(p, "file").contains("/usr/bin/bash"));
    let r = check(&Case {
        layout: script,
        tag: "latest",
        arch: None,
        platform: None,
        extra_files: &[],
        extra_trees: &[],
        stdin: b"",
        run: true,
    });
    let p = &r["platforms"][0];
    assert!(closure(p, "file").contains("/app/run.sh") && closure(p, "file").contains("/usr/bin/dash"), "{p}");
    assert!(closure(p, "symlink").contains("/bin") && closure(p, "symlink").contains("/usr/bin/sh"), "{p}");
    assert!(!closure(p, "file").iter().any(|f| f.contains("libssl")), "the script's closure is dash's: {p}");
}

#[test]
fn musl_program_with_its_own_library_through_origin() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path();
    std::fs::write(src.join("lib.c"), "const char *greet(void) { return \"hello from libgreet\"; }\n").unwrap();
    std::fs::write(
        src.join("main.c"),
        "#include <stdio.h>\nconst char *greet(void);\nint main(int c, char **v) { printf(\"%s, %d args\\n\", greet(), c); return 5; }\n",
    )
    .unwrap();
    gcc("musl-gcc", src, &["-O2", "-shared", "-fPIC", "-Wl,-soname,libgreet.so", "-o", "libgreet.so", "lib.c"]);
    gcc("musl-gcc", src, &["-O2", "-o", "prog", "main.c", "-L.", "-lgreet", "-Wl,-rpath,$ORIGIN/../lib"]);
    let mut t = HostTree::new();
    t.host("/lib/ld-musl-x86_64.so.1");
    t.file("opt/app/bin/prog", &std::fs::read(src.join("prog")).unwrap());
    t.file("opt/app/lib/libgreet.so", &std::fs::read(src.join("libgreet.so")).unwrap());
    t.file("opt/app/lib/unused.so", &std::fs::read(src.join("libgreet.so")).unwrap());
    let layout = write(&src.join("img"), vec![t.tar()], serde_json::json!({"Entrypoint": ["/opt/app/bin/prog", "x"]}));
    let r = check(&Case {
        layout,
        tag: "latest",
        arch: None,
        platform: None,
        extra_files: &[],
        extra_trees: &[],
        stdin: b"",
        run: true,
    });
    let p = &r["platforms"][0];
    assert!(closure(p, "file").contains("/opt/app/lib/libgreet.so"), "{p}");
    assert!(!closure(p, "file").contains("/opt/app/lib/unused.so"), "{p}");
    assert!(p["base"]["suggestion"].as_str().unwrap().starts_with("alpine:"), "{}", p["base"]);
}

#[test]
fn multiarch_both_platforms_against_lddtree_amd64_run() {
    for (platform, arch, run) in [("linux/amd64", "amd64", true), ("linux/arm64", "arm64", false)] {
        // arm64 cannot run here: its closure is checked against lddtree only.
        check(&Case {
            layout: fixture("multiarch"),
            tag: "latest",
            arch: Some(arch),
            platform: Some(platform),
            extra_files: &[],
            extra_trees: &[],
            stdin: b"",
            run,
        });
    }
}

#[test]
fn links_and_needed_entries_that_climb_out_export_nothing_outside_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    // A host directory the image's links point at: it must stay empty.
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let out_abs = outside.to_str().unwrap().to_string();
    let out_rel = out_abs.trim_start_matches('/').to_string();
    std::fs::write(src.join("evil.c"), "const char *evil(void) { return \"evil lib loaded\"; }\n").unwrap();
    std::fs::write(
        src.join("main.c"),
        "#include <stdio.h>\nconst char *evil(void);\nint main(void) { puts(evil()); return 4; }\n",
    )
    .unwrap();
    // NEEDED is the library's soname: a path climbing out with `..`.
    let soname = format!("-Wl,-soname,../../../../..{out_abs}/libevil.so");
    gcc("gcc", &src, &["-O2", "-shared", "-fPIC", &soname, "-o", "libevil.so", "evil.c"]);
    gcc("gcc", &src, &["-O2", "-o", "prog", "main.c", "./libevil.so"]);
    let readelf = Command::new("readelf").args(["-d", src.join("prog").to_str().unwrap()]).output().unwrap();
    assert!(String::from_utf8_lossy(&readelf.stdout).contains(&format!("../../../../..{out_abs}/libevil.so")));

    let mut t = HostTree::new();
    t.host("/usr/lib/x86_64-linux-gnu/libc.so.6");
    let ld = std::fs::read("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2").unwrap();
    t.file(&format!("{out_rel}/ld-linux-x86-64.so.2"), &ld);
    t.file(&format!("{out_rel}/libevil.so"), &std::fs::read(src.join("libevil.so")).unwrap());
    // The interpreter's directory is an absolute link to the host path of `outside`.
    t.link("lib64", &out_abs);
    t.file("usr/local/bin/prog", &std::fs::read(src.join("prog")).unwrap());
    t.link("app/run", "../../../../../../usr/local/bin/prog");
    t.link("app/escape", "/../../../../etc");
    let layout = write(
        &tmp.path().join("img"),
        vec![t.tar()],
        serde_json::json!({"Entrypoint": ["/app/../../../app/run"], "Cmd": ["/app/escape/passwd"]}),
    );
    let reference = format!("oci:{}", layout.display());
    let report = plan(&reference, &[]);
    let p = &report["platforms"][0];
    assert_eq!(p["unresolved"], serde_json::json!([]), "{p}");
    let files = closure(p, "file");
    for f in [
        "/usr/local/bin/prog".to_string(),
        format!("/{out_rel}/libevil.so"),
        format!("/{out_rel}/ld-linux-x86-64.so.2"),
        "/usr/lib/x86_64-linux-gnu/libc.so.6".to_string(),
    ] {
        assert!(files.contains(&f), "{f} not in {files:?}");
    }
    assert_eq!(closure(p, "symlink"), BTreeSet::from(["/app/run".to_string(), "/lib64".to_string()]));

    let dir = tmp.path().join("slim");
    let out = layerscope(&["slim", &reference, "-q", "--export", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing written through the links");
    let top: BTreeSet<String> =
        std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    assert_eq!(top, BTreeSet::from(["img".into(), "outside".into(), "slim".into(), "src".into()]));
    let lib64 = std::fs::symlink_metadata(dir.join("lib64")).unwrap();
    assert!(lib64.file_type().is_symlink());
    assert_eq!(std::fs::read_link(dir.join("lib64")).unwrap(), outside);
    assert!(std::fs::symlink_metadata(dir.join(&out_rel).join("libevil.so")).unwrap().is_file());
    let (efiles, elinks) = tree(&dir);
    assert_eq!(efiles, files);
    assert_eq!(elinks, closure(p, "symlink"));

    // It runs from the export as from the whole image.
    let full = unpack(&layout, "latest", None);
    let argv: Vec<String> = vec!["/app/run".into()];
    let slim = run_in(&dir, &argv, "/", b"");
    assert_eq!(slim, run_in(&full.path().join("rootfs"), &argv, "/", b""));
    assert_eq!(slim.0, Some(4));
    assert_eq!(slim.1, "evil lib loaded\n");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn export_refuses_a_directory_that_is_not_empty_or_is_a_link() {
    let reference = format!("oci:{}", fixture("static").display());
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("x"), b"keep me").unwrap();
    let out = layerscope(&["slim", &reference, "-q", "--export", full.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1);
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&empty, &link).unwrap();
    let out = layerscope(&["slim", &reference, "-q", "--export", link.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    // Several platforms: the export needs one.
    let multi = format!("oci:{}", fixture("multiarch").display());
    let out = layerscope(&["slim", &multi, "-q", "--export", tmp.path().join("m").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!tmp.path().join("m").exists());
}

#[test]
fn dockerfile_pins_the_image_copies_the_closure_and_carries_the_config() {
    let reference = format!("oci:{}", fixture("glibc").display());
    let report = plan(&reference, &[]);
    let p = &report["platforms"][0];
    let out = layerscope(&["slim", &reference, "-q", "-f", "dockerfile"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let digest = report["digest"].as_str().unwrap();
    assert!(digest.starts_with("sha256:"));
    let from: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(from.len(), 2, "{text}");
    assert!(from[0].contains(&format!("@{digest}")) && from[0].ends_with(" AS full"), "{text}");
    assert!(from[1].ends_with(p["base"]["suggestion"].as_str().unwrap()), "{text}");
    // Every file of the closure is copied, each to its own directory.
    let mut copied = BTreeSet::new();
    for l in text.lines().filter_map(|l| l.strip_prefix("COPY --from=full ")) {
        let args: Vec<String> = serde_json::from_str(l).unwrap();
        let (dest, srcs) = args.split_last().unwrap();
        for s in srcs {
            assert_eq!(format!("{}/", s.rsplit_once('/').unwrap().0), *dest, "{l}");
            copied.insert(s.clone());
        }
    }
    // Each name the loader and the command ask for, copied under that name.
    let want: BTreeSet<String> =
        ["/usr/local/bin/hello", "/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    assert!(want.is_subset(&copied), "{want:?} not all in {copied:?}:\n{text}");
    assert!(text.contains("ENTRYPOINT [\"/usr/local/bin/hello\"]"), "{text}");
    assert!(text.contains("USER 65532:65532"), "{text}");
    assert!(
        text.contains("#   /lib64/ld-linux-x86-64.so.2 -> /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
        "names through links listed: {text}"
    );
}

#[test]
fn keep_adds_paths_and_command_replaces_the_config() {
    let reference = format!("oci:{}", fixture("busybox").display());
    let report = plan(&reference, &["--keep", "/etc/**", "--command", "/bin/ls", "-l"]);
    let p = &report["platforms"][0];
    assert_eq!(p["command"], serde_json::json!(["/bin/ls", "-l"]));
    let files = closure(p, "file");
    assert!(files.contains("/etc/shells") && files.contains("/bin/busybox"), "{files:?}");
    assert!(closure(p, "symlink").contains("/bin/ls"));
    assert!(!closure(p, "symlink").contains("/bin/sh"), "only the command's applet link");
    // The text names the closure's share.
    let out = layerscope(&["slim", &reference, "-q", "--color", "never"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("closure   1 file, 1 symlink,") && text.contains("base      scratch"), "{text}");
}

#[test]
fn a_library_found_through_ld_so_conf_runs_from_the_export_with_the_loader_cache() {
    // ld.so never reads ld.so.conf: a library in a directory it names is found through
    // /etc/ld.so.cache, which the closure keeps (made here by the real ldconfig).
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path();
    std::fs::write(src.join("v.c"), "const char *vendor(void) { return \"vendor lib\"; }\n").unwrap();
    std::fs::write(
        src.join("main.c"),
        "#include <stdio.h>\nconst char *vendor(void);\nint main(void) { puts(vendor()); return 0; }\n",
    )
    .unwrap();
    gcc("gcc", src, &["-O2", "-shared", "-fPIC", "-Wl,-soname,libvendor.so.1", "-o", "libvendor.so.1", "v.c"]);
    gcc("gcc", src, &["-O2", "-o", "prog", "main.c", "./libvendor.so.1"]);
    let mut t = HostTree::new();
    t.host("/lib64/ld-linux-x86-64.so.2");
    t.host("/lib/x86_64-linux-gnu/libc.so.6");
    t.file("opt/vendor/lib/libvendor.so.1", &std::fs::read(src.join("libvendor.so.1")).unwrap());
    t.file("etc/ld.so.conf", b"include /etc/ld.so.conf.d/*.conf\n");
    t.file("etc/ld.so.conf.d/vendor.conf", b"/opt/vendor/lib\n");
    t.file("usr/local/bin/prog", &std::fs::read(src.join("prog")).unwrap());
    let first = t.tar();
    let config = serde_json::json!({"Entrypoint": ["/usr/local/bin/prog"]});
    let one = write(&src.join("one"), vec![first.clone()], config.clone());
    let rootfs = unpack(&one, "latest", None);
    let out = Command::new("ldconfig").arg("-r").arg(rootfs.path().join("rootfs")).output().unwrap();
    assert!(out.status.success(), "ldconfig: {}", String::from_utf8_lossy(&out.stderr));
    let cache = std::fs::read(rootfs.path().join("rootfs/etc/ld.so.cache")).unwrap();
    let second = common::tar(&[E::File("etc/ld.so.cache", &cache)]);
    let layout = write(&src.join("two"), vec![first, second], config);
    let r = check(&Case {
        layout,
        tag: "latest",
        arch: None,
        platform: None,
        extra_files: &["/etc/ld.so.cache"],
        extra_trees: &[],
        stdin: b"",
        run: true,
    });
    let p = &r["platforms"][0];
    assert!(closure(p, "file").contains("/opt/vendor/lib/libvendor.so.1"), "{p}");
    // Without the cache the export does not run: the cache is what makes it work.
    let (_keep, out) = export(&format!("oci:{}", src.join("two").display()), &[]);
    std::fs::remove_file(out.join("etc/ld.so.cache")).unwrap();
    let (code, _, err) = run_in(&out, &["/usr/local/bin/prog".to_string()], "/", b"");
    assert_ne!(code, Some(0));
    assert!(err.contains("libvendor.so.1"), "{err}");
}

#[test]
fn a_perl_script_takes_perls_runtime_tree() {
    let mut t = HostTree::new();
    for p in host_libs("/usr/bin/perl") {
        t.host(&p);
    }
    let base = "/usr/lib/x86_64-linux-gnu/perl-base";
    let (files, links) = tree(Path::new(base));
    for f in files.iter().chain(&links) {
        t.host(&format!("{base}{f}"));
    }
    t.file(
        "app/run.pl",
        b"#!/usr/bin/perl\nuse strict;\nuse warnings;\nuse POSIX qw(floor);\nprint \"perl says \", floor(3.7), \"\\n\";\nexit 2;\n",
    );
    let tmp = tempfile::tempdir().unwrap();
    let layout = write(&tmp.path().join("img"), vec![t.tar()], serde_json::json!({"Entrypoint": ["/app/run.pl"]}));
    let r = check(&Case {
        layout,
        tag: "latest",
        arch: None,
        platform: None,
        extra_files: &[],
        extra_trees: &[base],
        stdin: b"",
        run: true,
    });
    let trees = &r["platforms"][0]["closure"]["trees"];
    assert_eq!(trees[0]["path"], base, "{trees}");
    assert_eq!(trees[0]["files"].as_u64(), Some(files.len() as u64), "{trees}");
}
