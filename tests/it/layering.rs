//! The shape of the source tree, checked: no dependency cycle among the top-level modules of
//! `src/` (data flows one way: source → blob → tar walk → layer → fs → detect → report → render,
//! with compare and batch above and the binary's `cli/` above everything), no source file over
//! 800 lines, and no citation of a document that is not in the repository.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level modules named by `crate::` paths in `text`, `use crate::{a, b::c}` included.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String { s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect() };
    for (i, _) in text.match_indices("crate::") {
        // `layerscope::crate::` cannot occur; skip `$crate::` of macros.
        if text[..i].ends_with('$') {
            continue;
        }
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.insert(ident(item.trim()));
        } else {
            out.insert(ident(rest));
        }
    }
    out.remove("");
    out
}

/// Edges between top-level modules of the library (the binary, `lib.rs` and `main.rs` are
/// above everything and left out).
fn module_graph() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        let top = rel.split('/').next().unwrap().trim_end_matches(".rs").to_string();
        if ["lib", "main", "cli"].contains(&top.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for m in crate_refs(&text) {
            if m != top {
                graph.entry(top.clone()).or_default().entry(m).or_default().insert(rel.clone());
            }
        }
    }
    graph
}

/// A cycle through the graph, as the list of modules on it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for next in graph.get(n).map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
            match state.get(&next).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| *s == next).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(next);
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(&next, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn crate_paths_are_parsed_with_groups() {
    let refs = crate_refs("use crate::{a::{b, c}, d};\nuse crate::e::F;\nlet x = crate::g(1); $crate::h");
    assert_eq!(refs, ["a", "d", "e", "g"].map(String::from).into_iter().collect());
}

#[test]
fn a_cycle_is_found() {
    let mut g: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (a, b) in [("layer", "fs"), ("fs", "elf"), ("elf", "layer"), ("report", "fs")] {
        g.entry(a.into()).or_default().entry(b.into()).or_default();
    }
    let c = find_cycle(&g).expect("a cycle");
    assert_eq!(c.first(), c.last());
    assert_eq!(c.len(), 4, "{c:?}");
    g.remove("elf");
    assert_eq!(find_cycle(&g), None);
}

#[test]
fn top_level_modules_depend_one_way() {
    let graph = module_graph();
    assert!(graph.contains_key("pipeline") && graph["pipeline"].contains_key("source"), "graph: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        let why: Vec<String> =
            cycle.windows(2).map(|w| format!("{} -> {} (in {:?})", w[0], w[1], graph[&w[0]][&w[1]])).collect();
        panic!("import cycle among the top-level modules of src/:\n  {}", why.join("\n  "));
    }
}

#[test]
fn no_source_file_over_800_lines() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    assert!(files.len() > 40, "{} files", files.len());
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > 800).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these along their seams: {long:?}");
}

#[test]
fn cited_documents_exist() {
    let root = root();
    let mut files = Vec::new();
    for d in ["src", "tests", "benches", "scripts"] {
        rust_files(&root.join(d), &mut files);
    }
    files.push(root.join("README.md"));
    for d in ["docs", "scripts/bench", "scripts/fixtures"] {
        for e in std::fs::read_dir(root.join(d)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                files.push(p);
            }
        }
    }
    let mut missing = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for gone in ["DESIGN.md", "HOSTILE-INPUTS", "FIELD-NOTES", "shared/"] {
            if text.contains(gone) && !f.ends_with("layering.rs") {
                missing.push(format!("{} cites {gone}, which is not in the repository", f.display()));
            }
        }
        for (i, _) in text.match_indices("docs/") {
            let cited: String = text[i..].chars().take_while(|c| c.is_alphanumeric() || "/._-".contains(*c)).collect();
            let cited = cited.trim_end_matches('.');
            if (cited.ends_with(".md") || cited.ends_with(".json")) && !root.join(cited).exists() {
                missing.push(format!("{} cites {cited}", f.display()));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}
