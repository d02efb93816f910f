//! JSON output: for one image argument its report object, for several an array with one entry
//! per argument in their order; an image that could not be read is `{reference, error}`
//! (docs/report.md §3.1).

use std::io::{self, Write};

use super::Scanned;

pub fn render(scanned: &[Scanned], out: &mut dyn Write) -> io::Result<()> {
    if let [one] = scanned {
        serde_json::to_writer_pretty(&mut *out, one)?;
    } else {
        serde_json::to_writer_pretty(&mut *out, scanned)?;
    }
    writeln!(out)
}
