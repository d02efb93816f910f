//! The `explore` subcommand: reads the image once (with the scan's progress bars), then runs the
//! terminal UI of `layerscope::explore` until `q`: raw mode and the alternate screen, restored on
//! exit, on error and on panic (ratatui's hook). Without a terminal on stdout it says so and
//! exits 2. The exit code is scan's: 3 when part of the image could not be read.

use std::io::IsTerminal;

use anyhow::Context as _;
use layerscope::explore::{draw::draw, Explorer};
use layerscope::oci::platform::PlatformFilter;
use layerscope::pipeline::{self, ScanOptions};
use ratatui::crossterm::event::{self, Event};

use super::common::Reading;
use super::errors::{print, print_errors};
use super::exit::Exit;
use super::progress::Bars;

#[derive(clap::Args)]
pub struct ExploreArgs {
    /// The image: REF (the local Docker daemon's, else the registry's), docker://REF,
    /// docker-daemon:NAME, podman:NAME, registry:REF,
    /// - (stdin), oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], or a path.
    image: String,
    /// `all`, or platforms in docker syntax, comma-separated (linux/arm64/v8, arm64); `p` goes
    /// from one to the next.
    #[arg(long, visible_alias = "platforms", default_value = "all", value_parser = PlatformFilter::parse)]
    platform: PlatformFilter,
    #[command(flatten)]
    reading: Reading,
    #[command(flatten)]
    source: super::common::SourceChoice,
}

pub fn run(args: ExploreArgs) -> anyhow::Result<Exit> {
    if !std::io::stdout().is_terminal() {
        print("explore needs a terminal, and stdout is not one (`layerscope scan` writes a report)");
        return Ok(Exit::Unreadable);
    }
    let opts = ScanOptions {
        platforms: args.platform.clone(),
        limits: args.reading.limits()?,
        progress: Bars::observer(!args.reading.quiet),
        policy: args.reading.policy()?,
        registry: args.reading.registry(),
        source: args.source.prefer(),
        verify: Default::default(),
    };
    let store = args.reading.cache_store()?;
    let loaded = match &store {
        Some(s) => {
            let cache = layerscope::batch::StoreCache::new(s, &opts);
            let loaded = pipeline::load_with(&args.image, &opts, &cache);
            for w in cache.warnings() {
                print(w);
            }
            loaded
        }
        None => pipeline::load(&args.image, &opts),
    };
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            print(&e);
            return Ok(Exit::Unreadable);
        }
    };
    let mut explorer = Explorer::open(loaded, &opts);
    // ratatui's init: raw mode, the alternate screen, and a panic hook that restores both.
    let mut terminal = ratatui::try_init().context("setting up the terminal")?;
    let outcome = run_loop(&mut terminal, &mut explorer);
    let restored = ratatui::try_restore();
    outcome.context("drawing the terminal")?;
    restored.context("restoring the terminal")?;
    let r = &explorer.report;
    for p in &r.platforms {
        print_errors(&args.image, Some(&p.platform), &p.diagnostics);
    }
    print_errors(&args.image, None, &r.diagnostics);
    Ok(if r.incomplete() { Exit::Partial } else { Exit::Clean })
}

/// Draws, waits for a key or a resize, until the explorer quits.
fn run_loop(terminal: &mut ratatui::DefaultTerminal, e: &mut Explorer) -> std::io::Result<()> {
    while !e.quit {
        terminal.draw(|f| draw(f, e))?;
        match event::read()? {
            Event::Key(key) => e.on_key(key),
            // The next draw takes the new size.
            Event::Resize(..) => {}
            _ => {}
        }
    }
    Ok(())
}
