//! `compare` as Markdown for a pull request comment: the images, the side-by-side table with
//! differing rows in bold, then one list per kind of difference.

use std::io::{self, Write};

use super::text::{differs, headline, image_line, rows, sections, LIST_LIMIT};
use crate::compare::CompareReport;

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn code(s: &str) -> String {
    format!("`{}`", s.replace('`', "'"))
}

pub fn render(r: &CompareReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "### layerscope compare\n")?;
    for i in &r.images {
        writeln!(out, "- {}", cell(&image_line(i)))?;
        for f in &i.findings {
            writeln!(out, "  - {} {} {}", f.severity, code(&f.id), cell(&f.message))?;
        }
    }
    for d in &r.diagnostics {
        writeln!(out, "- {:?}: {}", d.severity, cell(&d.message))?;
    }
    writeln!(out)?;
    let labels: Vec<String> = r.sides.iter().map(|s| cell(&s.label)).collect();
    writeln!(out, "| | {} |", labels.join(" | "))?;
    writeln!(out, "|---|{}", "---|".repeat(r.sides.len()))?;
    for (label, values) in rows(r) {
        let label = if differs(r, label, &values) { format!("**{label}**") } else { label.to_string() };
        let values: Vec<String> = values.iter().map(|v| cell(v)).collect();
        writeln!(out, "| {label} | {} |", values.join(" | "))?;
    }
    for c in &r.comparisons {
        writeln!(out, "\n#### {}\n", cell(&headline(r, c)))?;
        for s in sections(r, c, &code) {
            writeln!(out, "**{}**\n", s.title)?;
            for line in s.lines.iter().take(LIST_LIMIT) {
                // The section title says the side; a leading `-`/`+` would start a nested list.
                let line = ["- ", "+ ", "~ "].iter().find_map(|m| line.strip_prefix(m)).unwrap_or(line);
                writeln!(out, "- {line}")?;
            }
            if s.lines.len() > LIST_LIMIT {
                writeln!(out, "- … and {} more (`--format json` lists every one)", s.lines.len() - LIST_LIMIT)?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}
