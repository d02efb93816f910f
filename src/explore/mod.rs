//! `explore`'s model: an image's report, merged views and file trees computed once when it
//! opens ([`Explorer::open`]), and the state of the screen (pane, selection, view, filter,
//! popups). Keys change it ([`keys`]), [`draw`] paints it on any ratatui backend; the terminal
//! itself is the command line's business (src/cli/explore.rs). Nothing here prints or reads.

pub mod details;
pub mod draw;
pub mod keys;
pub mod tree;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;

use crate::fs::linker::SearchPaths;
use crate::fs::MergedFs;
use crate::pipeline::{Loaded, ScanOptions};
use crate::report::{ImageReport, LibcKind};
use tree::{FileTree, Row};

/// Trees of at most this many paths show with every directory open.
const OPEN_WHOLE: usize = 200;

/// What one platform of the image offers to browse.
pub struct PlatformView {
    pub fs: MergedFs,
    pub merged: FileTree,
    /// The paths with reclaimable bytes (`w` in the merged view).
    pub waste: FileTree,
    /// Each layer's changes, in layer order: a layer's tree is built the first time it is shown,
    /// from its entries (kept until then as 16-byte records, a third of a tree's 48-byte nodes).
    layers: Vec<OnceLock<FileTree>>,
    /// The layers' entries, for their trees.
    deltas: Vec<Option<Arc<crate::layer::LayerDelta>>>,
    /// Where the loader looks for libraries (details of an ELF).
    pub search: SearchPaths,
    pub arch: String,
}

/// The pane keys go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Layers,
    Tree,
}

/// Which tree the right pane shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The merged filesystem a container sees.
    Merged,
    /// The selected layer's changes.
    Layer,
}

/// A window over the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Popup {
    Help,
    /// The findings list, with the selected one.
    Findings(usize),
}

/// The explorer: the image's data and what the screen shows of it.
pub struct Explorer {
    pub report: ImageReport,
    pub views: Vec<PlatformView>,
    /// Symlink hop limit (library resolution in the details).
    pub hops: u64,
    pub platform: usize,
    pub focus: Pane,
    /// The selected layer (index in the platform's layers).
    pub layer: usize,
    pub view: View,
    /// Only paths with reclaimable bytes.
    pub waste_only: bool,
    pub filter: String,
    /// True while the filter is being typed.
    pub editing: bool,
    pub popup: Option<Popup>,
    pub expanded: HashSet<u32>,
    /// The tree's rows as shown, recomputed when the tree, the expansion or the filter change.
    pub rows: Vec<Row>,
    /// The selected row and the first row drawn.
    pub selected: usize,
    pub offset: usize,
    pub layer_offset: usize,
    pub findings_offset: usize,
    /// A one-line message for the status bar (a jump that found nothing).
    pub status: Option<String>,
    pub quit: bool,
}

impl PlatformView {
    /// The trees of one platform: the merged and reclaimable ones now, each layer's when it is
    /// first shown ([`PlatformView::layer`]).
    fn new(
        fs: MergedFs,
        deltas: Vec<Option<Arc<crate::layer::LayerDelta>>>,
        target: &crate::source::resolve::Target,
        hops: u64,
    ) -> Self {
        let (merged, waste) = rayon::join(|| FileTree::merged(&fs), || FileTree::waste(&fs));
        let arch = target.platform.architecture.clone();
        let env: Vec<String> = target.config.config().as_ref().and_then(|c| c.env().clone()).unwrap_or_default();
        let search = SearchPaths::new(&fs, &arch, &env, hops);
        let layers = deltas.iter().map(|_| OnceLock::new()).collect();
        PlatformView { fs, merged, waste, layers, deltas, search, arch }
    }

    /// How many layers the platform has.
    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }

    /// What layer `index` changed, built on first use (an empty tree for a layer that could
    /// not be read).
    pub fn layer(&self, index: usize) -> Option<&FileTree> {
        let cell = self.layers.get(index)?;
        Some(cell.get_or_init(|| match self.deltas.get(index).and_then(|d| d.as_deref()) {
            Some(d) => FileTree::layer(index, d, &self.fs),
            None => FileTree::empty(),
        }))
    }
}

impl Explorer {
    /// Builds everything the screen needs from a loaded image (read once, by the caller): each
    /// platform's merged view, the report, the merged trees. The layers' entries are kept (16
    /// bytes each, their paths and files shared with the views) for the layer trees, each built
    /// the first time its layer is shown.
    pub fn open(mut loaded: Loaded, opts: &ScanOptions) -> Explorer {
        let hops = opts.limits.symlink_hops;
        let views = crate::pipeline::views(&loaded);
        let report = crate::pipeline::report_with_views(&loaded, &views, opts);
        let deltas: HashMap<String, Arc<crate::layer::LayerDelta>> =
            std::mem::take(&mut loaded.deltas).into_iter().map(|(k, d)| (k, Arc::new(d))).collect();
        let views: Vec<PlatformView> = views
            .into_par_iter()
            .zip(&loaded.resolution.targets)
            .map(|(fs, t)| {
                let layers = t.layers.iter().map(|l| deltas.get(&l.descriptor.digest().to_string()).cloned()).collect();
                PlatformView::new(fs, layers, t, hops)
            })
            .collect();
        drop(loaded);
        Explorer::new(report, views, hops)
    }

    /// An explorer over a report and its platforms' views (in the report's platform order).
    pub fn new(report: ImageReport, views: Vec<PlatformView>, hops: u64) -> Explorer {
        let mut e = Explorer {
            report,
            views,
            hops,
            platform: 0,
            focus: Pane::Tree,
            layer: 0,
            view: View::Merged,
            waste_only: false,
            filter: String::new(),
            editing: false,
            popup: None,
            expanded: HashSet::new(),
            rows: Vec::new(),
            selected: 0,
            offset: 0,
            layer_offset: 0,
            findings_offset: 0,
            status: None,
            quit: false,
        };
        e.switch_tree();
        e
    }

    /// The platform shown.
    pub fn current(&self) -> Option<&PlatformView> {
        self.views.get(self.platform)
    }

    pub fn platform_report(&self) -> Option<&crate::report::PlatformReport> {
        self.report.platforms.get(self.platform)
    }

    /// The tree the right pane shows.
    pub fn tree(&self) -> Option<&FileTree> {
        let v = self.current()?;
        match self.view {
            View::Merged if self.waste_only => Some(&v.waste),
            View::Merged => Some(&v.merged),
            View::Layer => v.layer(self.layer),
        }
    }

    /// The selected node of the tree.
    pub fn selected_node(&self) -> Option<&tree::Node> {
        let row = self.rows.get(self.selected)?;
        self.tree()?.nodes.get(row.id as usize)
    }

    /// Recomputes the rows after a change of tree, expansion or filter, keeping the selection
    /// on the same node when it is still shown.
    pub fn refresh(&mut self) {
        let keep = self.rows.get(self.selected).map(|r| r.id);
        let rows = match (self.current(), self.tree()) {
            (Some(v), Some(t)) => {
                // In a layer's changes, `w` keeps the paths whose history wastes bytes.
                let waste = (self.waste_only && self.view == View::Layer).then_some(&v.fs);
                tree::rows(t, &self.expanded, &self.filter, waste)
            }
            _ => Vec::new(),
        };
        self.rows = rows;
        self.selected = keep.and_then(|id| self.rows.iter().position(|r| r.id == id)).unwrap_or(0);
        if self.selected >= self.rows.len() {
            self.selected = self.rows.len().saturating_sub(1);
        }
    }

    /// Shows another tree: the expansion and the selection start over.
    pub fn switch_tree(&mut self) {
        self.expanded.clear();
        // A small tree opens whole, as a layer of a few files reads best; a big one closed.
        let open: Vec<u32> = match self.tree().filter(|t| t.nodes.len() <= OPEN_WHOLE) {
            Some(t) => (0..t.nodes.len() as u32).filter(|&id| t.has_children(id)).collect(),
            None => Vec::new(),
        };
        self.expanded.extend(open);
        self.rows.clear();
        self.selected = 0;
        self.offset = 0;
        self.refresh();
    }

    /// The findings of the platform shown, then the image's.
    pub fn findings(&self) -> Vec<&crate::report::Finding> {
        self.platform_report().map(|p| p.findings.iter()).into_iter().flatten().chain(&self.report.findings).collect()
    }

    /// Whether the image's C library is musl (whose loader rules apply to binaries without an
    /// interpreter).
    pub fn musl(&self) -> bool {
        self.platform_report().is_some_and(|p| p.libc.kind == LibcKind::Musl)
    }
}

/// An explorer over a fixture of testdata/images (unit tests of the keys and the trees).
#[cfg(test)]
pub(crate) fn fixture(name: &str) -> Explorer {
    let reference = format!("{}/testdata/images/{name}/oci", env!("CARGO_MANIFEST_DIR"));
    let opts = ScanOptions::default();
    match crate::pipeline::load(&reference, &opts) {
        Ok(loaded) => Explorer::open(loaded, &opts),
        Err(e) => panic!("{reference}: {e}"),
    }
}
