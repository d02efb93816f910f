//! The batch store: one SQLite file (rusqlite, SQLite bundled) holding repositories, tags,
//! images, platforms with their full JSON reports, findings, the layers each platform uses,
//! every analysed layer by digest (so later runs skip it), and one row per run. Every write is
//! one transaction; the journal is WAL, so a run killed at any point leaves what it stored.

use std::io::Read as _;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use crate::layer::LayerDelta;
use crate::pipeline::LayerKey;
use crate::report::{ImageReport, PlatformReport};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {source}")]
    Sqlite { path: String, source: rusqlite::Error },
    #[error("store {path}: {message}")]
    Other { path: String, message: String },
}

/// The store's schema version; a store of version 1 is migrated (the base OS columns added,
/// empty for what it holds), a store written by another version is refused.
const SCHEMA: i64 = 2;

/// Version 1 to 2: the base OS and its lifecycle, per platform.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE platforms ADD COLUMN os TEXT;
ALTER TABLE platforms ADD COLUMN os_status TEXT;
ALTER TABLE platforms ADD COLUMN os_eol TEXT;
UPDATE meta SET value = '2' WHERE key = 'schema';
";

const CREATE: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS repositories (
    registry TEXT NOT NULL, repository TEXT NOT NULL,
    error TEXT, listed_at TEXT NOT NULL,
    PRIMARY KEY (registry, repository));
CREATE TABLE IF NOT EXISTS tags (
    registry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
    digest TEXT, error TEXT, seen_at TEXT NOT NULL,
    PRIMARY KEY (registry, repository, tag));
CREATE TABLE IF NOT EXISTS images (
    registry TEXT NOT NULL, repository TEXT NOT NULL, digest TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')), error TEXT,
    platforms INTEGER NOT NULL, report TEXT, scanned_at TEXT NOT NULL,
    PRIMARY KEY (registry, repository, digest));
CREATE TABLE IF NOT EXISTS platforms (
    registry TEXT NOT NULL, repository TEXT NOT NULL, digest TEXT NOT NULL, position INTEGER NOT NULL,
    platform TEXT NOT NULL, manifest_digest TEXT NOT NULL, config_digest TEXT NOT NULL,
    files INTEGER NOT NULL, bytes INTEGER NOT NULL, libc TEXT NOT NULL, libc_version TEXT,
    distroless TEXT NOT NULL, efficiency REAL NOT NULL, reclaimable_bytes INTEGER NOT NULL,
    findings_high INTEGER NOT NULL, errors INTEGER NOT NULL, report TEXT NOT NULL,
    os TEXT, os_status TEXT, os_eol TEXT,
    PRIMARY KEY (registry, repository, digest, position));
CREATE TABLE IF NOT EXISTS platform_layers (
    registry TEXT NOT NULL, repository TEXT NOT NULL, digest TEXT NOT NULL, position INTEGER NOT NULL,
    layer INTEGER NOT NULL, layer_digest TEXT NOT NULL, compressed_bytes INTEGER NOT NULL,
    uncompressed_bytes INTEGER NOT NULL,
    PRIMARY KEY (registry, repository, digest, position, layer));
CREATE TABLE IF NOT EXISTS findings (
    registry TEXT NOT NULL, repository TEXT NOT NULL, digest TEXT NOT NULL,
    platform TEXT NOT NULL, id TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS findings_image ON findings (registry, repository, digest);
CREATE TABLE IF NOT EXISTS layers (
    digest TEXT NOT NULL, diff_id TEXT NOT NULL, analyser TEXT NOT NULL,
    compressed_bytes INTEGER NOT NULL, uncompressed_bytes INTEGER NOT NULL, entries INTEGER NOT NULL,
    delta BLOB NOT NULL, analysed_at TEXT NOT NULL,
    PRIMARY KEY (digest, diff_id, analyser));
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, registry TEXT NOT NULL, shard TEXT, started_at TEXT NOT NULL,
    finished_at TEXT, stats TEXT);
";

/// Largest JSON of one layer delta read back (decompressed), against a damaged store.
const MAX_DELTA_JSON: u64 = 1 << 30;

/// A store opened for a batch or a summary.
pub struct Store {
    path: String,
    conn: Mutex<Connection>,
}

/// The current time as SQLite writes it (UTC, `YYYY-MM-DD HH:MM:SS`).
const NOW: &str = "strftime('%Y-%m-%d %H:%M:%S', 'now')";

impl Store {
    /// Opens (creating when missing) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let p = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Other {
                path: p.clone(),
                message: format!("creating {}: {e}", dir.display()),
            })?;
        }
        let conn = Connection::open(path).map_err(|e| StoreError::Sqlite { path: p.clone(), source: e })?;
        let s = Store { path: p, conn: Mutex::new(conn) };
        s.with(|c| {
            c.busy_timeout(std::time::Duration::from_secs(30))?;
            c.pragma_update(None, "journal_mode", "WAL")?;
            c.pragma_update(None, "synchronous", "NORMAL")?;
            c.execute_batch(CREATE)?;
            c.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?1)", [SCHEMA.to_string()])?;
            Ok(())
        })?;
        let mut version: String =
            s.with(|c| c.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0)))?;
        if version == "1" {
            s.with(|c| {
                let tx = c.transaction()?;
                tx.execute_batch(MIGRATE_1_TO_2)?;
                tx.commit()
            })?;
            version = "2".into();
        }
        if version != SCHEMA.to_string() {
            return Err(s.other(format!("schema version {version}, this layerscope reads {SCHEMA}")));
        }
        Ok(s)
    }

    /// Opens an existing store for reading (a summary never creates one).
    pub fn open_existing(path: &Path) -> Result<Self, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Other { path: path.display().to_string(), message: "no such store".into() });
        }
        Self::open(path)
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    fn other(&self, message: impl Into<String>) -> StoreError {
        StoreError::Other { path: self.path.clone(), message: message.into() }
    }

    /// Runs `f` on the connection.
    pub fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let mut c = self.conn.lock().map_err(|_| self.other("a thread writing the store panicked"))?;
        f(&mut c).map_err(|e| StoreError::Sqlite { path: self.path.clone(), source: e })
    }

    /// Records the start of a run; returns its id.
    pub fn start_run(&self, registry: &str, shard: Option<&str>) -> Result<i64, StoreError> {
        self.with(|c| {
            c.execute(
                &format!("INSERT INTO runs (registry, shard, started_at) VALUES (?1, ?2, {NOW})"),
                params![registry, shard],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    pub fn finish_run(&self, id: i64, stats: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(&format!("UPDATE runs SET finished_at = {NOW}, stats = ?2 WHERE id = ?1"), params![id, stats])?;
            Ok(())
        })
    }

    /// Records a repository as listed (`error` when its tags could not be listed).
    pub fn put_repository(&self, registry: &str, repository: &str, error: Option<&str>) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                &format!(
                    "INSERT INTO repositories (registry, repository, error, listed_at) VALUES (?1, ?2, ?3, {NOW})
                     ON CONFLICT (registry, repository) DO UPDATE SET error = excluded.error, listed_at = excluded.listed_at"
                ),
                params![registry, repository, error],
            )?;
            Ok(())
        })
    }

    /// Records where a tag points (or why that could not be learnt).
    pub fn put_tag(
        &self,
        registry: &str,
        repository: &str,
        tag: &str,
        digest: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                &format!(
                    "INSERT INTO tags (registry, repository, tag, digest, error, seen_at) VALUES (?1, ?2, ?3, ?4, ?5, {NOW})
                     ON CONFLICT (registry, repository, tag) DO UPDATE
                     SET digest = excluded.digest, error = excluded.error, seen_at = excluded.seen_at"
                ),
                params![registry, repository, tag, digest, error],
            )?;
            Ok(())
        })
    }

    /// The status of an image already stored (`ok` or `failed`), if any.
    pub fn image_status(&self, registry: &str, repository: &str, digest: &str) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT status FROM images WHERE registry = ?1 AND repository = ?2 AND digest = ?3",
                params![registry, repository, digest],
                |r| r.get(0),
            )
            .optional()
        })
    }

    /// A repository where the manifest `digest` of `registry` is stored without error.
    pub fn image_with_digest(&self, registry: &str, digest: &str) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT repository FROM images WHERE registry = ?1 AND digest = ?2 AND status = 'ok'
                 ORDER BY repository LIMIT 1",
                params![registry, digest],
                |r| r.get(0),
            )
            .optional()
        })
    }

    /// Stores the image `digest` of repository `to` as a copy of what is stored for it in
    /// repository `from` (the same manifest: the same facts), in one transaction. The image
    /// report's `reference` and `name` name `to`.
    pub fn copy_image(&self, registry: &str, from: &str, to: &str, digest: &str) -> Result<(), StoreError> {
        let key = Image { registry, repository: to, digest };
        let reference = format!("docker://{registry}/{to}@{digest}");
        let name = format!("{registry}/{to}");
        self.with(|c| {
            let tx = c.transaction()?;
            key.clear(&tx)?;
            let args = params![registry, from, digest, to];
            tx.execute(
                &format!(
                    "INSERT INTO images (registry, repository, digest, status, error, platforms, report, scanned_at)
                     SELECT registry, ?4, digest, status, error, platforms,
                            json_set(report, '$.reference', ?5, '$.name', ?6), {NOW}
                       FROM images WHERE registry = ?1 AND repository = ?2 AND digest = ?3"
                ),
                params![registry, from, digest, to, reference, name],
            )?;
            for (table, columns) in [
                (
                    "platforms",
                    "position, platform, manifest_digest, config_digest, files, bytes, libc, libc_version, distroless,
                     efficiency, reclaimable_bytes, findings_high, errors, report, os, os_status, os_eol",
                ),
                ("platform_layers", "position, layer, layer_digest, compressed_bytes, uncompressed_bytes"),
                ("findings", "platform, id, severity, message"),
            ] {
                tx.execute(
                    &format!(
                        "INSERT INTO {table} (registry, repository, digest, {columns})
                         SELECT registry, ?4, digest, {columns} FROM {table}
                          WHERE registry = ?1 AND repository = ?2 AND digest = ?3"
                    ),
                    args,
                )?;
            }
            tx.commit()
        })
    }

    /// Stores an image that could not be read at all.
    pub fn put_failure(&self, registry: &str, repository: &str, digest: &str, error: &str) -> Result<(), StoreError> {
        let image = Image { registry, repository, digest };
        self.with(|c| {
            let tx = c.transaction()?;
            image.clear(&tx)?;
            image.insert(&tx, "failed", Some(error), 0, None)?;
            tx.commit()
        })
    }

    /// Stores an image's report: the image row, one row per platform with its full JSON, its
    /// layers and findings. Replaces what was stored for the same image, in one transaction.
    pub fn put_report(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
        report: &ImageReport,
    ) -> Result<(), StoreError> {
        let errors: Vec<String> = super::run::errors(report).collect();
        let status = if errors.is_empty() { "ok" } else { "failed" };
        let error = errors.first().map(|m| {
            if errors.len() > 1 {
                format!("{m} (and {} more errors)", errors.len() - 1)
            } else {
                m.to_string()
            }
        });
        let mut image = serde_json::to_value(report).map_err(|e| self.other(format!("report as JSON: {e}")))?;
        if let Some(o) = image.as_object_mut() {
            o.remove("platforms");
        }
        let platforms: Vec<(String, &PlatformReport)> = report
            .platforms
            .iter()
            .map(|p| serde_json::to_string(p).map(|j| (j, p)))
            .collect::<Result<_, _>>()
            .map_err(|e| self.other(format!("report as JSON: {e}")))?;
        let key = Image { registry, repository, digest };
        self.with(|c| {
            let tx = c.transaction()?;
            key.clear(&tx)?;
            key.insert(&tx, status, error.as_deref(), platforms.len() as i64, Some(&image.to_string()))?;
            for (i, (json, p)) in platforms.iter().enumerate() {
                let high = p.findings.iter().filter(|f| f.severity == crate::findings::Severity::High).count();
                let errors = p.diagnostics.iter().filter(|d| d.severity == crate::diag::Level::Error).count();
                let lifecycle = p.os_release.as_ref().and_then(|o| o.lifecycle.as_ref());
                tx.execute(
                    "INSERT INTO platforms (registry, repository, digest, position, platform, manifest_digest,
                        config_digest, files, bytes, libc, libc_version, distroless, efficiency,
                        reclaimable_bytes, findings_high, errors, report, os, os_status, os_eol)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
                    params![
                        registry,
                        repository,
                        digest,
                        i as i64,
                        p.platform,
                        p.manifest_digest,
                        p.config_digest,
                        sql_int(p.files),
                        sql_int(p.bytes),
                        p.libc.kind.as_str(),
                        p.libc.version,
                        p.distroless.verdict.as_str(),
                        p.bloat.efficiency,
                        sql_int(p.bloat.reclaimable_bytes),
                        high as i64,
                        errors as i64,
                        json,
                        lifecycle.map(|l| format!("{} {}", l.distro, l.release)),
                        lifecycle.map(|l| l.status.as_str()),
                        lifecycle.and_then(|l| l.eol.clone()),
                    ],
                )?;
                for (n, l) in p.layers.iter().enumerate() {
                    tx.execute(
                        "INSERT INTO platform_layers (registry, repository, digest, position, layer, layer_digest,
                            compressed_bytes, uncompressed_bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![
                            registry,
                            repository,
                            digest,
                            i as i64,
                            n as i64,
                            l.digest,
                            sql_int(l.compressed_bytes),
                            sql_int(l.uncompressed_bytes)
                        ],
                    )?;
                }
                for f in &p.findings {
                    key.finding(&tx, &p.platform, f)?;
                }
            }
            for f in &report.findings {
                key.finding(&tx, "", f)?;
            }
            tx.commit()
        })
    }

    /// A layer analysed before by the same analyser, if the store has it and it reads back.
    pub fn get_layer(&self, key: &LayerKey, analyser: &str) -> Result<Option<LayerDelta>, StoreError> {
        let blob: Option<Vec<u8>> = self.with(|c| {
            c.query_row(
                "SELECT delta FROM layers WHERE digest = ?1 AND diff_id = ?2 AND analyser = ?3",
                params![key.0, key.1.as_deref().unwrap_or(""), analyser],
                |r| r.get(0),
            )
            .optional()
        })?;
        let Some(blob) = blob else { return Ok(None) };
        let decoder =
            zstd::stream::read::Decoder::new(&blob[..]).map_err(|e| self.other(format!("layer {}: {e}", key.0)))?;
        let mut json = Vec::new();
        decoder
            .take(MAX_DELTA_JSON)
            .read_to_end(&mut json)
            .map_err(|e| self.other(format!("layer {}: stored analysis unreadable: {e}", key.0)))?;
        let delta = serde_json::from_slice(&json)
            .map_err(|e| self.other(format!("layer {}: stored analysis unreadable: {e}", key.0)))?;
        Ok(Some(delta))
    }

    /// Keeps a complete layer's analysis by digest.
    pub fn put_layer(&self, key: &LayerKey, analyser: &str, delta: &LayerDelta) -> Result<(), StoreError> {
        // Serialised straight into the compressor: the JSON of a big layer is never whole.
        let fail = |e: String| self.other(format!("layer {}: {e}", key.0));
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).map_err(|e| fail(e.to_string()))?;
        serde_json::to_writer(&mut encoder, delta).map_err(|e| fail(e.to_string()))?;
        let blob = encoder.finish().map_err(|e| fail(e.to_string()))?;
        self.with(|c| {
            c.execute(
                &format!(
                    "INSERT OR REPLACE INTO layers (digest, diff_id, analyser, compressed_bytes, uncompressed_bytes,
                        entries, delta, analysed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, {NOW})"
                ),
                params![
                    key.0,
                    key.1.as_deref().unwrap_or(""),
                    analyser,
                    sql_int(delta.compressed_bytes),
                    sql_int(delta.uncompressed_bytes),
                    delta.len() as i64,
                    blob
                ],
            )?;
            Ok(())
        })
    }
}

/// The key of an image's rows.
struct Image<'a> {
    registry: &'a str,
    repository: &'a str,
    digest: &'a str,
}

impl Image<'_> {
    /// Removes what was stored for the image (before it is stored again).
    fn clear(&self, tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
        for table in ["images", "platforms", "platform_layers", "findings"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE registry = ?1 AND repository = ?2 AND digest = ?3"),
                params![self.registry, self.repository, self.digest],
            )?;
        }
        Ok(())
    }

    fn insert(
        &self,
        tx: &rusqlite::Transaction,
        status: &str,
        error: Option<&str>,
        platforms: i64,
        report: Option<&str>,
    ) -> rusqlite::Result<()> {
        tx.execute(
            &format!(
                "INSERT INTO images (registry, repository, digest, status, error, platforms, report, scanned_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, {NOW})"
            ),
            params![self.registry, self.repository, self.digest, status, error, platforms, report],
        )?;
        Ok(())
    }

    /// A finding of one platform (`""` for the image's own).
    fn finding(
        &self,
        tx: &rusqlite::Transaction,
        platform: &str,
        f: &crate::findings::Finding,
    ) -> rusqlite::Result<()> {
        tx.execute(
            "INSERT INTO findings (registry, repository, digest, platform, id, severity, message)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![self.registry, self.repository, self.digest, platform, f.id, f.severity.to_string(), f.message],
        )?;
        Ok(())
    }
}

/// SQLite integers are signed 64-bit: a size past `i64::MAX` (only from a hostile image) is
/// stored as `i64::MAX`.
fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_store_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            // The schema of version 1: the platforms table without the base OS columns.
            let c = Connection::open(&path).unwrap();
            let v1 = CREATE.replace("    os TEXT, os_status TEXT, os_eol TEXT,\n", "");
            assert_ne!(v1, CREATE);
            c.execute_batch(&v1).unwrap();
            c.execute("INSERT INTO meta (key, value) VALUES ('schema', '1')", []).unwrap();
            c.execute(
                "INSERT INTO platforms VALUES ('r', 'a', 'sha256:x', 0, 'linux/amd64', 'm', 'c', 1, 2, 'glibc', NULL,
                 'full', 1.0, 0, 0, 0, '{}')",
                [],
            )
            .unwrap();
        }
        let s = Store::open(&path).unwrap();
        let (version, os): (String, Option<String>) = s
            .with(|c| {
                let v = c.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0))?;
                let os = c.query_row("SELECT os_status FROM platforms", [], |r| r.get(0))?;
                Ok((v, os))
            })
            .unwrap();
        assert_eq!((version.as_str(), os), ("2", None));
        drop(s);
        // Opened again: already version 2.
        assert!(Store::open(&path).is_ok());
        let c = Connection::open(&path).unwrap();
        c.execute("UPDATE meta SET value = '7' WHERE key = 'schema'", []).unwrap();
        drop(c);
        let e = Store::open(&path).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("schema version 7"), "{e}");
    }
}
