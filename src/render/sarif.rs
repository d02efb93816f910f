//! SARIF 2.1.0 output: one run, one rule per finding ID of the catalogue, one result per
//! finding, located at the image path it names (or the image reference).

use std::io::{self, Write};

use serde_json::{json, Value};

use crate::findings::{Severity, RULES};
use crate::report::ImageReport;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub code scanning's `security-severity` (0.1 to 10: low below 4, medium below 7, high
/// below 9); none for info findings, which are not security problems.
fn security_severity(s: Severity) -> Option<&'static str> {
    match s {
        Severity::High => Some("8.0"),
        Severity::Medium => Some("5.5"),
        Severity::Low => Some("3.0"),
        Severity::Info => None,
    }
}

/// The SARIF document for the reports.
pub fn document(reports: &[ImageReport]) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.id.replace('-', ""),
                "shortDescription": {"text": r.title},
                "fullDescription": {"text": r.help},
                "help": {"text": r.help},
                "defaultConfiguration": {"level": level(r.severity)},
                "properties": security_severity(r.severity)
                    .map_or_else(|| json!({"severity": r.severity.to_string()}), |n| json!({
                        "severity": r.severity.to_string(),
                        "security-severity": n,
                        "tags": ["security", "container"],
                    })),
            })
        })
        .collect();
    let rule_index = |id: &str| RULES.iter().position(|r| r.id == id);
    let mut results = Vec::new();
    for r in reports {
        let scopes = std::iter::once((None, &r.findings))
            .chain(r.platforms.iter().map(|p| (Some(p.platform.as_str()), &p.findings)));
        for (platform, findings) in scopes {
            for f in findings {
                let uris: Vec<String> = if f.paths.iter().any(|p| p.starts_with('/')) {
                    f.paths.iter().filter(|p| p.starts_with('/')).take(10).cloned().collect()
                } else {
                    vec![r.reference.clone()]
                };
                let locations: Vec<Value> = uris
                    .iter()
                    .map(|u| {
                        // Paths inside the image, relative to its root; the reference itself otherwise.
                        let mut loc = if u.starts_with('/') {
                            json!({"physicalLocation": {"artifactLocation": {
                                "uri": u.trim_start_matches('/'), "uriBaseId": "IMAGEROOT"}}})
                        } else {
                            json!({"physicalLocation": {"artifactLocation": {"uri": u}}})
                        };
                        if let Some(p) = platform {
                            loc["logicalLocations"] = json!([{"name": p, "kind": "module"}]);
                        }
                        loc
                    })
                    .collect();
                let mut result = json!({
                    "ruleId": f.id,
                    "level": level(f.severity),
                    "message": {"text": f.message},
                    "locations": locations,
                    "properties": {
                        "image": r.reference,
                        "platform": platform,
                        "severity": f.severity.to_string(),
                        "entrypoint": f.entrypoint,
                    },
                });
                if let Some(i) = rule_index(&f.id) {
                    result["ruleIndex"] = json!(i);
                }
                results.push(result);
            }
        }
    }
    let mut driver = json!({"name": "layerscope", "version": env!("CARGO_PKG_VERSION"), "rules": rules});
    // The project's documents, where Cargo.toml records where the project lives.
    if let Some(repo) = option_env!("CARGO_PKG_REPOSITORY").filter(|r| !r.is_empty()) {
        driver["informationUri"] = json!(format!("{repo}/blob/main/docs/report.md"));
        for r in driver["rules"].as_array_mut().into_iter().flatten() {
            r["helpUri"] = json!(format!("{repo}/blob/main/docs/report.md#41-catalogue"));
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": driver},
            "originalUriBaseIds": {"IMAGEROOT": {
                "uri": "file:///",
                "description": {"text": "The root of the image's merged filesystem (each result names its image and platform)."},
            }},
            "results": results,
        }],
    })
}

pub fn render(reports: &[ImageReport], out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &document(reports))?;
    writeln!(out)
}
