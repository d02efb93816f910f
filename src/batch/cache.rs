//! The layer cache of a batch (and of `scan --cache`): layers come from the store by digest
//! when an analysis of the same analyser is there; otherwise one thread analyses a layer while
//! others wanting it wait.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};

use sha2::{Digest as _, Sha256};

use super::store::Store;
use crate::layer::LayerDelta;
use crate::pipeline::{LayerCache, LayerKey, ScanOptions};

impl StoreCache<'_> {
    /// Layers analysed, and layers taken from the store, so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.analysed.load(Ordering::Relaxed), self.from_store.load(Ordering::Relaxed))
    }

    /// Store errors met (the layers concerned are analysed again next time).
    pub fn warnings(&self) -> Vec<String> {
        self.errors.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl<'a> StoreCache<'a> {
    pub fn new(store: &'a Store, opts: &ScanOptions) -> Self {
        StoreCache {
            store,
            analyser: analyser(opts),
            busy: Mutex::new(HashSet::new()),
            done: Condvar::new(),
            analysed: AtomicU64::new(0),
            from_store: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            errors: Mutex::new(Vec::new()),
        }
    }
}

/// The name of the analyser a stored layer came from: a layer analysed by another version,
/// or with other limits, is analysed again.
pub(super) fn analyser(opts: &ScanOptions) -> String {
    let limits = format!("{:?}", opts.limits);
    let h = Sha256::digest(limits.as_bytes());
    // A layer whose diff_id was not hashed (`--verify blobs`) is not one a full scan may reuse.
    let verify = if opts.verify.is_full() { "" } else { " blobs" };
    format!("layerscope {} delta 4{verify} limits {:x}", env!("CARGO_PKG_VERSION"), u64::from_be_bytes(first8(&h)))
}

fn first8(h: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    for (d, s) in a.iter_mut().zip(h) {
        *d = *s;
    }
    a
}

/// The layer cache of a batch: the store, with each layer analysed by one thread at a time
/// (another image wanting it waits, then reads it from the store).
pub struct StoreCache<'a> {
    pub(super) store: &'a Store,
    pub(super) analyser: String,
    pub(super) busy: Mutex<HashSet<LayerKey>>,
    pub(super) done: Condvar,
    pub(super) analysed: AtomicU64,
    pub(super) from_store: AtomicU64,
    pub(super) bytes: AtomicU64,
    /// Store errors met (a layer not kept is analysed again next time; the batch goes on).
    pub(super) errors: Mutex<Vec<String>>,
}

/// Takes a layer off the busy set when dropped, even if the analysis panicked.
struct Claim<'a, 'b> {
    cache: &'a StoreCache<'b>,
    key: LayerKey,
}

impl Drop for Claim<'_, '_> {
    fn drop(&mut self) {
        if let Ok(mut busy) = self.cache.busy.lock() {
            busy.remove(&self.key);
        }
        self.cache.done.notify_all();
    }
}

impl StoreCache<'_> {
    fn stored(&self, key: &LayerKey) -> Option<LayerDelta> {
        match self.store.get_layer(key, &self.analyser) {
            Ok(d) => d,
            Err(e) => {
                self.note(e.to_string());
                None
            }
        }
    }

    fn note(&self, m: String) {
        if let Ok(mut v) = self.errors.lock() {
            v.push(m);
        }
    }
}

impl LayerCache for StoreCache<'_> {
    fn get_or_read(&self, key: &LayerKey, read: &dyn Fn() -> LayerDelta) -> LayerDelta {
        loop {
            if let Some(d) = self.stored(key) {
                self.from_store.fetch_add(1, Ordering::Relaxed);
                return d;
            }
            let Ok(mut busy) = self.busy.lock() else { return read() };
            if !busy.contains(key) {
                busy.insert(key.clone());
                break;
            }
            // Another image is analysing this layer: wait for it, then look in the store again.
            while busy.contains(key) {
                busy = match self.done.wait(busy) {
                    Ok(b) => b,
                    Err(_) => return read(),
                };
            }
        }
        let _claim = Claim { cache: self, key: key.clone() };
        // It may have been stored between the look and the claim.
        if let Some(d) = self.stored(key) {
            self.from_store.fetch_add(1, Ordering::Relaxed);
            return d;
        }
        let delta = read();
        self.analysed.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(delta.compressed_bytes, Ordering::Relaxed);
        if delta.complete && !delta.skipped {
            if let Err(e) = self.store.put_layer(key, &self.analyser, &delta) {
                self.note(e.to_string());
            }
        }
        delta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_read_without_its_diff_id_is_not_reused_by_a_full_scan() {
        let full = ScanOptions::default();
        let blobs = ScanOptions { verify: crate::layer::Verify::Blobs, ..Default::default() };
        assert_ne!(analyser(&full), analyser(&blobs));
        assert!(analyser(&blobs).contains(" blobs "), "{}", analyser(&blobs));
    }
}
