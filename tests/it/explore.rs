//! `explore`: the screen drawn on ratatui's TestBackend from real fixtures (the layer list's
//! commands, the tree's aggregated sizes, the details of an ELF whose library is missing, any
//! terminal size), and the binary run end to end in a private tmux server.

use std::process::Command;
use std::time::{Duration, Instant};

use layerscope::explore::{draw::draw, Explorer};
use layerscope::fs::NodeKind;
use layerscope::pipeline::{self, ScanOptions};
use layerscope::units::human;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use crate::common::testdata;

fn open(name: &str) -> Explorer {
    let reference = testdata(&format!("images/{name}/oci")).display().to_string();
    let opts = ScanOptions::default();
    let loaded = pipeline::load(&reference, &opts).unwrap_or_else(|e| panic!("{reference}: {e}"));
    Explorer::open(loaded, &opts)
}

/// The screen as lines of text.
fn screen(e: &mut Explorer, width: u16, height: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    t.draw(|f| draw(f, e)).expect("drawn");
    let buf = t.backend().buffer().clone();
    (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>())
        .collect()
}

fn line_with<'a>(lines: &'a [String], needle: &str) -> &'a str {
    lines.iter().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no line has {needle:?}:\n{}", lines.join("\n")))
}

#[test]
fn explore_layer_list_shows_each_layers_size_and_command() {
    let mut e = open("broken");
    let lines = screen(&mut e, 120, 30);
    let p = e.report.platforms[0].clone();
    assert_eq!(p.layers.len(), 3);
    for (i, l) in p.layers.iter().enumerate() {
        let cmd = l.created_by.clone().expect("the fixture has a history");
        // The start of the command, as much as the pane has room for.
        let start: String = cmd.trim_start_matches("/bin/sh -c ").chars().take(12).collect();
        let row = line_with(&lines, &start);
        assert!(row.contains(&format!("{i:>2} {:>8}", human(l.uncompressed_bytes))), "layer {i}: {row}");
    }
    line_with(&lines, "COPY app/ /app/");
}

#[test]
fn explore_tree_sizes_add_up_the_files_below() {
    let mut e = open("broken");
    let lines = screen(&mut e, 120, 40);
    // /app's size is the sum of its files in the merged view, computed here from the view.
    let fs = &e.views[0].fs;
    let sum: u64 = fs
        .descendants("app")
        .filter_map(|(_, n)| match &n.kind {
            NodeKind::File(f) => Some(f.size),
            _ => None,
        })
        .sum();
    assert_eq!(sum, 70432 + 15960 + 14488 + 17960 + 15960 + 31 + 17808, "testdata/README.md's sizes");
    let row = line_with(&lines, " app/");
    assert!(row.contains(&human(sum)), "{row}");
    let row = line_with(&lines, "needs-libm");
    assert!(row.contains(&human(14488)) && row.contains("[ELF]") && row.contains("+ needs-libm"), "{row}");
    // A symlink is marked, and its size is its own (none).
    assert!(line_with(&lines, "+ lib64").contains(" @"));
}

#[test]
fn explore_details_of_an_elf_with_a_missing_library() {
    let mut e = open("broken");
    e.jump_to("/app/needs-libm");
    let lines = screen(&mut e, 120, 40).join("\n");
    for want in [
        "/app/needs-libm  ELF file, 14.5 kB",
        "high LIBC-MISSING-LIBRARY",
        "history: layer 2 wrote 14.5 kB",
        "ELF amd64 64-bit executable, dynamic, stripped",
        "interpreter /lib64/ld-linux-x86-64.so.2 -> /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        "needs libm.so.6: NOT FOUND (searched /lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu",
        "needs libc.so.6 -> /lib/x86_64-linux-gnu/libc.so.6",
        "needs GLIBC_2.34; the image has glibc 2.36",
    ] {
        assert!(lines.contains(want), "{want:?} not on screen:\n{lines}");
    }
    // The glibc too new and the missing loader, from the same fixture.
    e.jump_to("/app/needs-newer-glibc");
    let lines = screen(&mut e, 120, 40).join("\n");
    assert!(lines.contains("needs GLIBC_2.99; the image has glibc 2.36: too old"), "{lines}");
    e.jump_to("/app/needs-missing-loader");
    let lines = screen(&mut e, 120, 40).join("\n");
    assert!(lines.contains("interpreter /lib/ld-musl-x86_64.so.1: missing"), "{lines}");
    assert!(lines.contains("needs libc.so: the musl loader provides it, and it is missing"), "{lines}");
}

#[test]
fn explore_draws_at_any_size_without_panicking() {
    let mut e = open("broken");
    for w in [0u16, 1, 2, 5, 10, 20, 40, 80] {
        for h in [0u16, 1, 2, 3, 5, 8, 12, 24] {
            screen(&mut e, w, h);
        }
    }
    // With the findings window and the help open too.
    e.on_key(ratatui::crossterm::event::KeyCode::Char('f').into());
    for (w, h) in [(1, 1), (3, 2), (80, 24)] {
        screen(&mut e, w, h);
    }
    e.on_key(ratatui::crossterm::event::KeyCode::Esc.into());
    e.on_key(ratatui::crossterm::event::KeyCode::Char('?').into());
    let lines = screen(&mut e, 80, 24);
    line_with(&lines, "only paths with reclaimable bytes");
}

/// A tmux server of its own, killed when the test ends, failed or not.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Tmux {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Tmux { socket: format!("layerscope-it-{}-{nanos}", std::process::id()) }
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux (scripts/test.sh installs it)");
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "explore"];
        args.extend(keys);
        self.run(&args);
    }

    /// Waits until the pane shows `text`, and returns the pane.
    fn wait_for(&self, text: &str) -> String {
        self.wait_until(&format!("{text:?} to show"), |pane| pane.contains(text))
    }

    /// Waits until the pane shows every one of `texts` (a screen drawn in full), and returns it.
    fn wait_for_all(&self, texts: &[&str]) -> String {
        self.wait_until(&format!("{texts:?} to show"), |pane| texts.iter().all(|t| pane.contains(t)))
    }

    /// Waits until the pane no longer shows `text` (a key was handled), and returns the pane.
    fn wait_gone(&self, text: &str) -> String {
        self.wait_until(&format!("{text:?} to go"), |pane| !pane.contains(text))
    }

    fn wait_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let pane = self.run(&["capture-pane", "-p", "-t", "explore"]);
            if done(&pane) {
                return pane;
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!("waited 30 s for {what}; the pane:\n{pane}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
}

#[test]
fn explore_end_to_end_in_tmux() {
    let bin = env!("CARGO_BIN_EXE_layerscope");
    let image = testdata("images/broken/oci");
    let tmux = Tmux::new();
    let cmd = format!("'{bin}' explore '{}'; echo \"EXIT=$?\"; sleep 600", image.display());
    tmux.run(&["new-session", "-d", "-s", "explore", "-x", "100", "-y", "30", &cmd]);
    // A pane captured mid-draw holds part of the screen: wait for every part asked about.
    let pane = tmux.wait_for_all(&["Files: merged view", "COPY app/ /app/", "libc glibc 2.36"]);
    assert!(pane.contains("COPY app/ /app/"), "{pane}");
    // Filter to the binary whose library is missing, select it, read its details.
    tmux.keys(&["/", "libm", "Enter", "Down"]);
    let pane = tmux.wait_for_all(&["needs libm.so.6: NOT FOUND", "filter \"libm\""]);
    assert!(pane.contains("filter \"libm\""), "{pane}");
    // The layer's changes: layer 2 made /app.
    tmux.keys(&["Escape"]);
    tmux.wait_for("EXIT=0");
}

#[test]
fn explore_keys_and_quit_in_tmux() {
    let bin = env!("CARGO_BIN_EXE_layerscope");
    let image = testdata("images/broken/oci");
    let tmux = Tmux::new();
    let cmd = format!("'{bin}' explore '{}'; echo \"EXIT=$?\"; sleep 600", image.display());
    tmux.run(&["new-session", "-d", "-s", "explore", "-x", "80", "-y", "24", &cmd]);
    tmux.wait_for("Files: merged view");
    tmux.keys(&["Tab", "Down", "Down", "Enter"]);
    let pane = tmux.wait_for_all(&["Files: layer 2 changes", "needs-libm"]);
    assert!(pane.contains("needs-libm"), "{pane}");
    tmux.keys(&["?"]);
    tmux.wait_for("Keys (any key closes)");
    tmux.keys(&["Space", "f"]);
    tmux.wait_for("LIBC-MISSING-LIBRARY");
    // The terminal is resized: the next screen fits the new size.
    tmux.run(&["resize-window", "-t", "explore", "-x", "120", "-y", "40"]);
    // Escape is handled before `q` is sent: an Escape and a `q` read together are Alt-q.
    tmux.keys(&["Escape"]);
    tmux.wait_gone("Findings (Enter");
    tmux.wait_for("Files: layer 2 changes");
    tmux.keys(&["q"]);
    let pane = tmux.wait_for("EXIT=0");
    // The alternate screen is gone: the shell's output is all there is.
    assert!(!pane.contains("Files: layer"), "{pane}");
}

#[test]
fn explore_without_a_terminal_says_so_and_exits_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .arg("explore")
        .arg(testdata("images/broken/oci"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("explore needs a terminal"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn explore_an_unreadable_image_exits_2() {
    let bin = env!("CARGO_BIN_EXE_layerscope");
    let tmux = Tmux::new();
    let cmd = format!("'{bin}' explore /nonexistent/image; echo \"EXIT=$?\"; sleep 600");
    tmux.run(&["new-session", "-d", "-s", "explore", "-x", "100", "-y", "30", &cmd]);
    let pane = tmux.wait_for("EXIT=");
    assert!(pane.contains("EXIT=2"), "{pane}");
    assert!(pane.contains("/nonexistent/image"), "{pane}");
}

#[test]
fn explore_headline_facts_fit_80_columns() {
    let mut e = open("bloat");
    let lines = screen(&mut e, 80, 24);
    let p = e.report.platforms[0].clone();
    line_with(&lines, &format!("reclaimable {}", human(p.bloat.reclaimable_bytes)));
    line_with(&lines, &format!("efficiency {:.1} %", p.bloat.efficiency * 100.0));
    line_with(&lines, &format!("distroless verdict: {}", p.distroless.verdict));
    line_with(&lines, "libc static");
    // w: the reclaimable paths, the deleted ones marked.
    e.on_key(ratatui::crossterm::event::KeyCode::Char('w').into());
    let lines = screen(&mut e, 80, 24);
    line_with(&lines, "reclaimable only");
    line_with(&lines, "- big.bin");
}
