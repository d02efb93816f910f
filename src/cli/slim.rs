//! The `slim` subcommand: the command's file closure and the base it fits, as text, JSON or a
//! Dockerfile; `--export DIR` writes the closure out of the layers (docs/slim.md).

use std::path::PathBuf;

use anyhow::Context as _;

use layerscope::oci::platform::PlatformFilter;
use layerscope::pipeline::{self, ScanOptions};
use layerscope::slim::render::{self, SlimReport};
use layerscope::slim::{self, SlimOptions};

use super::common::Common;
use super::errors::{print, print_errors};
use super::exit::Exit;
use super::progress::Bars;

/// `slim --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// A multi-stage Dockerfile (one platform).
    Dockerfile,
}

#[derive(clap::Args)]
pub struct SlimArgs {
    /// The image: REF (the local Docker daemon's, else the registry's), docker://REF,
    /// docker-daemon:NAME, podman:NAME, registry:REF,
    /// - (stdin), oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], or a path.
    image: String,
    /// Platforms to plan for (docker syntax, comma-separated) [default: all]. The Dockerfile and
    /// --export need exactly one.
    #[arg(long, default_value = "all", value_parser = PlatformFilter::parse)]
    platform: PlatformFilter,
    /// Output format (of stdout and of `-o FILE`).
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the closure into DIR (made when missing; refused unless empty).
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// Keep these paths too (glob on absolute paths, e.g. '/usr/share/zoneinfo/**'; a directory
    /// matched is kept whole); repeatable.
    #[arg(long, value_name = "GLOB")]
    keep: Vec<String>,
    /// Use this base image instead of the one suggested (the Dockerfile's second FROM; `scratch`
    /// works for any closure, which carries its own loader and libraries).
    #[arg(long, value_name = "IMAGE")]
    base: Option<String>,
    /// Plan for this command instead of the config's Entrypoint + Cmd (takes every argument
    /// after it: put it last).
    #[arg(long, num_args = 1.., allow_hyphen_values = true, value_name = "ARG")]
    command: Vec<String>,
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    source: super::common::SourceChoice,
}

/// The reference pinned by digest, for the Dockerfile's `FROM`.
fn pinned(reference: &str, name: Option<&str>, digest: Option<&str>) -> String {
    // An image of a local engine's store (or a stream of one): `FROM` finds it by name there;
    // its pin is an image ID, which `FROM` does not take.
    let engine = ["docker-daemon:", "docker:", "podman:"]
        .iter()
        .find_map(|p| reference.strip_prefix(p))
        .filter(|r| !r.starts_with("//"));
    if engine.is_some() || reference == "-" {
        return name.or(engine).unwrap_or(reference).to_string();
    }
    let reference = reference.strip_prefix("registry:").unwrap_or(reference);
    let local = ["oci:", "oci-archive:", "docker-archive:"].iter().any(|p| reference.starts_with(p))
        || std::path::Path::new(reference).exists();
    let base = if local {
        name.map(str::to_string).unwrap_or_else(|| reference.to_string())
    } else {
        reference.trim_start_matches("docker://").to_string()
    };
    // Drop a tag or digest already there (a `:` after the last `/`).
    let base = match base.rsplit_once('@') {
        Some((b, _)) => b.to_string(),
        None => match base.rfind(':') {
            Some(i) if !base[i..].contains('/') && !local => base[..i].to_string(),
            Some(i) if local && name.is_some() && !base[i..].contains('/') => base[..i].to_string(),
            _ => base,
        },
    };
    match digest {
        Some(d) => format!("{base}@{d}"),
        None => base,
    }
}

pub fn run(args: SlimArgs) -> anyhow::Result<Exit> {
    let opts = ScanOptions {
        platforms: args.platform.clone(),
        limits: args.common.limits()?,
        progress: Bars::observer(!args.common.quiet),
        registry: args.common.registry(),
        policy: args.common.policy()?,
        source: args.source.prefer(),
        verify: Default::default(),
    };
    let store = args.common.cache_store()?;
    let cache = store.as_ref().map(|s| layerscope::batch::StoreCache::new(s, &opts));
    let outcome = match &cache {
        Some(c) => pipeline::load_with(&args.image, &opts, c),
        None => pipeline::load(&args.image, &opts),
    };
    for w in cache.as_ref().map(|c| c.warnings()).unwrap_or_default() {
        print(w);
    }
    let loaded = match outcome {
        Ok(l) => l,
        Err(e) => {
            print(&e);
            return Ok(Exit::Unreadable);
        }
    };
    // Each platform merged once: the report and the plan read the same view.
    let views = pipeline::views(&loaded);
    let report = pipeline::report_with_views(&loaded, &views, &opts);
    let mut exit = Exit::Clean;
    print_errors(&report.reference, None, &report.diagnostics);
    for p in &report.platforms {
        print_errors(&report.reference, Some(&p.platform), &p.diagnostics);
        if p.diagnostics.iter().any(|d| d.severity == layerscope::diag::Level::Error) {
            exit = exit.and(Exit::Partial);
        }
    }
    let one = loaded.resolution.targets.len() == 1;
    if (args.export.is_some() || args.format == Format::Dockerfile) && !one {
        let names: Vec<&str> = report.platforms.iter().map(|p| p.platform.as_str()).collect();
        print(format_args!(
            "{}: {} platforms ({}): --export and the Dockerfile need one, choose it with --platform",
            args.image,
            names.len(),
            names.join(", ")
        ));
        return Ok(Exit::Unreadable);
    }
    let sopts = SlimOptions {
        command: (!args.command.is_empty()).then(|| args.command.clone()),
        keep: args.keep.clone(),
        symlink_hops: opts.limits.symlink_hops,
    };
    let mut plans = Vec::new();
    for ((t, p), fs) in loaded.resolution.targets.iter().zip(&report.platforms).zip(&views) {
        plans.push(slim::plan(fs, t, p, &sopts).map_err(anyhow::Error::msg)?);
    }
    if let Some(b) = &args.base {
        for p in &mut plans {
            p.base.reason = format!("given with --base (suggested: {}, as {})", p.base.suggestion, p.base.reason);
            p.base.suggestion = b.clone();
        }
    }
    let mut out = SlimReport {
        reference: report.reference.clone(),
        digest: report.digest.clone(),
        platforms: plans,
        exported: None,
    };
    if let Some(dir) = &args.export {
        if loaded.streamed {
            print(format_args!(
                "{}: --export reads the needed files from the layers a second time, and this image came as a \
                 stream read once (stdin or a daemon's export): save it first (`docker save NAME -o image.tar`) \
                 and export from the file",
                args.image
            ));
            return Ok(Exit::Unreadable);
        }
        let t = &loaded.resolution.targets[0];
        let layers: Vec<&layerscope::layer::LayerDelta> =
            t.layers.iter().filter_map(|l| loaded.deltas.get(&l.descriptor.digest().to_string())).collect();
        let reopen = layerscope::source::OpenOptions {
            limits: opts.limits.clone(),
            registry: opts.registry.clone(),
            prefer: opts.source,
            progress: opts.progress.clone(),
        };
        let source = layerscope::source::open_with(&args.image, &reopen)
            .with_context(|| format!("re-opening {}", args.image))?;
        match slim::export::export(source.as_ref(), t, &layers, &views[0], &out.platforms[0], dir, &opts.limits) {
            Ok(x) => out.exported = Some(x),
            Err(e) => {
                print(format_args!("{}: export: {e}", args.image));
                return Ok(Exit::Unreadable);
            }
        }
    }
    if out.platforms.iter().any(|p| !p.unresolved.is_empty()) {
        for p in &out.platforms {
            for u in &p.unresolved {
                print(format_args!(
                    "{} ({}): unresolved {} (needed by {}): {}",
                    args.image, p.platform, u.name, u.needed_by, u.reason
                ));
            }
        }
    }
    let from = pinned(&args.image, loaded.roots.name.as_deref(), report.digest.as_deref());
    let hops = opts.limits.symlink_hops;
    args.common.write(args.format, |format, w| match format {
        Format::Text => render::text(&out, w),
        Format::Json => render::json(&out, w),
        Format::Dockerfile => {
            w.write_all(slim::dockerfile::render(&out.platforms[0], &views[0], &from, hops).as_bytes())
        }
    })?;
    Ok(exit)
}

#[cfg(test)]
mod tests {
    use super::pinned;

    #[test]
    fn from_lines_name_what_docker_build_can_find() {
        let d = Some("sha256:abc");
        assert_eq!(pinned("docker://reg:5000/app:1", None, d), "reg:5000/app@sha256:abc");
        assert_eq!(pinned("registry:reg:5000/app:1", None, d), "reg:5000/app@sha256:abc");
        assert_eq!(pinned("docker-daemon:myapp", Some("myapp:dev"), d), "myapp:dev");
        assert_eq!(pinned("podman:myapp", None, d), "myapp");
        assert_eq!(pinned("-", Some("myapp:latest"), d), "myapp:latest");
    }
}
