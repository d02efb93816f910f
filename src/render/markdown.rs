//! A Markdown summary a CI job can post on a pull request: one table row per platform, then the
//! findings.

use std::io::{self, Write};

use crate::report::ImageReport;
use crate::units::human;

pub fn render(reports: &[ImageReport], out: &mut dyn Write) -> io::Result<()> {
    for r in reports {
        writeln!(out, "### layerscope: `{}`\n", r.reference)?;
        if let Some(d) = &r.digest {
            writeln!(out, "Digest: `{d}`\n")?;
        }
        writeln!(out, "| platform | size | libc | newest GLIBC needed | shells | package managers | distroless | base OS | efficiency | reclaimable | findings |")?;
        writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|")?;
        for p in &r.platforms {
            let size: u64 = p.layers.iter().map(|l| l.uncompressed_bytes).fold(0, u64::saturating_add);
            let names = |t: &[crate::report::Tool]| {
                if t.is_empty() {
                    "none".to_string()
                } else {
                    t.iter().map(|x| x.name.clone()).collect::<Vec<_>>().join(", ")
                }
            };
            let libc = match &p.libc.version {
                Some(v) => format!("{} {v}", p.libc.kind),
                None => p.libc.kind.to_string(),
            };
            let counts = |sev| p.findings.iter().filter(|f| f.severity == sev).count();
            use crate::findings::Severity::*;
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} % | {} | {} high, {} medium, {} low, {} info |",
                p.platform,
                human(size),
                libc,
                p.libc.newest_glibc_required.as_deref().unwrap_or("-"),
                names(&p.shells),
                names(&p.package_managers),
                p.distroless.verdict,
                base_os(p),
                p.bloat.efficiency * 100.0,
                human(p.bloat.reclaimable_bytes),
                counts(High),
                counts(Medium),
                counts(Low),
                counts(Info),
            )?;
        }
        let all: Vec<(Option<&str>, &crate::findings::Finding)> = r
            .findings
            .iter()
            .map(|f| (None, f))
            .chain(r.platforms.iter().flat_map(|p| p.findings.iter().map(move |f| (Some(p.platform.as_str()), f))))
            .collect();
        if !all.is_empty() {
            writeln!(out, "\n| severity | ID | platform | finding |")?;
            writeln!(out, "|---|---|---|---|")?;
            for (platform, f) in all {
                let msg = f.message.replace('|', "\\|");
                let paths = if f.paths.is_empty() { String::new() } else { format!(" (`{}`)", f.paths.join("`, `")) };
                let fix = match (f.layer, &f.fix) {
                    (Some(l), Some(x)) => format!(" — fix in layer #{l}: {}", x.replace('|', "\\|")),
                    _ => String::new(),
                };
                writeln!(out, "| {} | `{}` | {} | {msg}{paths}{fix} |", f.severity, f.id, platform.unwrap_or("all"))?;
            }
        }
        for p in &r.platforms {
            bytes_detail(p, out)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Where a platform's bytes went, folded: its layers with their steps, the top 10 files to
/// reclaim, the largest files and the duplicate groups.
fn bytes_detail(p: &crate::report::PlatformReport, out: &mut dyn Write) -> io::Result<()> {
    let cell = |s: &str| s.replace('|', "\\|");
    let b = &p.bloat;
    writeln!(out, "\n<details><summary>{}: where the bytes went</summary>\n", p.platform)?;
    writeln!(out, "| layer | compressed | uncompressed | + ~ - | lost | step |")?;
    writeln!(out, "|---|---|---|---|---|---|")?;
    for (i, l) in p.layers.iter().enumerate() {
        let step = l.created_by.as_deref().map(|c| crate::units::clip(c, 80)).unwrap_or_default();
        writeln!(
            out,
            "| #{i} | {} | {} | +{} ~{} -{} | {} | `{}` |",
            human(l.compressed_bytes),
            human(l.uncompressed_bytes),
            l.files_added,
            l.files_changed,
            l.files_deleted,
            human(l.lost_bytes),
            cell(&step)
        )?;
    }
    if !b.reclaimable_files.is_empty() {
        writeln!(out, "\nTo reclaim ({} files in all):\n", b.reclaimable_files_total)?;
        for f in b.reclaimable_files.iter().take(10) {
            let layers: Vec<String> = f.layers.iter().map(|l| format!("#{l}")).collect();
            let removed = f.removed_by.map(|l| format!(", deleted by #{l}")).unwrap_or_default();
            writeln!(out, "- {} `{}` (written by {}{removed})", human(f.bytes), f.path, layers.join(", "))?;
        }
    }
    if !b.largest_files.is_empty() {
        writeln!(out, "\nLargest files:\n")?;
        for f in &b.largest_files {
            writeln!(out, "- {} `{}` (#{})", human(f.bytes), f.path, f.layer)?;
        }
    }
    if !b.duplicate_groups.is_empty() {
        writeln!(out, "\nDuplicates:\n")?;
        for g in &b.duplicate_groups {
            writeln!(out, "- {}: `{}`", human(g.bytes), g.paths.join("`, `"))?;
        }
    }
    writeln!(out, "\n</details>")
}

/// `debian 12, lts until 2028-06-30`, or `-`.
fn base_os(p: &crate::report::PlatformReport) -> String {
    use crate::report::LifecycleStatus::*;
    let Some(l) = p.os_release.as_ref().and_then(|o| o.lifecycle.as_ref()) else { return "-".into() };
    let eol = l.eol.as_deref().unwrap_or("?");
    match l.status {
        Supported => format!("{} {}, supported until {eol}", l.distro, l.release),
        Lts => format!("{} {}, lts until {eol}", l.distro, l.release),
        Ended => format!("{} {}, **ended {eol}**", l.distro, l.release),
        Unknown => format!("{} {}, unknown", l.distro, l.release),
    }
}
