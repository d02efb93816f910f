//! Blob streams: size-capped, digest-verifying readers and decompression chosen by media type
//! with magic-byte sniffing.

#[cfg(feature = "isal")]
mod isal;
mod pipe;

pub use pipe::pipelined;

use std::io::{self, BufRead, Read};

use sha2::{Digest as _, Sha256};

use crate::oci::LayerType;

/// A sha256 or sha512 hasher, chosen by the descriptor's digest algorithm; or none, where the
/// same bytes are hashed elsewhere (a layer stored as plain tar is hashed once, not twice).
#[derive(Clone)]
enum Hasher {
    Sha256(Sha256),
    Sha512(sha2::Sha512),
    Off,
}

impl Hasher {
    fn for_digest(digest: &str) -> Self {
        if digest.starts_with("sha512:") {
            Hasher::Sha512(sha2::Sha512::new())
        } else {
            Hasher::Sha256(Sha256::new())
        }
    }
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
            Hasher::Off => {}
        }
    }
    fn finish(self) -> Option<String> {
        match self {
            Hasher::Sha256(h) => Some(format!("sha256:{}", hex(&h.finalize()))),
            Hasher::Sha512(h) => Some(format!("sha512:{}", hex(&h.finalize()))),
            Hasher::Off => None,
        }
    }
}

/// Wraps a blob stream: hashes it with the descriptor's algorithm (sha256 or sha512), counts it,
/// and refuses to read past `expected_size` (one byte more is read to detect an oversized blob).
pub struct VerifyingReader<R> {
    inner: R,
    hasher: Hasher,
    count: u64,
    expected_size: u64,
}

impl<R: Read> VerifyingReader<R> {
    /// A reader hashing with sha256.
    pub fn new(inner: R, expected_size: u64) -> Self {
        VerifyingReader { inner, hasher: Hasher::Sha256(Sha256::new()), count: 0, expected_size }
    }

    /// Like [`VerifyingReader::new`], hashing with the algorithm of `digest`.
    pub fn for_digest(inner: R, expected_size: u64, digest: &str) -> Self {
        VerifyingReader { inner, hasher: Hasher::for_digest(digest), count: 0, expected_size }
    }

    /// A reader that counts and bounds the stream without hashing it: for a blob whose digest
    /// is synthesized (a `docker save` layer), checked through its diff_id instead.
    pub fn counting(inner: R, expected_size: u64) -> Self {
        VerifyingReader { inner, hasher: Hasher::Off, count: 0, expected_size }
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Reads the rest of the stream (trailing padding included) so the digest covers all of it.
    pub fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(|_| ())
    }

    /// Compares what was read with the descriptor. Call after [`VerifyingReader::drain`].
    pub fn verify(self, expected_digest: &str) -> Result<(), String> {
        self.finish().check(expected_digest)
    }

    /// What was read: its size and digest. Call after [`VerifyingReader::drain`].
    pub fn finish(self) -> BlobRead {
        BlobRead { count: self.count, expected_size: self.expected_size, digest: self.hasher.finish() }
    }
}

/// A blob read to its end: how many bytes, against how many declared, and its digest (`None`
/// when it was counted only).
#[derive(Debug, Clone)]
pub struct BlobRead {
    pub count: u64,
    pub expected_size: u64,
    pub digest: Option<String>,
}

impl BlobRead {
    /// Compares the read with the descriptor's size and digest.
    pub fn check(&self, expected_digest: &str) -> Result<(), String> {
        if self.count != self.expected_size {
            return Err(format!(
                "size mismatch: descriptor says {} bytes, blob has {}",
                self.expected_size, self.count
            ));
        }
        if !(expected_digest.starts_with("sha256:") || expected_digest.starts_with("sha512:")) {
            return Err(format!("digest algorithm of {expected_digest} is not supported (sha256, sha512 are)"));
        }
        let Some(got) = &self.digest else {
            return Err("the blob was read without hashing; its digest cannot be checked".into());
        };
        if got != expected_digest {
            return Err(format!("digest mismatch: content hashes to {got}"));
        }
        Ok(())
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Allow one byte past the declared size so that an oversized blob is noticed.
        let allowed = self.expected_size.saturating_add(1).saturating_sub(self.count);
        if allowed == 0 {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(allowed) as usize;
        let got = self.inner.read(&mut buf[..n])?;
        self.hasher.update(&buf[..got]);
        self.count += got as u64;
        Ok(got)
    }
}

/// Hashes (sha256) what is read through it, or only passes it on when off: the diff_id of a
/// decompressed stream, computed on the thread that decompresses it so that the thread walking
/// the tar does not also hash.
pub struct Sha256Reader<R> {
    inner: R,
    hasher: Option<Sha256>,
}

impl<R: Read> Sha256Reader<R> {
    pub fn new(inner: R, on: bool) -> Self {
        Sha256Reader { inner, hasher: on.then(Sha256::new) }
    }

    /// The `sha256:` digest of everything read, `None` when off.
    pub fn digest(self) -> Option<String> {
        self.hasher.map(|h| format!("sha256:{}", hex(&h.finalize())))
    }
}

impl<R: Read> Read for Sha256Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Hashes (sha256) and counts the uncompressed stream, for the config's `diff_ids`, and enforces
/// the per-layer uncompressed size and compression-ratio limits. Bytes are hashed as they are
/// consumed from the buffer, without copying.
pub struct DiffIdReader<R> {
    inner: R,
    /// `None` when the stream is the blob itself (a plain tar layer), already hashed as a blob.
    hasher: Option<Sha256>,
    count: u64,
    max_bytes: u64,
    compressed_size: u64,
    max_ratio: u64,
}

impl<R: BufRead> DiffIdReader<R> {
    pub fn new(inner: R, max_bytes: u64, compressed_size: u64, max_ratio: u64) -> Self {
        DiffIdReader { inner, hasher: Some(Sha256::new()), count: 0, max_bytes, compressed_size, max_ratio }
    }

    /// Like [`DiffIdReader::new`] but counting only: for an uncompressed layer whose blob
    /// digest (sha256 of the same bytes) is its diff_id.
    pub fn counting(inner: R, max_bytes: u64, compressed_size: u64, max_ratio: u64) -> Self {
        DiffIdReader { inner, hasher: None, count: 0, max_bytes, compressed_size, max_ratio }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Consumes the rest of the stream.
    pub fn drain(&mut self) -> io::Result<()> {
        loop {
            let n = self.fill_buf()?.len();
            if n == 0 {
                return Ok(());
            }
            self.consume(n);
        }
    }

    /// The `sha256:` digest of everything consumed (`None` when counting only), and the byte
    /// count.
    pub fn digest(self) -> (Option<String>, u64) {
        (self.hasher.map(|h| format!("sha256:{}", hex(&h.finalize()))), self.count)
    }

    fn check_limits(&self) -> io::Result<()> {
        if self.count > self.max_bytes {
            return Err(io::Error::other(format!(
                "limit layer-bytes ({}) exceeded: the layer decompresses to more; raise it with --limit layer-bytes=N",
                self.max_bytes
            )));
        }
        // Ratio alarm, past the first 64 MiB so that tiny layers of zeros are not flagged.
        if self.count > 64 << 20 && self.count / self.compressed_size.max(1) > self.max_ratio {
            return Err(io::Error::other(format!(
                "limit compression-ratio ({}:1) exceeded: {} compressed bytes expand past {}; raise it with --limit compression-ratio=N",
                self.max_ratio, self.compressed_size, self.count
            )));
        }
        Ok(())
    }
}

impl<R: BufRead> BufRead for DiffIdReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.check_limits()?;
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            let n = n.min(buf.len());
            if let Some(h) = &mut self.hasher {
                h.update(&buf[..n]);
            }
            self.count += n as u64;
            self.inner.consume(n);
        }
    }
}

impl<R: BufRead> Read for DiffIdReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buf = self.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Compression actually found in a layer's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

impl Compression {
    fn from_layer_type(t: LayerType) -> Option<Self> {
        match t {
            LayerType::Gzip => Some(Compression::Gzip),
            LayerType::Zstd => Some(Compression::Zstd),
            LayerType::Tar => Some(Compression::None),
            LayerType::Unknown | LayerType::Unspecified => None,
        }
    }
}

/// Looks at the first bytes of a stream.
pub fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// The compression of a layer from its first bytes, and a note when the media type said
/// something else (or nothing).
pub fn detect(head: &[u8], declared: LayerType, media_type: &str) -> (Compression, Option<String>) {
    let found = sniff(head);
    let note = match Compression::from_layer_type(declared) {
        Some(c) if c == found => None,
        Some(c) => Some(format!("media type {media_type} says {c:?} but the bytes are {found:?}; read as {found:?}",)),
        None if media_type.is_empty() => None,
        None => Some(format!("media type {media_type:?} is not a known layer type; bytes sniffed as {found:?}")),
    };
    (found, note)
}

/// Opens the decompressor for a layer. Returns the decoder, the compression used, and a
/// note when the media type said something else (or nothing).
pub fn decompress<'a, R: BufRead + Send + 'a>(
    mut raw: R,
    declared: LayerType,
    media_type: &str,
) -> io::Result<(Box<dyn Read + Send + 'a>, Compression, Option<String>)> {
    let (found, note) = detect(raw.fill_buf()?, declared, media_type);
    Ok((decoder(raw, found)?, found, note))
}

/// The decoder of a stream of the given compression.
pub fn decoder<'a, R: BufRead + Send + 'a>(raw: R, found: Compression) -> io::Result<Box<dyn Read + Send + 'a>> {
    let reader: Box<dyn Read + Send + 'a> = match found {
        #[cfg(feature = "isal")]
        Compression::Gzip => Box::new(isal::IsalGzip::new(raw)),
        #[cfg(not(feature = "isal"))]
        Compression::Gzip => Box::new(GzipMembers::new(raw)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(raw)?),
        Compression::None => Box::new(raw),
    };
    Ok(reader)
}

/// Decodes every gzip member of a stream (eStargz writes one per file) and stops, without error,
/// at zero padding after the last member (some tools pad layers to a block size); other bytes
/// after a member are an error. The padding is still read by the caller, so the blob digest
/// covers it.
pub struct GzipMembers<R: BufRead> {
    current: Option<flate2::bufread::GzDecoder<R>>,
    members: u64,
    done: bool,
    /// Set once the stream is found bad: every later read fails the same way.
    failed: Option<String>,
}

impl<R: BufRead> GzipMembers<R> {
    pub fn new(inner: R) -> Self {
        GzipMembers { current: Some(flate2::bufread::GzDecoder::new(inner)), members: 0, done: false, failed: None }
    }
}

impl<R: BufRead> Read for GzipMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(m) = &self.failed {
                return Err(io::Error::new(io::ErrorKind::InvalidData, m.clone()));
            }
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            let Some(dec) = self.current.as_mut() else { return Ok(0) };
            let n = dec.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            self.members += 1;
            let Some(finished) = self.current.take() else { return Ok(0) };
            let mut inner = finished.into_inner();
            let head = inner.fill_buf()?;
            match head.first() {
                None | Some(0) => {
                    self.done = true;
                    return Ok(0);
                }
                Some(0x1f) => self.current = Some(flate2::bufread::GzDecoder::new(inner)),
                Some(b) => {
                    self.failed = Some(format!(
                        "byte {b:#04x} after gzip member {} is neither a new member nor zero padding",
                        self.members
                    ));
                }
            }
        }
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// sha256 of a byte slice as a `sha256:` digest string.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// Reads a small document completely, refusing more than `cap` bytes.
pub fn read_capped<R: Read>(r: R, cap: u64, what: &str) -> Result<Vec<u8>, String> {
    let mut v = Vec::new();
    r.take(cap.saturating_add(1)).read_to_end(&mut v).map_err(|e| format!("{what}: {e}"))?;
    if v.len() as u64 > cap {
        return Err(format!("{what}: larger than the limit json-bytes ({cap}); raise it with --limit json-bytes=N"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn verifying_reader_catches_size_and_digest() {
        let data = b"hello world";
        let d = sha256_digest(data);
        let mut r = VerifyingReader::new(&data[..], data.len() as u64);
        r.drain().unwrap();
        r.verify(&d).unwrap();
        let mut r = VerifyingReader::new(&data[..], 5);
        r.drain().unwrap();
        assert_eq!(r.count(), 6, "reads one byte past the size, no more");
        assert!(r.verify(&d).unwrap_err().contains("size mismatch"));
        let mut r = VerifyingReader::new(&b"hello worle"[..], 11);
        r.drain().unwrap();
        assert!(r.verify(&d).unwrap_err().contains("digest mismatch"));
    }

    #[test]
    fn multi_member_gzip_is_read_whole() {
        let mut out = Vec::new();
        for part in [b"first ".as_slice(), b"second"] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(part).unwrap();
            out.extend(e.finish().unwrap());
        }
        let (mut r, c, note) =
            decompress(&out[..], LayerType::Zstd, "application/vnd.oci.image.layer.v1.tar+zstd").unwrap();
        assert_eq!(c, Compression::Gzip);
        assert!(note.unwrap().contains("says Zstd"));
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "first second");
    }

    #[test]
    fn read_capped_refuses_large_documents() {
        assert!(read_capped(&[0u8; 10][..], 9, "x").unwrap_err().contains("json-bytes"));
        assert_eq!(read_capped(&[0u8; 10][..], 10, "x").unwrap().len(), 10);
    }
}
