//! The `layerscope` command line: parses arguments, calls the library, maps outcomes to exit
//! codes (0 clean, 2 unreadable image or usage, 3 partial failure).

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use layerscope::app::{self, ScanOptions};
use layerscope::limits::Limits;
use layerscope::oci::platform::PlatformFilter;
use layerscope::render::{self, Format, RenderOptions};

#[derive(Parser)]
#[command(name = "layerscope", version, about = "What is really inside a container image")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan images: libc, ELF needs, shells, package managers, per platform.
    Scan(ScanArgs),
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
    /// Images: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], or a path.
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
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Raise or lower a limit on input, NAME=VALUE (e.g. --limit elf-bytes=1073741824).
    #[arg(long = "limit", value_name = "NAME=VALUE")]
    limits: Vec<String>,
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
    let args = match cli.command {
        Command::Scan(args) => args,
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
    let mut limits = Limits::default();
    for l in &args.limits {
        limits.set(l).map_err(anyhow::Error::msg).context("--limit")?;
    }
    let opts = ScanOptions { platforms: args.platform.clone(), limits, progress: !args.quiet };
    let mut reports = Vec::new();
    let mut code = 0u8;
    for image in &args.images {
        match app::scan(image, &opts) {
            Ok(r) => {
                if r.incomplete() && code == 0 {
                    code = 3;
                }
                for p in &r.platforms {
                    for d in p.diagnostics.iter().filter(|d| d.severity == layerscope::diag::Severity::Error) {
                        eprintln!(
                            "layerscope: {image} {}{}{}: {}",
                            p.platform,
                            d.layer.as_deref().map(|l| format!(" layer {l}")).unwrap_or_default(),
                            d.path.as_deref().map(|p| format!(" {p}")).unwrap_or_default(),
                            d.message
                        );
                    }
                }
                for d in r.diagnostics.iter().filter(|d| d.severity == layerscope::diag::Severity::Error) {
                    eprintln!("layerscope: {image}: {}", d.message);
                }
                reports.push(r);
            }
            Err(e) => {
                eprintln!("layerscope: {e}");
                code = 2;
            }
        }
    }
    let ropts = RenderOptions { details: args.details };
    match &args.output {
        Some(path) => {
            let mut f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
            render::render(&reports, args.format, ropts, &mut f)?;
        }
        None => {
            let mut out = anstream::stdout().lock();
            render::render(&reports, args.format, ropts, &mut out)?;
            out.flush()?;
        }
    }
    Ok(code)
}
