//! `/etc/os-release` (or `/usr/lib/os-release`): distribution id, version and name.

use super::{text_of, Context, Detector};
use crate::report::{OsRelease, PlatformReport};

pub struct OsReleaseDetector;

impl Detector for OsReleaseDetector {
    fn name(&self) -> &'static str {
        "os-release"
    }

    fn run(&self, cx: &Context, r: &mut PlatformReport) {
        let Some(text) = text_of(cx, "etc/os-release").or_else(|| text_of(cx, "usr/lib/os-release")) else { return };
        r.os_release = Some(parse(&String::from_utf8_lossy(text)));
    }
}

/// Parses os-release `KEY=value` lines (values optionally quoted).
pub fn parse(text: &str) -> OsRelease {
    let mut o = OsRelease::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else { continue };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
        match k.trim() {
            "ID" => o.id = Some(v),
            "VERSION_ID" => o.version_id = Some(v),
            "PRETTY_NAME" => o.pretty_name = Some(v),
            "VERSION_CODENAME" => o.version_codename = Some(v),
            _ => {}
        }
    }
    o
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_quoted_values() {
        let o = super::parse("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n");
        assert_eq!(o.id.as_deref(), Some("debian"));
        assert_eq!(o.version_id.as_deref(), Some("12"));
        assert_eq!(o.pretty_name.as_deref(), Some("Debian GNU/Linux 12 (bookworm)"));
    }
}
