//! The command line: parses arguments, hands each subcommand to its file, draws progress, prints
//! errors and maps outcomes to exit codes ([`exit::Exit`]). The library never prints.

mod batch;
mod common;
mod compare;
mod config;
mod dive_rules;
mod errors;
mod exit;
mod explore;
mod progress;
mod scan;
mod slim;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use exit::Exit;
use layerscope::oci::platform::PlatformFilter;
use layerscope::pipeline::{self, ScanOptions};

/// `version --format`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum VersionFormat {
    Text,
    Json,
}

/// What `layerscope version` says, so that a speed report says which build ran.
#[derive(serde::Serialize)]
struct Build {
    version: &'static str,
    commit: &'static str,
    target: &'static str,
    /// The gzip decoder built in: zlib-rs (default), zlib-ng or isa-l.
    gzip: &'static str,
    lifecycle_table: &'static str,
}

fn build() -> Build {
    Build {
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("LAYERSCOPE_COMMIT"),
        target: env!("LAYERSCOPE_TARGET"),
        gzip: if cfg!(feature = "isal") {
            "isa-l"
        } else if cfg!(feature = "zlib-ng") {
            "zlib-ng"
        } else {
            "zlib-rs"
        },
        lifecycle_table: layerscope::detect::lifecycle::TABLE_DATE,
    }
}

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
    /// Options from FILE (TOML: long option names, at the top level or under [scan], [compare],
    /// …) [default: ./layerscope.toml, else $XDG_CONFIG_HOME/layerscope/config.toml]. Every
    /// option is also read from LAYERSCOPE_<OPTION> (LAYERSCOPE_FAIL_ON=high); the command line
    /// wins over the environment, the environment over the file.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Scan images: libc, ELF needs, shells, package managers, per platform.
    #[command(after_help = SCAN_EXAMPLES)]
    Scan(scan::ScanArgs),
    /// Compare the platforms of one image, or two images platform by platform.
    #[command(after_help = COMPARE_EXAMPLES)]
    Compare(compare::CompareArgs),
    /// Browse an image in the terminal: layers, files (merged or per layer), ELF details, findings.
    #[command(after_help = EXPLORE_EXAMPLES)]
    Explore(explore::ExploreArgs),
    /// Scan every repository and tag of a registry into a SQLite store; re-runs skip what it has.
    #[command(after_help = BATCH_EXAMPLES)]
    Batch(batch::BatchArgs),
    /// Plan a slim image: the command's file closure, the base it fits, a Dockerfile; --export
    /// writes the closure into a directory.
    #[command(after_help = SLIM_EXAMPLES)]
    Slim(slim::SlimArgs),
    /// Print the table of one or more batch stores (text, JSON lines or CSV).
    #[command(
        after_help = "Examples:\n  layerscope summary batch.db\n  layerscope summary shard-0.db shard-1.db -f csv -o fleet.csv"
    )]
    Summary(batch::SummaryArgs),
    /// Print the version, the build (commit, target, gzip decoder) and the lifecycle table's date.
    Version {
        /// text, or json for tools.
        #[arg(long, short = 'f', value_enum, default_value_t = VersionFormat::Text)]
        format: VersionFormat,
    },
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to stdout.
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff) to stdout.
    Man,
    /// Benchmark floor: decompress every layer with the scan's decoder and threads, nothing else.
    #[command(hide = true)]
    Floor {
        image: String,
        #[arg(long, default_value = "all", value_parser = PlatformFilter::parse)]
        platform: PlatformFilter,
        /// Also compute and check the blob digest and the diff_id (the verified floor).
        #[arg(long)]
        verify: bool,
    },
}

const SCAN_EXAMPLES: &str = concat!(
    "Examples:\n",
    "  layerscope scan alpine:3.20\n",
    "  layerscope scan oci:./layout --platform linux/arm64 -f json -o report.json\n",
    "  layerscope scan app.tar --fail-on high -o sarif=app.sarif -o markdown=pr.md\n\n",
    "Images: a bare REF (the local Docker daemon's image when it has it, else the registry's:\n",
    "alpine:3.20, host:5000/team/app@sha256:…), docker-daemon:NAME, podman:NAME, registry:REF or\n",
    "docker://REF, - (a docker save stream on stdin), oci:DIR[:TAG], oci-archive:FILE[:TAG],\n",
    "docker-archive:FILE[:NAME:TAG] (docker save), or a path (a directory with oci-layout, or a tar\n",
    "holding oci-layout or manifest.json)."
);

const COMPARE_EXAMPLES: &str = concat!(
    "Examples:\n",
    "  layerscope compare docker://python:3.12-slim --platforms linux/amd64,linux/arm64\n",
    "  layerscope compare oci:./before oci:./after -f markdown -o pr.md\n",
    "  layerscope compare myapp.tar --expect-platforms linux/amd64,linux/arm64\n\n",
    "Images: a bare REF (the local Docker daemon's image when it has it, else the registry's:\n",
    "alpine:3.20, host:5000/team/app@sha256:…), docker-daemon:NAME, podman:NAME, registry:REF or\n",
    "docker://REF, - (a docker save stream on stdin), oci:DIR[:TAG], oci-archive:FILE[:TAG],\n",
    "docker-archive:FILE[:NAME:TAG] (docker save), or a path (a directory with oci-layout, or a tar\n",
    "holding oci-layout or manifest.json)."
);

const EXPLORE_EXAMPLES: &str = concat!(
    "Examples:\n",
    "  layerscope explore alpine:3.20\n",
    "  layerscope explore oci:./layout --platform linux/arm64\n\n",
    "Keys: Tab pane, Up/Down move, Enter/Right expand, Left collapse, a merged/layer view,\n",
    "w reclaimable only, / filter, p next platform, f findings, ? help, q or Esc quit."
);

const SLIM_EXAMPLES: &str = concat!(
    "Examples:\n",
    "  layerscope slim oci:./layout\n",
    "  layerscope slim app.tar --platform linux/amd64 -f dockerfile > Dockerfile.slim\n",
    "  layerscope slim oci:./layout --export ./rootfs && chroot ./rootfs /app/server\n",
    "  layerscope slim oci:./layout --keep '/usr/share/zoneinfo/**' -f json --command /bin/sh -c 'date'"
);

const BATCH_EXAMPLES: &str = concat!(
    "Examples:\n",
    "  layerscope batch mirror.example:5000 --db mirror.db\n",
    "  layerscope batch mirror.example:5000 --repo 'team/**' --tag '*.*.*' --jobs 4\n",
    "  layerscope batch registry.internal --shard 0/8 --db shard-0.db"
);

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    // A later occurrence of an option replaces an earlier one: the config file's and the
    // environment's options come first, the command line's last.
    let b = build();
    let long_version: &'static str =
        Box::leak(format!("{} (commit {}, {}, gzip: {})", b.version, b.commit, b.target, b.gzip).into_boxed_str());
    let cmd = Cli::command()
        .long_version(long_version)
        .args_override_self(true)
        .mut_subcommands(|s| s.args_override_self(true));
    let args = match config::expand(&cmd, std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => return errors::fatal(&e).into(),
    };
    let cli = match cmd.try_get_matches_from(args).and_then(|m| Cli::from_arg_matches(&m)) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { Exit::Unreadable.into() } else { Exit::Clean.into() };
        }
    };
    match run(cli) {
        Ok(exit) => exit.into(),
        Err(e) => errors::fatal(&e).into(),
    }
}

fn run(cli: Cli) -> anyhow::Result<Exit> {
    if let Some(n) = cli.threads {
        rayon::ThreadPoolBuilder::new().num_threads(n.into()).build_global()?;
    }
    match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Explore(args) => explore::run(args),
        Command::Slim(args) => slim::run(args),
        Command::Batch(args) => batch::run_batch(args),
        Command::Summary(args) => batch::run_summary(args),
        Command::Version { format } => {
            let b = build();
            match format {
                VersionFormat::Json => println!("{}", serde_json::to_string_pretty(&b)?),
                VersionFormat::Text => println!(
                    "layerscope {} (commit {}, {}, gzip: {}; lifecycle table of {})",
                    b.version, b.commit, b.target, b.gzip, b.lifecycle_table
                ),
            }
            Ok(Exit::Clean)
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "layerscope", &mut std::io::stdout());
            Ok(Exit::Clean)
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(Exit::Clean)
        }
        Command::Floor { image, platform, verify } => {
            let opts = ScanOptions { platforms: platform, ..Default::default() };
            let s = pipeline::decompress_floor(&image, &opts, verify)?;
            println!(
                "{{\"layers\": {}, \"compressed_bytes\": {}, \"uncompressed_bytes\": {}, \"verified\": {}}}",
                s.layers, s.compressed_bytes, s.uncompressed_bytes, s.verified
            );
            Ok(Exit::Clean)
        }
    }
}
