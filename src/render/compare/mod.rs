//! `compare` output: the [`CompareReport`] as JSON (the model itself), text, Markdown or HTML.

pub mod markdown;
pub mod text;

use std::io::{self, Write};

use crate::compare::CompareReport;

/// `compare` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
    // One self-contained page (docs/html.md).
    Html,
}

/// Writes the comparison in the chosen format.
pub fn render(r: &CompareReport, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Text => text::render(r, out),
        Format::Markdown => markdown::render(r, out),
        Format::Html => crate::render::html::compare::render(r, out),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, r)?;
            writeln!(out)
        }
    }
}
