//! Registry images against a real registry: Debian's `docker-registry` (the CNCF distribution
//! registry) started here on 127.0.0.1 with a free port and temporary storage, fixtures pushed
//! with skopeo, and a loopback proxy that injects faults (a cut blob, 429, extra bytes, a stall,
//! a wrong `Docker-Content-Digest`, redirects, a rewritten Content-Type, 200 to a Range request)
//! and can act as a Bearer-token auth front with its own token endpoint (docs/hostile-inputs.md cases 39
//! and 50-60). Nothing here reaches beyond loopback (127.0.0.1, and 127.0.0.2 as a loopback
//! address that is not named as such).
//! `docker-registry` and `skopeo` are required (scripts/test.sh installs them): the tests fail
//! without them, they never skip.

use crate::common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use layerscope::diag::Level;
use layerscope::oci::platform::PlatformFilter;
use layerscope::pipeline::{self, ScanOptions};
use layerscope::report::ImageReport;

use crate::common::registry::{docker_config, Registry, PASSWORD, USER};
use layerscope::report::LibcKind;

fn scan(reference: &str) -> ImageReport {
    common::scan(reference)
}

fn scan_platforms(reference: &str, platforms: &str) -> ImageReport {
    let opts = ScanOptions { platforms: PlatformFilter::parse(platforms).unwrap(), ..Default::default() };
    pipeline::scan(reference, &opts).unwrap_or_else(|e| panic!("scan {reference}: {e}"))
}

fn errors(r: &ImageReport) -> Vec<String> {
    r.diagnostics
        .iter()
        .chain(r.platforms.iter().flat_map(|p| &p.diagnostics))
        .filter(|d| d.severity == Level::Error)
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
        assert_eq!(p.libc.kind, LibcKind::Musl);
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
        // The findings differ by SRC-UNSIGNED (the layout has no registry to ask) and by the
        // pin (a registry digest can be pulled, a layout's cannot).
        let ids = |r: &ImageReport| r.findings.iter().map(|f| f.id.clone()).collect::<BTreeSet<_>>();
        let mut expected = ids(&from_layout);
        expected.insert("SRC-UNSIGNED".into());
        expected.insert("TAG-NOT-DIGEST".into());
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
    let out = layerscope_checked(&["scan", "--format", "json", &reference], Some(good.path()), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["platforms"][0]["libc"]["kind"], "musl");

    let bad = docker_config(&reg.host(), USER, "wrong-Pw-also-secret");
    let out = layerscope_checked(&["scan", &reference], Some(bad.path()), &["wrong-Pw-also-secret"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("refused the credentials") && stderr.contains(USER), "{stderr}");

    let out = layerscope_checked(&["scan", &reference], None, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("requires authentication") && stderr.contains("no credentials"), "{stderr}");
}

#[test]
fn unknown_tag_is_a_clear_error() {
    let reg = Registry::start(false);
    reg.push("musl", "1.0.0");
    let reference = format!("docker://{}/musl:no-such-tag", reg.host());
    let e = pipeline::scan(&reference, &ScanOptions::default()).expect_err("an error").to_string();
    assert!(e.contains("manifest unknown") && e.contains("no-such-tag") && e.contains("musl"), "{e}");
    let out = layerscope(&["scan", &reference], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("manifest unknown"));
    let e = pipeline::scan(&format!("docker://{}/nothing-here:1", reg.host()), &ScanOptions::default())
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
    let e = pipeline::scan(&format!("docker://127.0.0.1:{}/musl:1.0.0", proxy.port), &ScanOptions::default())
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
        let e = pipeline::scan(bad, &ScanOptions::default()).expect_err("an error").to_string();
        assert!(e.contains(says) && !e.contains("sending request"), "{bad}: {e}");
    }
}

/// Case 60: no output of the CLI holds a password, a token or an `Authorization` header.
fn assert_no_secret(out: &Output, secrets: &[&str]) {
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    for s in secrets.iter().chain(&[PASSWORD, TOKEN, "authorization"]) {
        assert!(!all.to_ascii_lowercase().contains(&s.to_ascii_lowercase()), "{s:?} appears in the output:\n{all}");
    }
}

/// `layerscope ARGS` with a docker config (or none), checked for secrets.
fn layerscope_checked(args: &[&str], docker_config: Option<&Path>, secrets: &[&str]) -> Output {
    let out = layerscope(args, docker_config);
    assert_no_secret(&out, secrets);
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn bearer_tokens_anonymous_and_with_credentials() {
    let reg = Registry::start(false);
    reg.push("musl", "1.0.0");
    let proxy = Proxy::start(reg.port, Faults { auth: Some(AuthFront::default()), ..Default::default() });
    let host = format!("127.0.0.1:{}", proxy.port);
    let reference = format!("docker://{host}/musl:1.0.0");

    // Anonymous token (its `expires_in: -5` is no obstacle).
    let out = layerscope_checked(&["scan", "--format", "json", &reference], None, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = proxy.log();
    assert!(log.iter().any(|l| l.contains("auth=none -> 401")), "{log:#?}");
    assert!(
        log.iter().any(|l| l.starts_with("GET /token?")
            && l.contains("scope=repository%3Amusl%3Apull")
            && l.contains("auth=none -> 200 token")),
        "{log:#?}"
    );
    assert!(log.iter().any(|l| l.contains("/blobs/") && l.ends_with("auth=bearer -> 200")), "{log:#?}");
    let tokens = log.iter().filter(|l| l.contains("/token")).count();
    assert!(tokens <= 2, "a token per request: {log:#?}");

    // A token with credentials: the token endpoint checks them.
    proxy.set(Faults {
        auth: Some(AuthFront { creds: Some((USER.into(), PASSWORD.into())), ..Default::default() }),
        ..Default::default()
    });
    let good = docker_config(&host, USER, PASSWORD);
    let out = layerscope_checked(&["scan", "--format", "json", &reference], Some(good.path()), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["platforms"][0]["libc"]["kind"], "musl");
    assert!(proxy.log().iter().any(|l| l.contains("/token") && l.contains("auth=basic -> 200 token")));

    // Wrong credentials, and none: exit 2, a clear message, no secret.
    let bad = docker_config(&host, USER, "wrong-Pw-also-secret");
    let out = layerscope_checked(&["scan", &reference], Some(bad.path()), &["wrong-Pw-also-secret"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("refused the credentials") && stderr(&out).contains(USER), "{}", stderr(&out));
    let out = layerscope_checked(&["scan", &reference], None, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("requires authentication"), "{}", stderr(&out));
}

#[test]
fn hostile_token_endpoints_are_clear_errors() {
    let reg = Registry::start(false);
    reg.push("musl", "1.0.0");
    let proxy = Proxy::start(reg.port, Faults::default());
    let reference = format!("docker://127.0.0.1:{}/musl:1.0.0", proxy.port);
    let mut huge = br#"{"token":""#.to_vec();
    huge.resize(2 << 20, b'a');
    huge.extend_from_slice(br#""}"#);
    for (body, says) in [
        // Case 51: oci-client panics turning this into a header.
        (br#"{"token":"abc\r\nX: y"}"#.to_vec(), "not a valid header value"),
        // Case 52: a 2 MiB token body stops at the 1 MiB cap.
        (huge, "larger than 1048576 bytes"),
        (b"<html>not json</html>".to_vec(), "something else than a token"),
        (br#"{"expires_in":300}"#.to_vec(), "no token"),
    ] {
        proxy.set(Faults {
            auth: Some(AuthFront { token_body: Some(body), ..Default::default() }),
            ..Default::default()
        });
        let out = layerscope_checked(&["scan", &reference], None, &["abc\r\nX"]);
        let e = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{e}");
        assert!(e.contains(says) && !e.contains("panicked"), "{says}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}

#[test]
fn a_plain_http_realm_elsewhere_gets_no_credentials() {
    // Case 50. 127.0.0.2 is loopback but not named as such: plain http to it is not allowed
    // unless --insecure-registry names it, like any other host.
    let reg = Registry::start(false);
    reg.push("musl", "1.0.0");
    let realm = Static::start("127.0.0.2", "401 Unauthorized", Vec::new());
    let proxy = Proxy::start(
        reg.port,
        Faults {
            auth: Some(AuthFront { realm: Some(format!("http://{}/token", realm.addr)), ..Default::default() }),
            ..Default::default()
        },
    );
    let host = format!("127.0.0.1:{}", proxy.port);
    let reference = format!("docker://{host}/musl:1.0.0");
    let creds = docker_config(&host, USER, PASSWORD);
    let out = layerscope_checked(&["scan", &reference], Some(creds.path()), &[]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains(&format!("plain http to {} is refused", realm.addr)) && e.contains("no credentials"), "{e}");
    assert_eq!(realm.log(), Vec::<String>::new(), "the realm was contacted");
    // Named insecure, the realm is asked (with the credentials): the check above can fail.
    let out = layerscope_checked(&["scan", "--insecure-registry", &realm.addr, &reference], Some(creds.path()), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(realm.log().iter().any(|l| l.starts_with("GET /token?") && l.ends_with("auth=basic")), "{:?}", realm.log());
}

/// The largest layer of the musl fixture.
fn big_layer() -> String {
    let layout = scan(&common::testdata("images/musl/oci").display().to_string());
    layout.platforms[0].layers.iter().max_by_key(|l| l.compressed_bytes).unwrap().digest.clone()
}

#[test]
fn a_blob_longer_than_its_size_is_cut_and_refused() {
    // Case 55: 1 GiB appended; the download stops one byte past the size.
    let reg = Registry::start(false);
    reg.push("musl", "1.0.0");
    let big = big_layer();
    let proxy = Proxy::start(reg.port, Faults { extra_bytes: Some((big.clone(), 1 << 30)), ..Default::default() });
    let r = scan(&format!("docker://127.0.0.1:{}/musl:1.0.0", proxy.port));
    let errs = errors(&r);
    assert!(errs.iter().any(|e| e.contains(&big) && e.contains("size mismatch")), "{errs:#?}");
    // The proxy stops when the client hangs up; give it a moment to notice.
    let deadline = Instant::now() + Duration::from_secs(10);
    let sent = loop {
        let line = proxy.log().into_iter().find(|l| l.contains(&big) && l.contains(" +"));
        if let Some(l) = line {
            break l.rsplit('+').next().unwrap().parse::<u64>().unwrap();
        }
        assert!(Instant::now() < deadline, "the proxy is still sending: {:#?}", proxy.log());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(sent < 64 << 20, "{sent} extra bytes were read");
}

#[test]
fn a_docker_content_digest_that_differs_is_an_error() {
    // Case 59.
    let reg = Registry::start(false);
    reg.push("musl", "1.0.0");
    let proxy =
        Proxy::start(reg.port, Faults { wrong_digest_header: Some("/manifests/".into()), ..Default::default() });
    let e = pipeline::scan(&format!("docker://127.0.0.1:{}/musl:1.0.0", proxy.port), &ScanOptions::default())
        .expect_err("an error")
        .to_string();
    assert!(e.contains("Docker-Content-Digest") && e.contains(&"0".repeat(64)), "{e}");
}

#[test]
fn a_stalled_blob_is_a_read_timeout() {
    // Case 57, with a 2 s read timeout: the first GET and its 3 resumes all stall.
    let reg = Registry::start(false);
    reg.push("musl", "1.0.0");
    let big = big_layer();
    let proxy = Proxy::start(reg.port, Faults { stall: Some(big.clone()), ..Default::default() });
    let opts = ScanOptions {
        registry: layerscope::source::registry::RegistryOptions {
            read_timeout: Some(Duration::from_secs(2)),
            ..Default::default()
        },
        ..Default::default()
    };
    let started = Instant::now();
    let r = pipeline::scan(&format!("docker://127.0.0.1:{}/musl:1.0.0", proxy.port), &opts).unwrap();
    let errs = errors(&r);
    assert!(
        errs.iter().any(|e| e.contains(&big) && e.contains("read timeout") && e.contains("3 resumes")),
        "{errs:#?}"
    );
    assert!(started.elapsed() < Duration::from_secs(25), "{:?}", started.elapsed());
    assert_eq!(proxy.log().iter().filter(|l| l.ends_with("stall")).count(), 4, "{:#?}", proxy.log());
}

#[test]
fn redirects_keep_credentials_home_and_are_bounded() {
    // Case 54, behind the Bearer front so that requests carry a token.
    let reg = Registry::start(false);
    reg.push("musl", "1.0.0");
    let big = big_layer();
    let blob = std::fs::read(reg.blob_path(&big)).unwrap();
    let storage = Static::start("127.0.0.1", "200 OK", blob);
    let proxy = Proxy::start(reg.port, Faults::default());
    let reference = format!("docker://127.0.0.1:{}/musl:1.0.0", proxy.port);
    let with = |to: &str| {
        proxy.set(Faults {
            auth: Some(AuthFront::default()),
            redirect: Some((big.clone(), to.to_string())),
            ..Default::default()
        });
        pipeline::scan(&reference, &ScanOptions::default()).unwrap()
    };

    // To blob storage on another host: followed, without the token.
    let r = with(&format!("http://{}/storage/blob?X-Amz-Signature=presigned", storage.addr));
    assert_eq!(errors(&r), Vec::<String>::new());
    assert!(proxy.log().iter().any(|l| l.contains(&big) && l.ends_with("auth=bearer -> 307")), "{:#?}", proxy.log());
    assert_eq!(storage.log(), ["GET /storage/blob?X-Amz-Signature=presigned auth=none"]);

    for (to, says) in [
        ("loop", "more than 10 redirects"),
        ("file:///etc/passwd", "a file: URL is refused"),
        ("http://127.0.0.2:9/x?X-Amz-Signature=presigned", "plain http to 127.0.0.2:9 is refused"),
    ] {
        let r = with(to);
        if to == "loop" {
            // The original URL and 9 hops: the tenth is refused.
            let hops = proxy.log().iter().filter(|l| l.contains("/loop/")).count();
            assert_eq!(hops, 9, "{:#?}", proxy.log());
        }
        let errs = errors(&r);
        assert!(errs.iter().any(|e| e.contains(&big) && e.contains(says)), "{to}: {errs:#?}");
        assert!(!errs.iter().any(|e| e.contains("presigned") || e.contains(TOKEN)), "{errs:#?}");
    }
}

/// Pushes the musl fixture as `fgn:foreign`, a docker schema 2 manifest whose largest layer is a
/// foreign layer with `urls` [url], and removes that layer from the repository. Returns its
/// digest and bytes.
fn push_foreign(reg: &Registry, url: &str) -> (String, Vec<u8>) {
    reg.push_as("musl", "fgn", "1.0.0");
    let oci = common::testdata("images/musl/oci");
    let blob = |d: &str| std::fs::read(oci.join("blobs/sha256").join(d.strip_prefix("sha256:").unwrap())).unwrap();
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(oci.join("index.json")).unwrap()).unwrap();
    let mut m: serde_json::Value =
        serde_json::from_slice(&blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    let big = big_layer();
    m["mediaType"] = "application/vnd.docker.distribution.manifest.v2+json".into();
    m["config"]["mediaType"] = "application/vnd.docker.container.image.v1+json".into();
    for l in m["layers"].as_array_mut().unwrap() {
        if l["digest"] == big.as_str() {
            l["mediaType"] = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip".into();
            l["urls"] = serde_json::json!([url]);
        } else {
            l["mediaType"] = "application/vnd.docker.image.rootfs.diff.tar.gzip".into();
        }
    }
    let body = serde_json::to_vec(&m).unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", reg.port)).unwrap();
    s.write_all(
        format!(
            "PUT /v2/fgn/manifests/foreign HTTP/1.1\r\nHost: {}\r\nContent-Type: application/vnd.docker.distribution.manifest.v2+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            reg.host(),
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    s.write_all(&body).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let hex = big.strip_prefix("sha256:").unwrap();
    std::fs::remove_dir_all(
        reg.dir.path().join(format!("data/docker/registry/v2/repositories/fgn/_layers/sha256/{hex}")),
    )
    .unwrap();
    let bytes = blob(&big);
    (big, bytes)
}

#[test]
fn foreign_layer_urls_are_fetched_only_when_asked() {
    // Case 58 and the issue, behind the Bearer front (the foreign host must not get the token).
    let reg = Registry::start(false);
    let foreign = Static::start("127.0.0.1", "200 OK", Vec::new());
    let (big, bytes) = push_foreign(&reg, &format!("http://{}/layer.tar.gz", foreign.addr));
    *foreign.body.lock().unwrap() = bytes.clone();
    let proxy = Proxy::start(reg.port, Faults { auth: Some(AuthFront::default()), ..Default::default() });
    let reference = format!("docker://127.0.0.1:{}/fgn:foreign", proxy.port);

    let out = layerscope_checked(&["scan", &reference], None, &[]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{e}");
    assert!(e.contains(&big) && e.contains("not found") && e.contains("--allow-foreign-urls"), "{e}");
    assert_eq!(foreign.log(), Vec::<String>::new(), "fetched without being asked");
    assert!(proxy.log().iter().any(|l| l.contains(&big) && l.ends_with("-> 404")), "{:#?}", proxy.log());

    let out = layerscope_checked(&["scan", "--allow-foreign-urls", "--format", "json", &reference], None, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["platforms"][0]["libc"]["kind"], "musl");
    assert_eq!(foreign.log(), ["GET /layer.tar.gz auth=none"]);

    // The same checks as for the registry's blobs.
    let mut bad = bytes.clone();
    bad[4] ^= 0x55;
    *foreign.body.lock().unwrap() = bad;
    let out = layerscope_checked(&["scan", "--allow-foreign-urls", &reference], None, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains(&big) && stderr(&out).contains("digest mismatch"), "{}", stderr(&out));
}

/// What the proxy does wrong (the first three once each, the rest every time).
#[derive(Default, Clone)]
struct Faults {
    /// Answer 429 to the first request whose path contains this.
    too_many_once: Option<String>,
    /// `Retry-After` of that 429 (1 s by default).
    retry_after: Option<u64>,
    /// Close the connection halfway through the first full GET of this blob.
    cut_once: Option<String>,
    /// Act as a Bearer-token auth front (the real registry behind it is anonymous).
    auth: Option<AuthFront>,
    /// Append this many bytes to the body of GETs whose path contains `.0`.
    extra_bytes: Option<(String, u64)>,
    /// Answer a wrong `Docker-Content-Digest` on responses whose path contains this.
    wrong_digest_header: Option<String>,
    /// Send half of the body of GETs whose path contains this, then stall.
    stall: Option<String>,
    /// Answer GETs whose path contains `.0` with a 307 to `.1` (`loop`: redirect for ever).
    redirect: Option<(String, String)>,
    /// Answer responses whose path contains `.0` with `Content-Type: .1`.
    content_type: Option<(String, String)>,
    /// Drop `Range` from requests: the registry answers 200 and the whole blob.
    ignore_range: bool,
}

/// The token the auth front issues.
const TOKEN: &str = "tok-Hq3v-never-printed";

#[derive(Clone, Default)]
struct AuthFront {
    /// Basic credentials the token endpoint requires; `None`: anonymous tokens.
    creds: Option<(String, String)>,
    /// The token endpoint's body (default `{"token":TOKEN,"expires_in":-5}`).
    token_body: Option<Vec<u8>>,
    /// The challenge's realm (default `http://127.0.0.1:PORT/token`, the proxy itself).
    realm: Option<String>,
}

/// A loopback HTTP proxy in front of the registry: one request per connection, logged as
/// `METHOD PATH range=… auth=none|basic|bearer|bearer-other -> STATUS|cut|…`.
struct Proxy {
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
    faults: Arc<Mutex<Faults>>,
}

impl Proxy {
    fn start(upstream: u16, faults: Faults) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(Mutex::new(faults));
        let (log2, state2) = (log.clone(), state.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (log, state) = (log2.clone(), state2.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, port, upstream, &log, &state);
                });
            }
        });
        Proxy { port, log, faults: state }
    }

    fn set(&self, f: Faults) {
        *self.faults.lock().unwrap() = f;
        self.log.lock().unwrap().clear();
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

/// Reads a request's line and headers.
fn read_head(reader: &mut impl BufRead) -> std::io::Result<(String, Vec<String>)> {
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
    Ok((request_line, headers))
}

fn header_value(headers: &[String], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|h| h.to_ascii_lowercase().starts_with(&format!("{name}:")))
        .map(|h| h[name.len() + 1..].trim().to_string())
}

/// `none`, `basic`, `bearer` (the token the front issued) or `bearer-other`.
fn auth_kind(headers: &[String]) -> &'static str {
    match header_value(headers, "authorization") {
        None => "none",
        Some(v) if v == format!("Bearer {TOKEN}") => "bearer",
        Some(v) if v.starts_with("Bearer ") => "bearer-other",
        Some(_) => "basic",
    }
}

/// Replaces (or adds) a header in a response head.
fn set_header(head: &str, name: &str, value: &str) -> String {
    let mut lines: Vec<String> = head
        .trim_end_matches("\r\n")
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with(&format!("{}:", name.to_ascii_lowercase())))
        .map(str::to_string)
        .collect();
    lines.push(format!("{name}: {value}"));
    format!("{}\r\n\r\n", lines.join("\r\n"))
}

fn respond(client: &mut TcpStream, status: &str, headers: &str, body: &[u8]) -> std::io::Result<()> {
    client.write_all(
        format!("HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()).as_bytes(),
    )?;
    client.write_all(body)
}

fn serve(
    mut client: TcpStream,
    own_port: u16,
    upstream: u16,
    log: &Mutex<Vec<String>>,
    state: &Mutex<Faults>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let (request_line, headers) = read_head(&mut reader)?;
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let range = header_value(&headers, "range");
    let auth = auth_kind(&headers);
    let entry = format!("{method} {path} range={} auth={auth}", range.clone().unwrap_or_default());
    let record = |outcome: &str| log.lock().unwrap().push(format!("{entry} -> {outcome}"));

    let f = state.lock().unwrap().clone();
    let (too_many, cut) = {
        let mut st = state.lock().unwrap();
        let too_many = st.too_many_once.as_ref().is_some_and(|p| path.contains(p.as_str()));
        if too_many {
            st.too_many_once = None;
        }
        let cut = method == "GET" && range.is_none() && st.cut_once.as_ref().is_some_and(|d| path.contains(d.as_str()));
        if cut {
            st.cut_once = None;
        }
        (too_many, cut)
    };
    if too_many {
        record("429");
        let retry_after = f.retry_after.unwrap_or(1);
        return respond(&mut client, "429 Too Many Requests", &format!("Retry-After: {retry_after}\r\n"), b"");
    }
    if let Some(n) = path.strip_prefix("/loop/").and_then(|n| n.parse::<u32>().ok()) {
        record("307 loop");
        return respond(&mut client, "307 Temporary Redirect", &format!("Location: /loop/{}\r\n", n + 1), b"");
    }
    if let Some(front) = &f.auth {
        if path.starts_with("/token") {
            let allowed = match &front.creds {
                None => true,
                Some((u, p)) => {
                    use base64::Engine as _;
                    let expected =
                        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}")));
                    header_value(&headers, "authorization").is_some_and(|v| v == expected)
                }
            };
            if !allowed {
                record("401 token");
                return respond(
                    &mut client,
                    "401 Unauthorized",
                    "",
                    br#"{"details":"incorrect username or password"}"#,
                );
            }
            record("200 token");
            let body = front
                .token_body
                .clone()
                .unwrap_or_else(|| format!(r#"{{"token":"{TOKEN}","expires_in":-5}}"#).into_bytes());
            return respond(&mut client, "200 OK", "Content-Type: application/json\r\n", &body);
        }
        if auth != "bearer" {
            record("401");
            let realm = front.realm.clone().unwrap_or_else(|| format!("http://127.0.0.1:{own_port}/token"));
            let repo = path.trim_start_matches("/v2/").split("/manifests/").next().unwrap_or("");
            let repo = repo.split("/blobs/").next().unwrap_or("");
            return respond(
                &mut client,
                "401 Unauthorized",
                &format!(
                    "WWW-Authenticate: Bearer realm=\"{realm}\",service=\"test\",scope=\"repository:{repo}:pull\"\r\n"
                ),
                br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            );
        }
    }
    if let Some((p, to)) = &f.redirect {
        if method == "GET" && path.contains(p.as_str()) {
            let location = if to == "loop" { "/loop/1".to_string() } else { to.clone() };
            record("307");
            return respond(&mut client, "307 Temporary Redirect", &format!("Location: {location}\r\n"), b"");
        }
    }
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    let mut req = request_line.clone();
    for h in &headers {
        let l = h.to_ascii_lowercase();
        // The registry behind the front is anonymous: the token stays here.
        let token = f.auth.is_some() && l.starts_with("authorization:");
        let range = f.ignore_range && l.starts_with("range:");
        if !l.starts_with("connection:") && !token && !range {
            req.push_str(h);
        }
    }
    req.push_str("Connection: close\r\n\r\n");
    up.write_all(req.as_bytes())?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4).unwrap_or(response.len());
    let mut head = String::from_utf8_lossy(&response[..head_end]).to_string();
    let status = head.split_whitespace().nth(1).unwrap_or("?").to_string();
    // Tell the client not to reuse the connection.
    head = set_header(&head, "Connection", "close");
    let body = &response[head_end..];
    if let Some((_, ct)) = f.content_type.as_ref().filter(|(p, _)| path.contains(p.as_str())) {
        head = set_header(&head, "Content-Type", ct);
    }
    if f.wrong_digest_header.as_ref().is_some_and(|p| path.contains(p.as_str())) {
        head = set_header(&head, "Docker-Content-Digest", &format!("sha256:{}", "0".repeat(64)));
    }
    if cut && status == "200" {
        record("cut");
        client.write_all(head.as_bytes())?;
        client.write_all(&body[..body.len() / 2])?;
        client.flush()?;
        return client.shutdown(std::net::Shutdown::Both);
    }
    if method == "GET" && f.stall.as_ref().is_some_and(|p| path.contains(p.as_str())) {
        record("stall");
        client.write_all(head.as_bytes())?;
        client.write_all(&body[..body.len() / 2])?;
        client.flush()?;
        std::thread::sleep(Duration::from_secs(30));
        return Ok(());
    }
    if let Some((_, extra)) = f.extra_bytes.as_ref().filter(|(p, _)| method == "GET" && path.contains(p.as_str())) {
        head = set_header(&head, "Content-Length", &(body.len() as u64 + extra).to_string());
        client.write_all(head.as_bytes())?;
        client.write_all(body)?;
        let zeros = vec![0u8; 64 << 10];
        let mut sent = 0u64;
        while sent < *extra {
            let n = zeros.len().min((extra - sent) as usize);
            if client.write_all(&zeros[..n]).is_err() {
                break;
            }
            sent += n as u64;
        }
        record(&format!("{status} +{sent}"));
        return Ok(());
    }
    record(&status);
    client.write_all(head.as_bytes())?;
    client.write_all(body)
}

/// A plain loopback HTTP server answering every request with `status` and `body`, logging
/// `METHOD PATH auth=…` (blob storage behind a redirect, a foreign-layer host, a token realm).
struct Static {
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
    body: Arc<Mutex<Vec<u8>>>,
}

impl Static {
    fn start(ip: &str, status: &'static str, body: Vec<u8>) -> Static {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let body = Arc::new(Mutex::new(body));
        let (log2, body2) = (log.clone(), body.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let (log, body) = (log2.clone(), body2.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone()?);
                    let (line, headers) = read_head(&mut reader)?;
                    let mut parts = line.split_whitespace();
                    let (m, p) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                    log.lock().unwrap().push(format!("{m} {p} auth={}", auth_kind(&headers)));
                    let b = body.lock().unwrap().clone();
                    respond(&mut conn, status, "", &b)
                });
            }
        });
        Static { addr, log, body }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

#[test]
fn a_server_answering_200_to_a_range_request_is_read_from_the_start() {
    // Case 56: the blob is cut halfway, the resume asks for `Range: bytes=N-` and the server
    // answers 200 with the whole blob: the first N bytes are skipped, so what is hashed is the
    // blob exactly once and the digest verifies.
    let reg = Registry::start(false);
    reg.push("musl", "1.0.0");
    let layout = scan(&common::testdata("images/musl/oci").display().to_string());
    let big = big_layer();
    let proxy =
        Proxy::start(reg.port, Faults { cut_once: Some(big.clone()), ignore_range: true, ..Default::default() });
    let r = scan(&format!("docker://127.0.0.1:{}/musl:1.0.0", proxy.port));
    assert_eq!(errors(&r), Vec::<String>::new());
    assert_eq!(comparable(&r), comparable(&layout));
    let log = proxy.log();
    assert!(log.iter().any(|l| l.contains(&big) && l.ends_with("-> cut")), "{log:#?}");
    assert!(
        log.iter().any(|l| l.contains(&big) && l.contains("range=bytes=") && l.ends_with("-> 200")),
        "the resume was not answered with the whole blob: {log:#?}"
    );
}

#[test]
fn manifest_media_types_that_disagree_are_errors() {
    // Case 39: a manifest's `mediaType`, the HTTP Content-Type it is served with, and the media
    // type of the descriptor that points at it must agree when they name an image type. A type
    // that names none (application/json, served by plain file servers) says nothing and is
    // ignored.
    let reg = Registry::start(false);
    reg.push("multiarch", "1.0.0");
    let clean = scan(&format!("docker://{}/multiarch:1.0.0", reg.host()));
    assert_eq!(errors(&clean), Vec::<String>::new());
    let arm = clean.platforms.iter().find(|p| p.platform.starts_with("linux/arm64")).unwrap().manifest_digest.clone();
    let proxy = Proxy::start(reg.port, Faults::default());
    let reference = format!("docker://127.0.0.1:{}/multiarch:1.0.0", proxy.port);
    let docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
    let docker_list = "application/vnd.docker.distribution.manifest.list.v2+json";
    let oci_manifest = "application/vnd.oci.image.manifest.v1+json";

    // The arm64 manifest (OCI, and so says the index) served as a Docker manifest: that platform
    // fails, naming both types; the other one is scanned.
    proxy.set(Faults { content_type: Some((arm.clone(), docker_manifest.into())), ..Default::default() });
    let r = scan(&reference);
    assert_eq!(r.platforms.len(), 1, "{:?}", errors(&r));
    let errs = errors(&r);
    assert!(
        errs.iter().any(|e| e.contains(&arm) && e.contains(docker_manifest) && e.contains(oci_manifest)),
        "{errs:#?}"
    );
    let out = layerscope(&["scan", &reference], None);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));

    // The index (fetched by tag, no parent descriptor) served as a manifest, or as a Docker list
    // while it says it is an OCI index: nothing can be read.
    for ct in [oci_manifest, docker_list] {
        proxy.set(Faults { content_type: Some(("/manifests/1.0.0".into(), ct.into())), ..Default::default() });
        let e = pipeline::scan(&reference, &ScanOptions::default()).expect_err(ct).to_string();
        assert!(e.contains(ct) && e.contains("media type"), "{ct}: {e}");
    }

    // A Content-Type that names no image type is no evidence either way.
    for path in ["/manifests/1.0.0", arm.as_str()] {
        proxy.set(Faults { content_type: Some((path.into(), "application/json".into())), ..Default::default() });
        let r = scan(&reference);
        assert_eq!(errors(&r), Vec::<String>::new(), "{path}");
        assert_eq!(r.platforms.len(), 2);
    }
}
