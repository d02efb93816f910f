//! Shells: the usual shell binaries (and busybox applet links) in the bin directories, plus
//! whatever `/etc/shells` lists that really exists.

use super::packages::{find_tools, tool_at};
use super::{text_of, Context, Detector};
use crate::report::PlatformReport;

pub struct ShellsDetector;

/// Names of shells.
pub const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "fish", "busybox", "tcsh", "csh"];

impl Detector for ShellsDetector {
    fn name(&self) -> &'static str {
        "shells"
    }

    fn run(&self, cx: &Context, r: &mut PlatformReport) {
        let mut shells = find_tools(cx, SHELLS);
        if let Some(text) = text_of(cx, "etc/shells") {
            for line in String::from_utf8_lossy(text).lines() {
                let line = line.trim();
                if !line.starts_with('/') {
                    continue;
                }
                let path = line.trim_start_matches('/');
                let name = path.rsplit('/').next().unwrap_or(path);
                if shells.iter().any(|s| s.path == line) {
                    continue;
                }
                if let Some(t) = tool_at(cx, name, path) {
                    if !shells.iter().any(|s| s.name == t.name) {
                        shells.push(t);
                    }
                }
            }
        }
        r.shells = shells;
    }
}
