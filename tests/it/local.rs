//! Local images (docs/sources.md): a real Docker daemon's store (`docker-daemon:`, `docker:`,
//! a bare name found there, `--source docker`) and `docker save` streams on stdin, each giving
//! the report of the image's OCI layout (digests and the stored form of layers aside); and
//! what goes wrong: no daemon, an image it lacks, streams cut short, not a tar, a layer the
//! manifest names but the stream lacked, over-limit members, schemes not supported.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::common::daemon::{Dockerd, Podman};
use crate::common::testdata;

const NOW: &str = "2026-01-01";

fn layerscope() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_layerscope"));
    c.env("NO_COLOR", "1").env_remove("DOCKER_HOST").env_remove("DOCKER_TLS_VERIFY");
    c
}

/// `scan REF --format json` with `env`, and `stdin` fed to it.
fn scan_json(reference: &str, env: &[(&str, &str)], stdin: Option<Stdio>) -> (Output, Option<Value>) {
    let mut c = layerscope();
    c.args(["scan", reference, "--format", "json", "--now", NOW]);
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdin(stdin.unwrap_or(Stdio::null()));
    let out = c.output().unwrap();
    let json = serde_json::from_slice(&out.stdout).ok();
    (out, json)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The report with what depends on how the image is stored removed: a daemon keeps layers
/// uncompressed (other blob digests, sizes and media types, another manifest) and names the
/// image; the configuration and everything found in the layers must be the same.
fn normalized(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for k in ["reference", "digest", "manifest_digest", "compressed_bytes", "media_type", "name", "tag"] {
                    m.remove(k);
                }
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

fn layout_report(fixture: &str) -> Value {
    let (out, json) = scan_json(&format!("oci:{}", testdata(&format!("images/{fixture}/oci")).display()), &[], None);
    assert!(out.status.success(), "{}", stderr(&out));
    normalized(json.unwrap())
}

#[test]
fn daemon_and_stdin_give_the_layouts_report() {
    let d = Dockerd::start();
    let fixtures =
        [("musl", "musl.docker.tar"), ("static", "static.docker-legacy.tar"), ("layers", "layers.docker.tar")];
    for (_, file) in fixtures {
        d.load(&testdata(&format!("images/{file}")));
    }
    let host = d.host();
    let env = [("DOCKER_HOST", host.as_str())];
    for (name, _) in fixtures {
        let want = layout_report(name);
        let config_digest = want["platforms"][0]["config_digest"].clone();
        assert!(config_digest.is_string());
        for reference in [format!("docker-daemon:{name}"), format!("docker:{name}:latest"), name.to_string()] {
            let (out, json) = scan_json(&reference, &env, None);
            assert!(out.status.success(), "{reference}: {}", stderr(&out));
            let json = json.unwrap();
            assert_eq!(json["name"], format!("{name}:latest"), "{reference}");
            assert_eq!(normalized(json), want, "{reference} differs from the OCI layout's report");
            if reference == name {
                assert!(stderr(&out).contains(&format!("read from the Docker daemon at {host}")), "{}", stderr(&out));
            }
        }
        // `docker save NAME | layerscope scan -`
        let mut save = d.docker().args(["save", name]).stdout(Stdio::piped()).spawn().unwrap();
        let (out, json) = scan_json("-", &[], save.stdout.take().map(Stdio::from));
        assert!(save.wait().unwrap().success());
        assert!(out.status.success(), "docker save {name} | scan -: {}", stderr(&out));
        assert_eq!(normalized(json.unwrap()), want, "docker save {name} | scan - differs");
    }
    // DOCKER_HOST over TCP with TLS and client certificates: the same report; a CA that did
    // not sign the daemon's certificate is refused.
    let tcp = format!("tcp://127.0.0.1:{}", d.tls_port);
    let certs = d.certs().display().to_string();
    let tls_env = [("DOCKER_HOST", tcp.as_str()), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", certs.as_str())];
    let (out, json) = scan_json("docker-daemon:musl", &tls_env, None);
    assert!(out.status.success(), "over TLS: {}", stderr(&out));
    assert_eq!(normalized(json.unwrap()), layout_report("musl"), "over TLS");
    let other = d.dir.path().join("other-ca");
    std::fs::create_dir_all(&other).unwrap();
    for f in ["cert.pem", "key.pem"] {
        std::fs::copy(d.certs().join(f), other.join(f)).unwrap();
    }
    // The daemon's own certificate as the only trust anchor: it did not issue itself.
    std::fs::copy(d.certs().join("server-cert.pem"), other.join("ca.pem")).unwrap();
    let other = other.display().to_string();
    let bad_env = [("DOCKER_HOST", tcp.as_str()), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", other.as_str())];
    let (out, _) = scan_json("docker-daemon:musl", &bad_env, None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("cannot reach the Docker daemon at {tcp}")), "{}", stderr(&out));
    // `--source docker` forces the daemon for a bare name; the daemon lacking it is an error.
    let mut c = layerscope();
    let out =
        c.args(["scan", "--source", "docker", "nothere:1", "--now", NOW]).env("DOCKER_HOST", &host).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("the Docker daemon at {host} has no image \"nothere:1\"")),
        "{}",
        stderr(&out)
    );
    let (out, _) = scan_json("docker-daemon:nothere", &env, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("has no image \"nothere\""), "{}", stderr(&out));
    // A bare name the daemon lacks goes to the registry, and says so.
    let (out, _) = scan_json("127.0.0.1:9/absent:1", &env, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not in a local Docker daemon; read from the registry"), "{}", stderr(&out));
    assert!(stderr(&out).contains("127.0.0.1:9"), "{}", stderr(&out));
    // compare reads the same references.
    let layout = format!("oci:{}", testdata("images/musl/oci").display());
    let out = layerscope()
        .args(["compare", "docker-daemon:musl", &layout, "--format", "json"])
        .env("DOCKER_HOST", &host)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let cmp: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cmp["images"][0]["reference"], "docker-daemon:musl", "{cmp}");
    assert_eq!(cmp["comparisons"][0]["differences"], 0, "{cmp}");
}

#[test]
fn podman_gives_the_layouts_report() {
    let p = Podman::start();
    p.load(&testdata("images/static.docker-legacy.tar"));
    let runtime = p.runtime_dir();
    let env = [("XDG_RUNTIME_DIR", runtime.as_str())];
    let want = layout_report("static");
    let (out, json) = scan_json("podman:static", &env, None);
    assert!(out.status.success(), "podman:static: {}", stderr(&out));
    assert_eq!(normalized(json.unwrap()), want, "podman:static differs from the OCI layout's report");
    let mut c = layerscope();
    let out = c
        .args(["scan", "--source", "podman", "static", "--format", "json", "--now", NOW])
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .unwrap();
    assert!(out.status.success(), "--source podman: {}", stderr(&out));
    assert_eq!(normalized(serde_json::from_slice(&out.stdout).unwrap()), want);
    let (out, _) = scan_json("podman:absent", &env, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("has no image \"absent\""), "{}", stderr(&out));
}

#[test]
fn no_daemon_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("none.sock");
    let host = format!("unix://{}", sock.display());
    for reference in ["docker-daemon:alpine", "docker:alpine"] {
        let (out, _) = scan_json(reference, &[("DOCKER_HOST", &host)], None);
        assert_eq!(out.status.code(), Some(2), "{reference}");
        assert!(stderr(&out).contains(&format!("cannot reach the Docker daemon at {host}")), "{}", stderr(&out));
    }
    let (out, _) = scan_json("docker-daemon:alpine", &[("DOCKER_HOST", "tcp://127.0.0.1:9")], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot reach the Docker daemon at tcp://127.0.0.1:9"), "{}", stderr(&out));
    let (out, _) = scan_json("docker-daemon:alpine", &[("DOCKER_HOST", "ssh://me@host")], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("only unix:// and tcp://"), "{}", stderr(&out));
    let runtime = dir.path().display().to_string();
    let (out, _) = scan_json("podman:alpine", &[("XDG_RUNTIME_DIR", &runtime)], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot reach the podman daemon at unix:///run/podman/podman.sock"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn other_schemes_are_refused_or_aliased() {
    for scheme in ["containers-storage", "dir", "singularity", "file"] {
        let (out, _) = scan_json(&format!("{scheme}:alpine"), &[], None);
        assert_eq!(out.status.code(), Some(2), "{scheme}");
        let e = stderr(&out);
        assert!(e.contains(&format!("the {scheme}: transport is not supported")), "{e}");
        assert!(e.contains("docker-daemon:NAME") && e.contains("oci-archive:FILE"), "{e}");
    }
    let (out, json) = scan_json(&format!("oci-dir:{}", testdata("images/musl/oci").display()), &[], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(normalized(json.unwrap()), layout_report("musl"));
    // registry: is a registry reference, never a path or the daemon.
    let (out, _) = scan_json("registry:127.0.0.1:9/x:1", &[], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("127.0.0.1:9"), "{}", stderr(&out));
}

/// Feeds `bytes` to `scan -` with extra arguments.
fn scan_stdin(bytes: &[u8], extra: &[&str]) -> (Output, Option<Value>) {
    let mut c = layerscope();
    c.args(["scan", "-", "--format", "json", "--now", NOW]).args(extra);
    let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = bytes.to_vec();
    // The scanner may stop reading early (a bad stream): a broken pipe is not the test's failure.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let json = serde_json::from_slice(&out.stdout).ok();
    (out, json)
}

/// The members of a tar file: (header, data) with GNU headers as written.
fn members(tar_bytes: &[u8]) -> Vec<(tar::Header, Vec<u8>)> {
    let mut a = tar::Archive::new(tar_bytes);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let h = e.header().clone();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        out.push((h, data));
    }
    out
}

fn build(members: &[(tar::Header, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (h, data) in members {
        b.append(h, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn streams_of_both_forms_and_their_failures() {
    for (fixture, file) in [("musl", "musl.docker.tar"), ("static", "static.docker-legacy.tar")] {
        let bytes = std::fs::read(testdata(&format!("images/{file}"))).unwrap();
        let (out, json) = scan_stdin(&bytes, &[]);
        assert!(out.status.success(), "{file}: {}", stderr(&out));
        assert_eq!(normalized(json.unwrap()), layout_report(fixture), "{file} on stdin");
    }
    let legacy = std::fs::read(testdata("images/static.docker-legacy.tar")).unwrap();
    let parts = members(&legacy);
    let layer = parts.iter().position(|(h, _)| h.path().unwrap().ends_with("layer.tar")).unwrap();
    let layer_name = parts[layer].0.path().unwrap().display().to_string();

    // Cut in the middle of the layer: exit 2, naming it.
    let cut = build(&parts);
    let offset = {
        let mut a = tar::Archive::new(cut.as_slice());
        let e = a.entries().unwrap().map(|e| e.unwrap()).find(|e| e.path().unwrap().ends_with("layer.tar")).unwrap();
        (e.raw_file_position() + e.size() / 2) as usize
    };
    let (out, _) = scan_stdin(&cut[..offset], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("the stream ends inside layer {layer_name}")), "{}", stderr(&out));

    // Not a tar at all.
    let (out, _) = scan_stdin(b"{\"this is\": \"not a tar\"}", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("stdin: not a docker save archive"), "{}", stderr(&out));
    let (out, _) = scan_stdin(b"", &[]);
    assert_eq!(out.status.code(), Some(2));

    // The manifest names a layer the stream never held: legacy manifest.json gives the layer's
    // size only by its member, so the image cannot be assembled (exit 2); the OCI form reads
    // the other layers and the report names the missing one (exit 3).
    let mut without = parts.clone();
    without.remove(layer);
    let (out, _) = scan_stdin(&build(&without), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{layer_name}: not in the stream (named, but it never came)")),
        "{}",
        stderr(&out)
    );
    let oci = members(&std::fs::read(testdata("images/musl.docker.tar")).unwrap());
    let first_layer = oci.iter().position(|(_, d)| d.len() > 262 && &d[257..262] == b"ustar").unwrap();
    let missing = oci[first_layer].0.path().unwrap().display().to_string();
    let mut without = oci.clone();
    without.remove(first_layer);
    let (out, json) = scan_stdin(&build(&without), &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let diags = json.unwrap()["platforms"][0]["diagnostics"].to_string();
    let digest = format!("sha256:{}", missing.rsplit('/').next().unwrap());
    assert!(
        diags.contains(&digest) && diags.contains("the manifest names this blob but stdin did not hold it"),
        "{diags}"
    );

    // Limits: a layer over layer-bytes is reported and the rest goes on (exit 3); a manifest
    // over json-bytes is dropped and named (exit 2).
    let (out, json) = scan_stdin(&legacy, &["--limit", "layer-bytes=4096"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(json.unwrap()["platforms"][0]["diagnostics"].to_string().contains("layer-bytes"));
    let (out, _) = scan_stdin(&legacy, &["--limit", "json-bytes=100"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("exceeds limit json-bytes (100)"), "{}", stderr(&out));
    // A stream of more members than are remembered (here links) is refused, not kept.
    let mut b = tar::Builder::new(Vec::new());
    for i in 0..100_001 {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, format!("l{i}"), "manifest.json").unwrap();
    }
    let (out, _) = scan_stdin(&b.into_inner().unwrap(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("more than 100000 members"), "{}", stderr(&out));
}
