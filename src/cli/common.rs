//! Options every image-reading subcommand shares (`--quiet`, `--output`, `--limit`, registry
//! access) and writing the output to stdout or a file.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context as _;

use layerscope::limits::Limits;
use layerscope::source::registry::RegistryOptions;

#[derive(clap::Args, Default)]
pub struct Common {
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
    /// Write the output to FILE instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Raise or lower a limit on input, NAME=VALUE (e.g. --limit elf-bytes=1073741824).
    #[arg(long = "limit", value_name = "NAME=VALUE")]
    pub limits: Vec<String>,
    /// Registry host (HOST or HOST:PORT) that may be reached over plain HTTP (repeatable);
    /// localhost and 127.0.0.1 always may.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
    /// Fetch a foreign (non-distributable) layer the registry does not have from the URLs in
    /// its descriptor (https, or plain http to loopback and --insecure-registry hosts; no
    /// credentials sent; size and digest checked). Off by default.
    #[arg(long)]
    pub allow_foreign_urls: bool,
}

impl Common {
    pub fn limits(&self) -> anyhow::Result<Limits> {
        let mut limits = Limits::default();
        for l in &self.limits {
            limits.set(l).map_err(anyhow::Error::msg).context("--limit")?;
        }
        Ok(limits)
    }

    pub fn registry(&self) -> RegistryOptions {
        RegistryOptions {
            insecure: self.insecure_registries.clone(),
            allow_foreign_urls: self.allow_foreign_urls,
            ..RegistryOptions::default()
        }
    }

    /// Writes with `render` to the output file, or to stdout (colour handled by anstream).
    pub fn write(&self, render: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> anyhow::Result<()> {
        match &self.output {
            Some(path) => {
                let mut f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
                render(&mut f)?;
            }
            None => {
                let mut out = anstream::stdout().lock();
                render(&mut out)?;
                out.flush()?;
            }
        }
        Ok(())
    }
}
