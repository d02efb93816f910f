//! The command line: exit codes, JSON on stdout only, errors on stderr, the JSON contract's
//! field names, a closed stdout.

use crate::common;

use std::process::{Command, Stdio};

use crate::common::testdata;

fn layerscope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_layerscope")).args(args).env("NO_COLOR", "1").output().unwrap()
}

fn oci(name: &str) -> String {
    testdata(&format!("images/{name}/oci")).display().to_string()
}

#[test]
fn json_follows_the_contract() {
    let out = layerscope(&["scan", "--format", "json", "--quiet", &oci("multiarch")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "nothing on stderr: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(v["schema_version"], 1);
    assert!(v["reference"].as_str().unwrap().ends_with("multiarch/oci"));
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(v["findings"].is_array());
    let p = &v["platforms"][1];
    assert_eq!(p["platform"], "linux/arm64/v8");
    for key in ["manifest_digest", "config_digest"] {
        assert!(p[key].as_str().unwrap().starts_with("sha256:"), "{key}");
    }
    for key in [
        "digest",
        "media_type",
        "compressed_bytes",
        "uncompressed_bytes",
        "files_added",
        "files_changed",
        "files_deleted",
    ] {
        assert!(!p["layers"][0][key].is_null(), "layers[].{key}");
    }
    assert!(p["files"].as_u64().unwrap() > 0 && p["bytes"].as_u64().unwrap() > 0);
    assert_eq!(p["libc"]["kind"], "glibc");
    assert_eq!(p["libc"]["version"], "2.36");
    assert_eq!(p["libc"]["loaders"][0], "/lib/ld-linux-aarch64.so.1");
    assert_eq!(p["libc"]["newest_glibc_required"], "2.34");
    let hello = p["binaries"].as_array().unwrap().iter().find(|b| b["path"] == "/usr/local/bin/hello").unwrap();
    assert_eq!(hello["machine"], "arm64");
    assert_eq!(hello["kind"], "executable");
    assert_eq!(hello["linkage"], "dynamic");
    assert_eq!(hello["interpreter"], "/lib/ld-linux-aarch64.so.1");
    assert_eq!(hello["needed"], serde_json::json!(["libc.so.6"]));
    assert_eq!(hello["stripped"], false);
    for key in ["shells", "package_managers", "package_databases", "findings", "diagnostics"] {
        assert!(p[key].is_array(), "{key}");
    }
    let musl = layerscope(&["scan", "--format", "json", &oci("musl")]);
    let v: serde_json::Value = serde_json::from_slice(&musl.stdout).unwrap();
    let db = &v["platforms"][0]["package_databases"][0];
    assert_eq!(
        (db["kind"].as_str(), db["path"].as_str(), db["packages"].as_u64()),
        (Some("apk"), Some("/lib/apk/db/installed"), Some(2))
    );
    let bb = layerscope(&["scan", "--format", "json", &oci("busybox")]);
    let v: serde_json::Value = serde_json::from_slice(&bb.stdout).unwrap();
    assert_eq!(
        v["platforms"][0]["shells"][0],
        serde_json::json!({"name": "sh", "path": "/bin/sh", "target": "/bin/busybox"})
    );
}

#[test]
fn text_report_and_exit_codes() {
    let out = layerscope(&["scan", "--details", &oci("glibc")]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("glibc 2.36"), "{text}");
    assert!(text.contains("/usr/local/bin/hello"), "{text}");
    assert!(!text.contains('\x1b'), "no colour when NO_COLOR is set or stdout is a pipe");

    let missing = layerscope(&["scan", "/no/such/dir"]);
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("/no/such/dir") && err.lines().count() == 1, "{err}");
    assert!(missing.stdout.is_empty() || String::from_utf8_lossy(&missing.stdout).trim().is_empty());

    let usage = layerscope(&["scan", "--platform", "linux//x", &oci("static")]);
    assert_eq!(usage.status.code(), Some(2));
    let usage = layerscope(&["scan", "--limit", "nonsense=1", &oci("static")]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn partial_failure_exits_3_and_names_image_layer_and_path() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("img");
    common::copy_dir(&testdata("images/compression/oci"), &dir);
    let loaded = layerscope::pipeline::load(&format!("oci:{}", dir.display()), &Default::default()).unwrap();
    let digest = loaded.resolution.targets[0].layers[0].descriptor.digest().to_string();
    let blob = dir.join("blobs/sha256").join(&digest[7..]);
    let bytes = std::fs::read(&blob).unwrap();
    std::fs::write(&blob, &bytes[..bytes.len() - 40]).unwrap();
    let out = layerscope(&["scan", "--format", "json", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(dir.to_str().unwrap()) && err.contains(&digest), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the report is still written");
    assert_eq!(v["platforms"][0]["diagnostics"][0]["layer"], digest.as_str());
    assert_eq!(v["platforms"][0]["diagnostics"][0]["severity"], "error");
}

#[test]
fn closed_stdout_is_not_an_error() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .args(["scan", "--format", "json", "--details", &oci("multiarch"), &oci("glibc"), &oci("busybox")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn output_file() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("r.json");
    let out = layerscope(&["scan", "-q", "--format", "json", "-o", f.to_str().unwrap(), &oci("static")]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
    assert_eq!(v["platforms"][0]["libc"]["kind"], "static");
}

#[test]
fn fail_on_mixes_severities_and_ids_and_says_what_tripped() {
    let img = testdata("images/glibc/oci");
    let img = img.to_str().unwrap();
    // glibc's findings on this day: TAG-LATEST (medium), TAG-NOT-DIGEST (info),
    // SRC-NO-PROVENANCE (low), OS-LTS-ONLY (low).
    let o = layerscope(&["scan", "-q", "--format", "json", "--now", "2027-01-01", "--fail-on", "high,TAG-LATEST", img]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("failing --fail-on (at or above high, or TAG-LATEST): TAG-LATEST"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["policy"],
        serde_json::json!({"fail_on": "at or above high, or TAG-LATEST", "passed": false, "failing": ["TAG-LATEST"]})
    );
    let o =
        layerscope(&["scan", "-q", "--format", "json", "--now", "2027-01-01", "--fail-on", "high,RUN-AS-ROOT", img]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["policy"]["passed"], true);
    let o = layerscope(&["scan", "-q", "--fail-on", "high,low", img]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("two severities"));
    // Without --fail-on, no verdict in the report.
    let o = layerscope(&["scan", "-q", "--format", "json", img]);
    assert!(serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap().get("policy").is_none());
}

#[test]
fn outputs_go_where_asked_without_stray_colour() {
    let img = testdata("images/glibc/oci");
    let img = img.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_layerscope"));
        c.args(args).current_dir(dir.path()).env_remove("NO_COLOR");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    // Colours forced on for terminals: a file still gets none, unless --color always.
    let o = run(&["scan", "-q", "-o", "plain.txt", img], &[("CLICOLOR_FORCE", "1")]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let plain = std::fs::read_to_string(dir.path().join("plain.txt")).unwrap();
    assert!(plain.contains("linux/amd64") && !plain.contains('\x1b'), "{plain}");
    run(&["scan", "-q", "--color", "always", "-o", "colour.txt", img], &[]);
    assert!(std::fs::read_to_string(dir.path().join("colour.txt")).unwrap().contains('\x1b'));
    let o = run(&["scan", "-q", "--color", "never", img], &[("CLICOLOR_FORCE", "1")]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains('\x1b'));

    // `-o -` is stdout; `-o json` is the format, on stdout; several outputs from one scan.
    let o = run(&["scan", "-q", "-o", "-", "-f", "json", img], &[]);
    assert!(serde_json::from_slice::<serde_json::Value>(&o.stdout).is_ok());
    let o = run(&["scan", "-q", "-o", "json", img], &[]);
    assert!(serde_json::from_slice::<serde_json::Value>(&o.stdout).is_ok());
    assert!(!dir.path().join("-").exists() && !dir.path().join("json").exists());
    let o = run(&["scan", "-q", "-o", "json=r.json", "-o", "sarif=r.sarif", "-o", "markdown=pr.md", img], &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty(), "nothing asked for stdout");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(r["schema_version"], 1);
    let sarif: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("r.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(std::fs::read_to_string(dir.path().join("pr.md")).unwrap().starts_with("### layerscope"));
}

#[test]
fn version_completions_and_manual() {
    let o = layerscope(&["version", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(["zlib-rs", "zlib-ng"].contains(&v["gzip"].as_str().unwrap()), "{v}");
    assert!(v["target"].as_str().is_some_and(|t| t.contains("linux")), "{v}");
    assert!(v["lifecycle_table"].as_str().is_some_and(|d| d.len() == 10));
    let long = String::from_utf8(layerscope(&["--version"]).stdout).unwrap();
    assert!(long.starts_with(&format!("layerscope {} (commit ", env!("CARGO_PKG_VERSION"))), "{long}");
    assert!(long.contains("gzip: zlib-"), "{long}");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = layerscope(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        assert!(String::from_utf8_lossy(&o.stdout).contains("fail-on"), "{shell}");
    }
    assert_eq!(layerscope(&["completions", "tcsh"]).status.code(), Some(2));
    let man = String::from_utf8(layerscope(&["man"]).stdout).unwrap();
    assert!(man.contains(".TH layerscope 1") && man.contains("compare"), "{man}");
}

#[test]
fn suppressions_from_flags_and_ignore_files() {
    let img = testdata("images/glibc/oci");
    let img = img.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_layerscope")).args(args).current_dir(dir.path()).output().unwrap()
    };
    let json = |o: &std::process::Output| serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap();
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect()
    };
    let all = json(&run(&["scan", "-q", "-f", "json", img]));
    assert!(ids(&all).contains(&"TAG-LATEST".to_string()) && all.get("suppressed").is_none());
    // A suppressed finding no longer trips --fail-on, and is counted.
    let o = run(&["scan", "-q", "-f", "json", "--fail-on", "TAG-LATEST", "--ignore", "tag-latest", img]);
    assert_eq!(o.status.code(), Some(0));
    let v = json(&o);
    assert!(!ids(&v).contains(&"TAG-LATEST".to_string()));
    assert_eq!(v["suppressed"], 1);
    // .layerscopeignore in the working directory, with comments and a path glob that does not
    // match (SRC-NO-PROVENANCE has no paths: only an ID-only line suppresses it).
    std::fs::write(dir.path().join(".layerscopeignore"), "# team policy\nSRC-NO-PROVENANCE /nowhere/*\nTAG-LATEST\n")
        .unwrap();
    let v = json(&run(&["scan", "-q", "-f", "json", img]));
    assert_eq!((v["suppressed"].as_u64(), ids(&v).contains(&"SRC-NO-PROVENANCE".to_string())), (Some(1), true));
    let text = String::from_utf8(run(&["scan", "-q", "--color", "never", img]).stdout).unwrap();
    assert!(text.contains("1 finding suppressed"), "{text}");
    // --ignore-file replaces the default file; a bad line is an error naming file and line.
    std::fs::write(dir.path().join("other"), "TAG-LATEST\nNO-SUCH-ID\n").unwrap();
    let o = run(&["scan", "-q", "--ignore-file", "other", img]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("other line 2"), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn help_ends_with_examples_and_the_reference_forms() {
    for cmd in ["scan", "compare"] {
        let help = String::from_utf8(layerscope(&[cmd, "--help"]).stdout).unwrap();
        let tail = &help[help.find("Examples:").unwrap_or_else(|| panic!("{cmd}: no examples\n{help}"))..];
        assert!(tail.matches(&format!("layerscope {cmd} ")).count() >= 3, "{tail}");
        assert!(tail.contains("docker://REF") && tail.contains("oci-archive:FILE"), "{tail}");
    }
    for cmd in ["batch", "summary"] {
        let help = String::from_utf8(layerscope(&[cmd, "--help"]).stdout).unwrap();
        assert!(help.contains(&format!("Examples:\n  layerscope {cmd} ")), "{help}");
    }
    let v: serde_json::Value =
        serde_json::from_slice(&layerscope(&["scan", "-q", "-f", "json", &oci("static")]).stdout).unwrap();
    assert_eq!(v["layerscope_version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn options_from_a_config_file_and_the_environment() {
    let img = testdata("images/glibc/oci");
    let img = img.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let xdg = dir.path().join("xdg");
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_layerscope"));
        c.args(args).current_dir(dir.path()).env("XDG_CONFIG_HOME", &xdg);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let is_json = |o: &std::process::Output| serde_json::from_slice::<serde_json::Value>(&o.stdout).is_ok();
    // The user's config ($XDG_CONFIG_HOME), a table per subcommand.
    std::fs::create_dir_all(xdg.join("layerscope")).unwrap();
    std::fs::write(xdg.join("layerscope/config.toml"), "quiet = true\n[scan]\nformat = \"json\"\n").unwrap();
    assert!(is_json(&run(&["scan", img], &[])));
    // ./layerscope.toml comes first; then the environment; then the command line.
    std::fs::write(dir.path().join("layerscope.toml"), "format = \"markdown\"\nfail-on = [\"TAG-LATEST\"]\n").unwrap();
    let o = run(&["scan", img], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("### layerscope"));
    let o = run(&["scan", img], &[("LAYERSCOPE_FORMAT", "json"), ("LAYERSCOPE_FAIL_ON", "high")]);
    assert_eq!(o.status.code(), Some(0), "the environment replaces the file's fail-on");
    assert!(is_json(&o));
    let o = run(&["scan", "-f", "sarif", img], &[("LAYERSCOPE_FORMAT", "json")]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"$schema\": \"https://json.schemastore.org/sarif"));
    // --config names the file; compare ignores scan's table; mistakes are errors (exit 2).
    std::fs::write(dir.path().join("other.toml"), "[compare]\nformat = \"json\"\n[scan]\nformat = \"text\"\n").unwrap();
    let o = run(&["--config", "other.toml", "compare", "-q", img], &[]);
    assert!(is_json(&o), "{}", String::from_utf8_lossy(&o.stderr));
    for (file, why) in [
        ("nonsense = 1\n", "`nonsense` is not an option"),
        ("[scan]\ncolour = \"never\"\n", "[scan] has no option `colour`"),
        ("quiet = \"yes\"\n", "is a flag"),
    ] {
        std::fs::write(dir.path().join("bad.toml"), file).unwrap();
        let o = run(&["--config", "bad.toml", "scan", img], &[]);
        assert_eq!(o.status.code(), Some(2), "{file}");
        assert!(String::from_utf8_lossy(&o.stderr).contains(why), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(run(&["scan", img], &[("LAYERSCOPE_QUIET", "maybe")]).status.code(), Some(2));
}

#[test]
fn dive_ci_rules_are_judged_with_our_figures() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join(".dive-ci");
    let img = oci("bloat");
    // The bloat fixture's efficiency is well below 0.999 (testdata/bloat-expected.json).
    std::fs::write(
        &rules,
        "rules:\n  lowestEfficiency: 0.999\n  highestWastedBytes: 20MB\n  highestUserWastedPercent: disabled\n",
    )
    .unwrap();
    let o = layerscope(&["scan", "-q", "-f", "json", "--ci-config", rules.to_str().unwrap(), &img]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("dive CI rules: FAIL") && err.contains("FAIL: lowestEfficiency"), "{err}");
    assert!(err.contains("PASS: highestWastedBytes") && err.contains("SKIP: highestUserWastedPercent"), "{err}");
    assert!(serde_json::from_slice::<serde_json::Value>(&o.stdout).is_ok(), "the report stays on stdout");
    std::fs::write(&rules, "rules:\n  lowestEfficiency: 0.1\n").unwrap();
    assert_eq!(layerscope(&["scan", "-q", "--ci-config", rules.to_str().unwrap(), &img]).status.code(), Some(0));
    std::fs::write(&rules, "rules:\n  highestWastedBytes: lots\n").unwrap();
    let o = layerscope(&["scan", "-q", "--ci-config", rules.to_str().unwrap(), &img]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("highestWastedBytes"));
}

#[test]
fn a_scan_cache_serves_layers_by_digest() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("img");
    common::copy_dir(&testdata("images/compression/oci"), &img);
    let reference = format!("oci:{}", img.display());
    let cache = dir.path().join("cache");
    let json = |args: &[&str]| {
        let o = layerscope(args);
        (o.status.code(), serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap())
    };
    let c = cache.to_str().unwrap();
    let (code, first) = json(&["scan", "-q", "-f", "json", "--cache", c, &reference]);
    assert_eq!(code, Some(0));
    assert!(cache.join("layers.db").is_file());
    // Damage every layer blob on disk: the cached analyses are served by digest, so the scan
    // through the cache does not read them (and reports the same), one without it fails.
    let layers: Vec<String> = first["platforms"][0]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap()[7..].to_string())
        .collect();
    for d in &layers {
        std::fs::write(img.join("blobs/sha256").join(d), b"not the layer").unwrap();
    }
    let (code, cached) = json(&["scan", "-q", "-f", "json", "--cache", c, &reference]);
    assert_eq!(code, Some(0));
    assert_eq!(cached["platforms"][0]["binaries"], first["platforms"][0]["binaries"]);
    assert_eq!(cached["platforms"][0]["files"], first["platforms"][0]["files"]);
    let (code, _) = json(&["scan", "-q", "-f", "json", &reference]);
    assert_eq!(code, Some(3), "without the cache the damaged layers are read");
    // compare reads through the same cache.
    let (code, cmp) = json(&["compare", "-q", "-f", "json", "--cache", c, &reference, &reference]);
    assert_eq!(code, Some(0), "{cmp}");
    assert_eq!(cmp["sides"][0]["files"], first["platforms"][0]["files"]);
    assert_eq!(layerscope(&["batch", "127.0.0.1:1", "--cache", c]).status.code(), Some(2));
}

/// Help texts and error messages, as the user sees them (`tests/cmd/*.toml`, with their
/// `.stdout` and `.stderr`; `TRYCMD=overwrite` writes them again after a deliberate change).
#[test]
fn help_and_error_snapshots() {
    trycmd::TestCases::new().case("tests/cmd/*.toml");
}

#[test]
fn the_text_report_lists_layers_with_their_step_within_the_width() {
    let o = Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .args(["scan", "-q", "--color", "never", &oci("bloat")])
        .env("COLUMNS", "90")
        .output()
        .unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    let rows: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with('#')).collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows[1].contains("lost ") && rows[1].contains("RUN /bin/sh -c apt-get"), "{}", rows[1]);
    assert!(rows.iter().all(|r| r.chars().count() <= 90), "{rows:#?}");
}
