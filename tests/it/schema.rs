//! The published JSON schema of the report (`docs/report.schema.json`) against what the binary
//! prints: every fixture image's report validates, several images print an array that validates,
//! broken reports are rejected, and the schema's vocabularies follow the Rust types.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn schema_doc() -> Value {
    let path = root().join("docs/report.schema.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn validator() -> jsonschema::Validator {
    let schema = schema_doc();
    if let Err(e) = jsonschema::draft202012::meta::validate(&schema) {
        panic!("docs/report.schema.json is not a valid draft 2020-12 schema: {e} at {}", e.instance_path());
    }
    jsonschema::draft202012::new(&schema).expect("docs/report.schema.json compiles")
}

/// Every validation error, one per line, with where it is in the document.
fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc).map(|e| format!("{} at {} (schema {})", e, e.instance_path(), e.schema_path())).collect()
}

/// Every fixture image: each `testdata/images/*/oci` layout and each `testdata/images/*.tar`.
fn fixtures() -> Vec<PathBuf> {
    let dir = root().join("testdata/images");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.join("oci").is_dir() {
            found.push(path.join("oci"));
        } else if path.is_file() && path.extension().is_some_and(|x| x == "tar") {
            found.push(path);
        }
    }
    found.sort();
    found
}

fn scan_json(images: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .args(["scan", "-q", "--format", "json"])
        .args(images)
        .output()
        .expect("run layerscope")
}

/// The report of one image, which must have been printed in full (exit 0, or 3 for a partial scan).
fn report(image: &Path) -> Result<Value, String> {
    let out = scan_json(&[image]);
    if !matches!(out.status.code(), Some(0 | 3)) {
        return Err(format!("exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr)));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("stdout is not JSON: {e}"))
}

#[test]
fn every_fixture_report_validates() {
    let v = validator();
    let images = fixtures();
    let mut failures = Vec::new();
    for image in &images {
        let name = image.strip_prefix(root()).unwrap_or(image).display().to_string();
        let doc = match report(image) {
            Ok(doc) => doc,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        if !doc.is_object() {
            failures.push(format!("{name}: one image should print one report object"));
        }
        for e in errors(&v, &doc) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{} problem(s):\n{}", failures.len(), failures.join("\n"));
    assert!(images.len() >= 15, "only {} fixture images found: {images:?}", images.len());
    eprintln!("{} fixture reports validated", images.len());
}

#[test]
fn several_images_print_an_array_that_validates() {
    let v = validator();
    let images = fixtures();
    let picked: Vec<&Path> = ["multiarch/oci", "static.docker-legacy.tar", "busybox/oci"]
        .iter()
        .map(|n| images.iter().find(|p| p.ends_with(n)).unwrap_or_else(|| panic!("fixture {n}")).as_path())
        .collect();
    let out = scan_json(&picked);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reports = doc.as_array().expect("several images print an array");
    assert_eq!(reports.len(), picked.len());
    for (r, image) in reports.iter().zip(&picked) {
        assert_eq!(r["reference"], image.display().to_string());
    }
    let errs = errors(&v, &doc);
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    // An array of one report is not what the CLI prints for one image, but it is still the
    // array form; and the array form requires reports inside.
    assert!(v.is_valid(&Value::Array(vec![reports[0].clone()])));
    assert!(!v.is_valid(&serde_json::json!([{"schema_version": 1}])));
    // An image that cannot be read: `{reference, error}` in its place, alone or among others.
    let missing = format!("oci:{}", root().join("testdata/images/no-such-image").display());
    let out = scan_json(&[Path::new(&missing)]);
    assert_eq!(out.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["reference"], missing.as_str());
    assert!(doc["error"].as_str().is_some_and(|e| e.contains("no-such-image")), "{doc}");
    assert!(v.is_valid(&doc));
    let out = scan_json(&[picked[0], Path::new(&missing)]);
    assert_eq!(out.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries = doc.as_array().expect("two arguments, an array");
    assert_eq!((entries.len(), entries[1]["reference"].as_str()), (2, Some(missing.as_str())));
    assert!(entries[0]["schema_version"] == 1 && v.is_valid(&doc), "{}", errors(&v, &doc).join("\n"));
    assert!(!v.is_valid(&serde_json::json!({"reference": "x", "error": "y", "extra": 1})));
}

/// Applies `change` to a copy of `doc` and returns the validation errors of the result.
fn errors_after(v: &jsonschema::Validator, doc: &Value, change: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut broken = doc.clone();
    change(&mut broken);
    assert_ne!(&broken, doc, "the change did nothing");
    errors(v, &broken)
}

/// A named change to a report.
type Change = (&'static str, Box<dyn FnOnce(&mut Value)>);

fn object(v: &mut Value) -> &mut serde_json::Map<String, Value> {
    v.as_object_mut().expect("an object")
}

#[test]
fn broken_reports_fail_validation() {
    let v = validator();
    let image = fixtures().into_iter().find(|p| p.ends_with("broken-entrypoint/oci")).expect("fixture");
    let doc = report(&image).unwrap();
    let errs = errors(&v, &doc);
    assert!(errs.is_empty(), "the unchanged report is valid: {errs:#?}");
    assert!(!doc["platforms"][0]["binaries"].as_array().unwrap().is_empty());
    assert!(!doc["platforms"][0]["findings"].as_array().unwrap().is_empty());

    let cases: Vec<Change> = vec![
        (
            "a field renamed (libc.kind -> libc.family)",
            Box::new(|d| {
                let libc = object(&mut d["platforms"][0]["libc"]);
                let kind = libc.remove("kind").unwrap();
                libc.insert("family".into(), kind);
            }),
        ),
        ("a wrong enum value (libc kind)", Box::new(|d| d["platforms"][0]["libc"]["kind"] = "uclibc".into())),
        ("a wrong enum value (linkage)", Box::new(|d| d["platforms"][0]["binaries"][0]["linkage"] = "pie".into())),
        ("a wrong enum value (finding ID)", Box::new(|d| d["platforms"][0]["findings"][0]["id"] = "RUN-NOPE".into())),
        ("a wrong enum value (severity)", Box::new(|d| d["platforms"][0]["findings"][0]["severity"] = "fatal".into())),
        (
            "a missing required field (bloat.efficiency)",
            Box::new(|d| {
                object(&mut d["platforms"][0]["bloat"]).remove("efficiency").unwrap();
            }),
        ),
        (
            "a missing required field (top-level digest)",
            Box::new(|d| {
                object(d).remove("digest").unwrap();
            }),
        ),
        (
            "an extra field",
            Box::new(|d| {
                object(&mut d["platforms"][0]).insert("surprise".into(), true.into());
            }),
        ),
        ("a malformed digest", Box::new(|d| d["platforms"][0]["config_digest"] = "sha256:ABC".into())),
        ("another schema_version", Box::new(|d| d["schema_version"] = 2.into())),
        ("a count of the wrong type", Box::new(|d| d["platforms"][0]["files"] = "12".into())),
        ("a null where a value is always emitted", Box::new(|d| d["platforms"][0]["distroless"] = Value::Null)),
    ];
    let mut accepted = Vec::new();
    for (what, change) in cases {
        if errors_after(&v, &doc, change).is_empty() {
            accepted.push(what);
        }
    }
    assert!(accepted.is_empty(), "the schema accepted: {accepted:?}");

    // `registry` (images read from a registry; no fixture has one) is optional and checked when present.
    let registry = serde_json::json!({
        "registry": "docker.io", "repository": "library/debian",
        "media_type": "application/vnd.oci.image.index.v1+json", "manifest_list": true, "annotations": {},
        "signature_tag": null, "referrers": 0, "docker_official_image": true, "notes": []
    });
    let mut with_registry = doc.clone();
    object(&mut with_registry).insert("registry".into(), registry);
    let errs = errors(&v, &with_registry);
    assert!(errs.is_empty(), "{errs:#?}");
    assert!(!errors_after(&v, &with_registry, |d| d["registry"]["referrers"] = "3".into()).is_empty());
    assert!(!errors_after(&v, &with_registry, |d| {
        object(&mut d["registry"]).remove("notes");
    })
    .is_empty());

    // The error names where the problem is.
    let errs = errors_after(&v, &doc, |d| d["platforms"][0]["libc"]["kind"] = "uclibc".into());
    assert!(errs.iter().any(|e| e.contains("/platforms/0/libc/kind")), "{errs:#?}");
}

fn schema_enum<'a>(schema: &'a Value, pointer: &str) -> Vec<&'a str> {
    let values = schema.pointer(pointer).and_then(Value::as_array).unwrap_or_else(|| panic!("no enum at {pointer}"));
    values.iter().map(|x| x.as_str().expect("string enum value")).collect()
}

#[test]
fn finding_ids_follow_the_catalogue() {
    let schema = schema_doc();
    let mut in_schema = schema_enum(&schema, "/$defs/finding/properties/id/enum");
    let mut catalogue: Vec<&str> = layerscope::findings::RULES.iter().map(|r| r.id).collect();
    in_schema.sort_unstable();
    catalogue.sort_unstable();
    assert_eq!(in_schema, catalogue, "docs/report.schema.json finding IDs vs layerscope::findings::RULES");
    let n = in_schema.len();
    in_schema.dedup();
    assert_eq!(in_schema.len(), n, "duplicate IDs in the schema");
}

/// The name a value serialises to (a unit enum variant: a JSON string).
fn ser<T: serde::Serialize>(x: &T) -> String {
    serde_json::to_value(x).expect("serialise").as_str().expect("serialised as a string").to_string()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn enums_follow_the_serialised_names() {
    use layerscope::elf::{ElfKind, Linkage};
    use layerscope::layer::pkgdb::DbKind;
    let schema = schema_doc();
    let from_schema = |pointer: &str| sorted(schema_enum(&schema, pointer).into_iter().map(str::to_string).collect());
    assert_eq!(
        sorted(vec![ser(&DbKind::Dpkg), ser(&DbKind::DpkgStatusD), ser(&DbKind::Apk), ser(&DbKind::Rpm)]),
        from_schema("/$defs/packageDatabase/properties/kind/enum")
    );
    assert_eq!(
        sorted(vec![ser(&ElfKind::Executable), ser(&ElfKind::SharedLibrary), ser(&ElfKind::Other)]),
        from_schema("/$defs/binary/properties/kind/enum")
    );
    let linkages = sorted(vec![ser(&Linkage::Dynamic), ser(&Linkage::Static), ser(&Linkage::StaticPie)]);
    assert_eq!(linkages, from_schema("/$defs/binary/properties/linkage/enum"));
    assert_eq!(linkages, from_schema("/$defs/elfSummary/properties/by_linkage/propertyNames/enum"));
    {
        use layerscope::findings::Severity::*;
        assert_eq!(
            sorted(vec![ser(&Info), ser(&Low), ser(&Medium), ser(&High)]),
            from_schema("/$defs/finding/properties/severity/enum")
        );
    }
    {
        use layerscope::diag::Level::*;
        assert_eq!(sorted(vec![ser(&Warning), ser(&Error)]), from_schema("/$defs/diagnostic/properties/severity/enum"));
    }
    assert_eq!(schema.pointer("/$defs/imageReport/properties/schema_version/const"), Some(&Value::from(1)));
    assert_eq!(layerscope::report::SCHEMA_VERSION, 1, "a new schema_version needs a new docs/report.schema.json");
}

#[test]
fn a_blobs_only_report_validates_and_says_so() {
    let v = validator();
    let image = root().join("testdata/images/multiarch/oci");
    let out = Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .args(["scan", "-q", "--format", "json", "--verify", "blobs"])
        .arg(&image)
        .output()
        .expect("run layerscope");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(doc["verification"], "blobs");
    let errs = errors(&v, &doc);
    assert!(errs.is_empty(), "{errs:#?}");
    // A field the schema does not know is refused: the check above can fail.
    let mut other = doc.clone();
    other["verification"] = Value::from("none");
    assert!(!errors(&v, &other).is_empty(), "the schema takes any verification");
}
