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
                writeln!(out, "| {} | `{}` | {} | {msg}{paths} |", f.severity, f.id, platform.unwrap_or("all"))?;
            }
        }
        writeln!(out)?;
    }
    Ok(())
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
