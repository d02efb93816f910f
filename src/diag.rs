//! Diagnostics: what could not be read, with the layer and path it concerns.

use serde::{Deserialize, Serialize};

/// How bad a diagnostic is: an `error` means part of the scan is missing (exit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One problem met while scanning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub layer: Option<String>,
    pub path: Option<String>,
    pub message: String,
    pub severity: Severity,
}

impl Diagnostic {
    pub fn error(layer: Option<&str>, path: Option<&str>, message: impl Into<String>) -> Self {
        Diagnostic {
            layer: layer.map(str::to_string),
            path: path.map(str::to_string),
            message: message.into(),
            severity: Severity::Error,
        }
    }
    pub fn warning(layer: Option<&str>, path: Option<&str>, message: impl Into<String>) -> Self {
        Diagnostic {
            layer: layer.map(str::to_string),
            path: path.map(str::to_string),
            message: message.into(),
            severity: Severity::Warning,
        }
    }
}
