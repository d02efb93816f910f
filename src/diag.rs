//! Diagnostics: what could not be read, with the layer and path it concerns.

use serde::{Deserialize, Serialize};

/// How bad a diagnostic is (a finding's severity is [`crate::findings::Severity`]): an `error` means part of the scan is missing (exit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Warning,
    Error,
}

/// One problem met while scanning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub layer: Option<String>,
    pub path: Option<String>,
    pub message: String,
    pub severity: Level,
}

impl Diagnostic {
    pub fn error(layer: Option<&str>, path: Option<&str>, message: impl Into<String>) -> Self {
        Diagnostic {
            layer: layer.map(str::to_string),
            path: path.map(str::to_string),
            message: message.into(),
            severity: Level::Error,
        }
    }
    pub fn warning(layer: Option<&str>, path: Option<&str>, message: impl Into<String>) -> Self {
        Diagnostic {
            layer: layer.map(str::to_string),
            path: path.map(str::to_string),
            message: message.into(),
            severity: Level::Warning,
        }
    }
}

/// Diagnostics kept from one source (a layer's walk, a layer's merge, the file facts of a
/// platform, the resolution of an index); past it they are counted into one summary per
/// severity. A layer of two million entries that each earn a warning would otherwise put two
/// million lines in the report and hundreds of megabytes in memory.
pub const MAX_PER_SOURCE: usize = 100;

/// Keeps the first [`MAX_PER_SOURCE`] diagnostics of a source and counts the rest.
#[derive(Debug, Default, Clone)]
pub struct Capped {
    kept: usize,
    left_out_warnings: u64,
    left_out_errors: u64,
}

impl Capped {
    /// Pushes `d` onto `list`, or counts it when the source already has its share.
    pub fn push(&mut self, list: &mut Vec<Diagnostic>, d: Diagnostic) {
        if self.kept < MAX_PER_SOURCE {
            self.kept += 1;
            list.push(d);
        } else if d.severity == Level::Error {
            self.left_out_errors += 1;
        } else {
            self.left_out_warnings += 1;
        }
    }

    /// Appends one summary per severity for what was left out (an error summary keeps the scan
    /// partial), and starts counting afresh.
    pub fn finish(&mut self, list: &mut Vec<Diagnostic>, layer: Option<&str>, what: &str) {
        for (n, severity, noun) in
            [(self.left_out_warnings, Level::Warning, "warning"), (self.left_out_errors, Level::Error, "error")]
        {
            if n > 0 {
                list.push(Diagnostic {
                    layer: layer.map(str::to_string),
                    path: None,
                    message: format!(
                        "{} {what} not listed (the first {MAX_PER_SOURCE} are)",
                        crate::units::count(n, &format!("more {noun}"), &format!("more {noun}s"))
                    ),
                    severity,
                });
            }
        }
        *self = Capped::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_keeps_the_first_and_counts_the_rest() {
        let mut list = Vec::new();
        let mut c = Capped::default();
        for i in 0..MAX_PER_SOURCE + 5 {
            c.push(&mut list, Diagnostic::warning(None, None, format!("w{i}")));
        }
        c.push(&mut list, Diagnostic::error(None, None, "e"));
        c.finish(&mut list, Some("sha256:x"), "in this layer");
        assert_eq!(list.len(), MAX_PER_SOURCE + 2);
        assert_eq!(list[MAX_PER_SOURCE].message, "5 more warnings in this layer not listed (the first 100 are)");
        assert_eq!(list[MAX_PER_SOURCE + 1].severity, Level::Error);
    }
}
