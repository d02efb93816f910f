//! The readable report: one block per platform. Colour comes from anstream, which strips it
//! when stdout is not a terminal or `NO_COLOR` is set.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use super::RenderOptions;
use crate::diag::Level;
use crate::report::{ImageReport, PlatformReport, Tool};
use crate::units::human;

const HEAD: Style = Style::new().bold();
const KEY: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan)));
const WARN: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
const ERR: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red))).bold();

/// `lts: regular support ended 2026-06-10, end of life 2028-06-30 (built-in table (…))`.
pub fn lifecycle(l: &crate::report::Lifecycle) -> String {
    use crate::report::LifecycleStatus::*;
    let d = |x: &Option<String>| x.clone().unwrap_or_else(|| "?".into());
    let what = match l.status {
        Supported => format!("supported: regular support until {}, end of life {}", d(&l.support_ends), d(&l.eol)),
        Lts => format!("lts: regular support ended {}, end of life {}", d(&l.support_ends), d(&l.eol)),
        Ended => format!("ended: end of life {}", d(&l.eol)),
        Unknown => return format!("unknown ({} {} is not in the lifecycle table)", l.distro, l.release),
    };
    match &l.source {
        Some(s) => format!("{what} ({s})"),
        None => what,
    }
}

fn tools(list: &[Tool]) -> String {
    if list.is_empty() {
        return "none".into();
    }
    list.iter()
        .map(|t| match &t.target {
            Some(target) => format!("{} ({} -> {target})", t.name, t.path),
            None => format!("{} ({})", t.name, t.path),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn render(reports: &[ImageReport], opts: RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    for r in reports {
        write!(out, "{HEAD}{}{HEAD:#}", r.reference)?;
        if let Some(d) = &r.digest {
            write!(out, "  {d}")?;
        }
        writeln!(out)?;
        if r.attestations_skipped > 0 {
            let n = crate::units::count(r.attestations_skipped as u64, "attestation manifest", "attestation manifests");
            writeln!(out, "  {n} skipped")?;
        }
        if !r.platforms_skipped.is_empty() {
            writeln!(out, "  not selected: {}", r.platforms_skipped.join(", "))?;
        }
        if r.suppressed > 0 {
            let s = if r.suppressed == 1 { "" } else { "s" };
            writeln!(out, "  {} finding{s} suppressed (--ignore, .layerscopeignore)", r.suppressed)?;
        }
        for d in &r.diagnostics {
            let style = if d.severity == Level::Error { ERR } else { WARN };
            writeln!(out, "  {style}{:?}{style:#}: {}", d.severity, d.message)?;
        }
        for f in &r.findings {
            finding(f, out)?;
        }
        for p in &r.platforms {
            platform(p, opts, out)?;
        }
    }
    Ok(())
}

fn finding(f: &crate::findings::Finding, out: &mut dyn Write) -> io::Result<()> {
    use crate::findings::Severity as S;
    let style = match f.severity {
        S::High => ERR,
        S::Medium => WARN,
        _ => Style::new(),
    };
    let paths = if f.paths.is_empty() { String::new() } else { format!(" [{}]", f.paths.join(", ")) };
    writeln!(out, "    {style}{:<6} {}{style:#} {}{paths}", f.severity.to_string(), f.id, f.message)?;
    if let (Some(layer), Some(fix)) = (f.layer, &f.fix) {
        writeln!(out, "           fix in layer #{layer}: {fix}")?;
    }
    Ok(())
}

fn platform(p: &PlatformReport, opts: RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let row = |out: &mut dyn Write, k: &str, v: String| writeln!(out, "  {KEY}{k:<18}{KEY:#}{v}");
    writeln!(out)?;
    writeln!(out, "{HEAD}{}{HEAD:#}  manifest {}", p.platform, p.manifest_digest)?;
    if let Some(os) = &p.os_release {
        let name = os.pretty_name.clone().or_else(|| os.id.clone()).unwrap_or_default();
        row(out, "os", name)?;
        if let Some(l) = &os.lifecycle {
            row(out, "os lifecycle", lifecycle(l))?;
        }
    }
    if let Some(age) = &p.image_age {
        let text = match (age.days, &age.note) {
            (Some(d), None) => format!("{d} days{}", if age.stale { " (stale)" } else { "" }),
            (Some(d), Some(n)) => format!("{d} days ({n})"),
            (None, Some(n)) => n.clone(),
            (None, None) => "unknown".into(),
        };
        row(out, "image age", text)?;
    }
    let compressed: u64 = p.layers.iter().map(|l| l.compressed_bytes).fold(0, u64::saturating_add);
    let uncompressed: u64 = p.layers.iter().map(|l| l.uncompressed_bytes).fold(0, u64::saturating_add);
    row(
        out,
        "layers",
        format!("{} ({} compressed, {} uncompressed)", p.layers.len(), human(compressed), human(uncompressed)),
    )?;
    // One line per layer: sizes, what it did to the view, what later layers lost of it, and
    // its build step, shortened to the terminal's width (COLUMNS, else 100).
    let width: usize = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(100);
    for (i, l) in p.layers.iter().enumerate() {
        let sizes = format!(
            "{} / {}  +{} ~{} -{}  lost {}",
            human(l.compressed_bytes),
            human(l.uncompressed_bytes),
            l.files_added,
            l.files_changed,
            l.files_deleted,
            human(l.lost_bytes)
        );
        let head = format!("  {KEY}{:<18}{KEY:#}{sizes}", format!("  #{i}"));
        let step = l.created_by.as_deref().map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "));
        let used = 2 + 18 + sizes.chars().count() + 2;
        match step.filter(|c| !c.is_empty()) {
            Some(c) => writeln!(out, "{head}  {}", crate::units::clip(&c, width.saturating_sub(used + 1).max(20)))?,
            None => writeln!(out, "{head}")?,
        }
    }
    row(out, "files", format!("{} regular files, {}", p.files, human(p.bytes)))?;
    let l = &p.libc;
    let mut libc = l.kind.to_string();
    if let Some(v) = &l.version {
        libc.push_str(&format!(" {v}"));
    }
    if !l.loaders.is_empty() {
        libc.push_str(&format!("; loaders {}", l.loaders.join(", ")));
    }
    row(out, "libc", libc)?;
    if let Some(v) = &l.newest_glibc_required {
        row(out, "newest GLIBC need", format!("{v} ({})", l.newest_glibc_required_by.as_deref().unwrap_or("?")))?;
    }
    let s = &p.elf_summary;
    let linkage: Vec<String> = s.by_linkage.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let machines: Vec<String> = s.by_machine.iter().map(|(k, v)| format!("{v} {k}")).collect();
    row(
        out,
        "ELF files",
        if s.total == 0 {
            "none".into()
        } else {
            format!(
                "{} ({}, {}; {}; {}; {} stripped{})",
                s.total,
                crate::units::count(s.executables, "executable", "executables"),
                crate::units::count(s.shared_libraries, "shared library", "shared libraries"),
                linkage.join(", "),
                machines.join(", "),
                s.stripped,
                if s.go_binaries > 0 { format!("; {} Go", s.go_binaries) } else { String::new() }
            )
        },
    )?;
    row(out, "shells", tools(&p.shells))?;
    row(out, "package managers", tools(&p.package_managers))?;
    let dbs: Vec<String> = p
        .package_databases
        .iter()
        .map(|d| match d.packages {
            Some(n) => format!("{} ({})", d.path, crate::units::count(n, "package", "packages")),
            None => format!("{} (count not read)", d.path),
        })
        .collect();
    row(out, "package databases", if dbs.is_empty() { "none".into() } else { dbs.join(", ") })?;
    row(out, "distroless", format!("{} ({})", p.distroless.verdict, p.distroless.reasons.join("; ")))?;
    let argv: Vec<String> = p.run.entrypoint.iter().chain(&p.run.cmd).cloned().collect();
    let start = if argv.is_empty() {
        "nothing (no Entrypoint, no Cmd)".to_string()
    } else {
        format!(
            "{}{}{}",
            argv.join(" "),
            if p.run.shell_form { " (shell form)" } else { "" },
            p.run.program.as_deref().map(|pr| format!(" -> {pr}")).unwrap_or_default()
        )
    };
    row(out, "runs", format!("{start}; {}", if p.run.can_start { "can start" } else { "CANNOT START" }))?;
    let b = &p.bloat;
    row(
        out,
        "bloat",
        format!(
            "efficiency {:.1} %, reclaimable {}, deleted {}, duplicates {}",
            b.efficiency * 100.0,
            human(b.reclaimable_bytes),
            human(b.deleted_bytes),
            human(b.duplicate_bytes)
        ),
    )?;
    if !b.categories.is_empty() {
        let cats: Vec<String> = b.categories.iter().map(|c| format!("{} {}", c.name, human(c.bytes))).collect();
        row(out, "", cats.join(", "))?;
    }
    if !b.reclaimable_files.is_empty() {
        let more = b.reclaimable_files_total.saturating_sub(10);
        let title = if more > 0 {
            format!("to reclaim (top 10 of {})", b.reclaimable_files_total)
        } else {
            "to reclaim".into()
        };
        writeln!(out, "  {KEY}{title}{KEY:#}")?;
        for f in b.reclaimable_files.iter().take(10) {
            let layers: Vec<String> = f.layers.iter().map(|l| format!("#{l}")).collect();
            let removed = f.removed_by.map(|l| format!(", deleted by #{l}")).unwrap_or_default();
            writeln!(out, "    {:>9}  {}  (written by {}{removed})", human(f.bytes), f.path, layers.join(", "))?;
        }
    }
    if !b.largest_files.is_empty() {
        writeln!(out, "  {KEY}largest files{KEY:#}")?;
        for f in &b.largest_files {
            writeln!(out, "    {:>9}  {}  (#{})", human(f.bytes), f.path, f.layer)?;
        }
    }
    if !b.duplicate_groups.is_empty() {
        writeln!(out, "  {KEY}duplicates{KEY:#}")?;
        for g in &b.duplicate_groups {
            writeln!(out, "    {:>9}  {}", human(g.bytes), g.paths.join(", "))?;
        }
    }
    if !p.findings.is_empty() {
        writeln!(out, "  {KEY}findings{KEY:#}")?;
        for f in &p.findings {
            finding(f, out)?;
        }
    }
    if opts.details {
        writeln!(out, "  {KEY}binaries{KEY:#}")?;
        for b in &p.binaries {
            let mut line = format!("    {} {} {} {}", b.path, b.machine, b.kind, b.linkage);
            if let Some(i) = &b.interpreter {
                line.push_str(&format!(" interp={i}"));
            }
            if !b.needed.is_empty() {
                line.push_str(&format!(" needs={}", b.needed.join(",")));
            }
            if !b.runpath.is_empty() || !b.rpath.is_empty() {
                line.push_str(&format!(" runpath={}", [b.rpath.clone(), b.runpath.clone()].concat().join(":")));
            }
            if let Some(g) = &b.glibc_required {
                line.push_str(&format!(" GLIBC_{g}"));
            }
            if let Some(g) = &b.go_version {
                line.push_str(&format!(" {g}"));
            }
            if !b.stripped {
                line.push_str(" not-stripped");
            }
            writeln!(out, "{line}")?;
        }
    }
    for d in &p.diagnostics {
        let style = if d.severity == Level::Error { ERR } else { WARN };
        let mut where_ = String::new();
        if let Some(l) = &d.layer {
            where_.push_str(&format!(" layer {}", crate::oci::short_digest(l)));
        }
        if let Some(path) = &d.path {
            where_.push_str(&format!(" {path}"));
        }
        writeln!(out, "  {style}{:?}{style:#}{where_}: {}", d.severity, d.message)?;
    }
    Ok(())
}
