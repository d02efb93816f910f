//! Finds a byte pattern in a stream fed chunk by chunk and keeps a few bytes after it.

use memchr::memmem::Finder;

/// Looks for the first occurrence of `pattern` across chunk boundaries and keeps `after`
/// bytes starting at the match.
pub struct Scanner {
    finder: Finder<'static>,
    after: usize,
    carry: Vec<u8>,
    found: Option<Vec<u8>>,
}

impl Scanner {
    pub fn new(pattern: &'static [u8], after: usize) -> Self {
        Scanner { finder: Finder::new(pattern), after: after.max(pattern.len()), carry: Vec::new(), found: None }
    }

    /// True once the match and the bytes after it are complete.
    pub fn done(&self) -> bool {
        self.found.as_ref().is_some_and(|f| f.len() >= self.after)
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        if self.done() {
            return;
        }
        if let Some(f) = &mut self.found {
            let need = self.after - f.len();
            f.extend_from_slice(&chunk[..need.min(chunk.len())]);
            return;
        }
        let plen = self.finder.needle().len();
        // Boundary: the tail of the previous chunk joined with the head of this one.
        if !self.carry.is_empty() {
            let head = &chunk[..chunk.len().min(plen.saturating_sub(1))];
            let mut joined = std::mem::take(&mut self.carry);
            let carry_len = joined.len();
            joined.extend_from_slice(head);
            if let Some(i) = self.finder.find(&joined) {
                if i < carry_len {
                    let mut f = joined[i..carry_len].to_vec();
                    let need = self.after - f.len();
                    f.extend_from_slice(&chunk[..need.min(chunk.len())]);
                    self.found = Some(f);
                    return;
                }
            }
        }
        if let Some(i) = self.finder.find(chunk) {
            let end = (i + self.after).min(chunk.len());
            self.found = Some(chunk[i..end].to_vec());
            return;
        }
        let keep = plen.saturating_sub(1).min(chunk.len());
        self.carry.clear();
        self.carry.extend_from_slice(&chunk[chunk.len() - keep..]);
    }

    /// The bytes from the match on, if the pattern was seen.
    pub fn result(&self) -> Option<&[u8]> {
        self.found.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_across_boundaries() {
        let data = b"xxxxGNU C Library (Debian GLIBC 2.36-9) stable release version 2.36.\nrest";
        for split in 0..data.len() {
            let mut s = Scanner::new(b"GNU C Library", 40);
            s.feed(&data[..split]);
            s.feed(&data[split..]);
            assert_eq!(&s.result().unwrap()[..13], b"GNU C Library", "split at {split}");
            assert_eq!(s.result().unwrap().len(), 40);
        }
        let mut s = Scanner::new(b"needle", 6);
        s.feed(b"no match here");
        assert!(s.result().is_none());
    }
}
