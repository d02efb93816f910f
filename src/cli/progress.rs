//! Progress bars (indicatif) on stderr for the library's progress calls: one bar per layer being
//! read, one for a batch's images. Hidden with `--quiet` or when stderr is not a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use layerscope::progress::{Observer, Progress, Task};
use layerscope::units::human;

/// Bars on stderr, or nothing when they are not wanted.
pub struct Bars {
    multi: MultiProgress,
}

impl Bars {
    /// The observer for a run: bars when `wanted` and stderr is a terminal, else silence.
    pub fn observer(wanted: bool) -> Observer {
        if wanted && std::io::stderr().is_terminal() {
            Observer::new(Bars { multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()) })
        } else if wanted {
            Observer::new(NotesOnly)
        } else {
            Observer::default()
        }
    }
}

/// A size in the report's units (`{size}`/`{total_size}` in a template).
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .map(|s| {
            s.progress_chars("=> ")
                .with_key("size", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&human(s.pos()));
                })
                .with_key("total_size", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&human(s.len().unwrap_or(0)));
                })
                .with_key("size_per_sec", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}/s", human(s.per_sec() as u64));
                })
        })
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

struct Bar(ProgressBar);

impl Task for Bar {
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
    fn restart(&self, total: u64) {
        self.0.set_length(total);
        self.0.set_position(0);
    }
    fn message(&self, m: &str) {
        self.0.set_message(m.to_string());
    }
    fn note(&self, line: &str) {
        self.0.println(line);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

impl Progress for Bars {
    fn layer(&self, label: &str, bytes: u64) -> Box<dyn Task> {
        let bar = self.multi.add(
            ProgressBar::new(bytes).with_style(style("{prefix:>21} [{bar:30}] {size}/{total_size} {size_per_sec}")),
        );
        bar.set_prefix(label.to_string());
        Box::new(Bar(bar))
    }

    fn batch(&self) -> Box<dyn Task> {
        let bar = self
            .multi
            .add(ProgressBar::new(0).with_style(style("[{bar:30}] {pos}/{len} images {per_sec} {elapsed} {msg}")));
        bar.enable_steady_tick(Duration::from_millis(200));
        Box::new(Bar(bar))
    }

    fn note(&self, line: &str) {
        let _ = self.multi.println(line);
    }
}

/// No bars (stderr is not a terminal), but the notes still go to stderr.
struct NotesOnly;

impl Progress for NotesOnly {
    fn layer(&self, _: &str, _: u64) -> Box<dyn Task> {
        Box::new(layerscope::progress::Silent)
    }
    fn batch(&self) -> Box<dyn Task> {
        Box::new(layerscope::progress::Silent)
    }
    fn note(&self, line: &str) {
        eprintln!("{line}");
    }
}
