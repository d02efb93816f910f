//! A bounded, streaming tar reader: headers parsed with the `tar` crate's `Header`, extension
//! records (GNU long names, PAX, old-GNU sparse maps) read here with every length capped.
//!
//! The `tar` crate's own iterator reads long names and PAX records without a bound and, in raw
//! mode, does not let PAX `size` override the header; so the entry sequence is walked here.

use std::io::{self, BufRead};

use crate::limits::Limits;

const BLOCK: u64 = 512;

/// One entry of a tar stream, after its extension records were applied.
#[derive(Debug, Clone)]
pub struct RawEntry {
    /// Path bytes as stored (long name or PAX path applied), not normalised.
    pub path: Vec<u8>,
    /// Link target bytes for symlinks and hardlinks.
    pub link: Vec<u8>,
    /// The typeflag byte (`b'0'`, `b'5'`, `b'2'`…).
    pub typeflag: u8,
    /// Bytes of data stored in the archive for this entry.
    pub size: u64,
    /// Logical file size (differs from `size` for sparse files).
    pub logical_size: u64,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Offset of the entry's first header in the uncompressed stream.
    pub offset: u64,
    /// Offset of the entry's data.
    pub data_offset: u64,
}

impl RawEntry {
    pub fn is_file(&self) -> bool {
        matches!(self.typeflag, b'0' | 0 | b'7' | b'S')
    }
}

/// A malformed or over-limit tar stream, with the byte offset where it went wrong.
#[derive(Debug, thiserror::Error)]
#[error("at byte offset {offset}: {message}")]
pub struct TarError {
    pub offset: u64,
    pub message: String,
}

/// Reads tar entries from a stream, one at a time; the data of the current entry can be read
/// through [`TarReader::data`] before asking for the next one (unread data is skipped).
pub struct TarReader<R> {
    inner: R,
    pos: u64,
    /// Data bytes of the current entry not read yet, plus padding to the next block.
    remaining: u64,
    padding: u64,
    limits: Limits,
    entries: u64,
}

impl<R: BufRead> TarReader<R> {
    pub fn new(inner: R, limits: &Limits) -> Self {
        TarReader { inner, pos: 0, remaining: 0, padding: 0, limits: limits.clone(), entries: 0 }
    }

    /// Bytes consumed from the stream so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Gives back the inner reader, e.g. to drain it to EOF.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn err(&self, offset: u64, message: impl Into<String>) -> TarError {
        TarError { offset, message: message.into() }
    }

    fn io_err(&self, e: io::Error) -> TarError {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            self.err(self.pos, format!("unexpected end of stream ({e})"))
        } else {
            self.err(self.pos, format!("read error: {e}"))
        }
    }

    fn skip(&mut self, mut n: u64) -> Result<(), TarError> {
        while n > 0 {
            let available = match self.inner.fill_buf() {
                Ok(b) => b.len(),
                Err(e) => return Err(self.io_err(e)),
            };
            if available == 0 {
                return Err(self.err(self.pos, "unexpected end of stream inside entry data"));
            }
            let take = (available as u64).min(n) as usize;
            self.inner.consume(take);
            self.pos += take as u64;
            n -= take as u64;
        }
        Ok(())
    }

    /// Reads a whole block, or returns `Ok(false)` at a clean end of stream.
    fn read_block(&mut self, block: &mut [u8; 512]) -> Result<bool, TarError> {
        let mut filled = 0;
        while filled < block.len() {
            let got = self.inner.read(&mut block[filled..]).map_err(|e| self.io_err(e))?;
            if got == 0 {
                if filled == 0 {
                    return Ok(false);
                }
                return Err(self.err(self.pos, format!("header truncated after {filled} bytes")));
            }
            filled += got;
            self.pos += got as u64;
        }
        Ok(true)
    }

    /// Reads the data of an extension record, bounded by the extension limit.
    fn read_extension(&mut self, size: u64, what: &str, offset: u64) -> Result<Vec<u8>, TarError> {
        if size > self.limits.extension_bytes {
            return Err(self.err(
                offset,
                format!(
                    "{what} record of {size} bytes exceeds limit extension-bytes ({}); raise it with --limit extension-bytes=N",
                    self.limits.extension_bytes
                ),
            ));
        }
        let mut v = vec![0u8; size as usize];
        self.inner.read_exact(&mut v).map_err(|e| self.io_err(e))?;
        self.pos += size;
        let pad = padding(size);
        self.skip(pad)?;
        Ok(v)
    }

    /// Reads the map of a GNU 1.0 sparse file at the start of its data (`size` bytes): decimal
    /// numbers one per line, the count of regions then an offset and a length for each, padded
    /// to a block. Nothing of it is kept (the data that follows is what the archive stores);
    /// its length is bounded like an extension record. Returns the bytes it took.
    fn skip_sparse_map(&mut self, size: u64, offset: u64) -> Result<u64, TarError> {
        let (mut numbers, mut wanted, mut current, mut taken) = (0u64, None::<u64>, None::<u64>, 0u64);
        let mut block = [0u8; 512];
        loop {
            if taken + BLOCK > size {
                return Err(self.err(offset, "GNU sparse map runs past the entry's data"));
            }
            if taken + BLOCK > self.limits.extension_bytes {
                return Err(self.err(
                    offset,
                    format!(
                        "GNU sparse map longer than {taken} bytes exceeds limit extension-bytes ({}); raise it with --limit extension-bytes=N",
                        self.limits.extension_bytes
                    ),
                ));
            }
            if !self.read_block(&mut block)? {
                return Err(self.err(self.pos, "unexpected end of stream in a GNU sparse map"));
            }
            taken += BLOCK;
            for &b in &block {
                match b {
                    b'0'..=b'9' => {
                        let v = current.unwrap_or(0).checked_mul(10).and_then(|v| v.checked_add((b - b'0') as u64));
                        current = Some(v.ok_or_else(|| self.err(offset, "GNU sparse map number overflows"))?);
                    }
                    b'\n' => {
                        let v = current.take().ok_or_else(|| self.err(offset, "empty line in a GNU sparse map"))?;
                        if wanted.is_none() {
                            let regions = v.checked_mul(2).and_then(|n| n.checked_add(1));
                            wanted = Some(regions.ok_or_else(|| self.err(offset, "GNU sparse map count overflows"))?);
                        }
                        numbers += 1;
                        if Some(numbers) == wanted {
                            return Ok(taken);
                        }
                    }
                    _ => return Err(self.err(offset, format!("byte {b:#04x} in a GNU sparse map"))),
                }
            }
        }
    }

    /// Returns the next entry, or `None` at the end of the archive.
    pub fn next_entry(&mut self) -> Result<Option<RawEntry>, TarError> {
        let rest = self.remaining.saturating_add(self.padding);
        self.remaining = 0;
        self.padding = 0;
        self.skip(rest)?;

        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax: Option<Vec<u8>> = None;
        let mut first_offset = None;
        let mut block = [0u8; 512];
        loop {
            let offset = self.pos;
            if !self.read_block(&mut block)? {
                if first_offset.is_some() {
                    return Err(self.err(offset, "extension records with no entry after them"));
                }
                return Ok(None);
            }
            if block.iter().all(|b| *b == 0) {
                if first_offset.is_some() {
                    return Err(self.err(offset, "extension records followed by the end of the archive"));
                }
                return Ok(None);
            }
            first_offset.get_or_insert(offset);
            self.entries += 1;
            if self.entries > self.limits.entries_per_layer {
                return Err(self.err(
                    offset,
                    format!(
                        "more than {} entries; raise it with --limit entries-per-layer=N",
                        self.limits.entries_per_layer
                    ),
                ));
            }
            let header = tar::Header::from_byte_slice(&block);
            verify_checksum(&block).map_err(|m| self.err(offset, m))?;
            let typeflag = block[156];
            let header_size = header.entry_size().map_err(|e| self.err(offset, format!("bad size field: {e}")))?;
            match typeflag {
                b'L' => {
                    let v = self.read_extension(header_size, "GNU long name", offset)?;
                    long_name = Some(trim_nul(v));
                    continue;
                }
                b'K' => {
                    let v = self.read_extension(header_size, "GNU long link", offset)?;
                    long_link = Some(trim_nul(v));
                    continue;
                }
                b'x' | b'X' => {
                    let v = self.read_extension(header_size, "PAX", offset)?;
                    validate_pax(&v).map_err(|m| self.err(offset, m))?;
                    pax = Some(v);
                    continue;
                }
                b'g' => {
                    let v = self.read_extension(header_size, "PAX global", offset)?;
                    validate_pax(&v).map_err(|m| self.err(offset, m))?;
                    continue;
                }
                _ => {}
            }

            let mut path = long_name.take().unwrap_or_else(|| header.path_bytes().into_owned());
            let mut link =
                long_link.take().or_else(|| header.link_name_bytes().map(|c| c.into_owned())).unwrap_or_default();
            let mut size = header_size;
            let mut uid = header.uid().unwrap_or(0);
            let mut gid = header.gid().unwrap_or(0);
            // GNU sparse files in PAX form: 0.x keep the map in PAX records (bounded with them),
            // 1.0 puts it at the start of the entry's data.
            let (mut sparse_name, mut sparse_size, mut sparse_major, mut sparse_minor) = (None, None, None, None);
            if let Some(p) = &pax {
                for ext in tar::PaxExtensions::new(p).flatten() {
                    match ext.key_bytes() {
                        b"path" => path = ext.value_bytes().to_vec(),
                        b"linkpath" => link = ext.value_bytes().to_vec(),
                        b"size" => {
                            size = parse_pax_u64(ext.value_bytes())
                                .ok_or_else(|| self.err(offset, "PAX size is not a number"))?
                        }
                        b"uid" => uid = parse_pax_u64(ext.value_bytes()).unwrap_or(uid),
                        b"gid" => gid = parse_pax_u64(ext.value_bytes()).unwrap_or(gid),
                        b"GNU.sparse.name" => sparse_name = Some(ext.value_bytes().to_vec()),
                        b"GNU.sparse.size" | b"GNU.sparse.realsize" => sparse_size = parse_pax_u64(ext.value_bytes()),
                        b"GNU.sparse.major" => sparse_major = parse_pax_u64(ext.value_bytes()),
                        b"GNU.sparse.minor" => sparse_minor = parse_pax_u64(ext.value_bytes()),
                        _ => {}
                    }
                }
            }
            if let Some(name) = sparse_name {
                path = name;
            }
            if path.contains(&0) {
                return Err(self.err(offset, "path contains a NUL byte"));
            }
            if (sparse_major, sparse_minor) == (Some(1), Some(0)) && matches!(typeflag, b'0' | 0 | b'7') {
                let map = self.skip_sparse_map(size, offset)?;
                size -= map;
            }
            let mut logical_size = sparse_size.unwrap_or(size);
            if typeflag == b'S' {
                // Old GNU sparse: the header holds the real size; extension blocks of the
                // sparse map follow the header while `isextended` is set.
                if let Some(gnu) = header.as_gnu() {
                    logical_size = gnu.real_size().unwrap_or(size);
                    let mut extended = gnu.is_extended();
                    let mut blocks = 0u64;
                    while extended {
                        blocks += 1;
                        if blocks * BLOCK > self.limits.extension_bytes {
                            return Err(self.err(
                                offset,
                                format!(
                                    "old GNU sparse map of more than {} extension blocks exceeds limit extension-bytes ({}); raise it with --limit extension-bytes=N",
                                    blocks - 1,
                                    self.limits.extension_bytes
                                ),
                            ));
                        }
                        let mut ext = [0u8; 512];
                        if !self.read_block(&mut ext)? {
                            return Err(self.err(self.pos, "unexpected end of stream in sparse map"));
                        }
                        extended = ext[504] != 0;
                    }
                }
            }
            let data_offset = self.pos;
            self.remaining = size;
            self.padding = padding(size);
            return Ok(Some(RawEntry {
                path,
                link,
                typeflag,
                size,
                logical_size,
                mode: header.mode().unwrap_or(0o644),
                uid,
                gid,
                offset: first_offset.unwrap_or(offset),
                data_offset,
            }));
        }
    }

    /// The next bytes of the current entry's data, without copying; empty at its end. Call
    /// [`TarReader::consume_data`] with how much was used. A stream that ends early is an error.
    pub fn data_chunk(&mut self) -> Result<&[u8], TarError> {
        if self.remaining == 0 {
            return Ok(&[]);
        }
        let (pos, remaining) = (self.pos, self.remaining);
        match self.inner.fill_buf() {
            Ok([]) => Err(TarError {
                offset: pos,
                message: format!("unexpected end of stream, {remaining} bytes of entry data missing"),
            }),
            Ok(b) => {
                let n = (b.len() as u64).min(remaining) as usize;
                Ok(&b[..n])
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                Err(TarError { offset: pos, message: format!("unexpected end of stream ({e})") })
            }
            Err(e) => Err(TarError { offset: pos, message: format!("read error: {e}") }),
        }
    }

    /// Marks `n` bytes of the chunk from [`TarReader::data_chunk`] as used.
    pub fn consume_data(&mut self, n: usize) {
        let n = (n as u64).min(self.remaining);
        self.inner.consume(n as usize);
        self.pos += n;
        self.remaining -= n;
    }

    /// Copies data of the current entry into `buf`; returns 0 at its end.
    pub fn read_data(&mut self, buf: &mut [u8]) -> Result<usize, TarError> {
        let chunk = self.data_chunk()?;
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        self.consume_data(n);
        Ok(n)
    }
}

fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

fn trim_nul(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

fn parse_pax_u64(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

/// Checks every PAX record's framing (`LEN KEY=VALUE\n`); malformed records are an error,
/// never silently skipped.
fn validate_pax(data: &[u8]) -> Result<(), String> {
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|b| *b == 0) {
            return Ok(());
        }
        let sp = rest.iter().position(|b| *b == b' ').ok_or("PAX record without a length")?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("PAX record length is not a number")?;
        if len <= sp + 1 || len > rest.len() {
            return Err(format!("PAX record length {len} is out of range"));
        }
        let record = &rest[sp + 1..len];
        if record.last() != Some(&b'\n') {
            return Err("PAX record does not end with a newline".into());
        }
        if !record.contains(&b'=') {
            return Err("PAX record without '='".into());
        }
        rest = &rest[len..];
    }
    Ok(())
}

/// The sum of `bytes` and how many of them are 128 or more, eight bytes at a time (one header
/// per entry: this runs as often as anything in the walk).
fn byte_sums(bytes: &[u8]) -> (u32, u32) {
    const LOW: u64 = 0x00ff_00ff_00ff_00ff;
    // Four 16-bit lanes: at most 2 × 255 × 64 words of a block stay below 2^16.
    let (mut lanes, mut high) = (0u64, 0u32);
    let words = bytes.chunks_exact(8);
    let rest = words.remainder();
    for w in words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        let x = u64::from_le_bytes(a);
        lanes += (x & LOW) + ((x >> 8) & LOW);
        high += ((x >> 7) & 0x0101_0101_0101_0101).count_ones();
    }
    let mut sum = (lanes & 0xffff) + ((lanes >> 16) & 0xffff) + ((lanes >> 32) & 0xffff) + (lanes >> 48);
    for &b in rest {
        sum += u64::from(b);
        high += u32::from(b >> 7);
    }
    (sum as u32, high)
}

fn verify_checksum(block: &[u8; 512]) -> Result<(), String> {
    let field = &block[148..156];
    let text = field.split(|b| *b == 0).next().unwrap_or_default();
    let stored = std::str::from_utf8(text)
        .ok()
        .and_then(|t| u32::from_str_radix(t.trim(), 8).ok())
        .ok_or_else(|| format!("bad header checksum field {:?}", String::from_utf8_lossy(text)))?;
    // One pass: the checksum field counts as eight spaces; the signed sum (old tars) differs
    // from the unsigned one by 256 for every byte of 128 or more.
    let (mut unsigned, mut high) = (8 * 32u32, 0u32);
    for part in [&block[..148], &block[156..]] {
        let (sum, top) = byte_sums(part);
        unsigned += sum;
        high += top;
    }
    let signed = unsigned as i64 - 256 * high as i64;
    if stored == unsigned || stored as i64 == signed {
        Ok(())
    } else {
        Err(format!("header checksum mismatch (stored {stored}, computed {unsigned})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sums_match_a_byte_at_a_time() {
        let mut block = [0u8; 512];
        for (i, b) in block.iter_mut().enumerate() {
            *b = (i * 7919 % 256) as u8;
        }
        for bytes in [&block[..148], &block[156..], &[0xffu8; 512][..], &[][..], &block[..13]] {
            let want =
                (bytes.iter().map(|&b| b as u32).sum::<u32>(), bytes.iter().filter(|&&b| b >= 128).count() as u32);
            assert_eq!(byte_sums(bytes), want);
        }
    }

    fn header(path: &str, typeflag: u8, size: u64) -> [u8; 512] {
        let mut h = tar::Header::new_gnu();
        h.set_path(path).unwrap();
        h.set_size(size);
        h.set_entry_type(tar::EntryType::new(typeflag));
        h.set_mode(0o644);
        h.set_cksum();
        let mut b = [0u8; 512];
        b.copy_from_slice(h.as_bytes());
        b
    }

    fn pax_record(key: &str, value: &str) -> Vec<u8> {
        let body = format!(" {key}={value}\n");
        let mut digits = 1;
        while (digits + body.len()).to_string().len() != digits {
            digits += 1;
        }
        format!("{}{body}", digits + body.len()).into_bytes()
    }

    fn padded(mut v: Vec<u8>) -> Vec<u8> {
        let pad = padding(v.len() as u64) as usize;
        v.extend(std::iter::repeat_n(0, pad));
        v
    }

    #[test]
    fn pax_size_overrides_header_size() {
        let mut stream = Vec::new();
        let rec = pax_record("size", "5");
        stream.extend(header("././@PaxHeader", b'x', rec.len() as u64));
        stream.extend(padded(rec));
        stream.extend(header("a.txt", b'0', 600)); // ustar size lies
        stream.extend(padded(b"hello".to_vec()));
        stream.extend(header("b.txt", b'0', 2));
        stream.extend(padded(b"hi".to_vec()));
        stream.extend([0u8; 1024]);
        let mut r = TarReader::new(&stream[..], &Limits::default());
        let a = r.next_entry().unwrap().unwrap();
        assert_eq!(a.path, b"a.txt");
        assert_eq!(a.size, 5);
        let b = r.next_entry().unwrap().unwrap();
        assert_eq!(b.path, b"b.txt");
        assert!(r.next_entry().unwrap().is_none());
    }

    #[test]
    fn long_name_is_bounded() {
        let mut stream = Vec::new();
        stream.extend(header("././@LongLink", b'L', 2 << 20));
        stream.extend(vec![b'a'; 4096]);
        let mut r = TarReader::new(&stream[..], &Limits::default());
        let e = r.next_entry().unwrap_err();
        assert!(e.message.contains("extension-bytes"), "{e}");
        assert_eq!(e.offset, 0);
    }

    #[test]
    fn truncated_data_is_an_error_with_offset() {
        let mut stream = Vec::new();
        stream.extend(header("a", b'0', 1000));
        stream.extend(vec![1u8; 10]);
        let mut r = TarReader::new(&stream[..], &Limits::default());
        r.next_entry().unwrap().unwrap();
        let mut buf = [0u8; 4096];
        assert_eq!(r.read_data(&mut buf).unwrap(), 10);
        let e = r.read_data(&mut buf).unwrap_err();
        assert!(e.message.contains("990 bytes"), "{e}");
    }

    #[test]
    fn gnu_sparse_1_0_map_is_skipped_and_names_applied() {
        // A 1 MiB file holding "hello" at offset 4096: the map (1 region) then the stored data.
        let mut recs = Vec::new();
        for (k, v) in [
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.name", "dir/real-name"),
            ("GNU.sparse.realsize", "1048576"),
        ] {
            recs.extend(pax_record(k, v));
        }
        let map = padded(b"1\n4096\n5\n".to_vec());
        let mut stream = Vec::new();
        stream.extend(header("././@PaxHeader", b'x', recs.len() as u64));
        stream.extend(padded(recs));
        stream.extend(header("dir/GNUSparseFile.0/real-name", b'0', map.len() as u64 + 5));
        stream.extend(&map);
        stream.extend(padded(b"hello".to_vec()));
        stream.extend(header("after", b'0', 2));
        stream.extend(padded(b"hi".to_vec()));
        stream.extend([0u8; 1024]);
        let mut r = TarReader::new(&stream[..], &Limits::default());
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!((e.path.as_slice(), e.size, e.logical_size), (&b"dir/real-name"[..], 5, 1 << 20));
        let mut buf = [0u8; 16];
        assert_eq!(r.read_data(&mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
        assert_eq!(r.next_entry().unwrap().unwrap().path, b"after");
        assert!(r.next_entry().unwrap().is_none());

        // A map that is not numbers, and one longer than the entry's data.
        let long = [b"1000000\n".to_vec(), b"1\n".repeat(252)].concat();
        for (map, says) in [(b"1\nx\n".to_vec(), "byte 0x78 in a GNU sparse map"), (long, "runs past")] {
            let mut recs = pax_record("GNU.sparse.major", "1");
            recs.extend(pax_record("GNU.sparse.minor", "0"));
            let mut stream = header("././@PaxHeader", b'x', recs.len() as u64).to_vec();
            stream.extend(padded(recs));
            stream.extend(header("f", b'0', 512));
            stream.extend(padded(map));
            stream.extend([0u8; 1024]);
            let e = TarReader::new(&stream[..], &Limits::default()).next_entry().unwrap_err();
            assert!(e.message.contains(says), "{e}");
        }
    }

    #[test]
    fn bad_checksum_and_malformed_pax() {
        let mut h = header("a", b'0', 0);
        h[0] = b'b';
        let mut r = TarReader::new(&h[..], &Limits::default());
        assert!(r.next_entry().unwrap_err().message.contains("checksum"));
        let mut stream = Vec::new();
        let rec = b"12 pathnoeq\n".to_vec();
        stream.extend(header("x", b'x', rec.len() as u64));
        stream.extend(padded(rec));
        let mut r = TarReader::new(&stream[..], &Limits::default());
        assert!(r.next_entry().unwrap_err().message.contains("PAX"));
    }
}
