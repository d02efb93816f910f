//! gzip decoding with ISA-L (the opt-in `isal` feature; Debian's `libisal-dev`), driven member
//! by member like [`super::GzipMembers`]: every member of a multi-member stream is decoded, zero
//! padding after the last one ends the stream without error and is left to the caller (the
//! blob digest covers it), any other byte after a member is an error. ISA-L parses each
//! member's header and checks its CRC-32 and length trailer.
//!
//! isal-rs's own reader cannot be used: after a member it takes whatever follows (the zero
//! padding) for another member, and it reads past the member's end. So this drives the
//! inflate state of isal-sys directly over a `BufRead`, giving back exactly the bytes it did
//! not use.

use std::io::{self, BufRead, Read};

use isal_sys::igzip_lib::bindings as ffi;

/// The decoder of a gzip stream of one or more members.
pub struct IsalGzip<R: BufRead> {
    inner: R,
    state: Box<ffi::inflate_state>,
    /// Inside a member (its header seen, its trailer not yet).
    in_member: bool,
    members: u64,
    done: bool,
    failed: Option<String>,
}

// SAFETY: the inflate state is plain data owned by this value; the pointers it holds point
// into buffers borrowed only for the duration of one `isal_inflate` call, and are set afresh
// before each call.
unsafe impl<R: BufRead + Send> Send for IsalGzip<R> {}

impl<R: BufRead> IsalGzip<R> {
    pub fn new(inner: R) -> Self {
        let mut state: Box<std::mem::MaybeUninit<ffi::inflate_state>> = Box::new_uninit();
        // SAFETY: isal_inflate_init initialises every field of the state it is given.
        let state = unsafe {
            ffi::isal_inflate_init(state.as_mut_ptr());
            state.assume_init()
        };
        let mut d = IsalGzip { inner, state, in_member: false, members: 0, done: false, failed: None };
        d.start_member();
        d
    }

    fn start_member(&mut self) {
        // SAFETY: the state was initialised in `new`.
        unsafe { ffi::isal_inflate_reset(&mut *self.state) };
        self.state.crc_flag = ffi::ISAL_GZIP;
        self.in_member = true;
    }

    fn fail(&mut self, m: String) -> io::Error {
        self.failed = Some(m.clone());
        io::Error::new(io::ErrorKind::InvalidData, m)
    }
}

impl<R: BufRead> Read for IsalGzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // A member that makes no progress on non-empty input twice in a row is corrupt (ISA-L
        // does not flag some bad headers).
        let mut stalled = 0;
        loop {
            if let Some(m) = &self.failed {
                return Err(io::Error::new(io::ErrorKind::InvalidData, m.clone()));
            }
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            if !self.in_member {
                let next = self.inner.fill_buf()?.first().copied();
                match next {
                    None | Some(0) => {
                        self.done = true;
                        return Ok(0);
                    }
                    Some(0x1f) => self.start_member(),
                    Some(b) => {
                        let m = format!(
                            "byte {b:#04x} after gzip member {} is neither a new member nor zero padding",
                            self.members
                        );
                        return Err(self.fail(m));
                    }
                }
            }
            let input = self.inner.fill_buf()?;
            if input.is_empty() {
                let m = format!("gzip stream ends inside member {} (deflate data cut short)", self.members + 1);
                return Err(self.fail(m));
            }
            let avail_in = u32::try_from(input.len()).unwrap_or(u32::MAX);
            let avail_out = u32::try_from(buf.len()).unwrap_or(u32::MAX);
            self.state.next_in = input.as_ptr().cast_mut();
            self.state.avail_in = avail_in;
            self.state.next_out = buf.as_mut_ptr();
            self.state.avail_out = avail_out;
            // SAFETY: next_in/avail_in describe the reader's buffer and next_out/avail_out
            // `buf`, both valid for this call; ISA-L only reads the former and writes the latter.
            let ret = unsafe { ffi::isal_inflate(&mut *self.state) };
            let used = (avail_in - self.state.avail_in) as usize;
            let produced = (avail_out - self.state.avail_out) as usize;
            self.state.next_in = std::ptr::null_mut();
            self.state.next_out = std::ptr::null_mut();
            self.inner.consume(used);
            if ret < 0 {
                let what = match ret {
                    ffi::ISAL_INCORRECT_CHECKSUM => "trailer checksum mismatch (CRC-32 or length)".to_string(),
                    r => format!("invalid deflate data (ISA-L error {r})"),
                };
                let m = format!("gzip member {}: {what}", self.members + 1);
                let e = self.fail(m);
                // What was decoded before the damage is handed out; the next read fails.
                return if produced > 0 { Ok(produced) } else { Err(e) };
            }
            if self.state.block_state == ffi::isal_block_state_ISAL_BLOCK_FINISH {
                self.in_member = false;
                self.members += 1;
            }
            if produced > 0 {
                return Ok(produced);
            }
            if used == 0 && self.in_member {
                stalled += 1;
                if stalled >= 2 {
                    let m = format!("gzip member {}: corrupt data (no progress)", self.members + 1);
                    return Err(self.fail(m));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn decode(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        IsalGzip::new(io::BufReader::with_capacity(7, bytes)).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn members_padding_and_damage() {
        let a: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let mut two = gz(&a);
        two.extend(gz(b"second member"));
        let mut want = a.clone();
        want.extend(b"second member");
        assert_eq!(decode(&two).unwrap(), want);
        // Zero padding after the last member ends the stream and is left unread.
        let mut padded = two.clone();
        padded.extend([0u8; 1000]);
        let mut r = io::BufReader::new(padded.as_slice());
        let mut out = Vec::new();
        IsalGzip::new(&mut r).read_to_end(&mut out).unwrap();
        assert_eq!(out, want);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest.len(), 1000);
        // Garbage after a member, a flipped trailer byte, a cut stream: errors.
        let mut garbage = gz(b"x");
        garbage.push(0x42);
        assert!(decode(&garbage).unwrap_err().to_string().contains("0x42"));
        let mut bad_crc = gz(b"hello");
        let n = bad_crc.len();
        bad_crc[n - 8] ^= 1;
        assert!(decode(&bad_crc).unwrap_err().to_string().contains("trailer checksum"));
        let cut = &two[..two.len() / 2];
        assert!(decode(cut).is_err());
        assert!(decode(b"\x1f\x8bnot gzip at all").is_err());
    }
}
