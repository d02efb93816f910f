//! Options every image-reading subcommand shares (`--quiet`, `--limit`, registry access, the
//! lifecycle's clock and data, suppressions), those of the ones that write a report
//! (`--output`, `--color`), and writing the output to stdout or a file.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context as _;

use layerscope::detect::lifecycle::EolData;
use layerscope::detect::Policy;
use layerscope::limits::Limits;
use layerscope::source::registry::RegistryOptions;
use layerscope::source::Prefer;

/// The options of every subcommand that writes a report: those that read images, and where and
/// how the output goes.
#[derive(clap::Args, Default)]
pub struct Common {
    /// Where the output goes, repeatable: FILE (in --format), FORMAT=FILE (e.g. json=r.json,
    /// sarif=r.sarif), FORMAT alone (to stdout), or - (stdout).
    #[arg(long, short, value_name = "[FORMAT=]FILE")]
    pub output: Vec<String>,
    /// Colour in text output: auto (on a terminal only, NO_COLOR respected), always, never.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
    #[command(flatten)]
    pub reading: Reading,
}

impl std::ops::Deref for Common {
    type Target = Reading;
    fn deref(&self) -> &Reading {
        &self.reading
    }
}

/// The options of every subcommand that reads images (`explore` has these alone).
#[derive(clap::Args, Default)]
pub struct Reading {
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
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
    /// Suppress findings: ID, or ID:PATH-GLOB (only when every evidence path matches); repeatable.
    #[arg(long, value_name = "ID[:PATH-GLOB]")]
    pub ignore: Vec<String>,
    /// A file of suppressions, one `ID [PATH-GLOB]` per line, `#` comments [default:
    /// .layerscopeignore in the working directory, when there is one].
    #[arg(long, value_name = "FILE")]
    pub ignore_file: Option<PathBuf>,
    /// Keep each layer's analysis in DIR (a SQLite store, as a batch keeps) and reuse it by
    /// digest: images sharing a base read its layers once (scan, compare, explore).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// IMG-STALE when the image was built more than this many days ago.
    #[arg(long, value_name = "DAYS", default_value_t = layerscope::detect::lifecycle::STALE_DAYS)]
    pub stale_days: u32,
}

/// `--source`, for the subcommands that read image references (scan, compare).
#[derive(clap::Args, Default)]
pub struct SourceChoice {
    /// Where a bare name (not a path, not a scheme:) is read from [default: the Docker daemon
    /// when it answers and has the image, else the registry].
    #[arg(long, value_enum)]
    pub source: Option<SourceArg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceArg {
    Docker,
    Podman,
    Registry,
}

impl SourceChoice {
    pub fn prefer(&self) -> Prefer {
        match self.source {
            None => Prefer::Auto,
            Some(SourceArg::Docker) => Prefer::Docker,
            Some(SourceArg::Podman) => Prefer::Podman,
            Some(SourceArg::Registry) => Prefer::Registry,
        }
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorWhen {
    #[default]
    Auto,
    Always,
    Never,
}

fn parse_day(s: &str) -> Result<i64, String> {
    layerscope::dates::parse(s).ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD)"))
}

impl Reading {
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
        let mut ignore = Vec::new();
        for i in &self.ignore {
            ignore.push(layerscope::findings::Ignore::parse(i).map_err(anyhow::Error::msg).context("--ignore")?);
        }
        let file = self.ignore_file.clone().or_else(|| {
            let default = PathBuf::from(".layerscopeignore");
            default.is_file().then_some(default)
        });
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path).with_context(|| format!("ignore file {}", path.display()))?;
            ignore.extend(
                layerscope::findings::Ignore::parse_file(&text, &path.display().to_string())
                    .map_err(anyhow::Error::msg)?,
            );
        }
        Ok(Policy {
            ignore,
            now: self.now,
            eol_soon_days: Some(self.eol_soon_days),
            stale_days: Some(self.stale_days),
            eol_data,
            ..Policy::default()
        })
    }

    /// The `--cache` store, when one was asked for.
    pub fn cache_store(&self) -> anyhow::Result<Option<layerscope::batch::store::Store>> {
        match &self.cache {
            Some(dir) => Ok(Some(
                layerscope::batch::store::Store::open(&dir.join("layers.db"))
                    .map_err(anyhow::Error::msg)
                    .context("--cache")?,
            )),
            None => Ok(None),
        }
    }

    pub fn registry(&self) -> RegistryOptions {
        RegistryOptions {
            insecure: self.insecure_registries.clone(),
            allow_foreign_urls: self.allow_foreign_urls,
            ..RegistryOptions::default()
        }
    }
}

impl Common {
    /// The outputs asked for: (format, file or `None` for stdout), `default` to stdout when none.
    pub fn targets<F: clap::ValueEnum + Copy>(&self, default: F) -> Vec<(F, Option<PathBuf>)> {
        if self.output.is_empty() {
            return vec![(default, None)];
        }
        let file = |f: &str| (f != "-").then(|| PathBuf::from(f));
        self.output
            .iter()
            .map(|o| {
                if let Ok(f) = F::from_str(o, true) {
                    // `-o json`, as syft and grype read it: the format, on stdout.
                    return (f, None);
                }
                match o.split_once('=').and_then(|(name, path)| Some((F::from_str(name, true).ok()?, path))) {
                    Some((f, path)) => (f, file(path)),
                    None => (default, file(o)),
                }
            })
            .collect()
    }

    /// Writes every output asked for with `render` (colour only where the destination is a
    /// terminal, unless `--color` says otherwise).
    pub fn write<F: clap::ValueEnum + Copy>(
        &self,
        default: F,
        render: impl Fn(F, &mut dyn Write) -> io::Result<()>,
    ) -> anyhow::Result<()> {
        for (format, dest) in self.targets(default) {
            match dest {
                Some(path) => {
                    let f = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
                    // A file is no terminal: escapes only when asked for.
                    let mut file = io::BufWriter::new(f);
                    if self.color == ColorWhen::Always {
                        render(format, &mut file)?;
                    } else {
                        let raw: &mut dyn Write = &mut file;
                        render(format, &mut anstream::StripStream::new(raw))?;
                    }
                    file.flush()?;
                }
                None => {
                    let choice = match self.color {
                        ColorWhen::Auto => anstream::ColorChoice::Auto,
                        ColorWhen::Always => anstream::ColorChoice::AlwaysAnsi,
                        ColorWhen::Never => anstream::ColorChoice::Never,
                    };
                    let mut out = anstream::AutoStream::new(io::stdout().lock(), choice);
                    render(format, &mut out)?;
                    out.flush()?;
                }
            }
        }
        Ok(())
    }
}
