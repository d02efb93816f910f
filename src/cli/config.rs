//! Options from a config file and from the environment, below the command line: `--config FILE`,
//! else `layerscope.toml` in the working directory, else `$XDG_CONFIG_HOME/layerscope/config.toml`
//! (`~/.config/…`); then `LAYERSCOPE_<OPTION>` variables (`LAYERSCOPE_FAIL_ON=high`). The command
//! line wins over the environment, the environment over the file: their options are placed
//! before the user's, and a later occurrence of an option replaces an earlier one.
//!
//! A file holds long options without their dashes, at the top level (for every subcommand that
//! has the option) or in a table per subcommand (`[scan]`, `[compare]`, …):
//! `fail-on = "high"`, `ignore = ["TAG-LATEST"]`, `quiet = true`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

/// The options a subcommand takes: long name → takes a value.
fn options(sub: &clap::Command) -> Vec<(String, bool)> {
    sub.get_arguments()
        .filter(|a| {
            !matches!(
                a.get_action(),
                clap::ArgAction::Help
                    | clap::ArgAction::HelpShort
                    | clap::ArgAction::HelpLong
                    | clap::ArgAction::Version
            )
        })
        .filter_map(|a| {
            let long = a.get_long().filter(|l| *l != "config")?.to_string();
            Some((long, a.get_action().takes_values()))
        })
        .collect()
}

/// Global options before the subcommand that take a value.
const GLOBAL_WITH_VALUE: &[&str] = &["--threads", "--config"];

/// The config file to read: `--config FILE`, else the first default that exists.
fn config_file(args: &[OsString]) -> anyhow::Result<Option<PathBuf>> {
    for (i, a) in args.iter().enumerate() {
        let a = a.to_string_lossy();
        if let Some(v) = a.strip_prefix("--config=") {
            return Ok(Some(PathBuf::from(v)));
        }
        if a == "--config" {
            let Some(v) = args.get(i + 1) else { bail!("--config needs a FILE") };
            return Ok(Some(PathBuf::from(v)));
        }
    }
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    let candidates = [Some(PathBuf::from("layerscope.toml")), xdg.map(|d| d.join("layerscope/config.toml"))];
    Ok(candidates.into_iter().flatten().find(|p| p.is_file()))
}

/// `--name value` (or `--name` alone for a flag) from a TOML value; `None` for a false flag.
fn from_toml(name: &str, takes_value: bool, v: &toml::Value, file: &Path) -> anyhow::Result<Vec<OsString>> {
    let scalar = |v: &toml::Value| -> anyhow::Result<String> {
        Ok(match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => bail!("{}: `{name}` must be a string, a number or a boolean (or a list of them)", file.display()),
        })
    };
    if !takes_value {
        return match v {
            toml::Value::Boolean(true) => Ok(vec![format!("--{name}").into()]),
            toml::Value::Boolean(false) => Ok(vec![]),
            _ => bail!("{}: `{name}` is a flag: true or false", file.display()),
        };
    }
    let values = match v {
        toml::Value::Array(a) => a.iter().map(scalar).collect::<anyhow::Result<Vec<_>>>()?,
        other => vec![scalar(other)?],
    };
    Ok(values.into_iter().flat_map(|s| [OsString::from(format!("--{name}")), OsString::from(s)]).collect())
}

/// The arguments with the file's and the environment's options placed after the subcommand.
pub fn expand(cmd: &clap::Command, args: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
    // The subcommand: the first argument after the program that is not a global option.
    let mut i = 1;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if GLOBAL_WITH_VALUE.contains(&a.as_ref()) {
            i += 2;
        } else if a.starts_with('-') {
            i += 1;
        } else {
            break;
        }
    }
    let Some(sub) = args.get(i).and_then(|a| cmd.find_subcommand(a.to_string_lossy().as_ref())) else {
        return Ok(args);
    };
    let known = options(sub);
    let mut added: Vec<OsString> = Vec::new();

    if let Some(path) = config_file(&args)? {
        let text = std::fs::read_to_string(&path).with_context(|| format!("config {}", path.display()))?;
        let table: toml::Table =
            toml::from_str(&text).with_context(|| format!("config {}: not TOML", path.display()))?;
        let every: Vec<String> =
            cmd.get_subcommands().flat_map(options).map(|(n, _)| n).chain(["config".into()]).collect();
        let mut top: Vec<(&String, &toml::Value)> = Vec::new();
        let mut own: Vec<(&String, &toml::Value)> = Vec::new();
        for (k, v) in &table {
            match v {
                toml::Value::Table(t) if cmd.find_subcommand(k).is_some() => {
                    if k == sub.get_name() {
                        own.extend(t.iter());
                    }
                }
                _ if every.contains(k) => top.push((k, v)),
                _ => bail!("config {}: `{k}` is not an option of layerscope (long names, without --)", path.display()),
            }
        }
        for (k, v) in top.into_iter().chain(own.iter().copied()) {
            match known.iter().find(|(n, _)| n == k) {
                Some((n, takes)) => added.extend(from_toml(n, *takes, v, &path)?),
                None if own.iter().any(|(o, _)| *o == k) => {
                    bail!("config {}: [{}] has no option `{k}`", path.display(), sub.get_name())
                }
                None => {}
            }
        }
    }

    for (name, takes) in &known {
        let var = format!("LAYERSCOPE_{}", name.to_ascii_uppercase().replace('-', "_"));
        let Some(value) = std::env::var_os(&var) else { continue };
        if *takes {
            added.push(format!("--{name}").into());
            added.push(value);
        } else {
            match value.to_string_lossy().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => added.push(format!("--{name}").into()),
                "0" | "false" | "no" | "" => {}
                other => bail!("{var}={other:?}: a flag takes true or false"),
            }
        }
    }

    let mut out = args;
    out.splice(i + 1..i + 1, added);
    Ok(out)
}
