//! Streaming capture of the parts of an ELF file the parse needs, into a sparse buffer.
//!
//! A layer is read once, forward only, so the ranges to keep are decided as the file streams
//! by: the header and program headers, the metadata before the first executable segment (or a
//! bounded head), PT_INTERP/PT_DYNAMIC/PT_NOTE, the string and version tables named by the
//! dynamic section when they come later, the section header table and the bytes just before it
//! (where `.shstrtab` lives). Everything else stays zero in an anonymous mapping, whose untouched
//! pages cost no memory.

use goblin::elf::{program_header, Elf};
use memmap2::MmapMut;

use crate::elf::{self, ElfInfo};
use crate::limits::Limits;
use crate::pattern::Scanner;

const TAIL_WINDOW: u64 = 256 << 10;

/// Half-open byte ranges, kept sorted and merged.
#[derive(Debug, Default, Clone)]
struct Ranges(Vec<(u64, u64)>);

impl Ranges {
    fn add(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        self.0.push((start, end));
        self.0.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.0.len());
        for &(s, e) in &self.0 {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.0 = merged;
    }

    fn covers(&self, start: u64, end: u64) -> bool {
        start >= end || self.0.iter().any(|&(s, e)| s <= start && end <= e)
    }
}

enum Buffer {
    Mapped(MmapMut),
    Heap(Vec<u8>),
}

impl Buffer {
    fn bytes(&self) -> &[u8] {
        match self {
            Buffer::Mapped(m) => &m[..],
            Buffer::Heap(v) => &v[..],
        }
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Buffer::Mapped(m) => &mut m[..],
            Buffer::Heap(v) => &mut v[..],
        }
    }
}

/// Small files are kept whole; larger ones sparsely.
const WHOLE_FILE: u64 = 256 << 10;

/// Collects an ELF file's needed ranges as its bytes stream past.
pub struct ElfCapture {
    size: u64,
    buf: Buffer,
    wanted: Ranges,
    captured: Ranges,
    pos: u64,
    chunk_start: u64,
    head_cap: u64,
    stage: Stage,
    go: Scanner,
    missed: Vec<String>,
    /// The program headers, once read (parsed once, not on every chunk).
    phdrs: Option<std::sync::Arc<Vec<goblin::elf::ProgramHeader>>>,
}

/// PT_NOTE segments kept at most.
const MAX_NOTES: usize = 8;

#[derive(PartialEq, Eq, Clone, Copy)]
enum Stage {
    Header,
    ProgramHeaders,
    Dynamic,
    Done,
}

impl ElfCapture {
    /// Starts a capture for a file of `size` bytes (checked against the ELF size limit by the caller).
    pub fn new(size: u64, limits: &Limits) -> std::io::Result<Self> {
        let buf = if size <= WHOLE_FILE {
            Buffer::Heap(vec![0u8; size as usize])
        } else {
            Buffer::Mapped(MmapMut::map_anon(size as usize)?)
        };
        let mut wanted = Ranges::default();
        wanted.add(0, size.min(if size <= WHOLE_FILE { size } else { 64 }));
        Ok(ElfCapture {
            size,
            buf,
            wanted,
            captured: Ranges::default(),
            pos: 0,
            chunk_start: 0,
            head_cap: limits.elf_head_bytes,
            stage: Stage::Header,
            go: Scanner::new(b"\xff Go buildinf:", 96),
            missed: Vec::new(),
            phdrs: None,
        })
    }

    /// Feeds the next chunk of the file.
    pub fn feed(&mut self, chunk: &[u8]) {
        let start = self.pos;
        let end = start + chunk.len() as u64;
        self.chunk_start = start;
        self.pos = end;
        self.go.feed(chunk);
        // Learning a range (program headers after the header) can make more of this same
        // chunk wanted, so copy until nothing new is wanted.
        loop {
            let mut copied = false;
            for (ws, we) in self.wanted.0.clone() {
                let s = ws.max(start);
                let e = we.min(end).min(self.size);
                if s < e && !self.captured.covers(s, e) {
                    let dst = &mut self.buf.bytes_mut()[s as usize..e as usize];
                    dst.copy_from_slice(&chunk[(s - start) as usize..(e - start) as usize]);
                    self.captured.add(s, e);
                    copied = true;
                }
            }
            if !copied {
                break;
            }
            self.advance();
        }
    }

    /// Adds a range to keep, noting it when the stream has already passed it.
    fn want(&mut self, what: &str, start: u64, len: u64) {
        self.want_at_least(what, start, len, len)
    }

    /// Like [`ElfCapture::want`], but only the first `must` bytes count as missed when the
    /// stream has passed them (for tables whose exact length is not known up front).
    fn want_at_least(&mut self, what: &str, start: u64, len: u64, must: u64) {
        let end = start.saturating_add(len).min(self.size);
        if start >= end {
            return;
        }
        let must_end = start.saturating_add(must).min(end).min(self.chunk_start);
        if start < self.chunk_start && !self.captured.covers(start, must_end) {
            self.missed.push(format!("{what} at offset {start} was not kept (raise --limit elf-head-bytes)"));
        }
        self.wanted.add(start, end);
    }

    fn advance(&mut self) {
        loop {
            let before = self.stage;
            match self.stage {
                Stage::Header if self.captured.covers(0, 64.min(self.size)) => {
                    let Ok(h) = Elf::parse_header(self.buf.bytes()) else {
                        self.stage = Stage::Done;
                        return;
                    };
                    let ph_len = h.e_phnum as u64 * h.e_phentsize as u64;
                    self.want("program headers", h.e_phoff, ph_len);
                    let sh_len = h.e_shnum as u64 * h.e_shentsize as u64;
                    if sh_len > 0 && h.e_shoff < self.size {
                        self.want("section headers", h.e_shoff, sh_len);
                        let tail = h.e_shoff.saturating_sub(TAIL_WINDOW);
                        self.want("section names", tail, h.e_shoff - tail);
                    }
                    self.stage = Stage::ProgramHeaders;
                }
                Stage::ProgramHeaders => {
                    let Ok(h) = Elf::parse_header(self.buf.bytes()) else { return };
                    let ph_len = h.e_phnum as u64 * h.e_phentsize as u64;
                    if !self.captured.covers(h.e_phoff, h.e_phoff.saturating_add(ph_len).min(self.size)) {
                        return;
                    }
                    let Ok(phdrs) = self.program_headers() else {
                        self.stage = Stage::Done;
                        return;
                    };
                    // Metadata before the first executable segment, else a bounded head.
                    let first_exec = phdrs
                        .iter()
                        .filter(|p| p.p_type == program_header::PT_LOAD && p.p_flags & program_header::PF_X != 0)
                        .map(|p| p.p_offset)
                        .min();
                    let head = match first_exec {
                        Some(off) if off > 0 => off.min(self.head_cap),
                        _ => self.size.min(self.head_cap),
                    };
                    self.want("metadata head", 0, head);
                    // The parse reads the first PT_INTERP and the first PT_DYNAMIC; notes are kept
                    // for the first few. A table of 65535 entries must not become 65535 ranges.
                    let first = |t: u32| phdrs.iter().find(|p| p.p_type == t);
                    let segments = [first(program_header::PT_INTERP), first(program_header::PT_DYNAMIC)];
                    let notes = phdrs.iter().filter(|p| p.p_type == program_header::PT_NOTE).take(MAX_NOTES);
                    let wanted: Vec<(u64, u64)> =
                        segments.into_iter().flatten().chain(notes).map(|p| (p.p_offset, p.p_filesz)).collect();
                    for (offset, len) in wanted {
                        self.want("segment", offset, len.min(self.head_cap));
                    }
                    self.phdrs = Some(std::sync::Arc::new(phdrs));
                    self.stage = Stage::Dynamic;
                }
                Stage::Dynamic => {
                    let Some(phdrs) = self.phdrs.clone() else { return };
                    let Some(dynp) = phdrs.iter().find(|p| p.p_type == program_header::PT_DYNAMIC) else {
                        self.stage = Stage::Done;
                        return;
                    };
                    if !self.captured.covers(dynp.p_offset, dynp.p_offset.saturating_add(dynp.p_filesz).min(self.size))
                    {
                        return;
                    }
                    self.stage = Stage::Done;
                    let Ok(h) = Elf::parse_header(self.buf.bytes()) else { return };
                    let ctx = goblin::container::Ctx::new(
                        if h.e_ident[4] == 2 {
                            goblin::container::Container::Big
                        } else {
                            goblin::container::Container::Little
                        },
                        if h.e_ident[5] == 2 {
                            goblin::container::Endian::Big
                        } else {
                            goblin::container::Endian::Little
                        },
                    );
                    let parsed = std::panic::catch_unwind(|| {
                        goblin::elf::dynamic::Dynamic::parse(self.buf.bytes(), &phdrs, ctx)
                    });
                    if let Ok(Ok(Some(d))) = parsed {
                        let info = &d.info;
                        // Bounded like the head: DT_STRSZ is whatever the file says.
                        self.want("dynamic string table", info.strtab as u64, (info.strsz as u64).min(self.head_cap));
                        if info.verneed != 0 {
                            if let Some(off) = elf::file_offset(&phdrs, info.verneed) {
                                let minimum = info.verneednum.clamp(1, 4096) * 16;
                                self.want_at_least("version needs", off, 64 << 10, minimum);
                            }
                        }
                    }
                }
                _ => return,
            }
            if self.stage == before {
                return;
            }
        }
    }

    fn program_headers(&self) -> Result<Vec<goblin::elf::ProgramHeader>, ()> {
        let bytes = self.buf.bytes();
        let h = Elf::parse_header(bytes).map_err(|_| ())?;
        elf::precheck(bytes, self.size).map_err(|_| ())?;
        let ctx = goblin::container::Ctx::new(
            if h.e_ident[4] == 2 { goblin::container::Container::Big } else { goblin::container::Container::Little },
            if h.e_ident[5] == 2 { goblin::container::Endian::Big } else { goblin::container::Endian::Little },
        );
        std::panic::catch_unwind(|| {
            goblin::elf::ProgramHeader::parse(bytes, h.e_phoff as usize, h.e_phnum as usize, ctx)
        })
        .map_err(|_| ())?
        .map_err(|_| ())
    }

    /// Parses what was kept.
    pub fn finish(self) -> Result<ElfInfo, String> {
        let mut info = elf::parse(self.buf.bytes(), self.size)?;
        info.go_version = self.go.result().and_then(go_version);
        if !self.missed.is_empty() {
            let missed = self.missed.join("; ");
            info.incomplete = Some(match info.incomplete.take() {
                Some(parse) => format!("{missed}; {parse}"),
                None => missed,
            });
        }
        Ok(info)
    }
}

/// Reads the Go version from a `.go.buildinfo` blob (Go 1.18+ inline format).
fn go_version(b: &[u8]) -> Option<String> {
    let flags = *b.get(15)?;
    if flags & 2 == 0 {
        return None;
    }
    let mut len: u64 = 0;
    let mut shift = 0;
    let mut i = 32;
    loop {
        let byte = *b.get(i)?;
        len |= ((byte & 0x7f) as u64) << shift;
        i += 1;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
    }
    let v = b.get(i..i + len as usize)?;
    let s = std::str::from_utf8(v).ok()?;
    s.starts_with("go").then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_buildinfo_inline_version() {
        let mut b = b"\xff Go buildinf:".to_vec();
        b.push(8);
        b.push(2);
        b.resize(32, 0);
        b.push(8);
        b.extend_from_slice(b"go1.22.5");
        assert_eq!(go_version(&b).as_deref(), Some("go1.22.5"));
    }

    #[test]
    fn ranges_merge() {
        let mut r = Ranges::default();
        r.add(10, 20);
        r.add(15, 30);
        r.add(40, 50);
        assert!(r.covers(12, 30));
        assert!(!r.covers(12, 41));
    }
}
