//! The plans of an image as text (for people) and JSON (docs/slim.md).

use std::io::{self, Write};

use serde::Serialize;

use super::closure::Kind;
use super::Plan;
use crate::units::human;

/// What `slim --format json` prints.
#[derive(Debug, Serialize)]
pub struct SlimReport {
    pub reference: String,
    /// The digest the reference resolved to, when there is one.
    pub digest: Option<String>,
    pub platforms: Vec<Plan>,
    /// What `--export` wrote, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exported: Option<super::export::Exported>,
}

pub fn json(r: &SlimReport, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, r)?;
    writeln!(out)
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

pub fn text(r: &SlimReport, out: &mut dyn Write) -> io::Result<()> {
    for p in &r.platforms {
        writeln!(out, "{}  {}", r.reference, p.platform)?;
        let prog = p.program.as_deref().map(|x| format!("  (runs {x})")).unwrap_or_default();
        writeln!(
            out,
            "  command   {}{prog}",
            if p.command.is_empty() { "(none)".into() } else { p.command.join(" ") }
        )?;
        writeln!(
            out,
            "  closure   {}, {}, {}: {} of the image's {} ({} of its {} files)",
            crate::units::count(p.closure.files, "file", "files"),
            crate::units::count(p.closure.symlinks, "symlink", "symlinks"),
            human(p.closure.bytes),
            pct(p.closure.bytes, p.image_bytes),
            human(p.image_bytes),
            pct(p.closure.files, p.image_files),
            p.image_files
        )?;
        writeln!(out, "  base      {}", p.base.suggestion)?;
        writeln!(out, "            {}", p.base.reason)?;
        writeln!(out, "  paths")?;
        for e in &p.closure.paths {
            match e.kind {
                Kind::File => writeln!(out, "    {:<48} {:>10}  {}", e.path, human(e.bytes), e.why)?,
                Kind::Symlink => writeln!(
                    out,
                    "    {:<48} {:>10}  {}",
                    format!("{} -> {}", e.path, e.target.as_deref().unwrap_or("")),
                    "link",
                    e.why
                )?,
            }
        }
        for t in &p.closure.trees {
            writeln!(out, "  runtime tree {} of {}: {} files, {}", t.path, t.interpreter, t.files, human(t.bytes))?;
        }
        if !p.maybe.is_empty() {
            writeln!(out, "  maybe (read at run time; [kept] in the closure, else add with --keep)")?;
            for m in &p.maybe {
                let files = if m.files == 1 { String::new() } else { format!(" ({} files)", m.files) };
                writeln!(
                    out,
                    "    {} {:<44} {:>10}  {}{files}",
                    if m.included { "[kept]" } else { "[    ]" },
                    m.path,
                    human(m.bytes),
                    m.reason
                )?;
            }
        }
        if !p.unresolved.is_empty() {
            writeln!(out, "  unresolved")?;
            for u in &p.unresolved {
                writeln!(out, "    {} (needed by {}): {}", u.name, u.needed_by, u.reason)?;
            }
        }
        if !p.caveats.is_empty() {
            writeln!(out, "  caveats")?;
            for c in &p.caveats {
                writeln!(out, "    {c}")?;
            }
        }
    }
    if let Some(x) = &r.exported {
        writeln!(
            out,
            "exported {} files ({}), {} symlinks, {} directories{}",
            x.files,
            human(x.bytes),
            x.symlinks,
            x.directories,
            if x.owners { ", owners set" } else { "" }
        )?;
    }
    Ok(())
}
