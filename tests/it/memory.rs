//! Bounded memory (docs/hostile-inputs.md cases 20, 22, 23 and 29): the built binary scans hostile
//! layers (a gzip bomb, a 64 MiB PAX record, sparse maps of 10^7 regions, 5 million entries),
//! each in its own OCI layout, as a child process whose peak RSS must stay under 256 MB, and
//! each scan ends in a clear error naming the limit, with exit code 3 (the scan finished, a
//! layer failed).
//!
//! The peak is the child's own high-water mark (`VmHWM`, read until it exits) and `wait4`'s
//! `ru_maxrss`, which also counts the parent's peak (a spawned child starts in its parent's
//! address space): so the fixtures are generated in a streaming way, the uncompressed bytes
//! never in memory, only their small compressed form.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use layerscope::limits::Limits;
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
    /// ru_maxrss: the child's peak, or its parent's if that was higher.
    max_rss: u64,
    /// The child's own peak (VmHWM), read every 5 ms until it exits.
    own_peak: u64,
    stderr: String,
    seconds: f64,
}

/// Runs `layerscope scan -q --format json REF` and reaps it with `wait4` for its own rusage.
// The child is reaped by wait4, not `Child::wait`, which would discard its rusage.
#[allow(clippy::zombie_processes)]
fn scan_child(reference: &str, dir: &Path) -> Outcome {
    scan_child_with(&[], reference, dir)
}

/// [`scan_child`] with more options (`--limit NAME=N`) before the reference.
#[allow(clippy::zombie_processes)]
fn scan_child_with(options: &[&str], reference: &str, dir: &Path) -> Outcome {
    let err_path = dir.join("stderr.txt");
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .args(["scan", "-q", "--format", "json"])
        .args(options)
        .arg(reference)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    // ru_maxrss of a spawned child starts from its parent's peak (the child begins in the
    // parent's address space, and exec records that one's high-water mark): it is an upper
    // bound. The child's own high-water mark (VmHWM, per address space) is read until it exits.
    let mut own_peak = 0u64;
    loop {
        // SAFETY: a zeroed siginfo is valid; WNOWAIT leaves the child to be reaped below.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r = unsafe {
            libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT)
        };
        assert_eq!(r, 0, "waitid: {}", std::io::Error::last_os_error());
        if unsafe { info.si_pid() } == pid {
            break;
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if let Some(kib) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            own_peak = own_peak.max(kib * 1024);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
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
        own_peak,
        stderr: std::fs::read_to_string(&err_path).unwrap(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn check(what: &str, o: &Outcome, limit: &str) {
    eprintln!(
        "{what}: exit {}, peak RSS {:.1} MiB (ru_maxrss {:.1} MiB), {:.1} s; stderr: {}",
        o.code,
        o.own_peak as f64 / (1 << 20) as f64,
        o.max_rss as f64 / (1 << 20) as f64,
        o.seconds,
        o.stderr.trim()
    );
    assert!(o.max_rss > 0 && o.own_peak > 0, "no peak RSS for the child");
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

/// A gzip tar layer of `total` zero-size regular files: the first `unique` are named
/// `dN/fM` (1000 per directory), the rest repeat one header (compressed once, as repeated gzip
/// members). Returns the blob and its diff_id.
fn many_entries_layer(unique: usize, total: usize) -> (Vec<u8>, String) {
    let mut template = tar::Header::new_gnu();
    template.set_size(0);
    template.set_mode(0o644);
    template.set_entry_type(tar::EntryType::Regular);
    template.set_mtime(0);
    let mut block = template.as_bytes().to_vec();
    block[148..156].fill(b' ');
    let base: u32 = block.iter().map(|b| *b as u32).sum();
    let mut hasher = Sha256::new();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut batch = Vec::with_capacity(512 * 4096);
    for i in 0..unique {
        let name = format!("d{}/f{}", i / 1000, i % 1000);
        let mut h = block.clone();
        h[..name.len()].copy_from_slice(name.as_bytes());
        let sum = base + name.bytes().map(|b| b as u32).sum::<u32>();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        batch.extend_from_slice(&h);
        if batch.len() >= 512 * 4096 {
            hasher.update(&batch);
            enc.write_all(&batch).unwrap();
            batch.clear();
        }
    }
    hasher.update(&batch);
    enc.write_all(&batch).unwrap();
    let mut blob = enc.finish().unwrap();
    // The rest: one header repeated, 4096 per member.
    let mut same = tar::Header::new_gnu();
    same.set_path("same").unwrap();
    same.set_size(0);
    same.set_mode(0o644);
    same.set_cksum();
    let chunk: Vec<u8> = same.as_bytes().repeat(4096);
    let member = gzip_stream(&[], &chunk, 1, 9);
    let mut left = total - unique;
    while left >= 4096 {
        blob.extend_from_slice(&member);
        hasher.update(&chunk);
        left -= 4096;
    }
    let mut tail = same.as_bytes().repeat(left);
    tail.extend_from_slice(&[0u8; 1024]);
    hasher.update(&tail);
    blob.extend_from_slice(&gzip_stream(&tail, &[], 0, 9));
    let diff_id = format!("sha256:{}", hasher.finalize().iter().map(|x| format!("{x:02x}")).collect::<String>());
    (blob, diff_id)
}

#[test]
fn five_million_entries_stop_at_the_entry_limit() {
    // 23: 5 million zero-size entries (2.5 GB of tar in 19 MB of gzip). The default limit
    // (2 000 000 entries) is under 5 million; it is lowered here to keep the test fast in a debug
    // build, and run at two values to measure what an entry costs: the walk keeps the entries
    // before the limit (their metadata is in memory until the report is written), stops with an
    // error naming the limit, and hashes the remaining 2.4 GB without parsing it.
    let tmp = tempfile::tempdir().unwrap();
    let (low, high) = (40_000u64, 140_000u64);
    let started = Instant::now();
    let (blob, diff_id) = many_entries_layer(high as usize + 1, 5_000_000);
    eprintln!("fixture: {} bytes of gzip in {:.1} s", blob.len(), started.elapsed().as_secs_f64());
    let reference = one_layer_layout(&tmp.path().join("many"), &blob, &diff_id);
    let mut runs = Vec::new();
    for limit in [low, high] {
        let o = scan_child_with(&["--limit", &format!("entries-per-layer={limit}")], &reference, tmp.path());
        check(&format!("5 000 000 entries, limit {limit}"), &o, "entries-per-layer");
        assert!(o.stderr.contains(&format!("more than {limit} entries")), "{}", o.stderr);
        assert!(o.seconds < 30.0, "{} s", o.seconds);
        runs.push(o);
    }
    // What the default limit costs, from the two runs.
    let per_entry = (runs[1].own_peak as f64 - runs[0].own_peak as f64) / (high - low) as f64;
    let default = Limits::default().entries_per_layer as f64;
    let projected = runs[0].own_peak as f64 + per_entry * (default - low as f64);
    eprintln!(
        "per entry: {per_entry:.0} bytes; at the default limit ({default}): about {:.0} MiB",
        projected / (1 << 20) as f64
    );
    // About 90 bytes an entry here (a 16-byte record, its short path, a 24-byte file record, a
    // 40-byte slot of the view and its index): README, "Performance".
    assert!(per_entry < 256.0, "an entry costs {per_entry:.0} bytes");
    assert!(projected < (384u64 << 20) as f64, "the default limit would cost {projected:.0} bytes");
}

/// A gzip layer of `prefix`, `times` × `chunk` (compressed once, repeated as gzip members of
/// `per_member` chunks each) and `tail`, never all in memory. Returns the blob and its diff_id.
fn repeated_layer(prefix: &[u8], chunk: &[u8], times: usize, per_member: usize, tail: &[u8]) -> (Vec<u8>, String) {
    let mut hasher = Sha256::new();
    hasher.update(prefix);
    let mut blob = gzip_stream(prefix, &[], 0, 6);
    let member = gzip_stream(&[], chunk, per_member, 9);
    let mut left = times;
    while left >= per_member {
        blob.extend_from_slice(&member);
        for _ in 0..per_member {
            hasher.update(chunk);
        }
        left -= per_member;
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    for _ in 0..left {
        enc.write_all(chunk).unwrap();
        hasher.update(chunk);
    }
    enc.write_all(tail).unwrap();
    hasher.update(tail);
    blob.extend_from_slice(&enc.finish().unwrap());
    (blob, format!("sha256:{}", hasher.finalize().iter().map(|x| format!("{x:02x}")).collect::<String>()))
}

/// A PAX extended header block and its records (`key=value` pairs), padded.
fn pax_block(records: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in records {
        let rest = format!(" {k}={v}\n");
        let mut len = rest.len() + 1;
        while (len.to_string().len() + rest.len()) != len {
            len += 1;
        }
        body.extend_from_slice(format!("{len}{rest}").as_bytes());
    }
    let mut out = tar_header("././@PaxHeader", b'x', body.len() as u64);
    out.extend_from_slice(&body);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

#[test]
fn sparse_maps_of_ten_million_regions_stop_at_the_extension_limit() {
    // 22 (CVE-2025-58183 class): a sparse file of 10^7 regions in each of the three GNU forms.
    // The map is never held: old GNU extension blocks and a 1.0 map in the data are counted
    // against extension-bytes as they are read, a 0.x `GNU.sparse.map` record is one PAX record
    // over the same limit. Each scan ends in an error naming it, in little memory.
    const REGIONS: usize = 10_000_000;
    let tmp = tempfile::tempdir().unwrap();
    let end = [0u8; 1024];

    // Old GNU: 4 regions in the header, then 21 per extension block (476 191 blocks, 244 MB).
    let mut h = tar::Header::new_gnu();
    h.set_path("old-gnu-sparse").unwrap();
    h.set_size(0);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::GNUSparse);
    let mut block = h.as_bytes().to_vec();
    let region = format!("{:011o}\0{:011o}\0", 0, 0);
    for i in 0..4 {
        block[386 + 24 * i..386 + 24 * (i + 1)].copy_from_slice(region.as_bytes());
    }
    block[482] = 1; // isextended
    block[483..495].copy_from_slice(format!("{:011o}\0", 1u64 << 32).as_bytes()); // realsize
    block[148..156].fill(b' ');
    let sum: u32 = block.iter().map(|b| *b as u32).sum();
    block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut ext = region.repeat(21).into_bytes();
    ext.resize(512, 0);
    ext[504] = 1;
    let blocks = (REGIONS - 4).div_ceil(21);
    let mut last = ext.clone();
    last[504] = 0;
    last.extend_from_slice(&end);
    let (old_gnu, old_gnu_id) = repeated_layer(&block, &ext, blocks - 1, 8192, &last);

    // PAX 0.1: the whole map in one `GNU.sparse.map` record (40 MB), written as it is
    // compressed (the test process stays small: a child's ru_maxrss includes its parent's peak).
    let map_len = 4 * REGIONS - 1; // "1,1," per region, without the last comma
    let rest = " GNU.sparse.map=\n".len() + map_len;
    let mut record_len = rest + 1;
    while record_len.to_string().len() + rest != record_len {
        record_len += 1;
    }
    let mut enc = Hashing(Sha256::new(), flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    let head = pax_block(&[("GNU.sparse.major", "0"), ("GNU.sparse.minor", "1")]);
    enc.write_all(&head).unwrap();
    enc.write_all(&tar_header("././@PaxHeader", b'x', record_len as u64)).unwrap();
    enc.write_all(format!("{record_len} GNU.sparse.map=").as_bytes()).unwrap();
    let chunk = "1,1,".repeat(1 << 16);
    for _ in 0..REGIONS >> 16 {
        enc.write_all(chunk.as_bytes()).unwrap();
    }
    enc.write_all("1,1,".repeat(REGIONS % (1 << 16)).trim_end_matches(',').as_bytes()).unwrap();
    enc.write_all(b"\n").unwrap();
    enc.write_all(&vec![0u8; (512 - record_len % 512) % 512]).unwrap();
    enc.write_all(&tar_header("pax01-sparse", b'0', 0)).unwrap();
    enc.write_all(&end).unwrap();
    let pax01_id = format!("sha256:{}", enc.0.finalize().iter().map(|x| format!("{x:02x}")).collect::<String>());
    let pax01 = enc.1.finish().unwrap();

    // PAX 1.0: the map at the start of the entry's data (10^7 regions: 40 MB of lines).
    let map_bytes = 9 + 2 * 2 * REGIONS; // "10000000\n" then "1\n" twice per region
    let data = (map_bytes as u64).div_ceil(512) * 512;
    let mut prefix = pax_block(&[
        ("GNU.sparse.major", "1"),
        ("GNU.sparse.minor", "0"),
        ("GNU.sparse.name", "pax10-sparse"),
        ("GNU.sparse.realsize", "20000000"),
    ]);
    prefix.extend(tar_header("GNUSparseFile.0/pax10-sparse", b'0', data));
    prefix.extend_from_slice(format!("{REGIONS}\n").as_bytes());
    let mut tail = vec![0u8; (data as usize - map_bytes) % 512];
    tail.extend_from_slice(&end);
    let (pax10, pax10_id) = repeated_layer(&prefix, b"1\n1\n", REGIONS, 1 << 16, &tail);

    for (name, blob, diff_id) in
        [("old GNU", old_gnu, old_gnu_id), ("PAX 0.1", pax01, pax01_id), ("PAX 1.0", pax10, pax10_id)]
    {
        let dir = tmp.path().join(name.replace(' ', "-"));
        let reference = one_layer_layout(&dir, &blob, &diff_id);
        let o = scan_child(&reference, tmp.path());
        check(&format!("{name} sparse map of 10^7 regions ({} bytes gzip)", blob.len()), &o, "extension-bytes");
        assert!(o.seconds < 20.0, "{name}: {} s", o.seconds);
    }
}

#[test]
fn a_two_gib_elf_file_is_noted_not_parsed() {
    // 69: a 2 GiB file starting with a valid ELF header (then zeros), in 2 MiB of gzip. It is
    // over elf-bytes (512 MiB): noted as not parsed (an error for that file: exit 3), never
    // buffered; the rest of the layer is read. Zeros compress about 1030:1 at gzip's best, over
    // the default compression-ratio alarm (1000:1), which is raised here so that only the ELF
    // cap is at stake.
    let tmp = tempfile::tempdir().unwrap();
    const MIB: usize = 1 << 20;
    let mut elf = vec![0u8; 64];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2;
    elf[5] = 1;
    elf[6] = 1;
    elf[16] = 2;
    elf[18] = 62;
    elf[0x34..0x36].copy_from_slice(&64u16.to_le_bytes());
    let mut prefix = tar_header("usr/bin/huge", b'0', 2048 * MIB as u64);
    prefix.extend_from_slice(&elf);
    prefix.resize(512 + MIB, 0);
    let mut tail = tar_header("etc/after", b'0', 6);
    tail.extend_from_slice(b"after\n");
    tail.resize(tail.len() + 506 + 1024, 0);
    let (blob, diff_id) = repeated_layer(&prefix, &vec![0u8; MIB], 2047, 64, &tail);
    let reference = one_layer_layout(&tmp.path().join("huge-elf"), &blob, &diff_id);
    let o = scan_child_with(&["--limit", "compression-ratio=1000000"], &reference, tmp.path());
    check(&format!("2 GiB ELF file ({} bytes gzip)", blob.len()), &o, "elf-bytes");
    assert!(o.stderr.contains("/usr/bin/huge") && o.stderr.contains("not parsed"), "{}", o.stderr);
    assert!(o.seconds < 30.0, "{} s", o.seconds);
}
