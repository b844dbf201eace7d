//! Drawing: header, list, detail pane with tabs, status line and footer, plus the help
//! and diff overlays. Reads the state, never changes it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::exchange::{Source, format_time};
use crate::output::{human_duration_us, human_size};

use super::app::{App, Focus, Level, Mode, Row, SigKind, Tab, TunnelState};
use super::keys;
use super::theme::Theme;

/// Draws the whole screen.
pub fn render(app: &App, frame: &mut Frame) {
    let areas = app.areas();
    let theme = Theme::new(app.color);
    frame.render_widget(Paragraph::new(header(app, &theme)), areas.header);
    list(app, &theme, frame, areas.list);
    detail(app, &theme, frame, areas.detail);
    frame.render_widget(Paragraph::new(status_line(app, &theme)), areas.status);
    frame.render_widget(Paragraph::new(footer(app, &theme)), areas.footer);
    let main = areas.list.union(areas.detail);
    match app.mode {
        Mode::Help => help(&theme, frame, main),
        Mode::Diff => diff(app, &theme, frame, main),
        _ => {}
    }
}

fn header(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let h = &app.header;
    let mut first = vec![Span::styled(" hooktap  ", theme.bold())];
    match h.tunnel {
        TunnelState::Viewer => first.push(Span::raw(h.title.clone())),
        _ => {
            let urls = if h.public_urls.is_empty() {
                format!("{} (local capture only)", h.title)
            } else {
                h.public_urls.join("  ")
            };
            first.push(Span::raw(urls));
            if let Some(target) = &h.target {
                first.push(Span::styled(" → ", theme.dim()));
                first.push(Span::raw(target.clone()));
            }
        }
    }
    first.push(Span::raw("   "));
    let (dot, text) = match &h.tunnel {
        TunnelState::Viewer => (theme.dim(), "● viewer · tails new records".to_string()),
        TunnelState::Local => (theme.dim(), String::new()),
        TunnelState::Connecting => (theme.warn(), "● connecting".to_string()),
        TunnelState::Online => (theme.good(), "● online".to_string()),
        TunnelState::Reconnecting { in_secs, reason } => (
            theme.warn(),
            format!("● reconnecting in {in_secs}s ({reason})"),
        ),
        TunnelState::Offline(reason) => (theme.bad(), format!("● offline: {reason}")),
    };
    if !text.is_empty() {
        first.push(Span::styled(text, dot));
    }
    if h.queued_delivered > 0 {
        first.push(Span::styled(
            format!(" · {} queued delivered", h.queued_delivered),
            theme.dim(),
        ));
    }
    let c = app.counts;
    let noun = if c.total == 1 { "request" } else { "requests" };
    let mut second = vec![Span::raw(format!(" {} {noun}", c.total))];
    let mut count = |n: u64, what: &str, style: Style| {
        if n > 0 {
            second.push(Span::styled(format!(" · {n} {what}"), style));
        }
    };
    count(c.failed, "failed", theme.bad());
    count(c.invalid, "invalid sig", theme.bad());
    count(h.dropped, "dropped", theme.warn());
    if app.loading_older {
        second.push(Span::styled(
            format!(" · loading ({} so far)", app.rows.len()),
            theme.dim(),
        ));
    }
    if !app.filter_text.is_empty() {
        second.push(Span::styled(
            format!(" · filter: {}", app.filter_text),
            theme.warn(),
        ));
        second.push(Span::styled(
            format!(
                " ({} shown{})",
                app.shown(),
                if app.searching {
                    ", searching bodies…"
                } else {
                    ""
                }
            ),
            theme.dim(),
        ));
    }
    let mut right = String::new();
    if app.follow {
        right.push_str("following · ");
    }
    right.push_str("? help ");
    let used: usize = second.iter().map(|s| s.content.chars().count()).sum();
    let pad = usize::from(app.size.0).saturating_sub(used + right.chars().count());
    second.push(Span::raw(" ".repeat(pad)));
    second.push(Span::styled(right, theme.dim()));
    vec![Line::from(first), Line::from(second)]
}

fn list(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let focused = app.focus == Focus::List && app.mode == Mode::Normal;
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Requests ")
        .border_style(if focused { theme.bold() } else { theme.dim() });
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let mut lines = Vec::new();
    if app.shown() == 0 {
        let text = if app.rows.is_empty() {
            "nothing recorded yet"
        } else {
            "no request matches the filter"
        };
        lines.push(Line::styled(format!(" {text}"), theme.dim()));
    }
    for pos in app.offset..(app.offset + usize::from(inner.height)).min(app.shown()) {
        let Some(row) = app.row_at(pos) else { break };
        lines.push(list_line(app, theme, row, pos == app.cursor, width));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn list_line(app: &App, theme: &Theme, row: &Row, selected: bool, width: usize) -> Line<'static> {
    let time = format_time(row.received_at_us);
    let clock = time.get(11..23).unwrap_or(&time).to_string();
    let marker = if app.marks.contains(&row.id) {
        "*"
    } else if selected {
        "›"
    } else {
        " "
    };
    let status = row
        .status
        .map_or_else(|| "ERR".to_string(), |s| s.to_string());
    let wide = width >= 70;
    let source = match (row.source, wide) {
        (Source::Local, true) => "local ",
        (Source::Relay, true) => "relay ",
        (Source::Queued, true) => "queued",
        (Source::Replay, true) => "replay",
        (Source::Local, false) => "l",
        (Source::Relay, false) => "r",
        (Source::Queued, false) => "q",
        (Source::Replay, false) => "⟳",
    };
    let size = if wide {
        format!("{:>9} ", human_size(row.size))
    } else {
        String::new()
    };
    let fixed =
        1 + 12 + 1 + 7 + 1 + 3 + 1 + 7 + size.chars().count() + 2 + 1 + source.chars().count() + 2;
    let path_w = width.saturating_sub(fixed).max(4);
    let path: String = if row.path.chars().count() > path_w {
        let mut p: String = row.path.chars().take(path_w - 1).collect();
        p.push('…');
        p
    } else {
        format!("{:<path_w$}", row.path)
    };
    let (badge, badge_style) = match &row.sig {
        Some(sig) => {
            let mark = match sig.kind {
                SigKind::Valid => '✓',
                SigKind::Invalid => '✗',
                SigKind::Expired => '!',
                SigKind::Missing => '?',
                SigKind::NoSecret => '-',
            };
            let initial = sig.provider.chars().next().unwrap_or(' ');
            (format!("{mark}{initial}"), theme.sig(sig.kind))
        }
        None => ("  ".to_string(), Style::new()),
    };
    let spans = vec![
        Span::raw(marker),
        Span::styled(clock, theme.dim()),
        Span::raw(" "),
        Span::styled(format!("{:<7}", row.method), theme.bold()),
        Span::raw(path),
        Span::raw(" "),
        Span::styled(format!("{status:>3}"), theme.status(row.status)),
        Span::styled(
            format!(" {:>6} ", human_duration_us(row.duration_us)),
            theme.dim(),
        ),
        Span::styled(size, theme.dim()),
        Span::styled(badge, badge_style),
        Span::raw(" "),
        Span::styled(source, theme.dim()),
        Span::styled(if row.redelivery { " ↻" } else { "  " }, theme.warn()),
    ];
    let line = Line::from(spans);
    if selected {
        line.style(theme.selected())
    } else {
        line
    }
}

fn detail(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let focused = app.focus == Focus::Detail && app.mode == Mode::Normal;
    let mut title = vec![Span::raw("")];
    for (i, tab) in Tab::ALL.iter().enumerate() {
        if i > 0 {
            title.push(Span::styled("│", theme.dim()));
        }
        let style = if *tab == app.tab {
            theme.selected().patch(theme.bold())
        } else {
            Style::new()
        };
        title.push(Span::styled(format!(" {} ", tab.title()), style));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::from(title))
        .border_style(if focused { theme.bold() } else { theme.dim() });
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let view = app.detail.as_ref().filter(|d| Some(d.id) == app.selected);
    let lines: Vec<Line> = match view {
        Some(view) => view
            .tab(app.tab)
            .iter()
            .skip(app.detail_scroll)
            .take(usize::from(inner.height))
            .map(|line| {
                Line::from(
                    line.iter()
                        .map(|(tone, text)| Span::styled(text.clone(), theme.tone(*tone)))
                        .collect::<Vec<_>>(),
                )
            })
            .collect(),
        None if app.selected.is_some() => vec![Line::styled(" loading…", theme.dim())],
        None => vec![Line::styled(
            " select a request to see it here",
            theme.dim(),
        )],
    };
    frame.render_widget(Paragraph::new(lines), inner);
}

fn status_line(app: &App, theme: &Theme) -> Line<'static> {
    if app.mode == Mode::Filter {
        let mut spans = vec![
            Span::styled(" / ", theme.key()),
            Span::raw(app.filter_text.clone()),
            Span::styled("▏", theme.bold()),
        ];
        if let Some(err) = &app.filter_error {
            spans.push(Span::styled(format!("  {err}"), theme.bad()));
        }
        return Line::from(spans);
    }
    match &app.status {
        Some((level, text)) => {
            let style = match level {
                Level::Info => Style::new(),
                Level::Done => theme.good(),
                Level::Error => theme.bad(),
            };
            Line::styled(format!(" {text}"), style)
        }
        None => match &app.header.notice {
            Some(notice) => Line::styled(format!(" {notice}"), theme.warn()),
            None => Line::raw(""),
        },
    }
}

fn footer(app: &App, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::raw(" ")];
    let mut hints = keys::footer(app.mode);
    if app.mode == Mode::Normal && app.focus == Focus::List {
        hints.retain(|(k, _)| *k != "esc");
    }
    // The last two (help, quit) always show; the others as far as the width allows.
    let tail = hints
        .len()
        .saturating_sub(if app.mode == Mode::Normal { 2 } else { 0 });
    let width = |(k, w): &(&str, &str)| k.chars().count() + w.chars().count() + 3;
    let mut room =
        usize::from(app.size.0).saturating_sub(1 + hints[tail..].iter().map(width).sum::<usize>());
    let mut shown = Vec::new();
    for hint in &hints[..tail] {
        if width(hint) > room {
            break;
        }
        room -= width(hint);
        shown.push(*hint);
    }
    shown.extend_from_slice(&hints[tail..]);
    for (key, word) in shown {
        spans.push(Span::styled(key, theme.key()));
        spans.push(Span::raw(format!(" {word}  ")));
    }
    Line::from(spans)
}

fn popup(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn help(theme: &Theme, frame: &mut Frame, area: Rect) {
    let entries = keys::help();
    let area = popup(area, 78, entries.len() as u16 + 2);
    frame.render_widget(Clear, area);
    let lines: Vec<Line> = entries
        .into_iter()
        .map(|(key, text)| {
            Line::from(vec![
                Span::styled(format!(" {key:<10}"), theme.key()),
                Span::raw(text),
            ])
        })
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Keys (esc or ? to close) ");
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn diff(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Diff (esc to close) ");
    let lines: Vec<Line> = app
        .diff
        .iter()
        .flatten()
        .skip(app.diff_scroll)
        .take(usize::from(area.height.saturating_sub(2)))
        .map(|l| {
            let style = if l.starts_with('+') {
                theme.good()
            } else if l.starts_with('-') {
                theme.bad()
            } else {
                Style::new()
            };
            Line::styled(l.clone(), style)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
