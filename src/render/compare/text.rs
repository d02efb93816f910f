//! The readable `compare` output: the images, a side-by-side table (comfy-table) with the rows
//! that differ marked, then what differs for each pair of sides. The row and section builders
//! are shared with the Markdown renderer.

use std::io::{self, Write};

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, Table};

use crate::compare::{BinaryDiff, CompareReport, Comparison, ImageInfo, PathEntry, Side};
use crate::findings::Finding;
use crate::units::human;

/// Entries listed per section in text and Markdown (JSON lists them all).
pub const LIST_LIMIT: usize = 50;

fn or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The rows of the side-by-side table: a label and one value per side. The first row (the
/// manifest digest) always differs and is not marked.
pub fn rows(r: &CompareReport) -> Vec<(&'static str, Vec<String>)> {
    let row = |label: &'static str, f: &dyn Fn(&Side) -> String| (label, r.sides.iter().map(f).collect::<Vec<_>>());
    vec![
        row("manifest", &|s| crate::oci::short_digest(&s.manifest_digest).to_string()),
        row("layers", &|s| s.layers.to_string()),
        row("compressed", &|s| human(s.compressed_bytes)),
        row("uncompressed", &|s| human(s.uncompressed_bytes)),
        row("files", &|s| format!("{} ({})", s.files, human(s.bytes))),
        row("libc", &|s| match &s.libc.version {
            Some(v) => format!("{} {v}", s.libc.kind),
            None => s.libc.kind.to_string(),
        }),
        row("newest GLIBC needed", &|s| s.libc.newest_glibc_required.clone().unwrap_or_else(|| "-".into())),
        row("loaders", &|s| or_none(&s.libc.loaders)),
        row("shells", &|s| or_none(&s.shells)),
        row("package managers", &|s| or_none(&s.package_managers)),
        row("packages", &|s| {
            let dbs: Vec<String> = s
                .package_databases
                .iter()
                .map(|d| match d.packages {
                    Some(n) => format!("{} {n}", d.path),
                    None => format!("{} (not read)", d.path),
                })
                .collect();
            or_none(&dbs)
        }),
        row("distroless", &|s| s.distroless.to_string()),
        row("base OS", &|s| match &s.lifecycle {
            Some(l) => format!(
                "{} {} {}{}",
                l.distro,
                l.release,
                l.status.as_str(),
                l.eol.as_deref().map(|e| format!(", end of life {e}")).unwrap_or_default()
            ),
            None => "-".into(),
        }),
        row("efficiency", &|s| format!("{:.1} %", s.efficiency * 100.0)),
        row("reclaimable", &|s| human(s.reclaimable_bytes)),
        row("findings", &|s| {
            let c = s.findings_by_severity;
            format!("{} high, {} medium, {} low, {} info", c.high, c.medium, c.low, c.info)
        }),
    ]
}

/// True when a row's values are not all the same. The manifest row is never marked, and
/// loaders are compared normalised (`/lib64/ld-linux-x86-64.so.2` and `/lib/ld-linux-aarch64.so.1`
/// are each platform's own loader).
pub fn differs(r: &CompareReport, label: &str, values: &[String]) -> bool {
    match label {
        "manifest" => false,
        "loaders" => {
            let norm: Vec<std::collections::BTreeSet<String>> = r
                .sides
                .iter()
                .map(|s| {
                    let n = crate::compare::normalize::Normalizer::for_platform(&s.platform);
                    s.libc.loaders.iter().map(|l| n.path(l)).collect()
                })
                .collect();
            norm.windows(2).any(|w| w[0] != w[1])
        }
        _ => values.windows(2).any(|w| w[0] != w[1]),
    }
}

/// A titled list of what differs.
pub struct Section {
    pub title: String,
    pub lines: Vec<String>,
}

fn signed(d: i64) -> String {
    if d < 0 {
        format!("-{}", human(d.unsigned_abs()))
    } else {
        format!("+{}", human(d.unsigned_abs()))
    }
}

fn path_line(sign: char, e: &PathEntry, code: &dyn Fn(&str) -> String) -> String {
    match e.kind.as_str() {
        "dir" => {
            format!("{sign} {} (directory: {} entries, {})", code(&format!("{}/", e.path)), e.entries, human(e.bytes))
        }
        "file" => format!("{sign} {} ({})", code(&e.path), human(e.bytes)),
        k => format!("{sign} {} ({k})", code(&e.path)),
    }
}

fn binary_line(b: &BinaryDiff, right_arch: &str, code: &dyn Fn(&str) -> String) -> String {
    let mut parts = Vec::new();
    for what in &b.differs {
        parts.push(match what.as_str() {
            "machine" => {
                let m = |f: &crate::compare::BinaryFacts, arch: Option<&str>| {
                    if f.native {
                        f.machine.clone()
                    } else {
                        format!("{} (foreign{})", f.machine, arch.map(|a| format!(" to {a}")).unwrap_or_default())
                    }
                };
                format!("machine {} → {}", m(&b.left, None), m(&b.right, Some(right_arch)))
            }
            "linkage" => format!("linkage {} → {}", b.left.linkage, b.right.linkage),
            "interpreter" => format!(
                "interpreter {} → {}",
                b.left.interpreter.as_deref().map(code).unwrap_or_else(|| "none".into()),
                b.right.interpreter.as_deref().map(code).unwrap_or_else(|| "none".into())
            ),
            "needed" => format!("needs {} → {}", or_none(&b.left.needed), or_none(&b.right.needed)),
            other => other.to_string(),
        });
    }
    let path = if b.left_path == b.right_path {
        code(&b.left_path)
    } else {
        format!("{} / {}", code(&b.left_path), code(&b.right_path))
    };
    format!("{path}: {}", parts.join("; "))
}

fn finding_line(f: &Finding, code: &dyn Fn(&str) -> String) -> String {
    let paths = if f.paths.is_empty() {
        String::new()
    } else {
        format!(" [{}]", f.paths.iter().map(|p| code(p)).collect::<Vec<_>>().join(", "))
    };
    format!("{} {} {}{paths}", f.severity, code(&f.id), f.message)
}

/// The sections of one comparison, empty ones left out. `code` marks up paths and names.
pub fn sections(r: &CompareReport, c: &Comparison, code: &dyn Fn(&str) -> String) -> Vec<Section> {
    let (l, rt) = (&r.sides[c.left].label, &r.sides[c.right].label);
    let right_arch =
        crate::oci::platform::Platform::parse(&r.sides[c.right].platform).map(|p| p.architecture).unwrap_or_default();
    let mut out = Vec::new();
    let mut push = |title: String, lines: Vec<String>| {
        if !lines.is_empty() {
            out.push(Section { title: format!("{title} ({})", lines.len()), lines });
        }
    };
    push(format!("only in {l}"), c.files.only_left.iter().map(|e| path_line('-', e, code)).collect());
    push(format!("only in {rt}"), c.files.only_right.iter().map(|e| path_line('+', e, code)).collect());
    push(
        "directory on one side only".into(),
        c.files.kind_changed.iter().map(|k| format!("{} {} → {}", code(&k.path), k.left, k.right)).collect(),
    );
    push("binaries that differ".into(), c.binaries.iter().map(|b| binary_line(b, &right_arch, code)).collect());
    let p = &c.packages;
    push(
        format!("packages only in {l}"),
        p.only_left.iter().map(|x| format!("- {} {} {}", x.manager, code(&x.name), x.version)).collect(),
    );
    push(
        format!("packages only in {rt}"),
        p.only_right.iter().map(|x| format!("+ {} {} {}", x.manager, code(&x.name), x.version)).collect(),
    );
    push(
        "packages at other versions".into(),
        p.different_versions
            .iter()
            .map(|x| format!("~ {} {} {} → {}", x.manager, code(&x.name), x.left, x.right))
            .collect(),
    );
    push(format!("findings only in {l}"), c.findings.only_left.iter().map(|f| finding_line(f, code)).collect());
    push(format!("findings only in {rt}"), c.findings.only_right.iter().map(|f| finding_line(f, code)).collect());
    push(
        "directories whose size differs most".into(),
        c.directories
            .iter()
            .map(|d| {
                format!(
                    "{} {} → {} ({})",
                    code(&d.path),
                    human(d.left_bytes),
                    human(d.right_bytes),
                    signed(d.difference)
                )
            })
            .collect(),
    );
    out
}

/// A one-line description of a comparison's result.
pub fn headline(r: &CompareReport, c: &Comparison) -> String {
    let verdict = match (c.differences, c.directories.len()) {
        (0, 0) => "no differences".to_string(),
        (0, n) => format!(
            "no differences in files, binaries, packages or findings; {n} director{} differ in size",
            if n == 1 { "y" } else { "ies" }
        ),
        (n, _) => format!("{n} difference{}", if n == 1 { "" } else { "s" }),
    };
    format!(
        "{} → {}: {verdict} ({} paths normalised)",
        r.sides[c.left].label, r.sides[c.right].label, c.files.normalised_paths
    )
}

/// One line about an image: its label, reference, pin and what was read.
pub fn image_line(i: &ImageInfo) -> String {
    let mut s = format!("{}  {}", i.label, i.reference);
    if let Some(d) = &i.digest {
        s.push_str(&format!("  {d}"));
    }
    if i.same_as_a {
        s.push_str("  (the same image as A: read once)");
    } else {
        s.push_str(&format!("  ({} read", crate::units::count(i.layers_read as u64, "layer", "layers")));
        if i.layers_shared > 0 {
            s.push_str(&format!(", {} shared with A and not read again", i.layers_shared));
        }
        s.push(')');
    }
    s
}

pub fn render(r: &CompareReport, out: &mut dyn Write) -> io::Result<()> {
    let same = |s: &str| s.to_string();
    for i in &r.images {
        writeln!(out, "{}", image_line(i))?;
        if !i.platforms_not_selected.is_empty() {
            writeln!(out, "   not selected: {}", i.platforms_not_selected.join(", "))?;
        }
        for f in &i.findings {
            writeln!(out, "   {}", finding_line(f, &same))?;
        }
        for d in &i.diagnostics {
            writeln!(out, "   {:?}: {}", d.severity, d.message)?;
        }
    }
    for d in &r.diagnostics {
        writeln!(out, "{:?}: {}", d.severity, d.message)?;
    }
    writeln!(out)?;
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec![Cell::new("")];
    header.extend(r.sides.iter().map(|s| Cell::new(&s.label)));
    table.set_header(header);
    let mut marked = false;
    for (label, values) in rows(r) {
        let mark = differs(r, label, &values);
        marked |= mark;
        let mut cells = vec![Cell::new(if mark { format!("{label} *") } else { label.to_string() })];
        cells.extend(values.into_iter().map(Cell::new));
        table.add_row(cells);
    }
    writeln!(out, "{table}")?;
    if marked {
        writeln!(out, "* the sides differ")?;
    }
    for s in &r.sides {
        let errors = s.diagnostics.iter().filter(|d| d.severity == crate::diag::Level::Error).count();
        if errors > 0 {
            let parts = crate::units::count(errors as u64, "part", "parts");
            writeln!(out, "{}: {parts} could not be read (see --format json diagnostics)", s.label)?;
        }
    }
    for c in &r.comparisons {
        writeln!(out)?;
        writeln!(out, "{}", headline(r, c))?;
        for s in sections(r, c, &same) {
            writeln!(out, "  {}:", s.title)?;
            for line in s.lines.iter().take(LIST_LIMIT) {
                writeln!(out, "    {line}")?;
            }
            if s.lines.len() > LIST_LIMIT {
                writeln!(out, "    … and {} more (--format json lists every one)", s.lines.len() - LIST_LIMIT)?;
            }
        }
    }
    Ok(())
}
