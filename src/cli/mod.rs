//! The `layerscope` command line: parses arguments, calls the library, maps outcomes to exit
//! codes (0 clean, 2 unreadable image or usage, 3 partial failure).

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli_batch;
mod cli_common;
mod cli_compare;

use layerscope::app::{self, ScanOptions};
use layerscope::detect::Policy;
use layerscope::findings::FailOn;
use layerscope::oci::platform::PlatformFilter;
use layerscope::render::{self, Format, RenderOptions};

#[derive(Parser)]
#[command(name = "layerscope", version, about = "What is really inside a container image")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Layers read at once (default: the CPUs this process may use, or RAYON_NUM_THREADS).
    /// Each layer's read is a pipeline of up to three threads (read and hash the blob,
    /// decompress, walk and hash the tar); `floor` reads a layer on one thread.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
}

#[derive(Subcommand)]
enum Command {
    /// Scan images: libc, ELF needs, shells, package managers, per platform.
    Scan(ScanArgs),
    /// Compare the platforms of one image, or two images platform by platform.
    Compare(cli_compare::CompareArgs),
    /// Scan every repository and tag of a registry into a SQLite store; re-runs skip what it has.
    Batch(cli_batch::BatchArgs),
    /// Print the table of one or more batch stores (text, JSON lines or CSV).
    Summary(cli_batch::SummaryArgs),
    /// Benchmark floor: decompress every layer with the scan's decoder and threads, nothing else.
    #[command(hide = true)]
    Floor {
        image: String,
        #[arg(long, default_value = "all", value_parser = PlatformFilter::parse)]
        platform: PlatformFilter,
    },
}

#[derive(clap::Args)]
struct ScanArgs {
    /// Images: docker://REF or REF (registry), oci:DIR[:TAG], oci-archive:FILE[:TAG],
    /// docker-archive:FILE[:NAME:TAG], or a path.
    #[arg(required = true)]
    images: Vec<String>,
    /// `all`, or platforms in docker syntax, comma-separated (linux/arm64/v8, arm64).
    #[arg(long, default_value = "all", value_parser = PlatformFilter::parse)]
    platform: PlatformFilter,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// List every binary (interpreter, needed libraries, RUNPATH) in the text report.
    #[arg(long)]
    details: bool,
    /// Exit 1 when a finding is at or above this severity (info, low, medium, high), or has one
    /// of these IDs (comma-separated).
    #[arg(long, value_parser = FailOn::parse, value_name = "SEVERITY|ID,...")]
    fail_on: Option<FailOn>,
    /// BLOAT-WASTE when efficiency (dive's formula, per file) is below this ratio (0..1).
    #[arg(long, value_parser = parse_ratio)]
    min_efficiency: Option<f64>,
    /// BLOAT-WASTE when reclaimable bytes exceed this (20MB, 1.5GiB, 1000000).
    #[arg(long, value_parser = parse_bytes)]
    max_reclaimable: Option<u64>,
    #[command(flatten)]
    common: cli_common::Common,
}

fn parse_ratio(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("not a number: {s:?}"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not between 0 and 1"))
    }
}

/// Parses byte sizes the way dive's rules do: a number with an optional decimal (kB, MB, GB)
/// or binary (KiB, MiB, GiB) unit.
fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("not a size: {s:?}"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024f64.powi(4),
        other => return Err(format!("unknown unit {other:?} in {s:?}")),
    };
    Ok((n * mult) as u64)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if e.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe) {
                return ExitCode::SUCCESS;
            }
            eprintln!("layerscope: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    if let Some(n) = cli.threads {
        rayon::ThreadPoolBuilder::new().num_threads(n.into()).build_global()?;
    }
    let args = match cli.command {
        Command::Scan(args) => args,
        Command::Compare(args) => return cli_compare::run(args),
        Command::Batch(args) => return cli_batch::run_batch(args),
        Command::Summary(args) => return cli_batch::run_summary(args),
        Command::Floor { image, platform } => {
            let opts = ScanOptions { platforms: platform, ..Default::default() };
            let s = app::decompress_floor(&image, &opts)?;
            println!(
                "{{\"layers\": {}, \"compressed_bytes\": {}, \"uncompressed_bytes\": {}}}",
                s.layers, s.compressed_bytes, s.uncompressed_bytes
            );
            return Ok(0);
        }
    };
    let policy = Policy { min_efficiency: args.min_efficiency, max_reclaimable: args.max_reclaimable };
    let opts = ScanOptions {
        platforms: args.platform.clone(),
        limits: args.common.limits()?,
        progress: !args.common.quiet,
        policy,
        registry: args.common.registry(),
    };
    let mut reports = Vec::new();
    let mut code = 0u8;
    for image in &args.images {
        match app::scan(image, &opts) {
            Ok(r) => {
                // Precedence: 2 (unreadable) over 3 (partial: the findings may be incomplete)
                // over 1 (a finding at or above --fail-on).
                if r.incomplete() && code != 2 {
                    code = 3;
                }
                if code == 0 && args.fail_on.as_ref().is_some_and(|f| r.all_findings().any(|x| f.trips(x))) {
                    code = 1;
                }
                for p in &r.platforms {
                    cli_common::print_errors(image, Some(&p.platform), &p.diagnostics);
                }
                cli_common::print_errors(image, None, &r.diagnostics);
                reports.push(r);
            }
            Err(e) => {
                eprintln!("layerscope: {e}");
                code = 2;
            }
        }
    }
    let ropts = RenderOptions { details: args.details };
    args.common.write(|out| render::render(&reports, args.format, ropts, out))?;
    Ok(code)
}
