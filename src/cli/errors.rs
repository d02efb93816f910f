//! Error printing: one line per problem on stderr, naming the image, platform, layer and path.

use std::io;

use layerscope::diag::{Diagnostic, Level};

use super::exit::Exit;

/// Prints the error diagnostics as one line each, naming the image, platform, layer and path.
pub fn print_errors<'a>(image: &str, platform: Option<&str>, diagnostics: impl IntoIterator<Item = &'a Diagnostic>) {
    for d in diagnostics.into_iter().filter(|d| d.severity == Level::Error) {
        eprintln!(
            "layerscope: {image}{}{}{}: {}",
            platform.map(|p| format!(" {p}")).unwrap_or_default(),
            d.layer.as_deref().map(|l| format!(" layer {l}")).unwrap_or_default(),
            d.path.as_deref().map(|p| format!(" {p}")).unwrap_or_default(),
            d.message
        );
    }
}

/// Prints one line for a problem that stopped a subcommand.
pub fn print(what: impl std::fmt::Display) {
    eprintln!("layerscope: {what}");
}

/// The end of a run that failed as a whole: a closed stdout (`| head`) is not an error, anything
/// else is printed and exits 2.
pub fn fatal(e: &anyhow::Error) -> Exit {
    if e.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe) {
        return Exit::Clean;
    }
    print(format_args!("{e:#}"));
    Exit::Unreadable
}
