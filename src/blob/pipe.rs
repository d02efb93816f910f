//! A bounded two-thread pipeline: one thread reads a stream into reusable buffers, the other
//! consumes them as a `BufRead`, so that decompression and what follows it use two cores.

use std::io::{self, BufRead, Read};

const PIPE_CHUNK: usize = 256 << 10;

/// Reads `source` on a helper thread and hands its bytes to `consume` through a bounded channel
/// of reusable buffers, so that decompression and what reads the output (hashing, tar walk) run
/// on two cores. At most a few chunks are in flight.
pub fn pipelined<R: Read + Send, T>(source: R, consume: impl FnOnce(&mut (dyn BufRead + Send)) -> T) -> T {
    use std::sync::mpsc::sync_channel;
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(4);
        let (back_tx, back_rx) = sync_channel::<Vec<u8>>(6);
        s.spawn(move || {
            let mut source = source;
            loop {
                let mut buf = back_rx.try_recv().unwrap_or_default();
                buf.resize(PIPE_CHUNK, 0);
                let (n, err) = read_full(&mut source, &mut buf);
                if n > 0 {
                    buf.truncate(n);
                    if tx.send(Ok(buf)).is_err() {
                        break;
                    }
                }
                // The bytes before an error are handed over first; the error follows them.
                if let Some(e) = err {
                    let _ = tx.send(Err(e));
                    break;
                }
                if n == 0 {
                    break;
                }
            }
        });
        let mut reader = ChannelReader { rx, back: back_tx, cur: Vec::new(), pos: 0 };
        consume(&mut reader)
    })
}

/// Fills `buf` as far as the source goes; returns the bytes read and the error that stopped it.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (filled, Some(e)),
        }
    }
    (filled, None)
}

struct ChannelReader {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    back: std::sync::mpsc::SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buf = self.fill_buf()?;
        let n = out.len().min(buf.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ChannelReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.cur.len() {
            let done = std::mem::take(&mut self.cur);
            self.pos = 0;
            if done.capacity() > 0 {
                let _ = self.back.try_send(done);
            }
            match self.rx.recv() {
                Ok(Ok(buf)) => {
                    self.cur = buf;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(&[]),
            }
        }
        Ok(self.cur.get(self.pos..).unwrap_or_default())
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.cur.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("broken stream"));
            }
            let n = buf.len().min(self.0).min(1000);
            buf[..n].fill(7);
            self.0 -= n;
            Ok(n)
        }
    }

    #[test]
    fn passes_every_byte_in_order() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let out = pipelined(&data[..], |r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v).unwrap();
            v
        });
        assert_eq!(out, data);
    }

    #[test]
    fn errors_reach_the_consumer_and_reading_again_does_not_panic() {
        let got = pipelined(Failing(600_000), |r| {
            let mut v = Vec::new();
            let e = r.read_to_end(&mut v).unwrap_err();
            assert!(r.fill_buf().unwrap().is_empty());
            (v.len(), e.to_string())
        });
        assert_eq!(got, (600_000, "broken stream".to_string()));
    }
}
