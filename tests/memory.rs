//! Bounded memory (HOSTILE-INPUTS.md cases 20 and 29): the built binary scans a gzip bomb layer
//! and a layer with a 64 MiB PAX record, each in its own OCI layout, as a child process whose
//! peak RSS (`wait4` rusage `ru_maxrss`) must stay under 256 MB, and each scan ends in a clear
//! error naming the limit, with exit code 3 (the scan finished, a layer failed).
//!
//! The fixtures are generated here in a streaming way: the uncompressed bytes never exist in
//! memory, only their small compressed form.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use sha2::{Digest, Sha256};

/// Peak RSS allowed for the scanning process.
const BUDGET_BYTES: u64 = 256 << 20;
/// One gzip member: this many zeros, compressed once and repeated.
const MEMBER_ZEROS: usize = 64 << 20;
/// Members of the bomb: 32 × 64 MiB = 2 GiB of zeros from about 2 MiB of gzip.
const BOMB_MEMBERS: usize = 32;

fn sha256(b: &[u8]) -> String {
    let d = Sha256::digest(b);
    format!("sha256:{}", d.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

fn put_blob(dir: &Path, bytes: &[u8]) -> String {
    let d = sha256(bytes);
    let p = dir.join("blobs/sha256");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join(&d[7..]), bytes).unwrap();
    d
}

/// Writes a one-layer amd64 OCI layout around the gzip layer `blob` (uncompressed digest `diff_id`).
fn one_layer_layout(dir: &Path, blob: &[u8], diff_id: &str) -> String {
    let ld = put_blob(dir, blob);
    let cfg = serde_json::to_vec(
        &serde_json::json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[diff_id]}}),
    )
    .unwrap();
    let cd = put_blob(dir, &cfg);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cfg.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": blob.len()}],
    }))
    .unwrap();
    let md = put_blob(dir, &manifest);
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": manifest.len(),
        "platform": {"architecture": "amd64", "os": "linux"}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    format!("oci:{}", dir.display())
}

fn tar_header(path: &str, typeflag: u8, size: u64) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.set_path(path).unwrap();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::new(typeflag));
    h.set_cksum();
    h.as_bytes().to_vec()
}

/// Gzip of `chunks` × `chunk` after `prefix`, compressed as it is produced.
fn gzip_stream(prefix: &[u8], chunk: &[u8], chunks: usize, level: u32) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    enc.write_all(prefix).unwrap();
    for _ in 0..chunks {
        enc.write_all(chunk).unwrap();
    }
    enc.finish().unwrap()
}

/// Hashes what it forwards.
struct Hashing<W>(Sha256, W);

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.1.write(buf)?;
        self.0.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.1.flush()
    }
}

struct Outcome {
    code: i32,
    max_rss: u64,
    stderr: String,
    seconds: f64,
}

/// Runs `layerscope scan -q --format json REF` and reaps it with `wait4` for its own rusage.
// The child is reaped by wait4, not `Child::wait`, which would discard its rusage.
#[allow(clippy::zombie_processes)]
fn scan_child(reference: &str, dir: &Path) -> Outcome {
    let err_path = dir.join("stderr.txt");
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .args(["scan", "-q", "--format", "json", reference])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    assert!(libc::WIFEXITED(status), "the scan did not exit normally (status {status:#x}): killed or crashed");
    Outcome {
        code: libc::WEXITSTATUS(status),
        // Linux reports ru_maxrss in KiB.
        max_rss: usage.ru_maxrss as u64 * 1024,
        stderr: std::fs::read_to_string(&err_path).unwrap(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn check(what: &str, o: &Outcome, limit: &str) {
    eprintln!(
        "{what}: exit {}, peak RSS {:.1} MiB, {:.1} s; stderr: {}",
        o.code,
        o.max_rss as f64 / (1 << 20) as f64,
        o.seconds,
        o.stderr.trim()
    );
    assert!(o.max_rss > 0, "no rusage for the child");
    assert!(o.max_rss < BUDGET_BYTES, "{what}: peak RSS {} bytes over the {BUDGET_BYTES} budget", o.max_rss);
    assert_eq!(o.code, 3, "{what}: exit code; stderr: {}", o.stderr);
    assert!(o.stderr.contains(limit), "{what}: no error naming {limit}: {}", o.stderr);
    assert!(!o.stderr.contains("diff_id mismatch"), "{what}: {}", o.stderr);
    assert!(o.stderr.contains("sha256:"), "{what}: the error names no layer digest: {}", o.stderr);
}

#[test]
fn gzip_bomb_scan_stays_small_and_names_the_limit() {
    // 29: a tar entry claiming 1 TiB whose data is 2 GiB of zeros, in ~2 MiB of gzip: one member
    // holding the header and 64 MiB of zeros, then the same member of zeros repeated (multi-member
    // gzip, decoded whole as case 31 requires).
    let tmp = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 1 << 20];
    let mut blob = gzip_stream(&tar_header("zeros", b'0', 1 << 40), &zeros, MEMBER_ZEROS >> 20, 9);
    let member = gzip_stream(&[], &zeros, MEMBER_ZEROS >> 20, 9);
    for _ in 1..BOMB_MEMBERS {
        blob.extend_from_slice(&member);
    }
    let expanded = (BOMB_MEMBERS * MEMBER_ZEROS) as u64;
    // The default ratio limit is 1000:1; deflate's best on zeros is about 1030:1.
    assert!(expanded / blob.len() as u64 > 1010, "not a bomb: {} → {expanded} bytes", blob.len());
    // Never compared: the scan stops at the limit first.
    let diff_id = format!("sha256:{}", "0".repeat(64));
    let reference = one_layer_layout(&tmp.path().join("bomb"), &blob, &diff_id);
    let o = scan_child(&reference, tmp.path());
    let limit = if o.stderr.contains("layer-bytes") { "layer-bytes" } else { "compression-ratio" };
    check(&format!("gzip bomb ({} bytes → {expanded} bytes)", blob.len()), &o, limit);
}

#[test]
fn huge_pax_record_scan_stays_small_and_names_the_limit() {
    // 20: a PAX extended header of 64 MiB (one `path` record) that gzips to a few hundred KiB.
    let tmp = tempfile::tempdir().unwrap();
    let record_len: usize = 64 << 20;
    let head = format!("{record_len} path=");
    let value_len = record_len - head.len() - 1;
    // Hashed on the way in, so that the only error is the limit (not a diff_id mismatch).
    let mut enc = Hashing(Sha256::new(), flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    enc.write_all(&tar_header("././@PaxHeader", b'x', record_len as u64)).unwrap();
    enc.write_all(head.as_bytes()).unwrap();
    let a = vec![b'a'; 1 << 20];
    let mut left = value_len;
    while left > 0 {
        let n = left.min(a.len());
        enc.write_all(&a[..n]).unwrap();
        left -= n;
    }
    enc.write_all(b"\n").unwrap();
    // The entry the record belongs to, then the end of the archive.
    enc.write_all(&tar_header("file", b'0', 0)).unwrap();
    enc.write_all(&[0u8; 1024]).unwrap();
    let diff_id = format!("sha256:{}", enc.0.finalize().iter().map(|x| format!("{x:02x}")).collect::<String>());
    let blob = enc.1.finish().unwrap();
    assert!(blob.len() < 1 << 20, "the fixture should compress to KB: {} bytes", blob.len());
    let reference = one_layer_layout(&tmp.path().join("pax"), &blob, &diff_id);
    let o = scan_child(&reference, tmp.path());
    check(&format!("64 MiB PAX record ({} bytes gzip)", blob.len()), &o, "extension-bytes");
}
