//! `layerscope batch` and `summary` against a real registry (Debian's `docker-registry` on
//! 127.0.0.1): a mirror of 17 repositories and 21 tags built from a few shared base images (the glibc, musl,
//! busybox, static and multi-platform fixtures, each app image one more layer on a base), one
//! image with a corrupted blob, one tag pointing at the same digest as another, one manifest in two repositories.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::registry::Registry;
use crate::common::{Comp, E};
use serde_json::Value;

/// An image of the mirror: where it is pushed, what it was built from, what to expect.
struct Pushed {
    repo: String,
    tags: Vec<String>,
    digest: String,
    /// Distinct layer digests of all its platforms.
    layers: BTreeSet<String>,
    /// The libc verdict of every platform.
    libc: &'static str,
}

struct Mirror {
    reg: Registry,
    images: Vec<Pushed>,
    corrupt: String,
    _work: tempfile::TempDir,
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn blob(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs/sha256").join(&digest[7..])
}

fn put(dir: &Path, bytes: &[u8]) -> String {
    let d = common::sha256(bytes);
    std::fs::write(blob(dir, &d), bytes).unwrap();
    d
}

/// The top digest of a layout and every layer digest below it.
fn layout_facts(dir: &Path) -> (String, BTreeSet<String>) {
    let index = read_json(&dir.join("index.json"));
    let top = index["manifests"][0]["digest"].as_str().unwrap().to_string();
    let mut layers = BTreeSet::new();
    let mut todo = vec![top.clone()];
    while let Some(d) = todo.pop() {
        let doc = read_json(&blob(dir, &d));
        if let Some(ms) = doc["manifests"].as_array() {
            for m in ms {
                let unknown = m["platform"]["architecture"] == "unknown";
                if !unknown {
                    todo.push(m["digest"].as_str().unwrap().to_string());
                }
            }
        }
        for l in doc["layers"].as_array().into_iter().flatten() {
            layers.insert(l["digest"].as_str().unwrap().to_string());
        }
    }
    (top, layers)
}

/// A copy of fixture `base` with one more gzip layer holding `app` (its own content).
fn derive(base: &str, app: &str, out: &Path) {
    common::copy_dir(&common::testdata(&format!("images/{base}/oci")), out);
    let index = read_json(&out.join("index.json"));
    let desc = &index["manifests"][0];
    let mut manifest = read_json(&blob(out, desc["digest"].as_str().unwrap()));
    let mut config = read_json(&blob(out, manifest["config"]["digest"].as_str().unwrap()));
    let body = format!("#!/bin/sh\necho {app}\n");
    let tar = common::tar(&[E::Dir("app/"), E::File(&format!("app/{app}.sh"), body.as_bytes())]);
    let (gz, mt) = common::compress(&tar, Comp::Gzip);
    let ld = put(out, &gz);
    manifest["layers"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"mediaType": mt, "digest": ld, "size": gz.len()}));
    config["rootfs"]["diff_ids"].as_array_mut().unwrap().push(common::sha256(&tar).into());
    config["config"]["Labels"] = serde_json::json!({"app": app});
    let cb = serde_json::to_vec(&config).unwrap();
    let cd = put(out, &cb);
    manifest["config"]["digest"] = cd.into();
    manifest["config"]["size"] = cb.len().into();
    let mb = serde_json::to_vec(&manifest).unwrap();
    let md = put(out, &mb);
    let mut d = desc.clone();
    d["digest"] = md.into();
    d["size"] = mb.len().into();
    common::write_layout(out, vec![d]);
}

/// Starts a registry and pushes the mirror.
fn mirror() -> Mirror {
    let reg = Registry::start(false);
    let work = tempfile::tempdir().unwrap();
    let mut images = Vec::new();
    let mut add = |dir: PathBuf, repo: &str, tags: &[&str], libc: &'static str| {
        for t in tags {
            reg.push_layout(&dir, repo, t);
        }
        let (digest, layers) = layout_facts(&dir);
        images.push(Pushed {
            repo: repo.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            digest,
            layers,
            libc,
        });
    };
    let fixture = |name: &str| common::testdata(&format!("images/{name}/oci"));
    add(fixture("glibc"), "base/glibc", &["1"], "glibc");
    // Two tags, one digest.
    add(fixture("musl"), "base/musl", &["1", "latest"], "musl");
    // The same manifest in another repository: scanned once, copied.
    add(fixture("musl"), "mirror/musl", &["1"], "musl");
    add(fixture("busybox"), "base/busybox", &["1"], "static");
    add(fixture("static"), "apps/static", &["1"], "static");
    add(fixture("multiarch"), "multi/tool", &["1"], "glibc");
    add(fixture("multiarch-drift"), "multi/drift", &["1"], "glibc");
    let derived: [(&str, &str, &[&str], &'static str); 13] = [
        ("glibc", "apps/api", &["1.0"], "glibc"),
        ("glibc", "apps/api", &["1.1"], "glibc"),
        ("glibc", "apps/api", &["2.0"], "glibc"),
        ("musl", "apps/worker", &["1.0"], "musl"),
        ("musl", "apps/worker", &["1.1"], "musl"),
        ("busybox", "apps/tool", &["1.0"], "static"),
        ("glibc", "team-x/svc-1", &["1"], "glibc"),
        ("glibc", "team-x/svc-2", &["1"], "glibc"),
        ("musl", "team-x/svc-3", &["1"], "musl"),
        ("musl", "team-x/svc-4", &["1"], "musl"),
        ("busybox", "team-x/svc-5", &["1"], "static"),
        ("glibc", "team-x/svc-6", &["1"], "glibc"),
        ("glibc", "broken/corrupt", &["1"], "glibc"),
    ];
    for (i, (base, repo, tags, libc)) in derived.iter().enumerate() {
        let dir = work.path().join(format!("d{i}"));
        derive(base, &format!("{}-{}", repo.replace('/', "-"), tags[0]), &dir);
        add(dir, repo, tags, libc);
    }
    // The corrupt image's own layer: a byte of its gzip header's MTIME changed in the
    // registry's storage, so only the blob digest can tell.
    let corrupt = images.last().unwrap().layers.iter().find(|l| !images[0].layers.contains(*l)).unwrap().clone();
    let path = reg.blob_path(&corrupt);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[4] ^= 0x55;
    std::fs::write(&path, bytes).unwrap();
    Mirror { reg, images, corrupt, _work: work }
}

fn layerscope(args: &[&str]) -> Output {
    let empty = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .args(args)
        .env("DOCKER_CONFIG", empty.path())
        .env_remove("REGISTRY_AUTH_FILE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs `batch` with JSON stats; returns (exit code, stats).
fn batch(m: &Mirror, db: &Path, extra: &[&str]) -> (i32, Value) {
    let host = m.reg.host();
    let mut args = vec!["batch", host.as_str(), "--db", db.to_str().unwrap(), "--format", "json", "-q"];
    args.extend_from_slice(extra);
    let out = layerscope(&args);
    let stats: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("batch stats: {e}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), stats)
}

fn db(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

fn strings(c: &rusqlite::Connection, sql: &str) -> Vec<String> {
    let mut q = c.prepare(sql).unwrap();
    q.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect()
}

/// Every table but `runs`, as sorted rows, without the times.
fn dump(path: &Path) -> BTreeMap<String, Vec<String>> {
    let c = db(path);
    let mut out = BTreeMap::new();
    for (table, cols) in [
        ("repositories", "registry, repository, error"),
        ("tags", "registry, repository, tag, digest, error"),
        ("images", "registry, repository, digest, status, error, platforms, report"),
        ("platforms", "*"),
        ("platform_layers", "*"),
        ("findings", "*"),
        ("layers", "digest, diff_id, analyser, compressed_bytes, uncompressed_bytes, entries, hex(delta)"),
    ] {
        let mut q = c.prepare(&format!("SELECT {cols} FROM {table}")).unwrap();
        let n = q.column_count();
        let mut rows: Vec<String> = q
            .query_map([], |r| {
                let vals: Vec<String> = (0..n)
                    .map(|i| match r.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Null => "NULL".to_string(),
                        rusqlite::types::ValueRef::Integer(x) => x.to_string(),
                        rusqlite::types::ValueRef::Real(x) => x.to_string(),
                        rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                        rusqlite::types::ValueRef::Blob(b) => format!("{} bytes", b.len()),
                    })
                    .collect();
                Ok(vals.join(" | "))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        out.insert(table.to_string(), rows);
    }
    out
}

#[test]
fn a_mirror_is_stored_once_and_a_rerun_reads_nothing() {
    let m = mirror();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("mirror.db");
    let repos: BTreeSet<&str> = m.images.iter().map(|i| i.repo.as_str()).collect();
    let tags: usize = m.images.iter().map(|i| i.tags.len()).sum();
    assert_eq!((repos.len(), tags, m.images.len()), (17, 21, 20));
    let distinct: BTreeSet<&String> = m.images.iter().flat_map(|i| &i.layers).collect();
    // Layers per distinct manifest (the copy in mirror/musl reads none).
    let manifests: BTreeMap<&String, usize> = m.images.iter().map(|i| (&i.digest, i.layers.len())).collect();
    let per_image: usize = manifests.values().sum();

    // First run: catalog read 3 names a page (so 6 pages through `Link`), two images at once.
    let (code, s) = batch(&m, &store, &["--page-size", "3", "--jobs", "2"]);
    assert_eq!(code, 3, "one image failed: {s:#}");
    assert_eq!(s["repositories"], repos.len(), "every page of the catalog was read: {s:#}");
    assert_eq!((s["tags"].as_u64(), s["images"].as_u64()), (Some(21), Some(20)));
    assert_eq!(
        (s["images_scanned"].as_u64(), s["images_copied"].as_u64(), s["images_skipped"].as_u64()),
        (Some(19), Some(1), Some(0))
    );
    assert_eq!(s["failures"], 1);
    assert_eq!(s["layers_referenced"], distinct.len(), "{s:#}");
    assert_eq!(s["layers_analysed"], distinct.len(), "each distinct layer analysed exactly once: {s:#}");
    assert_eq!(s["layers_from_store"], per_image - distinct.len(), "{s:#}");

    let c = db(&store);
    for img in &m.images {
        let q = format!("SELECT status FROM images WHERE repository = '{}' AND digest = '{}'", img.repo, img.digest);
        let status = strings(&c, &q);
        let want = if img.repo == "broken/corrupt" { "failed" } else { "ok" };
        assert_eq!(status, [want], "{} {}", img.repo, img.digest);
        for t in &img.tags {
            let q = format!("SELECT digest FROM tags WHERE repository = '{}' AND tag = '{t}'", img.repo);
            assert_eq!(strings(&c, &q), vec![img.digest.clone()], "{}:{t}", img.repo);
        }
        let q = format!("SELECT libc FROM platforms WHERE repository = '{}' AND digest = '{}'", img.repo, img.digest);
        let libcs = strings(&c, &q);
        let platforms = if img.repo.starts_with("multi/") { 2 } else { 1 };
        assert_eq!(libcs, vec![img.libc.to_string(); platforms], "{}", img.repo);
    }
    let names = strings(&c, "SELECT json_extract(report, '$.name') FROM images WHERE digest = (SELECT digest FROM images WHERE repository = 'mirror/musl') ORDER BY 1");
    assert_eq!(names, [format!("{}/base/musl", m.reg.host()), format!("{}/mirror/musl", m.reg.host())]);
    let error = strings(&c, "SELECT error FROM images WHERE status = 'failed'");
    assert!(error[0].contains("digest mismatch") && error[0].contains(&m.corrupt), "{error:?}");
    // Every stored layer is one of the mirror's, once; the corrupt one is not kept.
    let stored: Vec<String> = strings(&c, "SELECT digest FROM layers ORDER BY digest");
    let expected: Vec<String> = distinct.iter().filter(|d| **d != &m.corrupt).map(|d| d.to_string()).collect();
    assert_eq!(stored, expected);
    // A platform's full report is stored and reads back.
    let report: Value =
        serde_json::from_str(&strings(&c, "SELECT report FROM platforms WHERE repository = 'base/musl'")[0]).unwrap();
    assert_eq!(report["libc"]["kind"], "musl");
    let before = dump(&store);

    // Second run: nothing to scan, no layer read.
    let (code, s) = batch(&m, &store, &[]);
    assert_eq!(code, 0, "{s:#}");
    assert_eq!((s["images_scanned"].as_u64(), s["images_skipped"].as_u64()), (Some(0), Some(20)));
    assert_eq!((s["layers_analysed"].as_u64(), s["layers_from_store"].as_u64()), (Some(0), Some(0)));
    assert_eq!(dump(&store), before);

    // --rescan: every image again, every good layer from the store, the same reports.
    let (code, s) = batch(&m, &store, &["--rescan"]);
    assert_eq!(code, 3);
    assert_eq!((s["images_scanned"].as_u64(), s["images_copied"].as_u64()), (Some(19), Some(1)));
    assert_eq!(s["layers_analysed"], 1, "only the corrupt layer is read again: {s:#}");
    assert_eq!(dump(&store), before, "layers from the store give the reports a fresh read gave");

    // The summary: one row per tag, in every format.
    let out = layerscope(&["summary", store.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let rows: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 21);
    let api = rows.iter().find(|r| r["repository"] == "apps/api" && r["tag"] == "1.0").unwrap();
    assert_eq!((api["status"].as_str(), api["libc"][0].as_str()), (Some("ok"), Some("glibc 2.36")));
    assert!(api["bytes"].as_u64().unwrap() > 1_000_000);
    // The base OS and its lifecycle, judged on the day of the run.
    let os = api["base_os"][0].as_str().unwrap();
    assert!(os.starts_with("debian 12 ") && os.ends_with(" until 2028-06-30"), "{os}");
    assert!(["supported", "lts", "ended"].contains(&api["os_status"].as_str().unwrap()), "{api}");
    let multi = rows.iter().find(|r| r["repository"] == "multi/tool").unwrap();
    assert_eq!(multi["platforms"], serde_json::json!(["linux/amd64", "linux/arm64/v8"]));
    let bad = rows.iter().find(|r| r["repository"] == "broken/corrupt").unwrap();
    assert_eq!(bad["status"], "failed");
    let csv = layerscope(&["summary", store.to_str().unwrap(), "--format", "csv"]);
    let text = String::from_utf8(csv.stdout).unwrap();
    assert_eq!(text.lines().count(), 22);
    assert!(text.starts_with(
        "registry,repository,tag,digest,status,platforms,bytes,libc,distroless,base_os,os_status,reclaimable_bytes,high_findings,error\n"
    ));
    let table = String::from_utf8(layerscope(&["summary", store.to_str().unwrap()]).stdout).unwrap();
    assert!(table.contains("base/musl") && table.contains("21 rows, 1 failed, 0 pending"), "{table}");
    // One unit system: the report's decimal units (kB, MB), not binary ones.
    assert!(table.contains(" MB") && !table.contains("iB"), "{table}");
}

#[test]
fn a_killed_run_resumes_and_shards_split_the_registry() {
    let m = mirror();
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.db");
    let (code, _) = batch(&m, &whole, &["--jobs", "1"]);
    assert_eq!(code, 3);

    // Kill -9 part-way (after a few images are stored), then run again.
    let resumed = dir.path().join("resumed.db");
    let host = m.reg.host();
    let mut child = Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .args(["batch", &host, "--db", resumed.to_str().unwrap(), "--jobs", "1", "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let stored = |p: &Path| -> i64 {
        rusqlite::Connection::open(p)
            .and_then(|c| c.query_row("SELECT COUNT(*) FROM images", [], |r| r.get(0)))
            .unwrap_or(0)
    };
    while stored(&resumed) < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = stored(&resumed);
    assert!((4..20).contains(&at_kill), "killed part-way: {at_kill} images stored");
    let (code, s) = batch(&m, &resumed, &["--jobs", "2"]);
    assert_eq!(code, 3);
    assert_eq!(s["images_skipped"].as_i64(), Some(at_kill), "{s:#}");
    assert_eq!(dump(&resumed), dump(&whole));

    // Two shards: every repository in exactly one, and the two stores summarised together.
    let shard = |k: u32| {
        let p = dir.path().join(format!("shard-{k}.db"));
        batch(&m, &p, &["--shard", &format!("{k}/2")]);
        let repos = strings(&db(&p), "SELECT repository FROM repositories");
        (p, repos)
    };
    let (p0, r0) = shard(0);
    let (p1, r1) = shard(1);
    let all: BTreeSet<String> = m.images.iter().map(|i| i.repo.clone()).collect();
    assert!(!r0.is_empty() && !r1.is_empty(), "{r0:?} {r1:?}");
    assert_eq!(r0.len() + r1.len(), all.len());
    assert_eq!(r0.iter().chain(&r1).cloned().collect::<BTreeSet<_>>(), all);
    let out = layerscope(&["summary", p0.to_str().unwrap(), p1.to_str().unwrap(), "--format", "json"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 21);
}

#[test]
fn from_a_file_and_globs_choose_what_is_scanned() {
    let reg = Registry::start(false);
    reg.push_as("musl", "apps/worker", "1.0");
    reg.push_as("musl", "apps/worker", "2.0");
    reg.push_as("static", "apps/tool", "1.0");
    reg.push_as("glibc", "base/glibc", "1.0");
    let dir = tempfile::tempdir().unwrap();
    let host = reg.host();
    let run = |db: &str, extra: &[&str]| {
        let p = dir.path().join(db);
        let mut args = vec!["batch", host.as_str(), "--db", p.to_str().unwrap(), "--format", "json", "-q"];
        args.extend_from_slice(extra);
        let out = layerscope(&args);
        let tags = strings(&db_at(&p), "SELECT repository || ':' || tag FROM tags ORDER BY 1");
        (out.status.code().unwrap(), tags, p)
    };
    fn db_at(p: &Path) -> rusqlite::Connection {
        rusqlite::Connection::open(p).unwrap()
    }
    let (code, tags, _) = run("globs.db", &["--repo", "apps/*", "--tag", "1.*"]);
    assert_eq!((code, tags), (0, vec!["apps/tool:1.0".to_string(), "apps/worker:1.0".to_string()]));

    // A file of references; a missing tag is stored as a failure and the rest goes on.
    let list = dir.path().join("list.txt");
    std::fs::write(&list, format!("# wanted\napps/worker:2.0\n{host}/base/glibc\napps/tool:9.9\n")).unwrap();
    let (code, tags, p) = run("from.db", &["--from", list.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert_eq!(tags, ["apps/tool:9.9", "apps/worker:2.0", "base/glibc:1.0"]);
    let errors = strings(&db_at(&p), "SELECT error FROM tags WHERE error IS NOT NULL");
    assert!(
        errors.len() == 1 && errors[0].contains("apps/tool:9.9") && errors[0].contains("manifest unknown"),
        "{errors:?}"
    );
    let out = layerscope(&["summary", p.to_str().unwrap(), "--format", "csv"]);
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.lines().any(|l| l.contains("apps/tool,9.9,,failed")), "{csv}");

    // Usage errors: a bad shard, a store that is not one.
    let out = layerscope(&["batch", &host, "--shard", "2/2"]);
    assert_eq!(out.status.code(), Some(2));
    let not_db = dir.path().join("not.db");
    std::fs::write(&not_db, b"this is not a database, just text that is long enough to be a header....").unwrap();
    let out = layerscope(&["summary", not_db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not.db"));
}

/// A front for the registry that pages tag lists itself (the registry here ignores `n` for
/// tags): `/v2/<repo>/tags/list?n=N&last=T` answers N tags after T with a `Link` to the next
/// page; every other request is redirected (307) to the registry.
fn paging_front(registry: u16) -> u16 {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut client in listener.incoming().flatten() {
            let mut line = String::new();
            let mut reader = BufReader::new(client.try_clone().unwrap());
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).map(|n| n == 0).unwrap_or(true) || h == "\r\n" {
                    break;
                }
            }
            let target = line.split(' ').nth(1).unwrap_or("/").to_string();
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let Some(repo) = path.strip_prefix("/v2/").and_then(|p| p.strip_suffix("/tags/list")) else {
                let _ = write!(
                    client,
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{registry}{target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                continue;
            };
            let param = |k: &str| query.split('&').find_map(|kv| kv.strip_prefix(&format!("{k}=")).map(str::to_string));
            let n: usize = param("n").and_then(|v| v.parse().ok()).unwrap_or(100);
            let last = param("last");
            let mut upstream = std::net::TcpStream::connect(("127.0.0.1", registry)).unwrap();
            write!(upstream, "GET /v2/{repo}/tags/list HTTP/1.0\r\n\r\n").unwrap();
            let mut raw = String::new();
            upstream.read_to_string(&mut raw).unwrap();
            let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
            let v: Value = serde_json::from_str(body).unwrap();
            let mut tags: Vec<String> =
                v["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
            tags.sort();
            let rest: Vec<String> = tags.into_iter().filter(|t| last.as_ref().is_none_or(|l| t > l)).collect();
            let page: Vec<String> = rest.iter().take(n).cloned().collect();
            let link = match (rest.len() > n, page.last()) {
                (true, Some(l)) => format!("Link: </v2/{repo}/tags/list?n={n}&last={l}>; rel=\"next\"\r\n"),
                _ => String::new(),
            };
            let body = serde_json::json!({"name": repo, "tags": page}).to_string();
            let _ = write!(
                client,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{link}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn tag_lists_are_read_page_by_page() {
    let reg = Registry::start(false);
    let tags: Vec<String> = (0..7).map(|i| format!("1.{i}")).collect();
    for t in &tags {
        reg.push_as("static", "apps/paged", t);
    }
    let front = paging_front(reg.port);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("paged.db");
    let host = format!("127.0.0.1:{front}");
    let out = layerscope(&["batch", &host, "--db", store.to_str().unwrap(), "--page-size", "2", "--format", "json"]);
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!((s["tags"].as_u64(), s["images"].as_u64(), s["images_scanned"].as_u64()), (Some(7), Some(1), Some(1)));
    let stored = strings(&db(&store), "SELECT tag FROM tags ORDER BY tag");
    assert_eq!(stored, tags, "four pages of two tags, through Link");
}

#[test]
fn credentials_come_from_the_docker_config_and_a_refusal_is_clear() {
    use common::registry::{docker_config, PASSWORD, USER};
    let reg = Registry::start(true);
    reg.push_as("musl", "apps/worker", "1.0");
    reg.push_as("static", "apps/tool", "1.0");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("auth.db");
    let host = reg.host();
    let run = |config: &Path| {
        Command::new(env!("CARGO_BIN_EXE_layerscope"))
            .args(["batch", &host, "--db", store.to_str().unwrap(), "--format", "json", "-q"])
            .env("DOCKER_CONFIG", config)
            .env_remove("REGISTRY_AUTH_FILE")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let good = docker_config(&host, USER, PASSWORD);
    let out = run(good.path());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((s["images_scanned"].as_u64(), s["failures"].as_u64()), (Some(2), Some(0)));

    let bad = docker_config(&host, USER, "wrong-password");
    let out = run(bad.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "the catalog cannot be listed: {err}");
    assert!(err.contains("refused the credentials") && err.contains(&host), "{err}");
    for o in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(o);
        assert!(!text.contains(PASSWORD) && !text.contains("wrong-password"), "a secret was printed: {text}");
    }
}
