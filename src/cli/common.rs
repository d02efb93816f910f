//! Options every image-reading subcommand shares (`--quiet`, `--output`, `--limit`, registry
//! access, the lifecycle's clock and data) and writing the output to stdout or a file.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context as _;

use layerscope::detect::lifecycle::EolData;
use layerscope::detect::Policy;
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
    /// Judge end of life and image age on this day (YYYY-MM-DD) instead of today;
    /// SOURCE_DATE_EPOCH (seconds) also fixes it.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
    pub now: Option<i64>,
    /// Lifecycle dates in endoflife.date's JSON format ({product: [{cycle, support, eol, lts}]}),
    /// used before the built-in table.
    #[arg(long, value_name = "FILE")]
    pub eol_data: Option<PathBuf>,
    /// OS-EOL-SOON when the base OS's end of life is at most this many days away.
    #[arg(long, value_name = "DAYS", default_value_t = layerscope::detect::lifecycle::EOL_SOON_DAYS)]
    pub eol_soon_days: u32,
    /// IMG-STALE when the image was built more than this many days ago.
    #[arg(long, value_name = "DAYS", default_value_t = layerscope::detect::lifecycle::STALE_DAYS)]
    pub stale_days: u32,
}

fn parse_day(s: &str) -> Result<i64, String> {
    layerscope::dates::parse(s).ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD)"))
}

impl Common {
    pub fn limits(&self) -> anyhow::Result<Limits> {
        let mut limits = Limits::default();
        for l in &self.limits {
            limits.set(l).map_err(anyhow::Error::msg).context("--limit")?;
        }
        Ok(limits)
    }

    /// The lifecycle part of the policy: the day, the thresholds, the `--eol-data` file.
    pub fn policy(&self) -> anyhow::Result<Policy> {
        let eol_data = match &self.eol_data {
            Some(path) => {
                let bytes = std::fs::read(path).with_context(|| format!("--eol-data {}", path.display()))?;
                Some(std::sync::Arc::new(
                    EolData::parse(&bytes, &path.display().to_string()).map_err(anyhow::Error::msg)?,
                ))
            }
            None => None,
        };
        Ok(Policy {
            now: self.now,
            eol_soon_days: Some(self.eol_soon_days),
            stale_days: Some(self.stale_days),
            eol_data,
            ..Policy::default()
        })
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
