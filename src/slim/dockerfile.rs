//! The plan as a multi-stage Dockerfile: the image pinned by digest as stage `full`, the
//! suggested base, `COPY --from=full` lines grouped by directory, and the config's ENV, USER,
//! WORKDIR, ENTRYPOINT and CMD carried over.
//!
//! `COPY` dereferences a symlink source: a file link becomes a copy of its target (named in a
//! comment), and a directory link cannot be made at all (named as what the base must provide).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::closure::Kind;
use super::Plan;
use crate::fs::{MergedFs, NodeKind};

fn json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// The Dockerfile text. `from` is the image reference pinned by digest (`name@sha256:…`).
pub fn render(plan: &Plan, fs: &MergedFs, from: &str, hops: u64) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# syntax=docker/dockerfile:1");
    let _ = writeln!(out, "# Slim image of {from} ({}), planned by layerscope slim.", plan.platform);
    let _ = writeln!(
        out,
        "# Closure: {} files, {} symlinks, {} bytes of {} in the image. Base: {}.",
        plan.closure.files, plan.closure.symlinks, plan.closure.bytes, plan.image_bytes, plan.base.reason
    );
    for u in &plan.unresolved {
        let _ = writeln!(out, "# UNRESOLVED: {} (needed by {}): {}", u.name, u.needed_by, u.reason);
    }
    let _ = writeln!(out, "FROM --platform={} {from} AS full", plan.platform);
    let _ = writeln!(out);
    if plan.base.suggestion == "scratch" {
        let _ = writeln!(out, "FROM scratch");
    } else {
        let _ = writeln!(out, "FROM --platform={} {}", plan.platform, plan.base.suggestion);
    }
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut dir_links: Vec<String> = Vec::new();
    for e in &plan.closure.paths {
        let dir = e.path.rsplit_once('/').map_or("/", |(d, _)| if d.is_empty() { "/" } else { d }).to_string();
        if e.kind == Kind::Symlink {
            let is_dir = matches!(fs.resolve(&e.path, hops), Ok((_, n)) if matches!(n.kind, NodeKind::Dir));
            if is_dir {
                dir_links.push(format!("{} -> {}", e.path, e.target.as_deref().unwrap_or("")));
                continue;
            }
        }
        groups.entry(dir).or_default().push(e.path.clone());
    }
    if !dir_links.is_empty() {
        let _ = writeln!(out, "# Directory links COPY cannot make (the base must have them, or the same paths):");
        for l in &dir_links {
            let _ = writeln!(out, "#   {l}");
        }
    }
    let links: Vec<&str> =
        plan.closure.paths.iter().filter(|e| e.kind == Kind::Symlink).map(|e| e.path.as_str()).collect();
    if !links.is_empty() {
        let _ = writeln!(out, "# COPY follows a symlink source: these become copies of their targets:");
        for l in links.iter().filter(|l| !dir_links.iter().any(|d| d.starts_with(&format!("{l} ->")))) {
            let _ = writeln!(out, "#   {l}");
        }
    }
    for (dir, paths) in &groups {
        let dest = if dir == "/" { "/".to_string() } else { format!("{dir}/") };
        let mut args: Vec<String> = paths.clone();
        args.push(dest);
        let _ = writeln!(out, "COPY --from=full {}", json(&args));
    }
    let c = &plan.carry;
    for e in &c.env {
        if let Some((k, v)) = e.split_once('=') {
            let _ = writeln!(out, "ENV {k}={}", serde_json::to_string(v).unwrap_or_default());
        }
    }
    if let Some(w) = &c.working_dir {
        let _ = writeln!(out, "WORKDIR {w}");
    }
    if let Some(u) = &c.user {
        let _ = writeln!(out, "USER {u}");
    }
    if !c.entrypoint.is_empty() {
        let _ = writeln!(out, "ENTRYPOINT {}", json(&c.entrypoint));
    }
    if !c.cmd.is_empty() {
        let _ = writeln!(out, "CMD {}", json(&c.cmd));
    }
    out
}
