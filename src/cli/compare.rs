//! The `compare` subcommand of the binary: its arguments, the call into
//! [`layerscope::compare`], and the exit code (docs/report.md §2.6).

use layerscope::compare::{self, CompareOptions};
use layerscope::findings::FailOn;
use layerscope::oci::platform::{Platform, PlatformFilter};
use layerscope::pipeline::ScanOptions;
use layerscope::render::compare::{render, Format};

use super::common::Common;
use super::errors::{print, print_errors};
use super::exit::Exit;
use super::progress::Bars;

#[derive(clap::Args)]
pub struct CompareArgs {
    /// One image (its platforms side by side) or two (the platforms they share, or the only
    /// one of each): REF (the local Docker daemon's, else the registry's), docker://REF,
    /// docker-daemon:NAME, podman:NAME, registry:REF,
    /// - (stdin), oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], or a path.
    #[arg(required = true, num_args = 1..=2, value_name = "IMAGE")]
    images: Vec<String>,
    /// Platforms to compare, comma-separated, docker syntax (linux/amd64,linux/arm64). The first
    /// is the baseline. A named platform an image lacks is an ARCH-MISSING finding.
    #[arg(long, visible_alias = "platform", default_value = "all", value_parser = PlatformFilter::parse)]
    platforms: PlatformFilter,
    /// Platforms every image must have, comma-separated: each one missing is ARCH-MISSING.
    #[arg(long, value_delimiter = ',', value_parser = Platform::parse, value_name = "P,...")]
    expect_platforms: Vec<Platform>,
    /// Output format (of stdout and of `-o FILE`; `-o FORMAT=FILE` sets its own).
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Exit 1 when a finding (ARCH-MISSING included) is at or above this severity, or has one
    /// of these IDs.
    #[arg(long, value_parser = FailOn::parse, value_name = "SEVERITY|ID,...")]
    fail_on: Option<FailOn>,
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    source: super::common::SourceChoice,
}

pub fn run(args: CompareArgs) -> anyhow::Result<Exit> {
    let opts = CompareOptions {
        scan: ScanOptions {
            platforms: args.platforms.clone(),
            limits: args.common.limits()?,
            progress: Bars::observer(!args.common.quiet),
            registry: args.common.registry(),
            policy: args.common.policy()?,
            source: args.source.prefer(),
            verify: Default::default(),
        },
        expect: args.expect_platforms.clone(),
        // The HTML page's treemaps need each side's merged view, folded.
        usage: args.common.targets(args.format).iter().any(|(f, _)| *f == Format::Html),
    };
    let refs: Vec<&str> = args.images.iter().map(String::as_str).collect();
    let store = args.common.cache_store()?;
    let cache = store.as_ref().map(|s| layerscope::batch::StoreCache::new(s, &opts.scan));
    let outcome = match &cache {
        Some(c) => compare::compare_with(&refs, &opts, c),
        None => compare::compare(&refs, &opts),
    };
    for w in cache.as_ref().map(|c| c.warnings()).unwrap_or_default() {
        print(w);
    }
    let report = match outcome {
        Ok(r) => r,
        Err(e) => {
            print(&e);
            return Ok(Exit::Unreadable);
        }
    };
    for s in &report.sides {
        print_errors(&report.images[s.image].reference, Some(&s.platform), &s.diagnostics);
    }
    for i in &report.images {
        print_errors(&i.reference, None, &i.diagnostics);
    }
    let mut exit = Exit::Clean;
    if report.incomplete() {
        exit = exit.and(Exit::Partial);
    }
    // A platform asked for (--platforms, --expect-platforms) that an image lacks is an
    // expectation not met.
    let missing: Vec<&str> = report
        .all_findings()
        .filter(|f| f.id == layerscope::findings::ARCH_MISSING)
        .map(|f| f.message.as_str())
        .collect();
    if !missing.is_empty() {
        exit = exit.and(Exit::Tripped);
        for m in missing {
            print(m);
        }
    }
    if let Some(rule) = &args.fail_on {
        let mut failing: Vec<&str> = Vec::new();
        for f in report.all_findings().filter(|f| rule.trips(f)) {
            if !failing.contains(&f.id.as_str()) {
                failing.push(&f.id);
            }
        }
        if !failing.is_empty() {
            exit = exit.and(Exit::Tripped);
            print(format_args!("failing --fail-on ({rule}): {}", failing.join(", ")));
        }
    }
    args.common.write(args.format, |format, out| render(&report, format, out))?;
    Ok(exit)
}
