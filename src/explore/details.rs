//! The details of the selected path: size, the layers that wrote or removed it, and for an ELF
//! its machine, linkage, interpreter, each NEEDED library and where the loader would find it
//! (or where it looked), the GLIBC version it needs against the image's, and the findings that
//! name it. Plain lines; [`super::draw`] styles them.

use crate::elf::{parse_version, Linkage};
use crate::fs::linker::{find_library, search_dirs, Flavor};
use crate::fs::{Event, NodeKind};
use crate::units::human;

use super::tree::{reclaimable, Change, Kind};
use super::{Explorer, View};

/// How a line of the details reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Good,
    Bad,
}

/// One line of the details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub tone: Tone,
}

fn line(text: impl Into<String>, tone: Tone) -> Line {
    Line { text: text.into(), tone }
}

/// Directories shown of a library search that found nothing.
const SEARCHED_SHOWN: usize = 4;

impl Explorer {
    /// The details of the selected path (empty when nothing is selected).
    pub fn details(&self) -> Vec<Line> {
        let (Some(v), Some(n), Some(t)) = (self.current(), self.selected_node(), self.tree()) else {
            return Vec::new();
        };
        let np = t.path_of(n);
        let p = self.platform_report();
        let mut out = Vec::new();
        let path = format!("/{np}");
        let what = match (n.kind, n.change) {
            (_, Change::Removed) if self.view == View::Layer => "removed by this layer",
            (_, Change::Removed) => "deleted by a later layer",
            (Kind::Dir, _) => "directory",
            (Kind::File, _) if n.elf => "ELF file",
            (Kind::File, _) => "file",
            (Kind::Symlink, _) => "symlink",
            (Kind::Other, _) => "special file",
        };
        let size = if n.kind == Kind::Dir { format!("{} below", human(n.size)) } else { human(n.size) };
        out.push(line(format!("{path}  {what}, {size}"), Tone::Plain));
        // The findings that name it first: they are why one looks.
        for f in self.findings().into_iter().filter(|f| f.paths.iter().any(|x| x == &path)) {
            out.push(line(format!("{} {}: {}", f.severity, f.id, f.message), Tone::Bad));
        }
        if let Some(NodeKind::Symlink(t)) = v.fs.get(np).map(|x| x.kind) {
            let to = match v.fs.resolve(np, self.hops) {
                Ok((r, _)) => format!("-> {t} (resolves to /{r})"),
                Err(e) => format!("-> {t} ({e})"),
            };
            out.push(line(to, Tone::Plain));
        }
        if let Some(events) = v.fs.events(np).filter(|e| !e.is_empty()) {
            let steps: Vec<String> = events
                .iter()
                .map(|(l, e)| match e {
                    Event::Written { size, .. } => format!("layer {l} wrote {}", human(*size)),
                    Event::Deleted { .. } => format!("layer {l} removed it"),
                })
                .collect();
            let waste = reclaimable(&events);
            let tail = if waste > 0 { format!("; {} reclaimable", human(waste)) } else { String::new() };
            out.push(line(format!("history: {}{tail}", steps.join(", ")), Tone::Plain));
        } else if n.kind == Kind::Dir && !np.is_empty() {
            if let Some(node) = v.fs.get(np) {
                out.push(line(format!("last made by layer {}", node.layer), Tone::Plain));
            }
        }
        if let Some(elf) = v.fs.file(n.data).and_then(|f| f.data.elf()) {
            let mut facts = format!("ELF {} {}-bit {}, {}", elf.machine, elf.bits, elf.kind, elf.linkage);
            if elf.stripped {
                facts.push_str(", stripped");
            }
            if let Some(g) = &elf.go_version {
                facts.push_str(&format!(", Go {g}"));
            }
            let wrong = elf.machine != v.arch;
            out.push(line(facts, Tone::Plain));
            if wrong {
                out.push(line(format!("built for {}, the platform is {}", elf.machine, v.arch), Tone::Bad));
            }
            let mut loader_present = true;
            if let Some(interp) = &elf.interpreter {
                match v.fs.resolve(interp, self.hops) {
                    Ok((r, node)) if matches!(node.kind, NodeKind::File(_)) => {
                        out.push(line(format!("interpreter {interp} -> /{r}"), Tone::Good))
                    }
                    _ => {
                        loader_present = false;
                        out.push(line(format!("interpreter {interp}: missing"), Tone::Bad))
                    }
                }
            }
            if elf.linkage == Linkage::Dynamic {
                let flavor = Flavor::of(elf.interpreter.as_deref(), self.musl());
                for name in &elf.needed {
                    match find_library(&v.fs, name, &path, elf, flavor, &v.search, self.hops) {
                        // musl's loader is also its libc.
                        Some(found) if found == "(loader)" && loader_present => {
                            out.push(line(format!("needs {name} -> the musl loader itself"), Tone::Good))
                        }
                        Some(found) if found == "(loader)" => out.push(line(
                            format!("needs {name}: the musl loader provides it, and it is missing"),
                            Tone::Bad,
                        )),
                        Some(found) => out.push(line(format!("needs {name} -> {found}"), Tone::Good)),
                        None => {
                            let dirs = if name.contains('/') {
                                vec![name.clone()]
                            } else {
                                search_dirs(&path, elf, flavor, &v.search)
                            };
                            let mut shown: Vec<&str> = dirs.iter().take(SEARCHED_SHOWN).map(String::as_str).collect();
                            let more = dirs.len().saturating_sub(SEARCHED_SHOWN);
                            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
                            shown.dedup();
                            out.push(line(
                                format!("needs {name}: NOT FOUND (searched {}{more})", shown.join(", ")),
                                Tone::Bad,
                            ));
                        }
                    }
                }
            }
            if let Some(need) = &elf.glibc_required {
                let have = p.and_then(|p| p.libc.version.clone());
                match have {
                    Some(have) if parse_version(need) > parse_version(&have) => {
                        out.push(line(format!("needs GLIBC_{need}; the image has glibc {have}: too old"), Tone::Bad))
                    }
                    Some(have) => out.push(line(format!("needs GLIBC_{need}; the image has glibc {have}"), Tone::Good)),
                    None => out.push(line(format!("needs GLIBC_{need}; the image has no glibc version"), Tone::Bad)),
                }
            }
            if let Some(why) = &elf.incomplete {
                out.push(line(format!("facts incomplete: {why}"), Tone::Bad));
            }
        }
        out
    }
}
