//! The `summary` page: a fleet dashboard of batch stores (docs/html.md). One sortable row per
//! tag, the counts by libc and by distroless verdict, the images that cannot start, the largest
//! reclaimable bytes and the images with high findings.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use super::{page, text, write_bounded, Budget};
use crate::batch::summary::Row;

/// Rows of the main table (the CSV and JSON outputs have every row).
pub const MAX_ROWS: usize = 5000;
/// Entries of each top list (reclaimable, high findings, cannot start).
pub const TOP: usize = 25;

#[derive(Serialize)]
struct RowView {
    name: String,
    tag: String,
    status: String,
    error: Option<String>,
    platforms: String,
    bytes: u64,
    libc: String,
    distroless: String,
    base_os: String,
    os_status: String,
    reclaimable: u64,
    high: u64,
    cannot_start: String,
}

fn view(r: &Row, b: Budget) -> RowView {
    RowView {
        name: b.text(&format!("{}/{}", r.registry, r.repository)),
        tag: b.text(
            &r.tag
                .clone()
                .unwrap_or_else(|| r.digest.as_deref().map(crate::oci::short_digest).unwrap_or("-").to_string()),
        ),
        status: b.text(&r.status),
        error: r.error.as_deref().map(|e| b.text(&crate::units::clip(e, 300))),
        platforms: b.text(&r.platforms.join(" ")),
        bytes: r.bytes,
        libc: b.text(&r.libc.join(", ")),
        distroless: b.text(&r.distroless.join(", ")),
        base_os: b.text(&r.base_os.join(", ")),
        os_status: b.text(r.os_status.as_deref().unwrap_or("")),
        reclaimable: r.reclaimable_bytes,
        high: r.high_findings,
        cannot_start: b.text(&r.cannot_start.join(" ")),
    }
}

/// (value, tags) pairs, most tags first.
fn counts<'a>(rows: &'a [Row], values: impl Fn(&'a Row) -> &'a [String]) -> Vec<(String, usize)> {
    let mut m: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.status == "ok") {
        for v in values(r) {
            *m.entry(v).or_default() += 1;
        }
    }
    let mut v: Vec<(String, usize)> = m.into_iter().map(|(k, n)| (text(k), n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn value<T: Serialize>(v: &T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(v))
}

/// Writes the dashboard of the rows of `summary`.
pub fn render(rows: &[Row], out: &mut dyn Write) -> io::Result<()> {
    let ok = rows.iter().filter(|r| r.status == "ok").count();
    let failed = rows.iter().filter(|r| r.status == "failed").count();
    let pending = rows.iter().filter(|r| r.status == "pending").count();
    let libc_kind = counts(rows, |r| &r.libc);
    let mut by_os: BTreeMap<String, usize> = BTreeMap::new();
    for s in rows.iter().filter_map(|r| r.os_status.as_deref()) {
        *by_os.entry(text(s)).or_default() += 1;
    }
    let mut reclaimable: Vec<&Row> = rows.iter().filter(|r| r.reclaimable_bytes > 0).collect();
    reclaimable.sort_by_key(|r| std::cmp::Reverse(r.reclaimable_bytes));
    let mut high: Vec<&Row> = rows.iter().filter(|r| r.high_findings > 0).collect();
    high.sort_by_key(|r| std::cmp::Reverse(r.high_findings));
    let cannot: Vec<&Row> = rows.iter().filter(|r| !r.cannot_start.is_empty()).collect();
    write_bounded(out, |b| {
        let top = |v: &[&Row]| v.iter().take(TOP).map(|r| view(r, b)).collect::<Vec<_>>();
        let shown = b.rows(MAX_ROWS);
        let ctx = minijinja::context! {
            total => rows.len(),
            ok => ok,
            failed => failed,
            pending => pending,
            bytes => rows.iter().map(|r| r.bytes).sum::<u64>(),
            reclaimable_total => rows.iter().map(|r| r.reclaimable_bytes).sum::<u64>(),
            libc => value(&libc_kind),
            distroless => value(&counts(rows, |r| &r.distroless)),
            os_status => value(&by_os.iter().collect::<Vec<_>>()),
            cannot_start => value(&top(&cannot)),
            cannot_start_total => cannot.len(),
            reclaimable => value(&top(&reclaimable)),
            high => value(&top(&high)),
            high_total => high.len(),
            rows => value(&rows.iter().take(shown).map(|r| view(r, b)).collect::<Vec<_>>()),
            rows_total => rows.len(),
        };
        page("summary.html", "fleet summary", ctx, &serde_json::json!({}))
    })
}
