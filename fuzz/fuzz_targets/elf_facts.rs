//! ELF facts: bytes as an ELF file → the streaming capture (fed in chunks) and its parse, and
//! the direct parse. The first input byte picks the chunk size, whether the file is padded with
//! zeros past the capture's whole-file size (so the sparse capture runs), and a small head limit.
#![no_main]

use layerscope::elf::capture::ElfCapture;
use layerscope::limits::Limits;
use libfuzzer_sys::fuzz_target;

/// Past `elf::capture`'s whole-file threshold (256 KiB): the capture keeps only the wanted ranges.
const SPARSE_SIZE: usize = (256 << 10) + 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, file)) = data.split_first() else { return };
    let _ = layerscope::elf::parse(file, file.len() as u64);
    // The walk only starts a capture for files with the magic and at least 52 bytes.
    if file.len() < 52 || !file.starts_with(b"\x7fELF") {
        return;
    }
    let mut limits = Limits::default();
    if seed & 2 != 0 {
        limits.elf_head_bytes = 4096;
    }
    let padded;
    let file = if seed & 1 != 0 && file.len() < SPARSE_SIZE {
        let mut v = file.to_vec();
        v.resize(SPARSE_SIZE, 0);
        padded = v;
        &padded[..]
    } else {
        file
    };
    let Ok(mut cap) = ElfCapture::new(file.len() as u64, &limits) else { return };
    // Chunk sizes around the reader's (odd, so boundaries fall anywhere), never so small that
    // one input costs thousands of calls.
    let chunk = [61, 509, 4093, 65521][(seed as usize >> 2) & 3] + (seed as usize >> 4) * 7;
    for c in file.chunks(chunk) {
        cap.feed(c);
    }
    let _ = cap.finish();
});
