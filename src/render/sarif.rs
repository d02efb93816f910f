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
                "properties": {"severity": r.severity.to_string()},
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
                        let mut loc =
                            json!({"physicalLocation": {"artifactLocation": {"uri": u.trim_start_matches('/')}}});
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
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "layerscope",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/layerscope/layerscope",
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

pub fn render(reports: &[ImageReport], out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &document(reports))?;
    writeln!(out)
}
