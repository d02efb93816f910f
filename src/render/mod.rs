//! Output formats: one file per format, each turning an [`ImageReport`] into bytes.

pub mod compare;
pub mod json;
pub mod markdown;
pub mod sarif;
pub mod text;

use std::io::{self, Write};

use crate::report::ImageReport;

/// The formats `--format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Markdown,
}

/// Options that change how a report is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    /// List every binary in the text output.
    pub details: bool,
}

/// Writes the reports in the chosen format.
pub fn render(reports: &[ImageReport], format: Format, opts: RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Text => text::render(reports, opts, out),
        Format::Json => json::render(reports, out),
        Format::Sarif => sarif::render(reports, out),
        Format::Markdown => markdown::render(reports, out),
    }
}
