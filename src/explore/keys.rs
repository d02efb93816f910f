//! What each key does to the explorer's state (the list is in [`HELP`], shown by `?`).

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{Explorer, Pane, Popup, View};

/// The keys, as the help window lists them.
pub const HELP: &[(&str, &str)] = &[
    ("Tab", "switch pane (layers / files)"),
    ("Up/Down, k/j", "move; PgUp/PgDn, Home/End jump"),
    ("Enter, Right", "expand a directory; on a layer: show its changes"),
    ("Left", "collapse, or go to the parent"),
    ("a", "merged view / the selected layer's changes"),
    ("w", "only paths with reclaimable bytes"),
    ("/", "filter by path (Enter keeps it, Esc clears it)"),
    ("p", "next platform of the index"),
    ("f", "findings; Enter jumps to the file"),
    ("?", "this help"),
    ("q, Esc", "quit"),
];

/// Rows a page key moves.
const PAGE: usize = 10;

impl Explorer {
    /// Applies one key press.
    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        self.status = None;
        if self.editing {
            return self.on_filter_key(key.code);
        }
        match self.popup {
            Some(Popup::Help) => {
                self.popup = None;
                return;
            }
            Some(Popup::Findings(i)) => return self.on_findings_key(key.code, i),
            None => {}
        }
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            KeyCode::Char('?') => self.popup = Some(Popup::Help),
            KeyCode::Tab | KeyCode::BackTab => {
                self.focus = if self.focus == Pane::Tree { Pane::Layers } else { Pane::Tree };
            }
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            KeyCode::PageUp => self.move_by(-(PAGE as i64)),
            KeyCode::PageDown => self.move_by(PAGE as i64),
            KeyCode::Home => self.move_by(i64::MIN / 2),
            KeyCode::End => self.move_by(i64::MAX / 2),
            KeyCode::Enter | KeyCode::Right | KeyCode::Char('l') => match self.focus {
                Pane::Tree => self.expand(),
                Pane::Layers => {
                    self.view = View::Layer;
                    self.focus = Pane::Tree;
                    self.switch_tree();
                }
            },
            KeyCode::Left | KeyCode::Char('h') if self.focus == Pane::Tree => self.collapse(),
            KeyCode::Char('a') => {
                self.view = if self.view == View::Merged { View::Layer } else { View::Merged };
                self.switch_tree();
            }
            KeyCode::Char('w') => {
                self.waste_only = !self.waste_only;
                self.switch_tree();
            }
            KeyCode::Char('/') => {
                self.editing = true;
                self.focus = Pane::Tree;
            }
            KeyCode::Char('p') => {
                if self.views.len() > 1 {
                    self.platform = (self.platform + 1) % self.views.len();
                    self.layer = 0;
                    self.layer_offset = 0;
                    self.switch_tree();
                } else {
                    self.status = Some("the image has one platform".into());
                }
            }
            KeyCode::Char('f') => {
                self.popup = Some(Popup::Findings(0));
                self.findings_offset = 0;
            }
            _ => {}
        }
    }

    fn on_filter_key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Enter => self.editing = false,
            KeyCode::Esc => {
                self.editing = false;
                self.filter.clear();
                self.refresh();
            }
            KeyCode::Backspace => {
                self.filter.pop();
                self.refresh();
            }
            KeyCode::Char(c) if !c.is_control() => {
                self.filter.push(c);
                self.refresh();
            }
            _ => {}
        }
    }

    fn on_findings_key(&mut self, code: KeyCode, i: usize) {
        let n = self.findings().len();
        match code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('f') => self.popup = None,
            KeyCode::Up | KeyCode::Char('k') => self.popup = Some(Popup::Findings(i.saturating_sub(1))),
            KeyCode::Down | KeyCode::Char('j') => {
                self.popup = Some(Popup::Findings((i + 1).min(n.saturating_sub(1))));
            }
            KeyCode::Enter => {
                self.popup = None;
                let path = self.findings().get(i).and_then(|f| f.paths.first().cloned());
                match path {
                    Some(p) => self.jump_to(&p),
                    None => self.status = Some("this finding names no file".into()),
                }
            }
            _ => {}
        }
    }

    /// Moves the selection of the focused pane by `delta` rows (clamped).
    fn move_by(&mut self, delta: i64) {
        let clamp = |at: usize, len: usize| -> usize {
            let to = (at as i64).saturating_add(delta).max(0) as usize;
            to.min(len.saturating_sub(1))
        };
        match self.focus {
            Pane::Tree => self.selected = clamp(self.selected, self.rows.len()),
            Pane::Layers => {
                let n = self.current().map_or(0, |v| v.layer_count());
                let to = clamp(self.layer, n);
                if to != self.layer {
                    self.layer = to;
                    if self.view == View::Layer {
                        self.switch_tree();
                    }
                }
            }
        }
    }

    fn expand(&mut self) {
        let Some(row) = self.rows.get(self.selected).copied() else { return };
        let has_children = self.tree().is_some_and(|t| t.has_children(row.id));
        if !has_children {
            return;
        }
        if self.expanded.insert(row.id) {
            self.refresh();
        } else if self.rows.get(self.selected + 1).is_some_and(|r| r.depth > row.depth) {
            // Already open: Right goes to the first child.
            self.selected += 1;
        }
    }

    fn collapse(&mut self) {
        let Some(row) = self.rows.get(self.selected).copied() else { return };
        if self.filter.is_empty() && self.expanded.remove(&row.id) {
            self.refresh();
            return;
        }
        // Go to the parent row.
        if let Some(p) = (0..self.selected).rev().find(|&i| self.rows[i].depth < row.depth) {
            self.selected = p;
        }
    }

    /// Shows `path` (`/usr/bin/x` or `usr/bin/x`) in the merged view, its parents open.
    pub fn jump_to(&mut self, path: &str) {
        let path = path.trim_start_matches('/');
        let Some(id) = self.current().and_then(|v| v.merged.find(path)) else {
            self.status = Some(format!("/{path} is not in the merged view"));
            return;
        };
        self.view = View::Merged;
        self.waste_only = false;
        self.filter.clear();
        self.focus = Pane::Tree;
        self.expanded.clear();
        if let Some(t) = self.tree() {
            let mut up = t.nodes[id as usize].parent;
            let mut open = Vec::new();
            while up != super::tree::NONE && up != super::tree::ROOT {
                open.push(up);
                up = t.nodes[up as usize].parent;
            }
            self.expanded.extend(open);
        }
        self.refresh();
        if let Some(i) = self.rows.iter().position(|r| r.id == id) {
            self.selected = i;
        }
    }
}

#[cfg(test)]
mod tests {
    use ratatui::crossterm::event::{KeyCode, KeyEvent};

    use super::super::{fixture, Explorer, Pane, Popup, View};

    fn press(e: &mut Explorer, keys: &[KeyCode]) {
        for k in keys {
            e.on_key(KeyEvent::from(*k));
        }
    }

    fn typed(e: &mut Explorer, text: &str) {
        for c in text.chars() {
            e.on_key(KeyEvent::from(KeyCode::Char(c)));
        }
    }

    /// The paths of the rows shown.
    fn shown(e: &Explorer) -> Vec<String> {
        let t = e.tree().expect("a tree");
        e.rows.iter().map(|r| t.path(r.id).to_string()).collect()
    }

    fn selected(e: &Explorer) -> String {
        e.tree().zip(e.selected_node()).map(|(t, n)| t.path_of(n).to_string()).unwrap_or_default()
    }

    #[test]
    fn explore_tab_help_and_quit() {
        let mut e = fixture("broken");
        assert_eq!(e.focus, Pane::Tree);
        press(&mut e, &[KeyCode::Tab]);
        assert_eq!(e.focus, Pane::Layers);
        press(&mut e, &[KeyCode::Char('?')]);
        assert_eq!(e.popup, Some(Popup::Help));
        // Any key closes the help, and does nothing else.
        press(&mut e, &[KeyCode::Char('q')]);
        assert_eq!(e.popup, None);
        assert!(!e.quit);
        press(&mut e, &[KeyCode::Char('q')]);
        assert!(e.quit);
        let mut e = fixture("broken");
        press(&mut e, &[KeyCode::Esc]);
        assert!(e.quit);
    }

    #[test]
    fn explore_moves_clamp_and_directories_open_and_close() {
        let mut e = fixture("broken");
        // A small image opens whole: /app's files are shown under it.
        assert_eq!(selected(&e), "app");
        assert!(shown(&e).contains(&"app/needs-libm".to_string()));
        press(&mut e, &[KeyCode::Up]);
        assert_eq!(e.selected, 0, "Up at the top stays");
        press(&mut e, &[KeyCode::Left]);
        assert!(!shown(&e).iter().any(|p| p.starts_with("app/")), "Left closed /app");
        let closed = e.rows.len();
        press(&mut e, &[KeyCode::Enter]);
        assert!(e.rows.len() > closed, "Enter opened it again");
        press(&mut e, &[KeyCode::Right]);
        assert_eq!(selected(&e), "app/arm64-hello", "Right on an open directory goes in");
        press(&mut e, &[KeyCode::Down, KeyCode::Down]);
        assert_eq!(selected(&e), "app/needs-libm");
        press(&mut e, &[KeyCode::Left]);
        assert_eq!(selected(&e), "app", "Left on a file goes to its directory");
        press(&mut e, &[KeyCode::End]);
        assert_eq!(e.selected, e.rows.len() - 1);
        press(&mut e, &[KeyCode::Down]);
        assert_eq!(e.selected, e.rows.len() - 1, "Down at the end stays");
        press(&mut e, &[KeyCode::Home]);
        assert_eq!(e.selected, 0);
    }

    #[test]
    fn explore_a_shows_the_selected_layers_changes() {
        let mut e = fixture("broken");
        press(&mut e, &[KeyCode::Char('a')]);
        assert_eq!(e.view, View::Layer);
        assert_eq!(e.layer, 0);
        assert!(shown(&e).contains(&"etc/os-release".to_string()));
        // In the layers pane, Down selects layer 1 and the tree follows.
        press(&mut e, &[KeyCode::Tab, KeyCode::Down]);
        assert_eq!(e.layer, 1);
        let paths = shown(&e);
        assert!(paths.contains(&"usr/lib/x86_64-linux-gnu/libc.so.6".to_string()), "{paths:?}");
        assert!(!paths.iter().any(|p| p.starts_with("app")), "layer 1 has no /app: {paths:?}");
        // Enter on a layer shows its changes with the tree focused.
        press(&mut e, &[KeyCode::Char('a'), KeyCode::Down, KeyCode::Enter]);
        assert_eq!((e.view, e.layer, e.focus), (View::Layer, 2, Pane::Tree));
        assert!(shown(&e).contains(&"app/needs-libm".to_string()));
        press(&mut e, &[KeyCode::Char('a')]);
        assert_eq!(e.view, View::Merged);
    }

    #[test]
    fn explore_filter_keeps_matches_and_their_parents() {
        let mut e = fixture("broken");
        press(&mut e, &[KeyCode::Char('/')]);
        assert!(e.editing);
        typed(&mut e, "LIBM");
        // q while typing is text, not quit.
        assert_eq!(shown(&e), ["app", "app/needs-libm"]);
        press(&mut e, &[KeyCode::Enter]);
        assert!(!e.editing);
        assert_eq!(e.filter, "LIBM");
        press(&mut e, &[KeyCode::Char('/'), KeyCode::Backspace, KeyCode::Backspace, KeyCode::Backspace]);
        assert_eq!(e.filter, "L");
        typed(&mut e, "qz");
        assert!(!e.quit);
        assert!(e.rows.is_empty(), "nothing has lqz");
        press(&mut e, &[KeyCode::Esc]);
        assert!(e.filter.is_empty() && !e.editing && !e.quit);
        assert!(shown(&e).len() > 10);
    }

    #[test]
    fn explore_findings_jump_to_their_file() {
        let mut e = fixture("broken");
        press(&mut e, &[KeyCode::Char('f')]);
        let i = e.findings().iter().position(|f| f.id == "LIBC-MISSING-LIBRARY").expect("the finding");
        for _ in 0..i {
            press(&mut e, &[KeyCode::Down]);
        }
        assert_eq!(e.popup, Some(Popup::Findings(i)));
        press(&mut e, &[KeyCode::Enter]);
        assert_eq!(e.popup, None);
        assert_eq!(selected(&e), "app/needs-libm");
        assert_eq!(e.focus, Pane::Tree);
        // A finding about no file says so.
        press(&mut e, &[KeyCode::Char('f')]);
        let j = e.findings().iter().position(|f| f.paths.is_empty()).expect("a finding without paths");
        e.popup = Some(Popup::Findings(j));
        press(&mut e, &[KeyCode::Enter]);
        assert_eq!(e.status.as_deref(), Some("this finding names no file"));
        assert_eq!(selected(&e), "app/needs-libm");
    }

    #[test]
    fn explore_w_shows_the_reclaimable_files() {
        let mut e = fixture("bloat");
        press(&mut e, &[KeyCode::Char('w')]);
        let p = e.platform_report().expect("a platform").clone();
        assert!(!p.bloat.reclaimable_files.is_empty());
        let t = e.tree().expect("the waste tree");
        let files: Vec<(String, u64)> = t
            .nodes
            .iter()
            .filter(|n| n.kind == super::super::tree::Kind::File)
            .map(|n| (format!("/{}", t.path_of(n)), n.size))
            .collect();
        let mut want: Vec<(String, u64)> =
            p.bloat.reclaimable_files.iter().map(|f| (f.path.clone(), f.bytes)).collect();
        let mut got = files.clone();
        want.sort();
        got.sort();
        assert_eq!(got, want);
        assert_eq!(t.nodes[0].size, p.bloat.reclaimable_bytes, "the root adds up every reclaimable byte");
        press(&mut e, &[KeyCode::Char('w')]);
        assert!(!e.waste_only);
    }

    #[test]
    fn explore_p_goes_through_the_platforms() {
        let mut e = fixture("multiarch");
        assert_eq!(e.views.len(), 2);
        let first = e.platform_report().map(|p| p.platform.clone());
        press(&mut e, &[KeyCode::Char('p')]);
        assert_eq!(e.platform, 1);
        assert_ne!(e.platform_report().map(|p| p.platform.clone()), first);
        press(&mut e, &[KeyCode::Char('p')]);
        assert_eq!(e.platform, 0);
        let mut one = fixture("broken");
        press(&mut one, &[KeyCode::Char('p')]);
        assert_eq!(one.platform, 0);
        assert_eq!(one.status.as_deref(), Some("the image has one platform"));
    }
}
