//! Agreement test: layerscope's streaming ELF parse against binutils `readelf`, over real ELF
//! executables and shared libraries of the machine running the test.
//!
//! Every file goes through the path the layer scanner uses: `ElfCapture::new(size, &Limits::default())`,
//! `feed()` chunk by chunk (256 KiB, and for a subset odd sizes too), then `finish()`. The facts it
//! reports must agree with `readelf` for every file; a disagreement fails the test with both views.
//!
//! Compared: machine, interpreter, NEEDED, SONAME, RPATH/RUNPATH (`readelf -hldW`); the newest
//! `GLIBC_x.y` needed (`readelf -VW`); stripped = no SHT_SYMTAB section (`readelf -SW`); and, on
//! patched copies, cases the machine's own files lack (NUL-padded interpreter, DT_RPATH).
//!
//! `readelf` (binutils) is required: when it is missing the tests fail, they never skip.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use layerscope::elf::capture::ElfCapture;
use layerscope::elf::ElfInfo;
use layerscope::limits::Limits;

/// Directories walked (recursively, following no symlinks), with the most files taken from each.
/// The aarch64 cross libraries are used when installed.
const ROOTS: &[(&str, usize)] = &[
    ("/usr/bin", 160),
    ("/usr/sbin", 80),
    ("/usr/lib/x86_64-linux-gnu", 240),
    ("/usr/libexec", 60),
    ("/usr/aarch64-linux-gnu/lib", 60),
];
const MAX_FILES: usize = 600;
const MIN_FILES: usize = 200;
const MIN_VERNEED_FILES: usize = 100;
/// The chunk size every file is fed with.
const CHUNK: usize = 256 << 10;
/// Odd chunk sizes (0 = the whole file as one chunk), used for every `ODD_EVERY`-th file.
const ODD_CHUNKS: &[usize] = &[4093, 65521, 0];
const ODD_EVERY: usize = 4;

// ---------------------------------------------------------------------------------------------
// Corpus
// ---------------------------------------------------------------------------------------------

struct Corpus {
    /// (root directory, file), in deterministic order.
    files: Vec<(&'static str, PathBuf)>,
    /// Per root: (ELF candidates found after dedupe, files taken).
    per_root: BTreeMap<&'static str, (usize, usize)>,
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(build_corpus)
}

fn build_corpus() -> Corpus {
    let max_size = Limits::default().elf_bytes;
    let mut seen_paths: HashSet<PathBuf> = HashSet::new();
    let mut seen_inodes: HashSet<(u64, u64)> = HashSet::new();
    let mut files = Vec::new();
    let mut per_root = BTreeMap::new();
    for &(root, cap) in ROOTS {
        let mut candidates = Vec::new();
        walk(Path::new(root), &mut candidates);
        candidates.sort();
        let mut unique = Vec::new();
        for path in candidates {
            let Ok(canonical) = fs::canonicalize(&path) else { continue };
            let Ok(meta) = fs::symlink_metadata(&path) else { continue };
            // Same file reached twice: through a symlinked directory, or as a hard link.
            if !seen_paths.insert(canonical) || !seen_inodes.insert((meta.dev(), meta.ino())) {
                continue;
            }
            // The scanner parses ELF files of at least 52 bytes and at most `elf_bytes`.
            if meta.len() < 52 || meta.len() > max_size || !has_elf_magic(&path) {
                continue;
            }
            unique.push(path);
        }
        // Spread the files taken evenly over the sorted list.
        let n = unique.len();
        let take = n.min(cap);
        for i in 0..take {
            files.push((root, unique[i * n / take].clone()));
        }
        per_root.insert(root, (n, take));
    }
    files.truncate(MAX_FILES);
    Corpus { files, per_root }
}

/// Collects regular files under `dir`; symlinks (to files or directories) are not followed.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(meta) = fs::symlink_metadata(dir) else { return };
    if !meta.is_dir() {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            walk(&entry.path(), out);
        } else if ft.is_file() {
            out.push(entry.path());
        }
    }
}

fn has_elf_magic(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"\x7fELF"
}

fn print_corpus_summary(what: &str, checked: &BTreeMap<&'static str, usize>) {
    let c = corpus();
    println!("{what}: files compared per directory (compared / taken / ELF files found):");
    for &(root, _) in ROOTS {
        let (found, taken) = c.per_root.get(root).copied().unwrap_or((0, 0));
        let n = checked.get(root).copied().unwrap_or(0);
        println!("  {root:<30} {n:>4} / {taken:>4} / {found:>5}");
    }
    println!("  {:<30} {:>4}", "total", checked.values().sum::<usize>());
}

// ---------------------------------------------------------------------------------------------
// Running both sides
// ---------------------------------------------------------------------------------------------

/// Fails (never skips) when readelf is not installed.
fn require_readelf() {
    let ok = Command::new("readelf").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(
        ok,
        "`readelf` was not found or does not run: this test compares against it; \
         install binutils (e.g. `apt-get install binutils`)"
    );
}

/// `readelf <args> <path>`: stdout, or an error with stderr.
fn readelf(args: &[&str], path: &Path) -> Result<String, String> {
    let out = Command::new("readelf")
        .args(args)
        .arg(path)
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| format!("cannot run readelf: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "readelf {} exited with {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(stdout)
}

/// The scanner's streaming path: `ElfCapture` fed `chunk`-byte pieces (0 = one piece).
fn capture(bytes: &[u8], chunk: usize) -> Result<ElfInfo, String> {
    let mut cap =
        ElfCapture::new(bytes.len() as u64, &Limits::default()).map_err(|e| format!("ElfCapture::new: {e}"))?;
    let chunk = if chunk == 0 { bytes.len().max(1) } else { chunk };
    for piece in bytes.chunks(chunk) {
        cap.feed(piece);
    }
    cap.finish()
}

/// Each file captured with 256 KiB chunks, computed once and shared by the tests.
fn captured() -> &'static Vec<Result<ElfInfo, String>> {
    static CAPTURED: OnceLock<Vec<Result<ElfInfo, String>>> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        par_map(&corpus().files, |(_, path)| {
            let bytes = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
            capture(&bytes, CHUNK)
        })
    })
}

/// Maps `f` over `items` on a few threads, keeping the order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 16);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= items.len() {
                    break;
                }
                let r = f(&items[i]);
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    results.into_inner().unwrap().into_iter().map(|r| r.expect("every item was processed")).collect()
}

fn fail_with(title: &str, disagreements: &[String], compared: usize) {
    if disagreements.is_empty() {
        return;
    }
    let mut msg = format!("{title}: {} of {compared} files disagree with readelf\n", disagreements.len());
    for d in disagreements {
        let _ = writeln!(msg, "{d}");
    }
    panic!("{msg}");
}

// ---------------------------------------------------------------------------------------------
// Test 1: machine, interpreter, NEEDED, SONAME, RPATH/RUNPATH (`readelf -hldW`)
// ---------------------------------------------------------------------------------------------

/// The facts compared, as both sides see them.
#[derive(Debug, PartialEq, Default)]
struct LoadView {
    machine: String,
    interpreter: Option<String>,
    needed: Vec<String>,
    soname: Option<String>,
    rpath: Vec<String>,
    runpath: Vec<String>,
}

impl LoadView {
    fn of(info: &ElfInfo) -> Self {
        LoadView {
            machine: info.machine.clone(),
            interpreter: info.interpreter.clone(),
            needed: info.needed.clone(),
            soname: info.soname.clone(),
            rpath: info.rpath.clone(),
            runpath: info.runpath.clone(),
        }
    }
}

/// readelf's `Machine:` name (with class and byte order) as an OCI architecture name.
fn oci_arch(machine: &str, is_64: bool, little: bool) -> String {
    let s = match (machine, is_64, little) {
        ("Advanced Micro Devices X86-64", true, _) => "amd64",
        ("Advanced Micro Devices X86-64", false, _) => "amd64p32",
        ("Intel 80386", _, _) => "386",
        ("AArch64", _, true) => "arm64",
        ("AArch64", _, false) => "arm64be",
        ("ARM", _, _) => "arm",
        ("PowerPC64", _, true) => "ppc64le",
        ("PowerPC64", _, false) => "ppc64",
        ("PowerPC", _, _) => "ppc",
        ("IBM S/390", true, _) => "s390x",
        ("IBM S/390", false, _) => "s390",
        ("RISC-V", true, _) => "riscv64",
        ("RISC-V", false, _) => "riscv32",
        ("MIPS R3000", true, true) => "mips64le",
        ("MIPS R3000", true, false) => "mips64",
        ("MIPS R3000", false, true) => "mipsle",
        ("MIPS R3000", false, false) => "mips",
        ("LoongArch", true, _) => "loong64",
        ("Sparc v9", _, _) => "sparc64",
        (other, _, _) => return format!("<readelf machine {other:?} not mapped by this test>"),
    };
    s.to_string()
}

/// The text between `marker` and the last `]` of the line.
fn bracketed<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let start = line.find(marker)? + marker.len();
    let end = line.rfind(']')?;
    (end >= start).then(|| &line[start..end])
}

fn split_paths(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(':').filter(|p| !p.is_empty()).map(str::to_string)
}

/// Reads `readelf -hldW` output.
fn parse_readelf_hld(out: &str) -> LoadView {
    let mut v = LoadView::default();
    let (mut machine, mut is_64, mut little) = (String::new(), false, false);
    for line in out.lines() {
        let t = line.trim();
        if let Some(m) = t.strip_prefix("Machine:") {
            machine = m.trim().to_string();
        } else if let Some(c) = t.strip_prefix("Class:") {
            is_64 = c.trim() == "ELF64";
        } else if let Some(d) = t.strip_prefix("Data:") {
            little = d.contains("little endian");
        } else if let Some(i) = bracketed(t, "[Requesting program interpreter: ") {
            v.interpreter = Some(i.to_string());
        } else if t.starts_with("0x") {
            let value = |marker: &str| bracketed(t, marker).map(str::to_string);
            if t.contains("(NEEDED)") {
                v.needed.extend(value("Shared library: ["));
            } else if t.contains("(SONAME)") {
                v.soname = value("Library soname: [");
            } else if t.contains("(RPATH)") {
                v.rpath.extend(value("Library rpath: [").iter().flat_map(|s| split_paths(s)));
            } else if t.contains("(RUNPATH)") {
                v.runpath.extend(value("Library runpath: [").iter().flat_map(|s| split_paths(s)));
            }
        }
    }
    v.machine = oci_arch(&machine, is_64, little);
    v
}

#[test]
fn elf_facts_agree_with_readelf() {
    require_readelf();
    let started = Instant::now();
    let files = &corpus().files;
    let captured = captured();
    let indices: Vec<usize> = (0..files.len()).collect();
    let results = par_map(&indices, |&i| {
        let (root, path) = &files[i];
        let mut problems = Vec::new();
        let expected = match readelf(&["-hldW"], path) {
            Ok(out) => parse_readelf_hld(&out),
            Err(e) => return (root, None, Some(format!("{}\n    readelf: {e}", path.display()))),
        };
        let features = [
            expected.interpreter.is_some(),
            !expected.needed.is_empty(),
            expected.soname.is_some(),
            !expected.rpath.is_empty(),
            !expected.runpath.is_empty(),
        ];
        let machine = expected.machine.clone();
        match &captured[i] {
            Ok(info) => {
                let got = LoadView::of(info);
                if got != expected {
                    problems.push(format!("    readelf:    {expected:?}\n    layerscope: {got:?}"));
                }
                if let Some(why) = &info.incomplete {
                    problems.push(format!("    layerscope marked the capture incomplete: {why}"));
                }
                // The same file fed in odd chunk sizes must give the very same facts.
                if i % ODD_EVERY == 0 {
                    match fs::read(path) {
                        Ok(bytes) => {
                            for &chunk in ODD_CHUNKS {
                                match capture(&bytes, chunk) {
                                    Ok(other) if other == *info => {}
                                    Ok(other) => problems.push(format!(
                                        "    fed in {chunk}-byte chunks (0 = one chunk) the result differs \
                                         from 256 KiB chunks:\n      256 KiB: {info:?}\n      {chunk}: {other:?}"
                                    )),
                                    Err(e) => problems.push(format!(
                                        "    fed in {chunk}-byte chunks (0 = one chunk) the parse failed: {e}"
                                    )),
                                }
                            }
                        }
                        Err(e) => problems.push(format!("    cannot read the file again: {e}")),
                    }
                }
            }
            Err(e) => problems.push(format!("    readelf:    {expected:?}\n    layerscope: error: {e}")),
        }
        let report = (!problems.is_empty()).then(|| format!("{}\n{}", path.display(), problems.join("\n")));
        (root, Some((machine, features)), report)
    });
    let mut per_root: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut machines: BTreeMap<String, usize> = BTreeMap::new();
    let mut with = [0usize; 5];
    let mut disagreements = Vec::new();
    for (root, seen, report) in results {
        *per_root.entry(root).or_default() += 1;
        if let Some((machine, features)) = seen {
            *machines.entry(machine).or_default() += 1;
            for (n, f) in with.iter_mut().zip(features) {
                *n += f as usize;
            }
        }
        disagreements.extend(report);
    }
    let odd = files.len().div_ceil(ODD_EVERY);
    print_corpus_summary("machine/interpreter/NEEDED/SONAME/RPATH/RUNPATH", &per_root);
    println!(
        "  all fed in {} KiB chunks; {odd} of them also in chunks of {ODD_CHUNKS:?} bytes (0 = whole file)",
        CHUNK >> 10
    );
    println!(
        "  per readelf: machines {machines:?}; with interpreter {}, NEEDED {}, SONAME {}, RPATH {}, RUNPATH {}",
        with[0], with[1], with[2], with[3], with[4]
    );
    println!("  took {:.1?}", started.elapsed());
    fail_with("ELF facts", &disagreements, files.len());
    assert!(
        files.len() >= MIN_FILES,
        "only {} ELF files were compared; at least {MIN_FILES} are required",
        files.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Test 2: newest GLIBC_x.y version needed (`readelf -VW`, section `.gnu.version_r`)
// ---------------------------------------------------------------------------------------------

fn glibc_key(name: &str) -> Option<Vec<u32>> {
    let v = name.strip_prefix("GLIBC_")?;
    v.split('.').map(|p| p.parse().ok()).collect()
}

/// Reads `readelf -VW` output: None when there is no version needs section, else the newest
/// `GLIBC_x.y` named in it (without the `GLIBC_` prefix; GLIBC_PRIVATE and the like excluded).
fn parse_readelf_verneed(out: &str) -> Option<Option<String>> {
    let mut has_needs = false;
    let mut in_needs = false;
    let mut best: Option<(Vec<u32>, String)> = None;
    for line in out.lines() {
        if line.starts_with("Version needs section") {
            has_needs = true;
            in_needs = true;
            continue;
        }
        if line.starts_with("Version ") {
            // Definitions or symbols: their names are not needs.
            in_needs = false;
            continue;
        }
        if !in_needs {
            continue;
        }
        // `  0x0010:   Name: GLIBC_2.28  Flags: none  Version: 12`
        let Some(rest) = line.split_once("Name: ").map(|(_, r)| r) else { continue };
        let name = rest.split_whitespace().next().unwrap_or("");
        if let Some(key) = glibc_key(name) {
            if best.as_ref().is_none_or(|(b, _)| key > *b) {
                best = Some((key, name["GLIBC_".len()..].to_string()));
            }
        }
    }
    has_needs.then(|| best.map(|(_, s)| s))
}

#[test]
fn glibc_required_agrees_with_readelf_version_needs() {
    require_readelf();
    let started = Instant::now();
    let files = &corpus().files;
    let captured = captured();
    let indices: Vec<usize> = (0..files.len()).collect();
    let results = par_map(&indices, |&i| {
        let (root, path) = &files[i];
        let expected = match readelf(&["-VW"], path) {
            Ok(out) => parse_readelf_verneed(&out),
            Err(e) => return (root, false, false, Some(format!("{}\n    readelf: {e}", path.display()))),
        };
        let has_needs = expected.is_some();
        let has_glibc = matches!(expected, Some(Some(_)));
        // No version needs section: no glibc requirement either.
        let expected = expected.flatten();
        let report = match &captured[i] {
            Ok(info) if info.glibc_required == expected => None,
            Ok(info) => Some(format!(
                "{}\n    readelf:    newest GLIBC needed {expected:?} (version needs section: {has_needs})\n    \
                 layerscope: glibc_required {:?}",
                path.display(),
                info.glibc_required
            )),
            Err(e) => Some(format!(
                "{}\n    readelf:    newest GLIBC needed {expected:?}\n    layerscope: error: {e}",
                path.display()
            )),
        };
        (root, has_needs, has_glibc, report)
    });
    let mut per_root: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut disagreements = Vec::new();
    let (mut without_needs, mut with_glibc) = (0, 0);
    for (root, has_needs, has_glibc, report) in results {
        if has_needs {
            *per_root.entry(root).or_default() += 1;
        } else {
            without_needs += 1;
        }
        with_glibc += has_glibc as usize;
        disagreements.extend(report);
    }
    let with_needs: usize = per_root.values().sum();
    print_corpus_summary("glibc_required vs .gnu.version_r (files with version needs)", &per_root);
    println!("  {with_glibc} of them need a GLIBC_x.y version; {without_needs} files without version needs also checked (None)");
    println!("  took {:.1?}", started.elapsed());
    fail_with("glibc_required", &disagreements, files.len());
    assert!(
        with_needs >= MIN_VERNEED_FILES,
        "only {with_needs} files with version needs were compared; at least {MIN_VERNEED_FILES} are required"
    );
}

// ---------------------------------------------------------------------------------------------
// Test 3: stripped = no `.symtab` (SHT_SYMTAB) section (`readelf -SW`)
// ---------------------------------------------------------------------------------------------

/// Reads `readelf -SW` output: whether a section of type SYMTAB exists.
fn parse_readelf_has_symtab(out: &str) -> bool {
    out.lines().any(|line| {
        let t = line.trim_start();
        t.starts_with('[')
            && !t.starts_with("[Nr]")
            && t.split_once(']').is_some_and(|(_, rest)| rest.split_whitespace().any(|w| w == "SYMTAB"))
    })
}

#[test]
fn stripped_agrees_with_readelf_sections() {
    require_readelf();
    let started = Instant::now();
    let files = &corpus().files;
    let captured = captured();
    let indices: Vec<usize> = (0..files.len()).collect();
    let results = par_map(&indices, |&i| {
        let (root, path) = &files[i];
        let expected_stripped = match readelf(&["-SW"], path) {
            Ok(out) => !parse_readelf_has_symtab(&out),
            Err(e) => return (root, false, Some(format!("{}\n    readelf: {e}", path.display()))),
        };
        let report = match &captured[i] {
            Ok(info) if info.stripped == expected_stripped => None,
            Ok(info) => Some(format!(
                "{}\n    readelf:    stripped {expected_stripped} (.symtab present: {})\n    layerscope: stripped {}",
                path.display(),
                !expected_stripped,
                info.stripped
            )),
            Err(e) => Some(format!(
                "{}\n    readelf:    stripped {expected_stripped}\n    layerscope: error: {e}",
                path.display()
            )),
        };
        (root, expected_stripped, report)
    });
    let mut per_root: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut disagreements = Vec::new();
    let mut unstripped = 0;
    for (root, stripped, report) in results {
        *per_root.entry(root).or_default() += 1;
        unstripped += !stripped as usize;
        disagreements.extend(report);
    }
    print_corpus_summary("stripped vs .symtab", &per_root);
    println!("  {unstripped} files have a .symtab");
    println!("  took {:.1?}", started.elapsed());
    fail_with("stripped", &disagreements, files.len());
    assert!(
        files.len() >= MIN_FILES,
        "only {} ELF files were compared; at least {MIN_FILES} are required",
        files.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Test 4: patched copies of real files, for cases this machine's files do not show:
// an interpreter rewritten in place to a shorter, NUL-padded path (as binary prefix relocation
// does), and an RPATH (DT_RUNPATH entries retagged DT_RPATH)
// ---------------------------------------------------------------------------------------------

/// (offset, filesz) of the first program header of type `p_type` in a little-endian ELF64 file.
fn segment_le64(b: &[u8], p_type: u32) -> Option<(usize, usize)> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?));
    if b.get(4..6)? != [2, 1] {
        return None;
    }
    let (phoff, phentsize, phnum) = (u64_at(0x20)? as usize, u16_at(0x36)? as usize, u16_at(0x38)? as usize);
    (0..phnum).map(|i| phoff + i * phentsize).find(|&ph| u32_at(ph) == Some(p_type)).and_then(|ph| {
        let (off, filesz) = (u64_at(ph + 8)? as usize, u64_at(ph + 32)? as usize);
        (off.checked_add(filesz)? <= b.len()).then_some((off, filesz))
    })
}

const PT_INTERP: u32 = 3;
const PT_DYNAMIC: u32 = 2;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;

/// Patches a copy of the first corpus file `select` accepts and `patch` can patch, then compares
/// readelf's view of the copy with layerscope's (256 KiB and 4093-byte chunks).
fn check_patched_copy(
    what: &str,
    select: impl Fn(&ElfInfo) -> bool,
    patch: impl Fn(&mut Vec<u8>) -> Option<()>,
    readelf_sees: impl Fn(&LoadView) -> bool,
) {
    let files = &corpus().files;
    let (path, bytes) = files
        .iter()
        .zip(captured())
        .filter(|(_, info)| info.as_ref().is_ok_and(&select))
        .find_map(|((_, path), _)| {
            let mut bytes = fs::read(path).ok()?;
            patch(&mut bytes)?;
            Some((path, bytes))
        })
        .unwrap_or_else(|| panic!("no ELF64 little-endian file in the corpus to patch for: {what}"));
    let dir = tempfile::tempdir().unwrap();
    let patched = dir.path().join("patched");
    fs::write(&patched, &bytes).unwrap();
    let expected = parse_readelf_hld(&readelf(&["-hldW"], &patched).unwrap());
    assert!(readelf_sees(&expected), "readelf's view of the copy of {} ({what}): {expected:?}", path.display());
    for chunk in [CHUNK, 4093] {
        let got = capture(&bytes, chunk).map(|i| LoadView::of(&i));
        assert_eq!(got.as_ref(), Ok(&expected), "copy of {} ({what}), fed in {chunk}-byte chunks", path.display());
    }
    println!("{what}: copy of {} agrees: {expected:?}", path.display());
}

#[test]
fn patched_copies_agree_with_readelf() {
    require_readelf();
    const SHORT: &str = "/x/ld.so";
    check_patched_copy(
        "PT_INTERP rewritten to a shorter path + NUL padding",
        |i| i.interpreter.as_ref().is_some_and(|s| s.len() > SHORT.len()),
        |b| {
            let (off, filesz) = segment_le64(b, PT_INTERP)?;
            b[off..off + filesz].fill(0);
            b[off..off + SHORT.len()].copy_from_slice(SHORT.as_bytes());
            Some(())
        },
        |v| v.interpreter.as_deref() == Some(SHORT),
    );
    check_patched_copy(
        "DT_RUNPATH retagged DT_RPATH",
        |i| !i.runpath.is_empty(),
        |b| {
            let (off, filesz) = segment_le64(b, PT_DYNAMIC)?;
            let mut patched = false;
            for entry in b[off..off + filesz].chunks_exact_mut(16) {
                if entry[..8] == DT_RUNPATH.to_le_bytes() {
                    entry[..8].copy_from_slice(&DT_RPATH.to_le_bytes());
                    patched = true;
                }
            }
            patched.then_some(())
        },
        |v| !v.rpath.is_empty() && v.runpath.is_empty(),
    );
}

// ---------------------------------------------------------------------------------------------
// The readelf readers themselves
// ---------------------------------------------------------------------------------------------

#[test]
fn readelf_readers_parse_sample_output() {
    let hld = "ELF Header:\n  Class:                             ELF64\n  \
               Data:                              2's complement, little endian\n  \
               Machine:                           Advanced Micro Devices X86-64\n\
               Program Headers:\n      [Requesting program interpreter: /lib64/ld-linux-x86-64.so.2]\n\
               Dynamic section at offset 0x2cdd0 contains 30 entries:\n\
               \x20 Tag        Type                         Name/Value\n\
               \x200x0000000000000001 (NEEDED)             Shared library: [libselinux.so.1]\n\
               \x200x0000000000000001 (NEEDED)             Shared library: [libc.so.6]\n\
               \x200x000000000000000e (SONAME)             Library soname: [libfoo.so.1]\n\
               \x200x000000000000001d (RUNPATH)            Library runpath: [$ORIGIN/../lib:/opt/x]\n";
    let v = parse_readelf_hld(hld);
    assert_eq!(v.machine, "amd64");
    assert_eq!(v.interpreter.as_deref(), Some("/lib64/ld-linux-x86-64.so.2"));
    assert_eq!(v.needed, ["libselinux.so.1", "libc.so.6"]);
    assert_eq!(v.soname.as_deref(), Some("libfoo.so.1"));
    assert_eq!(v.runpath, ["$ORIGIN/../lib", "/opt/x"]);
    assert!(v.rpath.is_empty());

    let v = "Version definition section '.gnu.version_d' contains 2 entries:\n\
             \x20 0x001c: Rev: 1  Flags: none  Index: 2  Cnt: 1  Name: GLIBC_2.99\n\
             Version needs section '.gnu.version_r' contains 1 entry:\n\
             \x20000000: Version: 1  File: libc.so.6  Cnt: 4\n\
             \x20 0x0010:   Name: GLIBC_2.4  Flags: none  Version: 4\n\
             \x20 0x0020:   Name: GLIBC_2.34  Flags: none  Version: 3\n\
             \x20 0x0030:   Name: GLIBC_PRIVATE  Flags: none  Version: 2\n\
             \x20 0x0040:   Name: GLIBC_2.3.4  Flags: none  Version: 5\n";
    assert_eq!(parse_readelf_verneed(v), Some(Some("2.34".to_string())));
    assert_eq!(parse_readelf_verneed("No version information found in this file.\n"), None);

    let s = "Section Headers:\n  [Nr] Name Type Address Off Size ES Flg Lk Inf Al\n\
             \x20 [ 0]                   NULL            0000000000000000 000000 000000 00      0   0  0\n\
             \x20 [27] .symtab           SYMTAB          0000000000000000 0031a8 000660 18     28  45  8\n";
    assert!(parse_readelf_has_symtab(s));
    assert!(!parse_readelf_has_symtab(&s.replace(" SYMTAB ", " DYNSYM ")));
}
