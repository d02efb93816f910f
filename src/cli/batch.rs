//! The `batch` and `summary` subcommands of the binary: their arguments, the calls into
//! [`layerscope::batch`], and the exit codes (0 all stored, 3 some image failed, 2 nothing
//! could run; docs/report.md §2.6).

use std::path::PathBuf;

use layerscope::batch::summary::{self, SummaryFormat};
use layerscope::batch::{self, BatchOptions, RunStats, Shard};
use layerscope::oci::platform::PlatformFilter;
use layerscope::pipeline::ScanOptions;
use layerscope::units::human;

use super::common::Common;
use super::errors::print;
use super::exit::Exit;
use super::progress::Bars;

/// How `batch` reports its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RunFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
pub struct BatchArgs {
    /// The registry: HOST or HOST:PORT (e.g. mirror.example:5000).
    registry: String,
    /// Only repositories matching this glob (repeatable; `*` stays within a path component,
    /// `**` crosses them).
    #[arg(long = "repo", value_name = "GLOB")]
    repos: Vec<String>,
    /// Only tags matching this glob (repeatable).
    #[arg(long = "tag", value_name = "GLOB")]
    tags: Vec<String>,
    /// Scan the repositories and tags listed in FILE (REPO[:TAG|@DIGEST] per line) instead of
    /// the registry's catalog.
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
    /// The SQLite store [default: $XDG_DATA_HOME/layerscope/batch.db or
    /// ~/.local/share/layerscope/batch.db].
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// Images scanned at once (bounds memory: each image in flight holds its layers' facts).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: u16,
    /// Take the share K (0-based, as JOB_COMPLETION_INDEX) of N of the repositories.
    #[arg(long, value_parser = Shard::parse, value_name = "K/N")]
    shard: Option<Shard>,
    /// Scan again images the store already has.
    #[arg(long)]
    rescan: bool,
    /// Scan again images stored as failed.
    #[arg(long)]
    retry_failed: bool,
    /// `all`, or platforms in docker syntax, comma-separated.
    #[arg(long, visible_alias = "platforms", default_value = "all", value_parser = PlatformFilter::parse)]
    platform: PlatformFilter,
    /// Names asked for per catalog or tag-list request.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    page_size: u32,
    /// How the run is reported on stdout.
    #[arg(long, short = 'f', value_enum, default_value_t = RunFormat::Text)]
    format: RunFormat,
    /// Which digests to check: `full` (every blob's digest and every layer's diff_id) or
    /// `blobs` (every blob's digest; a compressed layer's diff_id is not hashed: a fifth to a
    /// third of a scan's CPU; a plain or `docker save` layer is still checked in full). The
    /// report says `"verification": "blobs"`.
    #[arg(long, value_enum, hide_possible_values = true, default_value_t = layerscope::layer::Verify::Full)]
    verify: layerscope::layer::Verify,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub struct SummaryArgs {
    /// Batch stores to read (shards' stores together).
    #[arg(required = true, value_name = "DB")]
    stores: Vec<PathBuf>,
    /// Output format: a text table, JSON lines, CSV, or an HTML dashboard.
    #[arg(long, short = 'f', value_enum, default_value_t = SummaryFormat::Text)]
    format: SummaryFormat,
    /// Where the output goes, repeatable: FILE, FORMAT=FILE, FORMAT (to stdout), or -.
    #[arg(long, short, value_name = "[FORMAT=]FILE")]
    output: Vec<String>,
}

pub fn run_batch(args: BatchArgs) -> anyhow::Result<Exit> {
    if args.common.cache.is_some() {
        anyhow::bail!("batch keeps every layer's analysis in its --db store; --cache is for scan and compare");
    }
    let from = match &args.from {
        Some(f) => Some(batch::read_wanted(f, &args.registry)?),
        None => None,
    };
    let opts = BatchOptions {
        scan: ScanOptions {
            platforms: args.platform.clone(),
            limits: args.common.limits()?,
            registry: args.common.registry(),
            policy: args.common.policy()?,
            verify: args.verify,
            ..Default::default()
        },
        repos: args.repos.clone(),
        tags: args.tags.clone(),
        from,
        db: args.db.clone().unwrap_or_else(batch::default_db),
        jobs: usize::from(args.jobs),
        shard: args.shard,
        rescan: args.rescan,
        retry_failed: args.retry_failed,
        page_size: args.page_size as usize,
        progress: Bars::observer(!args.common.quiet),
    };
    let outcome = match batch::run(&args.registry, &opts) {
        Ok(o) => o,
        Err(e) => {
            print(format_args!("batch {}: {e}", args.registry));
            return Ok(Exit::Unreadable);
        }
    };
    for w in &outcome.warnings {
        print(w);
    }
    let stats = outcome.stats;
    args.common.write(args.format, |format, out| match format {
        RunFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &stats)?;
            writeln!(out)
        }
        RunFormat::Text => write_stats(&stats, out),
    })?;
    Ok(if stats.failures > 0 { Exit::Partial } else { Exit::Clean })
}

fn write_stats(s: &RunStats, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let shard = s.shard.as_deref().map(|k| format!(" (shard {k})")).unwrap_or_default();
    writeln!(out, "{}{shard}: {} repositories, {} tags, {} images", s.registry, s.repositories, s.tags, s.images)?;
    writeln!(
        out,
        "images: {} scanned, {} already stored, {} failures",
        s.images_scanned, s.images_skipped, s.failures
    )?;
    writeln!(
        out,
        "layers: {} referenced ({} references), {} analysed ({}), {} from the store",
        s.layers_referenced,
        s.layer_references,
        s.layers_analysed,
        human(s.bytes_analysed),
        s.layers_from_store
    )?;
    writeln!(out, "store: {} ({:.1} s)", s.store, s.seconds)
}

pub fn run_summary(args: SummaryArgs) -> anyhow::Result<Exit> {
    let paths: Vec<&std::path::Path> = args.stores.iter().map(PathBuf::as_path).collect();
    let rows = match summary::rows(&paths) {
        Ok(r) => r,
        Err(e) => {
            print(format_args!("summary: {e}"));
            return Ok(Exit::Unreadable);
        }
    };
    let common = Common { output: args.output.clone(), ..Default::default() };
    common.write(args.format, |format, out| match format {
        SummaryFormat::Html => layerscope::render::html::summary::render(&rows, out),
        other => summary::write(&rows, other, out),
    })?;
    Ok(Exit::Clean)
}
