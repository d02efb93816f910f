//! The plan as a multi-stage Dockerfile: the image pinned by digest as stage `full`, the
//! suggested base, `COPY --from=full` lines grouped by directory, and the config's ENV, USER,
//! WORKDIR, ENTRYPOINT and CMD carried over.
//!
//! `COPY` dereferences a symlink source and cannot make a link: so each name a file of the
//! closure is asked for (the command, the interpreter, a library where the loader finds it) is
//! copied under that name, and the names that go through links are listed in a comment.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::closure::Kind;
use super::Plan;
use crate::fs::MergedFs;

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
    // Every name the closure's files are asked for, copied under that name (COPY follows a
    // source link and cannot make one): the loader and the command find each where they look.
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for n in &plan.names {
        let dir = n.rsplit_once('/').map_or("/", |(d, _)| if d.is_empty() { "/" } else { d }).to_string();
        groups.entry(dir).or_default().push(n.clone());
    }
    let files: std::collections::BTreeSet<&str> =
        plan.closure.paths.iter().filter(|e| e.kind == Kind::File).map(|e| e.path.as_str()).collect();
    let through_links: Vec<&String> = plan.names.iter().filter(|n| !files.contains(n.as_str())).collect();
    if !through_links.is_empty() {
        let _ = writeln!(out, "# Asked for through links, copied as files (COPY cannot make links):");
        for n in through_links {
            let real = fs.resolve(n, hops).map(|(r, _)| format!("/{r}")).unwrap_or_default();
            let _ = writeln!(out, "#   {n} -> {real}");
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
