//! The `scan` page: per image and platform, the headline facts, the treemap, the layers chart,
//! the findings, the will-it-run result and the binaries (docs/html.md).

use std::io::{self, Write};

use serde::Serialize;

use super::{page, text, write_bounded, Budget, MAX_BINARIES, MAX_FINDINGS, MAX_LABELS, MAX_LAYERS, MAX_PATHS};
use crate::detect::usage::Usage;
use crate::findings::Finding;
use crate::report::{ImageReport, LayerSummary, PlatformReport};

/// One image as the page shows it: its report and each platform's [`Usage`] (in the order of
/// `report.platforms`), or why it could not be read.
pub enum Page<'a> {
    Image { report: &'a ImageReport, usage: &'a [Usage] },
    Failed { reference: &'a str, error: &'a str },
}

#[derive(Serialize)]
struct ImageView {
    reference: String,
    digest: Option<String>,
    error: Option<String>,
    platforms: Vec<PlatformView>,
    findings: FindingsView,
}

#[derive(Serialize)]
pub(super) struct Fact {
    pub label: &'static str,
    pub value: String,
    /// `good`, `bad` or empty: how the value reads.
    pub tone: &'static str,
}

#[derive(Serialize)]
struct PlatformView {
    id: String,
    platform: String,
    facts: Vec<Fact>,
    layers: Vec<LayerRow>,
    layers_total: usize,
    findings: FindingsView,
    run: RunView,
    binaries: Vec<BinaryRow>,
    binaries_total: usize,
    labels: Vec<(String, String)>,
    labels_total: usize,
}

#[derive(Serialize)]
struct LayerRow {
    index: usize,
    digest: String,
    bytes: u64,
    /// Of the biggest layer: the bar's length, 0..100.
    percent: f64,
    lost_bytes: u64,
    lost_percent: f64,
    added: u64,
    changed: u64,
    deleted: u64,
    created_by: Option<String>,
    base: bool,
}

#[derive(Serialize)]
pub(super) struct FindingsView {
    pub rows: Vec<FindingRow>,
    pub total: usize,
}

#[derive(Serialize)]
pub(super) struct FindingRow {
    severity: String,
    id: String,
    message: String,
    paths: Vec<String>,
    more_paths: usize,
    fix: Option<String>,
    layer: Option<usize>,
}

#[derive(Serialize)]
struct RunView {
    can_start: bool,
    command: Vec<String>,
    shell_form: bool,
    program: Option<String>,
    interpreter: Option<String>,
    user: Option<String>,
    working_dir: Option<String>,
    problems: Vec<FindingRow>,
}

#[derive(Serialize)]
struct BinaryRow {
    path: String,
    machine: String,
    linkage: String,
    interpreter: Option<String>,
    needed: String,
    glibc: Option<String>,
    bytes: u64,
    layer: usize,
}

/// The data the page script draws the treemaps from.
#[derive(Serialize)]
pub(super) struct TreemapData {
    /// The `data-platform` of the section it belongs to.
    pub id: String,
    pub usage: Usage,
    /// Per layer: [short digest, build command (cut)].
    pub layers: Vec<(String, Option<String>)>,
}

pub(super) fn findings(list: &[Finding], b: Budget) -> FindingsView {
    let mut sorted: Vec<&Finding> = list.iter().collect();
    sorted.sort_by_key(|f| std::cmp::Reverse(f.severity));
    FindingsView {
        rows: sorted.into_iter().take(b.rows(MAX_FINDINGS)).map(|f| finding(f, b)).collect(),
        total: list.len(),
    }
}

fn finding(f: &Finding, b: Budget) -> FindingRow {
    FindingRow {
        severity: f.severity.to_string(),
        id: b.text(&f.id),
        message: b.text(&f.message),
        paths: f.paths.iter().take(b.rows(MAX_PATHS)).map(|p| b.text(p)).collect(),
        more_paths: f.paths.len().saturating_sub(b.rows(MAX_PATHS)),
        fix: f.fix.as_deref().map(|s| b.text(s)),
        layer: f.layer,
    }
}

fn short(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    text(&hex.chars().take(12).collect::<String>())
}

pub(super) fn facts(p: &PlatformReport, b: Budget) -> Vec<Fact> {
    let libc = match &p.libc.version {
        Some(v) => format!("{} {v}", p.libc.kind),
        None => p.libc.kind.to_string(),
    };
    let os = p.os_release.as_ref().and_then(|o| o.pretty_name.clone().or_else(|| o.id.clone()));
    let mut out = vec![
        Fact { label: "libc", value: b.text(&libc), tone: "" },
        Fact { label: "distroless", value: p.distroless.verdict.to_string(), tone: "" },
        Fact {
            label: "will it run",
            value: if p.run.can_start { "can start".into() } else { "cannot start".into() },
            tone: if p.run.can_start { "good" } else { "bad" },
        },
        Fact {
            label: "efficiency",
            value: format!("{:.1} %", p.bloat.efficiency * 100.0),
            tone: if p.bloat.efficiency < 0.9 { "bad" } else { "good" },
        },
        Fact { label: "reclaimable", value: crate::units::human(p.bloat.reclaimable_bytes), tone: "" },
        Fact { label: "size", value: format!("{} in {} files", crate::units::human(p.bytes), p.files), tone: "" },
        Fact { label: "layers", value: p.layers.len().to_string(), tone: "" },
    ];
    if let Some(os) = os {
        out.push(Fact { label: "base OS", value: b.text(&os), tone: "" });
    }
    if let Some(g) = &p.libc.newest_glibc_required {
        out.push(Fact { label: "newest GLIBC needed", value: b.text(g), tone: "" });
    }
    out
}

fn platform(i: usize, j: usize, p: &PlatformReport, b: Budget) -> PlatformView {
    let biggest = p.layers.iter().map(|l| l.uncompressed_bytes).max().unwrap_or(0).max(1) as f64;
    let pct = |b: u64| (b as f64 / biggest * 100.0).min(100.0);
    let layers = p
        .layers
        .iter()
        .enumerate()
        .take(b.rows(MAX_LAYERS))
        .map(|(k, l)| LayerRow {
            index: k,
            digest: short(&l.digest),
            bytes: l.uncompressed_bytes,
            percent: pct(l.uncompressed_bytes),
            lost_bytes: l.lost_bytes,
            lost_percent: pct(l.lost_bytes),
            added: l.files_added,
            changed: l.files_changed,
            deleted: l.files_deleted,
            created_by: l.created_by.as_deref().map(|s| b.text(s)),
            base: k < p.bloat.base.layers,
        })
        .collect();
    let mut binaries: Vec<BinaryRow> = p
        .binaries
        .iter()
        .take(b.rows(MAX_BINARIES))
        .map(|bin| BinaryRow {
            path: b.text(&bin.path),
            machine: b.text(&bin.machine),
            linkage: serde_json::to_value(bin.linkage)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            interpreter: bin.interpreter.as_deref().map(|s| b.text(s)),
            needed: b.text(&bin.needed.join(" ")),
            glibc: bin.glibc_required.as_deref().map(|s| b.text(s)),
            bytes: bin.size,
            layer: bin.layer,
        })
        .collect();
    binaries.sort_by(|a, b| a.path.cmp(&b.path));
    let problems: Vec<FindingRow> =
        p.findings.iter().filter(|f| f.entrypoint).take(b.rows(MAX_FINDINGS)).map(|f| finding(f, b)).collect();
    PlatformView {
        id: format!("i{i}p{j}"),
        platform: b.text(&p.platform),
        facts: facts(p, b),
        layers,
        layers_total: p.layers.len(),
        findings: findings(&p.findings, b),
        run: RunView {
            can_start: p.run.can_start,
            command: p.run.entrypoint.iter().chain(&p.run.cmd).map(|a| b.text(a)).collect(),
            shell_form: p.run.shell_form,
            program: p.run.program.as_deref().map(|s| b.text(s)),
            interpreter: p.run.script_interpreter.as_deref().map(|s| b.text(s)),
            user: p.run.user.as_deref().map(|s| b.text(s)),
            working_dir: p.run.working_dir.as_deref().map(|s| b.text(s)),
            problems,
        },
        binaries,
        binaries_total: p.binaries.len(),
        labels: p.labels.iter().take(b.rows(MAX_LABELS)).map(|(k, v)| (b.text(k), b.text(v))).collect(),
        labels_total: p.labels.len(),
    }
}

/// The treemap data of a platform, folded to `nodes`.
pub(super) fn treemap_of(id: String, layers: &[LayerSummary], usage: &Usage, nodes: usize) -> TreemapData {
    TreemapData {
        id,
        usage: usage.folded(nodes),
        layers: layers
            .iter()
            .map(|l| (short(&l.digest), l.created_by.as_deref().map(|c| crate::units::clip(c, 300))))
            .collect(),
    }
}

/// Writes the page of a `scan` run.
pub fn render(images: &[Page], out: &mut dyn Write) -> io::Result<()> {
    let maps: usize = images.iter().map(|i| if let Page::Image { usage, .. } = i { usage.len() } else { 0 }).sum();
    let title = match images {
        [Page::Image { report, .. }] => text(&report.reference),
        _ => "scan".to_string(),
    };
    write_bounded(out, |b| {
        let mut views = Vec::new();
        for (i, img) in images.iter().enumerate() {
            views.push(match img {
                Page::Image { report, .. } => ImageView {
                    reference: text(&report.reference),
                    digest: report.digest.as_deref().map(text),
                    error: None,
                    platforms: report.platforms.iter().enumerate().map(|(j, p)| platform(i, j, p, b)).collect(),
                    findings: findings(&report.findings, b),
                },
                Page::Failed { reference, error } => ImageView {
                    reference: text(reference),
                    digest: None,
                    error: Some(text(error)),
                    platforms: Vec::new(),
                    findings: findings(&[], b),
                },
            });
        }
        let each = (b.nodes() / maps.max(1)).max(1);
        let mut data = Vec::new();
        for (i, img) in images.iter().enumerate() {
            if let Page::Image { report, usage } = img {
                for (j, (p, u)) in report.platforms.iter().zip(usage.iter()).enumerate() {
                    data.push(treemap_of(format!("i{i}p{j}"), &p.layers, u, each));
                }
            }
        }
        let ctx = minijinja::context! { images => minijinja::Value::from(minijinja::value::Serde(&views)) };
        page("scan.html", &title, ctx, &serde_json::json!({ "treemaps": data, "scale": "each" }))
    })
}
