//! Micro-benchmarks of the scan's CPU stages, on data built in memory: the tar walk (with every
//! capture the scan does), the merge of several layer deltas, the ELF facts of real binaries,
//! and the content hashes (xxh3 for duplicates, SHA-256 for blob and diff_id digests).
//!
//! `cargo bench --bench micro` (a few seconds per benchmark); CI only compiles them.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sha2::{Digest as _, Sha256};

use layerscope::elf::capture::ElfCapture;
use layerscope::fs::MergedFs;
use layerscope::layer::{delta_from_tar, LayerDelta};
use layerscope::limits::Limits;

/// A deterministic byte generator (xorshift), so that data does not compress or repeat.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Real ELF files of this machine (with `own_exe`, the benchmark's own executable too).
fn real_elves(own_exe: bool) -> Vec<(String, Vec<u8>)> {
    let mut paths: Vec<String> =
        ["/usr/bin/bash", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/ls"].iter().map(|p| p.to_string()).collect();
    if let Some(me) = std::env::current_exe().ok().filter(|_| own_exe) {
        paths.push(me.display().to_string());
    }
    paths
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().filter(|b| b.starts_with(b"\x7fELF")).map(|b| (p, b)))
        .collect()
}

struct TarBuilder(tar::Builder<Vec<u8>>);

impl TarBuilder {
    fn new() -> Self {
        TarBuilder(tar::Builder::new(Vec::new()))
    }
    fn entry(&mut self, path: &str, kind: tar::EntryType, mode: u32, data: &[u8], link: Option<&str>) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        self.0.append_data(&mut h, path, data).unwrap();
    }
    fn dir(&mut self, path: &str) {
        self.entry(path, tar::EntryType::Directory, 0o755, &[], None);
    }
    fn file(&mut self, path: &str, mode: u32, data: &[u8]) {
        self.entry(path, tar::EntryType::Regular, mode, data, None);
    }
    fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// A layer like a slice of /usr: a few real ELF files (each several times), scripts, text
/// files from a few hundred bytes to 256 KiB, symlinks, the dpkg status file and os-release.
fn usr_like_layer() -> Vec<u8> {
    let mut t = TarBuilder::new();
    t.dir("etc");
    t.file("etc/os-release", 0o644, b"ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12\"\n");
    let mut status = Vec::new();
    for i in 0..300 {
        status.extend_from_slice(
            format!("Package: pkg{i}\nStatus: install ok installed\nVersion: 1.{i}\nArchitecture: amd64\n\n")
                .as_bytes(),
        );
    }
    t.dir("var/lib/dpkg");
    t.file("var/lib/dpkg/status", 0o644, &status);
    let elves = real_elves(false);
    for d in 0..20 {
        let dir = format!("usr/share/pkg{d}");
        t.dir(&dir);
        for f in 0..80 {
            let seed = (d * 1000 + f) as u64;
            let len = match f % 10 {
                0 => 64 << 10,
                1 => 256 << 10,
                2..=5 => 512,
                _ => 4 << 10,
            };
            t.file(&format!("{dir}/file{f}.txt"), 0o644, &noise(seed, len));
        }
        t.file(&format!("{dir}/run.sh"), 0o755, b"#!/bin/sh\nexec /usr/bin/true \"$@\"\n");
        t.entry(&format!("{dir}/link"), tar::EntryType::Symlink, 0o777, &[], Some("file0.txt"));
        for (i, (_, bytes)) in elves.iter().enumerate() {
            if (d + i) % 4 == 0 {
                t.file(&format!("{dir}/bin{i}"), 0o755, bytes);
            }
        }
    }
    t.finish()
}

/// Metadata-heavy layers for the merge: a base of `dirs` × 100 small files, then uppers that
/// change, delete (whiteouts), add, and replace a directory (opaque marker).
fn merge_layers(dirs: usize, uppers: usize) -> Vec<LayerDelta> {
    let limits = Limits::default();
    let mut out = Vec::new();
    let mut base = TarBuilder::new();
    for d in 0..dirs {
        base.dir(&format!("usr/lib/d{d}"));
        for f in 0..100 {
            base.file(&format!("usr/lib/d{d}/f{f}"), 0o644, format!("{d}/{f}").as_bytes());
        }
    }
    out.push(delta_from_tar(&base.finish(), "sha256:base", &limits));
    for u in 0..uppers {
        let mut t = TarBuilder::new();
        for d in (u..dirs).step_by(uppers + 1) {
            t.dir(&format!("usr/lib/d{d}"));
            for f in (0..100).step_by(7) {
                t.file(&format!("usr/lib/d{d}/f{f}"), 0o644, format!("changed {u}").as_bytes());
            }
            for f in (3..100).step_by(11) {
                t.file(&format!("usr/lib/d{d}/.wh.f{f}"), 0o644, b"");
            }
            t.file(&format!("usr/lib/d{d}/new{u}"), 0o644, b"new");
        }
        let opaque = format!("usr/lib/d{}", (u * 13) % dirs);
        t.dir(&opaque);
        t.file(&format!("{opaque}/.wh..wh..opq"), 0o644, b"");
        t.file(&format!("{opaque}/only"), 0o644, b"only");
        out.push(delta_from_tar(&t.finish(), &format!("sha256:upper{u}"), &limits));
    }
    out
}

fn tar_walk(c: &mut Criterion) {
    let layer = usr_like_layer();
    let limits = Limits::default();
    let mut g = c.benchmark_group("tar_walk");
    g.throughput(Throughput::Bytes(layer.len() as u64));
    g.bench_function(format!("usr_like_{}MiB", layer.len() >> 20), |b| {
        b.iter(|| black_box(delta_from_tar(black_box(&layer), "sha256:bench", &limits)))
    });
    g.finish();
}

fn merge(c: &mut Criterion) {
    let deltas = merge_layers(200, 4);
    let entries: usize = deltas.iter().map(|d| d.len()).sum();
    let mut g = c.benchmark_group("merge");
    g.throughput(Throughput::Elements(entries as u64));
    g.bench_function(format!("5_layers_{entries}_entries"), |b| b.iter(|| black_box(MergedFs::build(&deltas))));
    g.finish();
}

fn elf_facts(c: &mut Criterion) {
    let limits = Limits::default();
    let elves = real_elves(true);
    let mut g = c.benchmark_group("elf_parse");
    for (path, bytes) in &elves {
        let name = path.rsplit('/').next().unwrap_or(path);
        g.bench_function(name, |b| b.iter(|| black_box(layerscope::elf::parse(black_box(bytes), bytes.len() as u64))));
    }
    g.finish();
    // As the scan does it: the file streamed in 256 KiB chunks into a sparse capture that keeps
    // only the ranges the parse needs, then parsed.
    let mut g = c.benchmark_group("elf_capture");
    for (path, bytes) in &elves {
        let name = path.rsplit('/').next().unwrap_or(path);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(name, |b| {
            b.iter_batched(
                || ElfCapture::new(bytes.len() as u64, &limits).unwrap(),
                |mut cap| {
                    for chunk in bytes.chunks(256 << 10) {
                        cap.feed(chunk);
                    }
                    black_box(cap.finish())
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn content_hash(c: &mut Criterion) {
    let data = noise(7, 16 << 20);
    let mut g = c.benchmark_group("hash");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("xxh3_64", |b| b.iter(|| black_box(xxhash_rust::xxh3::xxh3_64(black_box(&data)))));
    g.bench_function("xxh3_64_streamed_256KiB", |b| {
        b.iter(|| {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            for chunk in data.chunks(256 << 10) {
                h.update(chunk);
            }
            black_box(h.digest())
        })
    });
    g.bench_function("sha256", |b| b.iter(|| black_box(Sha256::digest(black_box(&data)))));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10);
    targets = tar_walk, merge, elf_facts, content_hash
}
criterion_main!(benches);
