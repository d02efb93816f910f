//! The `scan` subcommand: its arguments, the scan of each image, the report on stdout or a file,
//! and the exit code (docs/report.md §2.6).

use layerscope::detect::{usage, Policy};
use layerscope::findings::FailOn;
use layerscope::oci::platform::PlatformFilter;
use layerscope::pipeline::{self, ScanOptions};
use layerscope::render::{self, Format, RenderOptions, Scanned};
use layerscope::units::parse_bytes;

use super::common::Common;
use super::errors::{print, print_errors};
use super::exit::Exit;
use super::progress::Bars;

#[derive(clap::Args)]
pub struct ScanArgs {
    /// Images: REF (the local Docker daemon's, else the registry's), docker://REF,
    /// docker-daemon:NAME, podman:NAME, registry:REF,
    /// - (stdin), oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], or a path.
    #[arg(required = true)]
    images: Vec<String>,
    /// `all`, or platforms in docker syntax, comma-separated (linux/arm64/v8, arm64).
    #[arg(long, visible_alias = "platforms", default_value = "all", value_parser = PlatformFilter::parse)]
    platform: PlatformFilter,
    /// Output format (of stdout and of `-o FILE`; `-o FORMAT=FILE` sets its own).
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
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
    /// BLOAT-DELETED-LATER when a layer deletes or overwrites more than this of what earlier
    /// layers wrote [default: 1MB].
    #[arg(long, value_parser = parse_bytes, value_name = "SIZE")]
    deleted_later_bytes: Option<u64>,
    /// BLOAT-WASTE when reclaimable bytes exceed this (20MB, 1.5GiB, 1000000).
    #[arg(long, value_parser = parse_bytes)]
    max_reclaimable: Option<u64>,
    /// dive's CI rules file (.dive-ci: lowestEfficiency, highestWastedBytes,
    /// highestUserWastedPercent), judged per platform; PASS/FAIL on stderr, exit 1 on a FAIL.
    #[arg(long, value_name = "FILE")]
    ci_config: Option<std::path::PathBuf>,
    /// Which digests to check: `full` (every blob's digest and every layer's diff_id) or
    /// `blobs` (every blob's digest; a compressed layer's diff_id is not hashed: a fifth to a
    /// third of a scan's CPU; a plain or `docker save` layer is still checked in full). The
    /// report says `"verification": "blobs"`.
    #[arg(long, value_enum, hide_possible_values = true, default_value_t = layerscope::layer::Verify::Full)]
    verify: layerscope::layer::Verify,
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    source: super::common::SourceChoice,
}

fn parse_ratio(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("not a number: {s:?}"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not between 0 and 1"))
    }
}

pub fn run(args: ScanArgs) -> anyhow::Result<Exit> {
    let policy = Policy {
        min_efficiency: args.min_efficiency,
        max_reclaimable: args.max_reclaimable,
        deleted_later_bytes: args.deleted_later_bytes,
        ..args.common.policy()?
    };
    let opts = ScanOptions {
        platforms: args.platform.clone(),
        limits: args.common.limits()?,
        progress: Bars::observer(!args.common.quiet),
        policy,
        registry: args.common.registry(),
        source: args.source.prefer(),
        verify: args.verify,
    };
    let rules = args.ci_config.as_deref().map(super::dive_rules::Rules::read).transpose()?;
    let store = args.common.cache_store()?;
    let cache = store.as_ref().map(|s| layerscope::batch::StoreCache::new(s, &opts));
    // The HTML page's treemaps need each platform's merged view: only then are the layers'
    // entries kept until it is built (the other formats keep scan's smaller memory profile).
    let html = args.common.targets(args.format).iter().any(|(f, _)| *f == Format::Html);
    let mut reports = Vec::new();
    let mut usage = Vec::new();
    let mut exit = Exit::Clean;
    for image in &args.images {
        let loaded = match &cache {
            Some(c) => pipeline::load_with(image, &opts, c),
            None => pipeline::load(image, &opts),
        };
        let scanned = loaded.map(|l| {
            if html {
                let (report, u) = pipeline::report_with(&l, &opts, |fs| usage::usage(fs, usage::MAX_NODES));
                usage.push(u);
                report
            } else {
                usage.push(Vec::new());
                pipeline::into_report(l, &opts)
            }
        });
        match scanned {
            Ok(mut r) => {
                if r.incomplete() {
                    exit = exit.and(Exit::Partial);
                }
                if let Some(rule) = &args.fail_on {
                    let verdict = r.judge(rule);
                    if !verdict.passed {
                        exit = exit.and(Exit::Tripped);
                        print(format_args!(
                            "{image}: failing --fail-on ({}): {}",
                            verdict.fail_on,
                            verdict.failing.join(", ")
                        ));
                    }
                }
                for p in &r.platforms {
                    print_errors(image, Some(&p.platform), &p.diagnostics);
                    if let Some(rules) = &rules {
                        let (lines, ok) = rules.judge(&p.bloat);
                        eprintln!("{image} {}: dive CI rules: {}", p.platform, if ok { "PASS" } else { "FAIL" });
                        for l in lines {
                            eprintln!("  {l}");
                        }
                        if !ok {
                            exit = exit.and(Exit::Tripped);
                        }
                    }
                }
                print_errors(image, None, &r.diagnostics);
                reports.push(Scanned::Report(Box::new(r)));
            }
            Err(e) => {
                print(&e);
                exit = exit.and(Exit::Unreadable);
                usage.push(Vec::new());
                reports.push(Scanned::Failed { reference: image.clone(), error: e.to_string() });
            }
        }
    }
    for w in cache.as_ref().map(|c| c.warnings()).unwrap_or_default() {
        print(w);
    }
    let ropts = RenderOptions { details: args.details };
    args.common.write(args.format, |format, out| render::render_with_usage(&reports, &usage, format, ropts, out))?;
    Ok(exit)
}
