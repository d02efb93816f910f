//! The `compare` subcommand of the binary: its arguments, the call into
//! [`layerscope::compare`], and the exit code (0, 1 for --fail-on, 2 unreadable, 3 partial).

use layerscope::app::ScanOptions;
use layerscope::compare::{self, CompareOptions, Format};
use layerscope::findings::FailOn;
use layerscope::oci::platform::{Platform, PlatformFilter};

#[derive(clap::Args)]
pub struct CompareArgs {
    /// One image (its platforms side by side) or two (the platforms they share, or the only
    /// one of each): oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], or a path.
    #[arg(required = true, num_args = 1..=2, value_name = "IMAGE")]
    images: Vec<String>,
    /// Platforms to compare, comma-separated, docker syntax (linux/amd64,linux/arm64). The first
    /// is the baseline. A named platform an image lacks is an ARCH-MISSING finding.
    #[arg(long, default_value = "all", value_parser = PlatformFilter::parse)]
    platforms: PlatformFilter,
    /// Platforms every image must have, comma-separated: each one missing is ARCH-MISSING.
    #[arg(long, value_delimiter = ',', value_parser = Platform::parse, value_name = "P,...")]
    expect_platforms: Vec<Platform>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Exit 1 when a finding (ARCH-MISSING included) is at or above this severity, or has one
    /// of these IDs.
    #[arg(long, value_parser = FailOn::parse, value_name = "SEVERITY|ID,...")]
    fail_on: Option<FailOn>,
    #[command(flatten)]
    common: crate::cli_common::Common,
}

pub fn run(args: CompareArgs) -> anyhow::Result<u8> {
    let opts = CompareOptions {
        scan: ScanOptions {
            platforms: args.platforms.clone(),
            limits: args.common.limits()?,
            progress: !args.common.quiet,
            registry: args.common.registry(),
            ..Default::default()
        },
        expect: args.expect_platforms.clone(),
    };
    let refs: Vec<&str> = args.images.iter().map(String::as_str).collect();
    let report = match compare::compare(&refs, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("layerscope: {e}");
            return Ok(2);
        }
    };
    for s in &report.sides {
        crate::cli_common::print_errors(&report.images[s.image].reference, Some(&s.platform), &s.diagnostics);
    }
    for i in &report.images {
        crate::cli_common::print_errors(&i.reference, None, &i.diagnostics);
    }
    // As for scan: 3 (partial: findings may be incomplete) over 1 (--fail-on).
    let code = if report.incomplete() {
        3
    } else if args.fail_on.as_ref().is_some_and(|f| report.all_findings().any(|x| f.trips(x))) {
        1
    } else {
        0
    };
    args.common.write(|out| compare::render(&report, args.format, out))?;
    Ok(code)
}
