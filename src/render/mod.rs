//! Output formats: one file per format, each turning an [`ImageReport`] into bytes.

pub mod compare;
pub mod html;
pub mod json;
pub mod markdown;
pub mod sarif;
pub mod text;

use std::io::{self, Write};

use crate::detect::usage::Usage;
use crate::report::ImageReport;

/// The formats `--format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Markdown,
    // One self-contained page (docs/html.md).
    Html,
}

/// Options that change how a report is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    /// List every binary in the text output.
    pub details: bool,
}

/// What one image argument gave: its report, or why it could not be read at all. As JSON, the
/// report itself or `{reference, error}`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum Scanned {
    Report(Box<ImageReport>),
    Failed { reference: String, error: String },
}

/// Writes the results in the chosen format, one per image argument and in their order. JSON
/// gives the failures their place (`{reference, error}`); the other formats show the reports
/// (failures are on stderr; HTML shows them in their place).
pub fn render(scanned: &[Scanned], format: Format, opts: RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    render_with_usage(scanned, &[], format, opts, out)
}

/// [`render`], with the treemap data of each image's platforms for HTML (`usage[i]` for
/// `scanned[i]`, in the order of its platforms; a page without it has no treemaps).
pub fn render_with_usage(
    scanned: &[Scanned],
    usage: &[Vec<Usage>],
    format: Format,
    opts: RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let reports = || -> Vec<ImageReport> {
        scanned
            .iter()
            .filter_map(|s| match s {
                Scanned::Report(r) => Some((**r).clone()),
                Scanned::Failed { .. } => None,
            })
            .collect()
    };
    match format {
        Format::Text => text::render(&reports(), opts, out),
        Format::Json => json::render(scanned, out),
        Format::Sarif => sarif::render(&reports(), out),
        Format::Markdown => markdown::render(&reports(), out),
        Format::Html => {
            // The page shows the failures too, in their place.
            let pages: Vec<html::scan::Page> = scanned
                .iter()
                .enumerate()
                .map(|(i, s)| match s {
                    Scanned::Report(r) => {
                        html::scan::Page::Image { report: r, usage: usage.get(i).map(Vec::as_slice).unwrap_or(&[]) }
                    }
                    Scanned::Failed { reference, error } => html::scan::Page::Failed { reference, error },
                })
                .collect();
            html::scan::render(&pages, out)
        }
    }
}
