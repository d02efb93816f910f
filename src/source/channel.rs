//! The blocking side of a download running on a tokio runtime: the scanner reads a channel of
//! byte chunks; dropping the reader aborts the download (a layer given up on stops
//! transferring). Used by the registry and the local engines' sources.

use std::io::{self, Read};

/// Chunks received from a download task.
pub struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<io::Result<bytes::Bytes>>,
    current: bytes::Bytes,
    task: tokio::task::JoinHandle<()>,
}

impl ChannelReader {
    pub fn new(rx: tokio::sync::mpsc::Receiver<io::Result<bytes::Bytes>>, task: tokio::task::JoinHandle<()>) -> Self {
        ChannelReader { rx, current: bytes::Bytes::new(), task }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

impl Drop for ChannelReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}
