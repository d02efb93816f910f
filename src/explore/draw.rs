//! Paints the explorer on a ratatui frame: headline facts and layers on the left, the file tree
//! on the right, the selected path's details below, a status line, and the help or findings
//! window over them. Only the rows in sight are built, so a tree of a million paths draws as
//! fast as a small one; any size works (a tiny terminal just shows less). Names, commands and
//! messages come from the image: control characters are replaced before they reach the screen.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::units::human;

use super::details::Tone;
use super::keys::HELP;
use super::tree::{Change, Kind};
use super::{Explorer, Pane, Popup, View};

/// Text from the image, safe to draw: control characters become `?`.
pub fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

fn change_style(c: Change) -> Style {
    match c {
        Change::None => Style::default(),
        Change::Added => Style::default().fg(Color::Green),
        Change::Modified => Style::default().fg(Color::Yellow),
        Change::Removed => Style::default().fg(Color::Red),
    }
}

fn pane(title: String, focused: bool) -> Block<'static> {
    let style = if focused { Style::default().fg(Color::Cyan) } else { Style::default() };
    Block::default().borders(Borders::ALL).border_style(style).title(title)
}

/// Keeps `selected` inside the window of `height` rows starting at `offset`.
fn scroll(offset: &mut usize, selected: usize, height: usize) {
    if height == 0 {
        return;
    }
    if selected < *offset {
        *offset = selected;
    } else if selected >= *offset + height {
        *offset = selected + 1 - height;
    }
}

/// A build step as a person reads it: without docker's `/bin/sh -c #(nop) ` prefix.
fn command(created_by: Option<&str>) -> String {
    let c = created_by.unwrap_or("");
    let c = c.strip_prefix("/bin/sh -c #(nop) ").or_else(|| c.strip_prefix("/bin/sh -c ")).unwrap_or(c);
    clean(c.trim())
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, e: &mut Explorer) {
    let area = frame.area();
    let details_height = (area.height / 3).clamp(3, 14);
    let [main, details, status] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(details_height), Constraint::Length(1)]).areas(area);
    let [left, right] = Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(main);
    let [facts, layers] = Layout::vertical([Constraint::Length(8), Constraint::Min(3)]).areas(left);
    draw_facts(frame, e, facts);
    draw_layers(frame, e, layers);
    draw_tree(frame, e, right);
    draw_details(frame, e, details);
    draw_status(frame, e, status);
    match e.popup {
        Some(Popup::Help) => draw_help(frame, area),
        Some(Popup::Findings(i)) => draw_findings(frame, e, area, i),
        None => {}
    }
}

fn draw_facts(frame: &mut Frame, e: &Explorer, area: Rect) {
    let mut lines = Vec::new();
    let title = format!("Image {}", clean(&e.report.reference));
    if let Some(p) = e.platform_report() {
        let n = e.report.platforms.len();
        let which = if n > 1 { format!(" ({} of {n}, p: next)", e.platform + 1) } else { String::new() };
        lines.push(Line::from(format!("platform {}{which}", clean(&p.platform))));
        let version = p.libc.version.as_deref().map(|v| format!(" {}", clean(v))).unwrap_or_default();
        lines.push(Line::from(format!("libc {}{version}", p.libc.kind)));
        lines.push(Line::from(format!("distroless verdict: {}", p.distroless.verdict)));
        // One fact a line: the left pane is 32 columns wide on an 80-column terminal.
        lines.push(Line::from(format!("efficiency {:.1} %", p.bloat.efficiency * 100.0)));
        lines.push(Line::from(format!("reclaimable {}", human(p.bloat.reclaimable_bytes))));
        let all = e.findings();
        let high = all.iter().filter(|f| f.severity >= crate::findings::Severity::High).count();
        lines.push(Line::from(format!("findings {} ({high} high; f: list)", all.len())));
    } else {
        lines.push(Line::from("no platform could be read"));
    }
    frame.render_widget(Paragraph::new(lines).block(pane(title, false)), area);
}

fn draw_layers(frame: &mut Frame, e: &mut Explorer, area: Rect) {
    let focused = e.focus == Pane::Layers;
    let block = pane("Layers (size, lost, command)".to_string(), focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(p) = e.report.platforms.get(e.platform) else { return };
    let height = inner.height as usize;
    scroll(&mut e.layer_offset, e.layer, height);
    let lines: Vec<Line> = p
        .layers
        .iter()
        .enumerate()
        .skip(e.layer_offset)
        .take(height)
        .map(|(i, l)| {
            let lost = if l.lost_bytes > 0 { human(l.lost_bytes) } else { "-".into() };
            // The selected layer is marked in text too (a capture, a screen reader).
            let mark = if i == e.layer { '>' } else { ' ' };
            let size = human(l.uncompressed_bytes);
            let text = format!("{mark}{i:>2} {size:>8} {lost:>8} {}", command(l.created_by.as_deref()));
            let mut style = Style::default();
            if i == e.layer {
                style = if focused || e.view == View::Layer {
                    style.add_modifier(Modifier::REVERSED)
                } else {
                    style.add_modifier(Modifier::BOLD)
                };
            }
            Line::styled(text, style)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_tree(frame: &mut Frame, e: &mut Explorer, area: Rect) {
    let focused = e.focus == Pane::Tree;
    let mut title = match e.view {
        View::Merged => "Files: merged view".to_string(),
        View::Layer => format!("Files: layer {} changes", e.layer),
    };
    if e.waste_only {
        title.push_str(", reclaimable only");
    }
    if !e.filter.is_empty() {
        title.push_str(&format!(", filter \"{}\"", clean(&e.filter)));
    }
    let block = pane(title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(tree) = e.tree() else { return };
    let height = inner.height as usize;
    let mut offset = e.offset;
    scroll(&mut offset, e.selected, height);
    let mut lines = Vec::with_capacity(height);
    if e.rows.is_empty() {
        lines.push(Line::from(if e.filter.is_empty() && !e.waste_only { "(empty)" } else { "(nothing matches)" }));
    }
    for (i, row) in e.rows.iter().enumerate().skip(offset).take(height) {
        let n = &tree.nodes[row.id as usize];
        let arrow = match (n.kind, tree.has_children(row.id)) {
            (Kind::Dir, true) if e.expanded.contains(&row.id) || !e.filter.is_empty() || e.waste_only => "▾ ",
            (Kind::Dir, true) => "▸ ",
            _ => "  ",
        };
        let indent = "  ".repeat(usize::from(row.depth).min(40));
        let mut name = clean(tree.name_of(n));
        if n.kind == Kind::Dir {
            name.push('/');
        }
        let style = change_style(n.change);
        let mut spans = vec![
            Span::raw(format!("{:>9} ", human(n.size))),
            Span::raw(indent),
            Span::raw(arrow),
            Span::styled(format!("{} {name}", n.change.marker()), style),
        ];
        if n.kind == Kind::Symlink {
            spans.push(Span::styled(" @", Style::default().fg(Color::Blue)));
        }
        if n.elf {
            spans.push(Span::styled(" [ELF]", Style::default().fg(Color::Cyan)));
        }
        let mut line = Line::from(spans);
        if i == e.selected {
            line = line.style(if focused {
                Style::default().add_modifier(Modifier::REVERSED)
            } else {
                Style::default().add_modifier(Modifier::BOLD)
            });
        }
        lines.push(line);
    }
    e.offset = offset;
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_details(frame: &mut Frame, e: &Explorer, area: Rect) {
    let lines: Vec<Line> = e
        .details()
        .into_iter()
        .map(|l| {
            let style = match l.tone {
                Tone::Plain => Style::default(),
                Tone::Good => Style::default().fg(Color::Green),
                Tone::Bad => Style::default().fg(Color::Red),
            };
            Line::styled(clean(&l.text), style)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(pane("Details".into(), false)), area);
}

fn draw_status(frame: &mut Frame, e: &Explorer, area: Rect) {
    let text = if e.editing {
        format!("filter: /{}_  (Enter keeps it, Esc clears it)", clean(&e.filter))
    } else if let Some(s) = &e.status {
        clean(s)
    } else {
        "q quit  ? help  Tab pane  a merged/layer  w reclaimable  / filter  f findings  p platform".into()
    };
    frame.render_widget(Paragraph::new(text).style(Style::default().add_modifier(Modifier::DIM)), area);
}

/// A rectangle of at most `w` x `h` in the middle of `area`.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

fn draw_help(frame: &mut Frame, area: Rect) {
    let lines: Vec<Line> = HELP.iter().map(|(k, what)| Line::from(format!("{k:>14}  {what}"))).collect();
    let r = centered(area, 70, HELP.len() as u16 + 2);
    frame.render_widget(Clear, r);
    frame.render_widget(Paragraph::new(lines).block(pane("Keys (any key closes)".into(), true)), r);
}

fn draw_findings(frame: &mut Frame, e: &mut Explorer, area: Rect, selected: usize) {
    let r = centered(area, area.width.saturating_sub(4), area.height.saturating_sub(4));
    let block = pane("Findings (Enter: go to the file, Esc: close)".into(), true);
    let inner = block.inner(r);
    frame.render_widget(Clear, r);
    frame.render_widget(block, r);
    let findings = e.findings();
    let height = inner.height as usize;
    let mut offset = e.findings_offset;
    scroll(&mut offset, selected, height);
    let mut lines: Vec<Line> = findings
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, f)| {
            let path = f.paths.first().map(|p| format!(" {}", clean(p))).unwrap_or_default();
            let text = format!("{:<6} {}{path}: {}", f.severity.to_string(), f.id, clean(&f.message));
            let style =
                if i == selected { Style::default().add_modifier(Modifier::REVERSED) } else { Style::default() };
            Line::styled(text, style)
        })
        .collect();
    if findings.is_empty() {
        lines.push(Line::from("no findings"));
    }
    e.findings_offset = offset;
    frame.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::{clean, command};

    #[test]
    fn explore_text_from_the_image_cannot_drive_the_terminal() {
        assert_eq!(clean("a\u{1b}[2Jb\r\n\u{7}c"), "a?[2Jb???c");
        assert_eq!(clean("pkg/ünï.js"), "pkg/ünï.js");
        assert_eq!(command(Some("/bin/sh -c #(nop) COPY a /\u{1b}x")), "COPY a /?x");
        assert_eq!(command(Some("/bin/sh -c apt-get update")), "apt-get update");
        assert_eq!(command(None), "");
    }
}
