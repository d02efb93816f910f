//! JSON output: one report object per image (a JSON array when several images were scanned).

use std::io::{self, Write};

use crate::report::ImageReport;

pub fn render(reports: &[ImageReport], out: &mut dyn Write) -> io::Result<()> {
    if let [one] = reports {
        serde_json::to_writer_pretty(&mut *out, one)?;
    } else {
        serde_json::to_writer_pretty(&mut *out, reports)?;
    }
    writeln!(out)
}
