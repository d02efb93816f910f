//! ELF inventory: every ELF file of the merged view, and counts by kind, linkage and machine.

use super::{Context, Detector};
use crate::diag::Diagnostic;
use crate::elf::{ElfKind, Linkage};
use crate::report::{Binary, PlatformReport};

pub struct BinariesDetector;

impl Detector for BinariesDetector {
    fn name(&self) -> &'static str {
        "binaries"
    }

    fn run(&self, cx: &Context, r: &mut PlatformReport) {
        let mut capped = crate::diag::Capped::default();
        for (path, f, node) in cx.fs.files() {
            let s = &mut r.elf_summary;
            r.files += 1;
            r.bytes = r.bytes.saturating_add(f.size);
            if let Some(err) = f.extra().and_then(|e| e.error.as_ref()) {
                let layer = r.layers.get(node.layer).map(|l| l.digest.as_str());
                capped.push(&mut r.diagnostics, Diagnostic::error(layer, Some(&format!("/{path}")), err.clone()));
            }
            let Some(e) = f.elf() else { continue };
            if let Some(why) = &e.incomplete {
                let layer = r.layers.get(node.layer).map(|l| l.digest.as_str());
                capped.push(
                    &mut r.diagnostics,
                    Diagnostic::warning(layer, Some(&format!("/{path}")), format!("ELF facts partial: {why}")),
                );
            }
            s.total += 1;
            match e.kind {
                ElfKind::Executable => s.executables += 1,
                ElfKind::SharedLibrary => s.shared_libraries += 1,
                ElfKind::Other => {}
            }
            let linkage = match e.linkage {
                Linkage::Dynamic => "dynamic",
                Linkage::Static => "static",
                Linkage::StaticPie => "static-pie",
            };
            *s.by_linkage.entry(linkage.into()).or_default() += 1;
            *s.by_machine.entry(e.machine.clone()).or_default() += 1;
            if e.go_version.is_some() {
                s.go_binaries += 1;
            }
            if e.stripped {
                s.stripped += 1;
            } else {
                s.unstripped += 1;
            }
            r.binaries.push(Binary { path: format!("/{path}"), elf: e.clone(), size: f.size, layer: node.layer });
        }
        capped.finish(&mut r.diagnostics, None, "about ELF files of this platform");
    }
}
