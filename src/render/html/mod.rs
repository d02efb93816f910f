//! HTML output (docs/html.md): one self-contained page per run (style, script and data inline,
//! nothing fetched), written by minijinja templates with HTML autoescaping. `scan` shows each
//! platform's treemap, layers, findings, will-it-run and binaries; `compare` the sides' treemaps
//! on one scale with the facts and differences; `summary` a batch store as a fleet dashboard.
//!
//! Everything in a page that came from an image is escaped for where it lands: the templates
//! escape text and attributes, [`embed_json`] makes the one JSON document safe inside its
//! `<script>` element, and the page script only ever sets text and attributes (never markup).
//! The page's Content-Security-Policy allows no network access and runs only the page's own
//! script (by its hash), so an inline handler that got in anyway would not run.

pub mod compare;
pub mod scan;
pub mod summary;

use std::io::{self, Write};

use minijinja::{Environment, Value};
use sha2::{Digest, Sha256};

/// A page is at most this big: the treemap is folded further until it fits.
pub const MAX_PAGE_BYTES: usize = 5_000_000;
/// Treemap nodes of a whole page (shared among its treemaps).
pub const PAGE_NODES: usize = crate::detect::usage::MAX_NODES;
/// Free text from an image (a build command, a label value, a message) is cut to this many
/// characters.
pub const TEXT_CHARS: usize = 2000;
/// Rows of the binaries table per platform, findings per table, paths per finding, labels.
pub const MAX_BINARIES: usize = 1000;
pub const MAX_FINDINGS: usize = 500;
pub const MAX_PATHS: usize = 10;
pub const MAX_LABELS: usize = 100;
pub const MAX_LAYERS: usize = 1000;

const STYLE: &str = include_str!("templates/page.css");
const SCRIPT: &str = include_str!("templates/page.js");

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Names ending in .html: HTML autoescaping (minijinja's default for them).
    for (name, source) in [
        ("base.html", include_str!("templates/base.html")),
        ("macros.html", include_str!("templates/macros.html")),
        ("scan.html", include_str!("templates/scan.html")),
        ("compare.html", include_str!("templates/compare.html")),
        ("summary.html", include_str!("templates/summary.html")),
    ] {
        // The templates are part of the program: a syntax error in one is a bug the tests catch.
        if let Err(e) = env.add_template(name, source) {
            panic!("template {name}: {e}");
        }
    }
    env.add_filter("bytes", |b: u64| crate::units::human(b));
    env
}

/// `value` as JSON that can sit inside `<script type="application/json">`: `<`, `>` and `&`
/// escaped (no `</script>`, no `<!--`), and U+2028/U+2029 too (line breaks to some parsers).
pub fn embed_json(value: &impl serde::Serialize) -> String {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn csp_hash(source: &str) -> String {
    use base64::Engine as _;
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(source.as_bytes())))
}

/// Renders `template` with `context` (a serializable page model) and `data` (the page's JSON
/// document) into a string.
fn page(template: &str, title: &str, context: Value, data: &impl serde::Serialize) -> Result<String, io::Error> {
    let env = environment();
    let tmpl = env.get_template(template).map_err(io::Error::other)?;
    let csp = format!(
        "default-src 'none'; script-src {}; style-src {}; img-src data:; base-uri 'none'; form-action 'none'",
        csp_hash(SCRIPT),
        csp_hash(STYLE)
    );
    let ctx = minijinja::context! {
        title => title,
        csp => csp,
        style => Value::from_safe_string(STYLE.to_string()),
        script => Value::from_safe_string(SCRIPT.to_string()),
        data => Value::from_safe_string(embed_json(data)),
        version => env!("CARGO_PKG_VERSION"),
        ..context
    };
    tmpl.render(ctx).map_err(io::Error::other)
}

/// How much of a report a page shows: at level 0 the constants above; each level halves the
/// treemap nodes, the rows of every table and the characters of every text.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    level: u32,
}

/// The last level tried: 78 nodes, tables of 15 rows, texts of 100 characters at most.
const LAST_LEVEL: u32 = 6;

impl Budget {
    pub fn nodes(self) -> usize {
        (PAGE_NODES >> self.level).max(50)
    }
    pub fn rows(self, max: usize) -> usize {
        (max >> self.level).max(10)
    }
    /// Text from an image, cut to this level's length (control characters but newline and tab
    /// dropped).
    pub fn text(self, s: &str) -> String {
        clip_keep_lines(s, (TEXT_CHARS >> self.level).max(100))
    }
}

/// Writes the page built for the first level whose page fits in [`MAX_PAGE_BYTES`] (the last
/// level's page when none does).
fn write_bounded(out: &mut dyn Write, mut build: impl FnMut(Budget) -> io::Result<String>) -> io::Result<()> {
    for level in 0..=LAST_LEVEL {
        let html = build(Budget { level })?;
        if html.len() <= MAX_PAGE_BYTES || level == LAST_LEVEL {
            return out.write_all(html.as_bytes());
        }
    }
    Ok(())
}

/// At most [`TEXT_CHARS`] characters of text from an image (control characters but newline
/// and tab dropped).
pub fn text(s: &str) -> String {
    clip_keep_lines(s, TEXT_CHARS)
}

fn clip_keep_lines(s: &str, n: usize) -> String {
    let keep = |c: &char| !c.is_control() || *c == '\n' || *c == '\t';
    let t: String = s.chars().filter(keep).take(n).collect();
    if s.chars().filter(keep).nth(n).is_some() {
        format!("{t}…")
    } else {
        t
    }
}
