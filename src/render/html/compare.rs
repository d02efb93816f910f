//! The `compare` page: the sides' treemaps next to each other on one scale (area per byte the
//! same), the side-by-side facts with the rows that differ marked, and what differs per pair of
//! sides (docs/html.md). The rows and sections are the text renderer's.

use std::io::{self, Write};

use serde::Serialize;

use super::scan::{findings, FindingsView, TreemapData};
use super::{page, text, write_bounded, Budget};
use crate::compare::CompareReport;
use crate::render::compare::text as rows;

/// Lines shown per section of differences.
const SECTION_LINES: usize = 200;

#[derive(Serialize)]
struct SideView {
    id: String,
    label: String,
    platform: String,
    bytes: u64,
    has_treemap: bool,
}

#[derive(Serialize)]
struct Row {
    label: &'static str,
    values: Vec<String>,
    differs: bool,
}

#[derive(Serialize)]
struct Section {
    title: String,
    lines: Vec<String>,
    more: usize,
}

#[derive(Serialize)]
struct ComparisonView {
    headline: String,
    sections: Vec<Section>,
}

/// Writes the page of a `compare` run.
pub fn render(r: &CompareReport, out: &mut dyn Write) -> io::Result<()> {
    let title = format!("compare {}", r.images.iter().map(|i| text(&i.reference)).collect::<Vec<_>>().join(" and "));
    let same = |s: &str| s.to_string();
    write_bounded(out, |b: Budget| {
        let sides: Vec<SideView> = r
            .sides
            .iter()
            .enumerate()
            .map(|(i, s)| SideView {
                id: format!("s{i}"),
                label: text(&s.label),
                platform: text(&s.platform),
                bytes: s.bytes,
                has_treemap: r.usage.get(i).is_some(),
            })
            .collect();
        let table: Vec<Row> = rows::rows(r)
            .into_iter()
            .map(|(label, values)| Row {
                label,
                differs: rows::differs(r, label, &values),
                values: values.iter().map(|v| b.text(v)).collect(),
            })
            .collect();
        let lines = b.rows(SECTION_LINES);
        let comparisons: Vec<ComparisonView> = r
            .comparisons
            .iter()
            .map(|c| ComparisonView {
                headline: b.text(&rows::headline(r, c)),
                sections: rows::sections(r, c, &same)
                    .into_iter()
                    .map(|s| Section {
                        title: b.text(&s.title),
                        more: s.lines.len().saturating_sub(lines),
                        lines: s.lines.iter().take(lines).map(|l| b.text(l)).collect(),
                    })
                    .collect(),
            })
            .collect();
        let images: Vec<(String, FindingsView)> =
            r.images.iter().map(|i| (b.text(&rows::image_line(i)), findings(&i.findings, b))).collect();
        let side_findings: Vec<(String, FindingsView)> =
            r.sides.iter().map(|s| (text(&s.label), findings(&s.findings, b))).collect();
        let diagnostics: Vec<String> = r.diagnostics.iter().map(|d| b.text(&d.message)).collect();
        let ctx = minijinja::context! {
            images => minijinja::Value::from(minijinja::value::Serde(&images)),
            sides => minijinja::Value::from(minijinja::value::Serde(&sides)),
            table => minijinja::Value::from(minijinja::value::Serde(&table)),
            comparisons => minijinja::Value::from(minijinja::value::Serde(&comparisons)),
            side_findings => minijinja::Value::from(minijinja::value::Serde(&side_findings)),
            diagnostics => diagnostics,
        };
        let each = (b.nodes() / r.usage.len().max(1)).max(1);
        let data: Vec<TreemapData> = r
            .usage
            .iter()
            .enumerate()
            .map(|(i, u)| super::scan::treemap_of(format!("s{i}"), &u.layers, &u.usage, each))
            .collect();
        page("compare.html", &title, ctx, &serde_json::json!({ "treemaps": data, "scale": "shared" }))
    })
}
