//! `layerscope summary`: one row per tag (and per repository that could not be listed) read
//! from one or more batch stores, as a text table, JSON lines or CSV.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use super::store::{Store, StoreError};

/// One row of the summary: a tag and the image it points at.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    pub registry: String,
    pub repository: String,
    /// `None` for a repository whose tags could not be listed, or an image stored by digest
    /// only (`--from` with `@DIGEST`).
    pub tag: Option<String>,
    pub digest: Option<String>,
    /// `ok`, `failed`, or `pending` (the tag is known, its image not scanned yet).
    pub status: String,
    pub error: Option<String>,
    pub platforms: Vec<String>,
    /// Bytes of regular files in the merged view of the largest platform.
    pub bytes: u64,
    /// C library per platform, distinct values (`glibc 2.36`, `musl 1.2.4`, `static`).
    pub libc: Vec<String>,
    /// Distroless verdicts, distinct values.
    pub distroless: Vec<String>,
    /// Base OS releases with their lifecycle status (`debian 12 lts until 2028-06-30`).
    pub base_os: Vec<String>,
    /// The worst lifecycle status of the platforms: `ended`, `lts`, `unknown`, `supported`; null
    /// when no platform had a distribution (or it was scanned before the lifecycle existed).
    pub os_status: Option<String>,
    /// The most reclaimable bytes of any platform.
    pub reclaimable_bytes: u64,
    /// High-severity findings of the image (all platforms and the image itself).
    pub high_findings: u64,
    /// Platforms whose Entrypoint/Cmd cannot start (the will-it-run check).
    pub cannot_start: Vec<String>,
    #[serde(skip)]
    seen_at: String,
}

/// Reads the rows of every store, sorted by registry, repository and tag. A tag present in
/// several stores (overlapping shards) is reported once, as the store that saw it last says.
pub fn rows(stores: &[&Path]) -> Result<Vec<Row>, StoreError> {
    let mut all: BTreeMap<(String, String, String), Row> = BTreeMap::new();
    for path in stores {
        let store = Store::open_existing(path)?;
        for row in store_rows(&store)? {
            let key = (row.registry.clone(), row.repository.clone(), row.tag.clone().unwrap_or_default());
            match all.get(&key) {
                Some(old) if old.seen_at > row.seen_at => {}
                _ => {
                    all.insert(key, row);
                }
            }
        }
    }
    Ok(all.into_values().collect())
}

struct PlatformRow {
    platform: String,
    bytes: i64,
    libc: String,
    libc_version: Option<String>,
    distroless: String,
    reclaimable: i64,
    os: Option<String>,
    os_status: Option<String>,
    os_eol: Option<String>,
    can_start: Option<bool>,
}

/// Worse first: what a security team looks for.
fn status_rank(s: &str) -> u8 {
    match s {
        "ended" => 0,
        "lts" => 1,
        "unknown" => 2,
        _ => 3,
    }
}

fn store_rows(store: &Store) -> Result<Vec<Row>, StoreError> {
    store.with(|c| {
        let mut out = Vec::new();
        // Tags, and images no tag points at.
        let mut q = c.prepare(
            "SELECT t.registry, t.repository, t.tag, t.digest, t.error, i.status, i.error, t.seen_at
               FROM tags t LEFT JOIN images i
                 ON i.registry = t.registry AND i.repository = t.repository AND i.digest = t.digest
             UNION ALL
             SELECT i.registry, i.repository, NULL, i.digest, NULL, i.status, i.error, i.scanned_at
               FROM images i WHERE NOT EXISTS (SELECT 1 FROM tags t
                 WHERE t.registry = i.registry AND t.repository = i.repository AND t.digest = i.digest)
             UNION ALL
             SELECT r.registry, r.repository, NULL, NULL, r.error, 'failed', NULL, r.listed_at
               FROM repositories r WHERE r.error IS NOT NULL",
        )?;
        let base: Vec<(Row, Option<String>)> = q
            .query_map([], |r| {
                let tag_error: Option<String> = r.get(4)?;
                let status: Option<String> = r.get(5)?;
                let image_error: Option<String> = r.get(6)?;
                let digest: Option<String> = r.get(3)?;
                let status = match (&tag_error, status) {
                    (Some(_), _) => "failed".to_string(),
                    (None, Some(s)) => s,
                    (None, None) => "pending".to_string(),
                };
                Ok((
                    Row {
                        registry: r.get(0)?,
                        repository: r.get(1)?,
                        tag: r.get(2)?,
                        digest: digest.clone(),
                        status,
                        error: tag_error.or(image_error),
                        platforms: Vec::new(),
                        bytes: 0,
                        libc: Vec::new(),
                        distroless: Vec::new(),
                        base_os: Vec::new(),
                        os_status: None,
                        reclaimable_bytes: 0,
                        high_findings: 0,
                        cannot_start: Vec::new(),
                        seen_at: r.get(7)?,
                    },
                    digest,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut platforms = c.prepare(
            "SELECT platform, bytes, libc, libc_version, distroless, reclaimable_bytes, os, os_status, os_eol,
                    json_extract(report, '$.run.can_start') FROM platforms
              WHERE registry = ?1 AND repository = ?2 AND digest = ?3 ORDER BY position",
        )?;
        let mut high = c.prepare(
            "SELECT COUNT(*) FROM findings WHERE registry = ?1 AND repository = ?2 AND digest = ?3 AND severity = 'high'",
        )?;
        for (mut row, digest) in base {
            if let Some(d) = digest {
                let args = rusqlite::params![row.registry, row.repository, d];
                let ps: Vec<PlatformRow> = platforms
                    .query_map(args, |r| {
                        Ok(PlatformRow {
                            platform: r.get(0)?,
                            bytes: r.get(1)?,
                            libc: r.get(2)?,
                            libc_version: r.get(3)?,
                            distroless: r.get(4)?,
                            reclaimable: r.get(5)?,
                            os: r.get(6)?,
                            os_status: r.get(7)?,
                            os_eol: r.get(8)?,
                            can_start: r.get(9)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                for p in &ps {
                    row.platforms.push(p.platform.clone());
                    if p.can_start == Some(false) {
                        row.cannot_start.push(p.platform.clone());
                    }
                    row.bytes = row.bytes.max(u64::try_from(p.bytes).unwrap_or(0));
                    row.reclaimable_bytes = row.reclaimable_bytes.max(u64::try_from(p.reclaimable).unwrap_or(0));
                    let libc = match &p.libc_version {
                        Some(v) => format!("{} {v}", p.libc),
                        None => p.libc.clone(),
                    };
                    if !row.libc.contains(&libc) {
                        row.libc.push(libc);
                    }
                    if !row.distroless.contains(&p.distroless) {
                        row.distroless.push(p.distroless.clone());
                    }
                    if let (Some(os), Some(status)) = (&p.os, &p.os_status) {
                        let eol = p.os_eol.as_deref().map(|e| format!(" until {e}")).unwrap_or_default();
                        let line = format!("{os} {status}{eol}");
                        if !row.base_os.contains(&line) {
                            row.base_os.push(line);
                        }
                        if row.os_status.as_deref().is_none_or(|w| status_rank(status) < status_rank(w)) {
                            row.os_status = Some(status.clone());
                        }
                    }
                }
                let n: i64 = high.query_row(args, |r| r.get(0))?;
                row.high_findings = u64::try_from(n).unwrap_or(0);
            }
            out.push(row);
        }
        Ok(out)
    })
}

/// Output formats of `summary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SummaryFormat {
    Text,
    /// One JSON object per line.
    Json,
    Csv,
    /// A fleet dashboard: one self-contained page (docs/html.md).
    Html,
}

/// Writes the rows in `format` (the HTML dashboard is the renderers' job:
/// `render::html::summary`, which reads these rows).
pub fn write(rows: &[Row], format: SummaryFormat, out: &mut dyn Write) -> io::Result<()> {
    match format {
        SummaryFormat::Html => {
            Err(io::Error::new(io::ErrorKind::Unsupported, "the HTML dashboard is written by render::html::summary"))
        }
        SummaryFormat::Json => {
            for r in rows {
                serde_json::to_writer(&mut *out, r)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        SummaryFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record([
                "registry",
                "repository",
                "tag",
                "digest",
                "status",
                "platforms",
                "bytes",
                "libc",
                "distroless",
                "base_os",
                "os_status",
                "reclaimable_bytes",
                "high_findings",
                "error",
            ])?;
            for r in rows {
                w.write_record([
                    r.registry.as_str(),
                    &r.repository,
                    r.tag.as_deref().unwrap_or(""),
                    r.digest.as_deref().unwrap_or(""),
                    &r.status,
                    &r.platforms.join(" "),
                    &r.bytes.to_string(),
                    &r.libc.join(" / "),
                    &r.distroless.join(" / "),
                    &r.base_os.join(" / "),
                    r.os_status.as_deref().unwrap_or(""),
                    &r.reclaimable_bytes.to_string(),
                    &r.high_findings.to_string(),
                    r.error.as_deref().unwrap_or(""),
                ])?;
            }
            w.flush()
        }
        SummaryFormat::Text => {
            let mut t = comfy_table::Table::new();
            t.load_preset(comfy_table::presets::NOTHING);
            t.set_header([
                "REPOSITORY",
                "TAG",
                "PLATFORMS",
                "SIZE",
                "LIBC",
                "DISTROLESS",
                "BASE OS",
                "RECLAIMABLE",
                "HIGH",
                "STATUS",
            ]);
            for r in rows {
                let status = match &r.error {
                    Some(e) => format!("{}: {}", r.status, crate::units::clip(e, 100)),
                    None => r.status.clone(),
                };
                t.add_row([
                    format!("{}/{}", r.registry, r.repository),
                    r.tag.clone().unwrap_or_else(|| {
                        r.digest.as_deref().map(crate::oci::short_digest).unwrap_or("-").to_string()
                    }),
                    r.platforms.join(","),
                    crate::units::human(r.bytes),
                    r.libc.join(", "),
                    r.distroless.join(", "),
                    if r.base_os.is_empty() { "-".to_string() } else { r.base_os.join(", ") },
                    crate::units::human(r.reclaimable_bytes),
                    r.high_findings.to_string(),
                    status,
                ]);
            }
            writeln!(out, "{t}")?;
            let failed = rows.iter().filter(|r| r.status == "failed").count();
            let pending = rows.iter().filter(|r| r.status == "pending").count();
            writeln!(out, "{} rows, {failed} failed, {pending} pending", rows.len())
        }
    }
}
