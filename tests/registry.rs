//! Registry images against a real registry: Debian's `docker-registry` (the CNCF distribution
//! registry) started here on 127.0.0.1 with a free port and temporary storage, fixtures pushed
//! with skopeo, and a loopback proxy that cuts a blob and answers 429. Nothing here reaches
//! beyond 127.0.0.1. `docker-registry` and `skopeo` are required (scripts/test.sh installs
//! them): the tests fail without them, they never skip.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use layerscope::app::{self, ScanOptions};
use layerscope::diag::Severity;
use layerscope::oci::platform::PlatformFilter;
use layerscope::report::ImageReport;

const USER: &str = "scanner";
const PASSWORD: &str = "pw-Zq8x-never-printed";

/// A registry process on 127.0.0.1, killed on drop.
struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Registry {
    fn start(with_auth: bool) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if with_auth {
            let hash = bcrypt::hash(PASSWORD, 4).unwrap();
            std::fs::write(dir.path().join("htpasswd"), format!("{USER}:{hash}\n")).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: layerscope-test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry must be installed (scripts/test.sh installs the Debian package)");
        let r = Registry { child, dir, port };
        r.wait_ready();
        r
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
                let mut head = String::new();
                if BufReader::new(s).read_line(&mut head).is_ok() && head.starts_with("HTTP/") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default();
        panic!("registry on port {} did not start:\n{log}", self.port);
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Pushes testdata/images/<name>/oci as <name>:<tag> (`--all` keeps every platform).
    fn push(&self, name: &str, tag: &str) {
        let policy = self.dir.path().join("policy.json");
        std::fs::write(&policy, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
        let src = format!("oci:{}", common::testdata(&format!("images/{name}/oci")).display());
        let dest = format!("docker://{}/{name}:{tag}", self.host());
        let mut cmd = Command::new("skopeo");
        cmd.args(["--policy", policy.to_str().unwrap(), "copy", "--all", "--dest-tls-verify=false"]);
        if self.dir.path().join("htpasswd").exists() {
            cmd.arg(format!("--dest-creds={USER}:{PASSWORD}"));
        }
        let out = cmd
            .args([&src, &dest])
            .env("REGISTRY_AUTH_FILE", self.dir.path().join("skopeo-auth.json"))
            .output()
            .expect("skopeo must be installed (scripts/test.sh installs it)");
        assert!(out.status.success(), "skopeo copy {src} {dest}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The file holding blob `digest` in the registry's storage.
    fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir.path().join(format!("data/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn scan(reference: &str) -> ImageReport {
    common::scan(reference)
}

fn scan_platforms(reference: &str, platforms: &str) -> ImageReport {
    let opts = ScanOptions { platforms: PlatformFilter::parse(platforms).unwrap(), ..Default::default() };
    app::scan(reference, &opts).unwrap_or_else(|e| panic!("scan {reference}: {e}"))
}

fn errors(r: &ImageReport) -> Vec<String> {
    r.diagnostics
        .iter()
        .chain(r.platforms.iter().flat_map(|p| &p.diagnostics))
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("{:?} {}", d.layer, d.message))
        .collect()
}

fn layerscope(args: &[&str], docker_config: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_layerscope"));
    cmd.args(args).env_remove("REGISTRY_AUTH_FILE");
    // Keep the user's own docker config out of the tests.
    let empty = tempfile::tempdir().unwrap();
    cmd.env("DOCKER_CONFIG", docker_config.unwrap_or(empty.path()));
    cmd.stdin(Stdio::null()).output().unwrap()
}

fn docker_config(registry: &str, user: &str, password: &str) -> tempfile::TempDir {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(dir.path().join("config.json"), format!(r#"{{"auths":{{"{registry}":{{"auth":"{auth}"}}}}}}"#))
        .unwrap();
    dir
}

/// The report as JSON without what depends on where the image was read from.
fn comparable(r: &ImageReport) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap();
    let o = v.as_object_mut().unwrap();
    for k in ["reference", "name", "tag", "registry", "findings"] {
        o.remove(k);
    }
    v
}

#[test]
fn single_platform_image() {
    let reg = Registry::start(false);
    reg.push("musl", "1.0.0");
    let layout = scan(&common::testdata("images/musl/oci").display().to_string());
    for reference in [format!("docker://{}/musl:1.0.0", reg.host()), format!("{}/musl:1.0.0", reg.host())] {
        let r = scan(&reference);
        assert_eq!(errors(&r), Vec::<String>::new());
        let p = common::only_platform(&r);
        assert_eq!(p.platform, "linux/amd64");
        assert_eq!(p.libc.kind, "musl");
        assert_eq!(r.digest, layout.digest, "the pin is the manifest digest");
        assert_eq!(r.name.as_deref(), Some(format!("{}/musl:1.0.0", reg.host()).as_str()));
        let facts = r.registry.as_ref().expect("registry facts");
        assert!(!facts.manifest_list);
        assert_eq!((facts.signature_tag.as_deref(), facts.referrers), (None, Some(0)));
        assert!(!facts.docker_official_image);
        assert!(r.findings.iter().any(|f| f.id == "SRC-UNSIGNED"), "{:?}", r.findings);
    }
    // By digest: the pin is used as given, and nothing says the tag floats.
    let pin = layout.digest.clone().unwrap();
    let r = scan(&format!("docker://{}/musl@{pin}", reg.host()));
    assert_eq!(r.digest.as_deref(), Some(pin.as_str()));
    assert!(!r.findings.iter().any(|f| f.id.starts_with("TAG-")), "{:?}", r.findings);
}

#[test]
fn registry_and_layout_give_the_same_report() {
    let reg = Registry::start(false);
    for name in ["musl", "multiarch"] {
        reg.push(name, "1.0.0");
        let from_registry = scan(&format!("docker://{}/{name}:1.0.0", reg.host()));
        let from_layout = scan(&format!("oci:{}", common::testdata(&format!("images/{name}/oci")).display()));
        assert!(!from_registry.platforms.is_empty());
        assert_eq!(comparable(&from_registry), comparable(&from_layout), "{name}");
        // The findings differ by SRC-UNSIGNED only (the layout has no registry to ask).
        let ids = |r: &ImageReport| r.findings.iter().map(|f| f.id.clone()).collect::<BTreeSet<_>>();
        let mut expected = ids(&from_layout);
        expected.insert("SRC-UNSIGNED".into());
        // The layout names no version tag (TAG-LATEST); the registry tag is a full version.
        expected.remove("TAG-LATEST");
        expected.remove("TAG-FLOATING");
        let mut got = ids(&from_registry);
        got.remove("TAG-FLOATING");
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn index_every_platform_and_the_filter_fetches_no_other_layer() {
    let reg = Registry::start(false);
    reg.push("multiarch", "1.0.0");
    let proxy = Proxy::start(reg.port, Faults::default());
    let reference = format!("docker://127.0.0.1:{}/multiarch:1.0.0", proxy.port);
    let all = scan(&reference);
    let platforms: Vec<&str> = all.platforms.iter().map(|p| p.platform.as_str()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);
    assert!(all.registry.as_ref().unwrap().manifest_list);
    assert_eq!(errors(&all), Vec::<String>::new());
    let layers = |p: &str| -> BTreeSet<String> {
        all.platforms.iter().find(|x| x.platform == p).unwrap().layers.iter().map(|l| l.digest.clone()).collect()
    };
    let amd64_only: Vec<String> = layers("linux/amd64").difference(&layers("linux/arm64/v8")).cloned().collect();
    assert!(!amd64_only.is_empty());

    proxy.log.lock().unwrap().clear();
    let arm = scan_platforms(&reference, "linux/arm64");
    assert_eq!(arm.platforms.len(), 1);
    assert_eq!(arm.platforms_skipped, ["linux/amd64"]);
    let log = proxy.log.lock().unwrap().clone();
    assert!(log.iter().any(|l| l.contains("/blobs/")), "the arm64 layers were fetched: {log:#?}");
    for d in &amd64_only {
        assert!(!log.iter().any(|l| l.contains(d.as_str())), "amd64 layer {d} was fetched: {log:#?}");
    }
    let amd64_manifest = &all.platforms[0].manifest_digest;
    assert!(!log.iter().any(|l| l.contains(amd64_manifest.as_str())), "amd64 manifest was fetched: {log:#?}");
}

#[test]
fn basic_auth_from_a_docker_config() {
    let reg = Registry::start(true);
    reg.push("musl", "1.0.0");
    let reference = format!("docker://{}/musl:1.0.0", reg.host());

    let good = docker_config(&reg.host(), USER, PASSWORD);
    let out = layerscope(&["scan", "--format", "json", &reference], Some(good.path()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["platforms"][0]["libc"]["kind"], "musl");
    assert!(!stderr.contains(PASSWORD) && !String::from_utf8_lossy(&out.stdout).contains(PASSWORD));

    let bad = docker_config(&reg.host(), USER, "wrong-Pw-also-secret");
    let out = layerscope(&["scan", &reference], Some(bad.path()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("refused the credentials") && stderr.contains(USER), "{stderr}");
    let all = format!("{stderr}{}", String::from_utf8_lossy(&out.stdout));
    assert!(!all.contains("wrong-Pw-also-secret") && !all.contains(PASSWORD), "{all}");

    let out = layerscope(&["scan", &reference], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("requires authentication") && stderr.contains("no credentials"), "{stderr}");
}

#[test]
fn unknown_tag_is_a_clear_error() {
    let reg = Registry::start(false);
    reg.push("musl", "1.0.0");
    let reference = format!("docker://{}/musl:no-such-tag", reg.host());
    let e = app::scan(&reference, &ScanOptions::default()).expect_err("an error").to_string();
    assert!(e.contains("manifest unknown") && e.contains("no-such-tag") && e.contains("musl"), "{e}");
    let out = layerscope(&["scan", &reference], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("manifest unknown"));
    let e = app::scan(&format!("docker://{}/nothing-here:1", reg.host()), &ScanOptions::default())
        .expect_err("an error")
        .to_string();
    assert!(e.contains("manifest unknown"), "{e}");
}

#[test]
fn corrupted_blob_is_a_digest_error_naming_the_layer() {
    let reg = Registry::start(false);
    reg.push("musl", "1.0.0");
    let reference = format!("docker://{}/musl:1.0.0", reg.host());
    let clean = scan(&reference);
    let layer = clean.platforms[0].layers.last().unwrap().digest.clone();
    let path = reg.blob_path(&layer);
    let mut bytes = std::fs::read(&path).unwrap();
    // A byte of the gzip header's MTIME: the layer still decompresses to the same tar (so its
    // diff_id matches), only the blob digest can tell.
    assert_eq!(&bytes[..2], [0x1f, 0x8b], "the fixture's layers are gzip");
    bytes[4] ^= 0x55;
    std::fs::write(&path, bytes).unwrap();

    let r = scan(&reference);
    let errs = errors(&r);
    assert!(
        errs.iter().any(|e| e.contains(&layer) && e.contains("digest mismatch")),
        "expected a digest error naming {layer}: {errs:#?}"
    );
    let out = layerscope(&["scan", &reference], None);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&layer));
}

#[test]
fn a_cut_blob_resumes_and_a_429_is_waited_out() {
    let reg = Registry::start(false);
    reg.push("musl", "1.0.0");
    let layout = scan(&common::testdata("images/musl/oci").display().to_string());
    let big = layout.platforms[0].layers.iter().max_by_key(|l| l.compressed_bytes).unwrap().digest.clone();
    let proxy = Proxy::start(
        reg.port,
        Faults { too_many_once: Some("/manifests/1.0.0".into()), cut_once: Some(big.clone()), ..Default::default() },
    );
    let started = Instant::now();
    let r = scan(&format!("docker://127.0.0.1:{}/musl:1.0.0", proxy.port));
    assert_eq!(errors(&r), Vec::<String>::new());
    assert_eq!(comparable(&r), comparable(&layout));
    let log = proxy.log.lock().unwrap().clone();
    assert!(log.iter().any(|l| l.contains("/manifests/1.0.0") && l.ends_with("-> 429")), "{log:#?}");
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was not honoured");
    assert!(log.iter().any(|l| l.contains(&big) && l.ends_with("-> cut")), "{log:#?}");
    assert!(
        log.iter().any(|l| l.contains(&big) && l.contains("range=bytes=") && l.ends_with("-> 206")),
        "no Range request resumed the blob: {log:#?}"
    );
}

#[test]
fn an_absurd_retry_after_is_a_clear_error() {
    let reg = Registry::start(false);
    reg.push("musl", "1.0.0");
    let proxy = Proxy::start(
        reg.port,
        Faults { too_many_once: Some("/manifests/".into()), retry_after: Some(86400), ..Default::default() },
    );
    let e = app::scan(&format!("docker://127.0.0.1:{}/musl:1.0.0", proxy.port), &ScanOptions::default())
        .expect_err("an error")
        .to_string();
    assert!(e.contains("429") && e.contains("86400 s") && e.contains("try again later"), "{e}");
}

#[test]
fn references_that_are_not_images() {
    // Refused before any request; were one sent, 127.0.0.1:1 refuses it (nothing leaves the host).
    for (bad, says) in [
        ("docker://", "empty"),
        ("docker://127.0.0.1:1/UPPER/case", "valid"),
        ("docker://UPPER/case", "valid"),
        ("docker://127.0.0.1:1/repo@sha256:1234", "valid"),
        ("docker://127.0.0.1:1/a//b:1", "valid"),
    ] {
        let e = app::scan(bad, &ScanOptions::default()).expect_err("an error").to_string();
        assert!(e.contains(says) && !e.contains("sending request"), "{bad}: {e}");
    }
}

/// What the proxy does wrong, once each.
#[derive(Default, Clone)]
struct Faults {
    /// Answer 429 to the first request whose path contains this.
    too_many_once: Option<String>,
    /// `Retry-After` of that 429 (1 s by default).
    retry_after: Option<u64>,
    /// Close the connection halfway through the first full GET of this blob.
    cut_once: Option<String>,
}

/// A loopback HTTP proxy in front of the registry: one request per connection, logged as
/// `METHOD PATH range=… -> STATUS|cut`.
struct Proxy {
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    fn start(upstream: u16, faults: Faults) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(Mutex::new(faults));
        let log2 = log.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (log, state) = (log2.clone(), state.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, upstream, &log, &state);
                });
            }
        });
        Proxy { port, log }
    }
}

fn serve(mut client: TcpStream, upstream: u16, log: &Mutex<Vec<String>>, state: &Mutex<Faults>) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        if h == "\r\n" || h.is_empty() {
            break;
        }
        headers.push(h);
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let range =
        headers.iter().find(|h| h.to_ascii_lowercase().starts_with("range:")).map(|h| h[6..].trim().to_string());
    let entry = format!("{method} {path} range={}", range.clone().unwrap_or_default());
    let record = |outcome: &str| log.lock().unwrap().push(format!("{entry} -> {outcome}"));

    let (too_many, retry_after, cut) = {
        let mut f = state.lock().unwrap();
        let too_many = f.too_many_once.as_ref().is_some_and(|p| path.contains(p.as_str()));
        if too_many {
            f.too_many_once = None;
        }
        let cut = method == "GET" && range.is_none() && f.cut_once.as_ref().is_some_and(|d| path.contains(d.as_str()));
        if cut {
            f.cut_once = None;
        }
        (too_many, f.retry_after.unwrap_or(1), cut)
    };
    if too_many {
        record("429");
        return client.write_all(
            format!("HTTP/1.1 429 Too Many Requests\r\nRetry-After: {retry_after}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
    }
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    let mut req = request_line.clone();
    for h in &headers {
        if !h.to_ascii_lowercase().starts_with("connection:") {
            req.push_str(h);
        }
    }
    req.push_str("Connection: close\r\n\r\n");
    up.write_all(req.as_bytes())?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4).unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..head_end]).to_string();
    let status = head.split_whitespace().nth(1).unwrap_or("?").to_string();
    // Tell the client not to reuse the connection.
    let mut out = head.replacen("\r\n", "\r\nConnection: close\r\n", 1).into_bytes();
    let body = &response[head_end..];
    if cut && status == "200" {
        record("cut");
        out.extend_from_slice(&body[..body.len() / 2]);
        client.write_all(&out)?;
        client.flush()?;
        return client.shutdown(std::net::Shutdown::Both);
    }
    record(&status);
    out.extend_from_slice(body);
    client.write_all(&out)
}
