//! Bounds on everything read from an image, each with a default and a name to raise it by.

use crate::error::LimitError;

/// The limits in force for one run. Every length, count and ratio taken from an image is checked
/// against one of these; exceeding one is an error that names it.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes of one JSON document (index, manifest, config, manifest.json).
    pub json_bytes: u64,
    /// Depth of nested indexes.
    pub index_depth: u64,
    /// Entries in one layer.
    pub entries_per_layer: u64,
    /// Bytes of one path.
    pub path_bytes: u64,
    /// Components of one path.
    pub path_depth: u64,
    /// Bytes of one PAX record set or GNU long name/link.
    pub extension_bytes: u64,
    /// Uncompressed bytes of one layer.
    pub layer_bytes: u64,
    /// Uncompressed / compressed ratio of one layer (checked past the first 64 MiB).
    pub compression_ratio: u64,
    /// Symlink hops while resolving one path.
    pub symlink_hops: u64,
    /// Size of an ELF file that is parsed; larger ones are skipped with a note.
    pub elf_bytes: u64,
    /// Bytes of an ELF file's head kept for parsing (the loader metadata lives there).
    pub elf_head_bytes: u64,
    /// Bytes of one small text file kept for detectors (os-release, ld.so.conf, shells).
    pub text_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            json_bytes: 4 << 20,
            index_depth: 8,
            entries_per_layer: 2_000_000,
            path_bytes: 4096,
            path_depth: 256,
            extension_bytes: 1 << 20,
            layer_bytes: 16 << 30,
            compression_ratio: 1000,
            symlink_hops: 40,
            elf_bytes: 512 << 20,
            elf_head_bytes: 16 << 20,
            text_bytes: 1 << 20,
        }
    }
}

impl Limits {
    /// Names accepted by [`Limits::set`], for the help text.
    pub const NAMES: &'static [&'static str] = &[
        "json-bytes",
        "index-depth",
        "entries-per-layer",
        "path-bytes",
        "path-depth",
        "extension-bytes",
        "layer-bytes",
        "compression-ratio",
        "symlink-hops",
        "elf-bytes",
        "elf-head-bytes",
        "text-bytes",
    ];

    /// The most `path-bytes` can be set to.
    pub const MAX_PATH_BYTES: u64 = 65_535;

    /// Sets one limit from `NAME=VALUE`.
    pub fn set(&mut self, spec: &str) -> Result<(), String> {
        let (name, value) = spec.split_once('=').ok_or_else(|| format!("expected NAME=VALUE, got {spec:?}"))?;
        let value: u64 = value.trim().parse().map_err(|_| format!("{name}: not a whole number: {value:?}"))?;
        let slot = match name.trim() {
            "json-bytes" => &mut self.json_bytes,
            "index-depth" => &mut self.index_depth,
            "entries-per-layer" => &mut self.entries_per_layer,
            "path-bytes" => &mut self.path_bytes,
            "path-depth" => &mut self.path_depth,
            "extension-bytes" => &mut self.extension_bytes,
            "layer-bytes" => &mut self.layer_bytes,
            "compression-ratio" => &mut self.compression_ratio,
            "symlink-hops" => &mut self.symlink_hops,
            "elf-bytes" => &mut self.elf_bytes,
            "elf-head-bytes" => &mut self.elf_head_bytes,
            "text-bytes" => &mut self.text_bytes,
            other => return Err(format!("unknown limit {other:?}; known: {}", Self::NAMES.join(", "))),
        };
        if name.trim() == "path-bytes" && value > Self::MAX_PATH_BYTES {
            return Err(format!("path-bytes: at most {} (a path's length is kept in 16 bits)", Self::MAX_PATH_BYTES));
        }
        *slot = value;
        Ok(())
    }

    /// Returns an error naming `name` when `value > limit`.
    pub fn check(
        name: &'static str,
        value: u64,
        limit: u64,
        detail: impl FnOnce() -> String,
    ) -> Result<(), LimitError> {
        if value > limit {
            Err(LimitError::new(name, limit, detail()))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_bytes_stops_at_16_bits() {
        let mut l = Limits::default();
        assert!(l.set("path-bytes=65535").is_ok());
        assert_eq!(l.path_bytes, 65_535);
        let e = l.set("path-bytes=65536").unwrap_err();
        assert!(e.contains("at most 65535"), "{e}");
        assert_eq!(l.path_bytes, 65_535, "a refused value changes nothing");
    }
}
