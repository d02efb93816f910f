//! ELF facts with goblin: machine, kind, linkage, interpreter, NEEDED, SONAME, RPATH/RUNPATH,
//! stripped, debug sections, and the newest `GLIBC_x.y` symbol version a binary needs.
//!
//! Parsing is permissive and isolated: headers and tables are checked to lie inside the file
//! before goblin sees them, and a panic inside goblin becomes an error for that file alone.

pub mod capture;

use goblin::elf::{header, program_header, section_header, Elf};
use serde::{Deserialize, Serialize};

/// What a file is, as far as loading goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElfKind {
    Executable,
    SharedLibrary,
    Other,
}

/// How a binary gets its libraries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Linkage {
    Dynamic,
    Static,
    StaticPie,
}

impl std::fmt::Display for ElfKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ElfKind::Executable => "executable",
            ElfKind::SharedLibrary => "shared-library",
            ElfKind::Other => "other",
        })
    }
}

impl std::fmt::Display for Linkage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Linkage::Dynamic => "dynamic",
            Linkage::Static => "static",
            Linkage::StaticPie => "static-pie",
        })
    }
}

/// Facts about one ELF file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElfInfo {
    /// OCI/Go architecture name (`amd64`, `arm64`…), or `unknown-<e_machine>`.
    pub machine: String,
    pub bits: u8,
    pub kind: ElfKind,
    pub linkage: Linkage,
    pub interpreter: Option<String>,
    pub needed: Vec<String>,
    pub soname: Option<String>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    pub stripped: bool,
    /// Bytes in `.debug_*` / `.zdebug_*` sections.
    pub debug_bytes: u64,
    /// The newest `GLIBC_x.y` version needed from any library.
    pub glibc_required: Option<String>,
    /// Go toolchain version (`go1.22.5`) for Go binaries.
    pub go_version: Option<String>,
    /// Set when some facts could not be read (the reason).
    pub incomplete: Option<String>,
}

/// Maps `e_machine` (with class and byte order) to the OCI architecture name.
pub fn machine_name(e_machine: u16, is_64: bool, little: bool) -> String {
    let s = match (e_machine, is_64, little) {
        (header::EM_X86_64, true, _) => "amd64",
        (header::EM_X86_64, false, _) => "amd64p32",
        (header::EM_386, _, _) => "386",
        (header::EM_AARCH64, _, true) => "arm64",
        (header::EM_AARCH64, _, false) => "arm64be",
        (header::EM_ARM, _, _) => "arm",
        (header::EM_PPC64, _, true) => "ppc64le",
        (header::EM_PPC64, _, false) => "ppc64",
        (header::EM_PPC, _, _) => "ppc",
        (header::EM_S390, true, _) => "s390x",
        (header::EM_S390, false, _) => "s390",
        (header::EM_RISCV, true, _) => "riscv64",
        (header::EM_RISCV, false, _) => "riscv32",
        (header::EM_MIPS, true, true) => "mips64le",
        (header::EM_MIPS, true, false) => "mips64",
        (header::EM_MIPS, false, true) => "mipsle",
        (header::EM_MIPS, false, false) => "mips",
        (258, true, _) => "loong64",
        (header::EM_SPARCV9, _, _) => "sparc64",
        (other, _, _) => return format!("unknown-{other}"),
    };
    s.to_string()
}

/// Checks the header tables lie inside the file, before goblin parses anything.
/// Returns the (possibly corrected) section count goblin may use.
pub fn precheck(bytes: &[u8], file_size: u64) -> Result<(), String> {
    if bytes.len() < 16 || &bytes[..4] != b"\x7fELF" {
        return Err("not an ELF file (no magic)".into());
    }
    let hdr = Elf::parse_header(bytes).map_err(|e| format!("bad ELF header: {e}"))?;
    let ph_end = (hdr.e_phnum as u64)
        .checked_mul(hdr.e_phentsize as u64)
        .and_then(|n| n.checked_add(hdr.e_phoff))
        .ok_or("program header table size overflows")?;
    if hdr.e_phnum > 0 && ph_end > file_size {
        return Err(format!(
            "program header table (ends at {ph_end}) lies beyond the end of the file ({file_size} bytes)"
        ));
    }
    let expect_ph = if hdr.e_ident[header::EI_CLASS] == header::ELFCLASS64 { 56 } else { 32 };
    if hdr.e_phnum > 0 && hdr.e_phentsize as u64 != expect_ph {
        return Err(format!("program header entry size {} is not {expect_ph}", hdr.e_phentsize));
    }
    Ok(())
}

fn section_table_ok(bytes: &[u8], file_size: u64) -> bool {
    let Ok(hdr) = Elf::parse_header(bytes) else { return false };
    let expect = if hdr.e_ident[header::EI_CLASS] == header::ELFCLASS64 { 64 } else { 40 };
    let end = (hdr.e_shnum as u64).checked_mul(hdr.e_shentsize as u64).and_then(|n| n.checked_add(hdr.e_shoff));
    hdr.e_shnum == 0 || (hdr.e_shentsize as u64 == expect && end.is_some_and(|e| e <= file_size))
}

/// Parses an ELF image held in `bytes` (the whole file, or a sparse copy of it where the
/// ranges not needed are zero). `file_size` is the real size of the file.
pub fn parse(bytes: &[u8], file_size: u64) -> Result<ElfInfo, String> {
    precheck(bytes, file_size)?;
    let sections_ok = section_table_ok(bytes, file_size);
    let result = std::panic::catch_unwind(|| parse_inner(bytes, file_size, sections_ok));
    match result {
        Ok(r) => r,
        Err(_) => Err("the ELF parser failed on this file (malformed tables)".into()),
    }
}

/// A NUL-terminated string at `offset` of the table at `[base, base + size)`; a table running
/// past the end of the file is cut there.
fn table_str(bytes: &[u8], base: usize, size: usize, offset: usize) -> Option<&str> {
    let end = base.saturating_add(size).min(bytes.len());
    let table = bytes.get(base..end)?;
    let rest = table.get(offset..)?;
    let end = rest.iter().position(|b| *b == 0)?;
    std::str::from_utf8(&rest[..end]).ok()
}

/// The file offset of virtual address `addr`, when a PT_LOAD segment maps it from the file
/// (the parse and the streaming capture both translate addresses here).
pub(crate) fn file_offset(phdrs: &[goblin::elf::ProgramHeader], addr: u64) -> Option<u64> {
    phdrs
        .iter()
        .filter(|p| p.p_type == program_header::PT_LOAD)
        .find(|p| p.p_vaddr <= addr && addr - p.p_vaddr < p.p_filesz)
        .and_then(|p| p.p_offset.checked_add(addr - p.p_vaddr))
}

fn parse_inner(bytes: &[u8], file_size: u64, sections_ok: bool) -> Result<ElfInfo, String> {
    use goblin::container::{Container, Ctx, Endian};
    use goblin::elf::dynamic;
    use goblin::elf::{Dynamic, ProgramHeader, SectionHeader};

    // Built from goblin's parts rather than `Elf::parse`, which pre-parses every string and
    // symbol table (a cost in time and memory that grows with unstripped binaries).
    let hdr = Elf::parse_header(bytes).map_err(|e| format!("bad ELF header: {e}"))?;
    let is_64 = hdr.e_ident[header::EI_CLASS] == header::ELFCLASS64;
    let little = hdr.e_ident[header::EI_DATA] != header::ELFDATA2MSB;
    let ctx = Ctx::new(
        if is_64 { Container::Big } else { Container::Little },
        if little { Endian::Little } else { Endian::Big },
    );
    let phdrs = ProgramHeader::parse(bytes, hdr.e_phoff as usize, hdr.e_phnum as usize, ctx)
        .map_err(|e| format!("malformed program headers: {e}"))?;
    let shdrs = if sections_ok {
        SectionHeader::parse(bytes, hdr.e_shoff as usize, hdr.e_shnum as usize, ctx).unwrap_or_default()
    } else {
        Vec::new()
    };
    let machine = machine_name(hdr.e_machine, is_64, little);
    let interpreter = phdrs
        .iter()
        .find(|p| p.p_type == program_header::PT_INTERP && p.p_filesz > 0)
        .and_then(|p| table_str(bytes, p.p_offset as usize, p.p_filesz as usize, 0))
        .map(str::to_string)
        .filter(|s| !s.is_empty());
    let dynamic = Dynamic::parse(bytes, &phdrs, ctx).ok().flatten();
    let (mut needed, mut soname, mut rpath, mut runpath) = (Vec::new(), None, Vec::new(), Vec::new());
    let mut flags_1 = 0u64;
    let mut notes: Vec<String> = Vec::new();
    // The string table's file offset, translated here rather than taken from goblin, which
    // turns an address no segment maps into offset 0 (names would be read from the ELF header).
    // DT_STRSZ bounds the table, cut at the end of the file.
    let strtab_addr =
        dynamic.as_ref().and_then(|d| d.dyns.iter().find(|x| x.d_tag == dynamic::DT_STRTAB)).map(|x| x.d_val);
    let strtab_off =
        strtab_addr.and_then(|a| file_offset(&phdrs, a)).filter(|o| *o < file_size.min(bytes.len() as u64));
    let (strtab, strsz) = match (strtab_off, &dynamic) {
        (Some(o), Some(d)) => (o as usize, d.info.strsz),
        _ => (usize::MAX, 0),
    };
    if let Some(d) = &dynamic {
        flags_1 = d.info.flags_1;
        let mut unreadable: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        let mut s = |off: u64, tag: &'static str| {
            let name = table_str(bytes, strtab, strsz, off as usize).map(str::to_string);
            if name.is_none() {
                *unreadable.entry(tag).or_default() += 1;
            }
            name
        };
        for dy in &d.dyns {
            match dy.d_tag {
                dynamic::DT_NEEDED => needed.extend(s(dy.d_val, "DT_NEEDED")),
                dynamic::DT_SONAME => soname = s(dy.d_val, "DT_SONAME"),
                dynamic::DT_RPATH => rpath.extend(s(dy.d_val, "DT_RPATH")),
                dynamic::DT_RUNPATH => runpath.extend(s(dy.d_val, "DT_RUNPATH")),
                _ => {}
            }
        }
        if !unreadable.is_empty() {
            let which: Vec<String> = unreadable.iter().map(|(t, n)| format!("{n} {t}")).collect();
            let why = match (strtab_addr, strtab_off) {
                (None, _) => "there is no DT_STRTAB".to_string(),
                (Some(a), None) => format!("DT_STRTAB {a:#x} is not in the file"),
                (Some(_), Some(o)) => format!(
                    "not a NUL-terminated UTF-8 string inside the string table (DT_STRTAB at offset {o}, DT_STRSZ {strsz})"
                ),
            };
            notes.push(format!("names of {} could not be read: {why}", which.join(", ")));
        }
    }
    let is_pie_flag = flags_1 & dynamic::DF_1_PIE != 0;
    let has_interp_ph = phdrs.iter().any(|p| p.p_type == program_header::PT_INTERP);
    let (kind, linkage) = match hdr.e_type {
        header::ET_EXEC => {
            (ElfKind::Executable, if has_interp_ph || !needed.is_empty() { Linkage::Dynamic } else { Linkage::Static })
        }
        header::ET_DYN => {
            if has_interp_ph {
                let kind = if is_pie_flag || soname.is_none() { ElfKind::Executable } else { ElfKind::SharedLibrary };
                (kind, Linkage::Dynamic)
            } else if is_pie_flag {
                (ElfKind::Executable, Linkage::StaticPie)
            } else {
                (ElfKind::SharedLibrary, if dynamic.is_some() { Linkage::Dynamic } else { Linkage::Static })
            }
        }
        _ => (ElfKind::Other, if has_interp_ph || !needed.is_empty() { Linkage::Dynamic } else { Linkage::Static }),
    };
    // Sections whose bytes lie past the end of the file are not there: noted and left out.
    let in_file = |s: &SectionHeader| {
        s.sh_type == section_header::SHT_NOBITS || s.sh_offset.checked_add(s.sh_size).is_some_and(|e| e <= file_size)
    };
    let outside = shdrs.iter().filter(|s| !in_file(s)).count();
    if outside > 0 {
        let sections = if outside == 1 { "1 section lies" } else { "" };
        let many = format!("{outside} sections lie");
        notes.push(format!(
            "{} beyond the end of the file ({file_size} bytes); ignored",
            if outside == 1 { sections } else { many.as_str() }
        ));
    }
    let stripped = !shdrs.iter().any(|s| s.sh_type == section_header::SHT_SYMTAB && in_file(s));
    let names = shdrs.get(hdr.e_shstrndx as usize).map(|s| (s.sh_offset as usize, s.sh_size as usize));
    let debug_bytes = shdrs
        .iter()
        .filter(|s| s.sh_type != section_header::SHT_NOBITS && in_file(s))
        .filter(|s| {
            names
                .and_then(|(base, size)| table_str(bytes, base, size, s.sh_name))
                .is_some_and(|n| n.starts_with(".debug_") || n.starts_with(".zdebug_"))
        })
        .map(|s| s.sh_size)
        .fold(0u64, u64::saturating_add);
    let mut glibc_required: Option<(Vec<u32>, String)> = None;
    if let Ok(Some(verneed)) = goblin::elf::symver::VerneedSection::parse(bytes, &shdrs, ctx) {
        for need in verneed.iter().take(4096) {
            for aux in need.iter().take(4096) {
                let Some(name) = table_str(bytes, strtab, strsz, aux.vna_name) else { continue };
                if let Some(v) = glibc_version_key(name) {
                    if glibc_required.as_ref().is_none_or(|(best, _)| v > *best) {
                        glibc_required = Some((v, name.trim_start_matches("GLIBC_").to_string()));
                    }
                }
            }
        }
    }
    let split = |v: Vec<String>| -> Vec<String> {
        v.iter().flat_map(|s| s.split(':')).filter(|s| !s.is_empty()).map(str::to_string).collect()
    };
    Ok(ElfInfo {
        machine,
        bits: if is_64 { 64 } else { 32 },
        kind,
        linkage,
        interpreter,
        needed,
        soname,
        rpath: split(rpath),
        runpath: split(runpath),
        stripped,
        debug_bytes,
        glibc_required: glibc_required.map(|(_, s)| s),
        go_version: None,
        incomplete: (!notes.is_empty()).then(|| notes.join("; ")),
    })
}

/// `GLIBC_2.34` → `[2, 34]`; anything else (GLIBC_PRIVATE) → None.
pub fn glibc_version_key(name: &str) -> Option<Vec<u32>> {
    let v = name.strip_prefix("GLIBC_")?;
    parse_version(v)
}

/// `2.36` → `[2, 36]`.
pub fn parse_version(v: &str) -> Option<Vec<u32>> {
    let parts: Option<Vec<u32>> = v.split('.').map(|p| p.parse().ok()).collect();
    parts.filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_files_are_errors_not_panics() {
        assert!(parse(b"\x7fELF", 4).is_err());
        let mut hdr = vec![0u8; 64];
        hdr[..4].copy_from_slice(b"\x7fELF");
        hdr[4] = 2;
        hdr[5] = 1;
        hdr[6] = 1;
        // e_phoff = u64::MAX, e_phnum = 1
        hdr[0x20..0x28].copy_from_slice(&u64::MAX.to_le_bytes());
        hdr[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        hdr[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        let e = parse(&hdr, 64).unwrap_err();
        assert!(e.contains("overflows") || e.contains("beyond"), "{e}");
    }

    #[test]
    fn glibc_versions_compare_numerically() {
        assert!(glibc_version_key("GLIBC_2.34").unwrap() > glibc_version_key("GLIBC_2.4").unwrap());
        assert_eq!(glibc_version_key("GLIBC_PRIVATE"), None);
        assert_eq!(machine_name(header::EM_AARCH64, true, true), "arm64");
        assert_eq!(machine_name(header::EM_PPC64, true, true), "ppc64le");
        assert_eq!(machine_name(9999, true, true), "unknown-9999");
    }
}
