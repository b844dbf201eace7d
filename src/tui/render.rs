//! Drawing: header, list, detail pane with tabs, status line and footer, plus the help
//! and diff overlays. Reads the state, never changes it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::exchange::{Source, format_time};
use crate::output::{human_duration_us, human_size};

use super::app::{App, Focus, Level, Mode, Row, SigKind, Tab};
use super::keys;
use super::theme::Theme;

/// Draws the whole screen.
pub fn render(app: &App, frame: &mut Frame) {
    let areas = app.areas();
    let theme = Theme::new(app.color);
    frame.render_widget(
        Paragraph::new(super::header::header(app, &theme)),
        areas.header,
    );
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
    let status = match row.status {
        _ if row.in_flight => "…".to_string(),
        Some(s) => s.to_string(),
        None => "ERR".to_string(),
    };
    // In flight: the time it has waited so far, in the duration column.
    let (duration_us, duration_style) = if row.in_flight {
        (
            app.now_us.saturating_sub(row.received_at_us).max(0),
            theme.warn(),
        )
    } else {
        (row.duration_us, theme.dim())
    };
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
        Span::styled(
            format!("{status:>3}"),
            if row.in_flight {
                theme.warn()
            } else {
                theme.status(row.status)
            },
        ),
        Span::styled(
            format!(" {:>6} ", human_duration_us(duration_us)),
            duration_style,
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
        None => match app.selected_row() {
            Some(row) if row.in_flight => vec![
                Line::styled(
                    format!(
                        " in flight: waiting for the app, {} so far",
                        human_duration_us(app.now_us.saturating_sub(row.received_at_us).max(0))
                    ),
                    theme.warn(),
                ),
                Line::styled(
                    " its record shows here once the exchange is committed",
                    theme.dim(),
                ),
            ],
            _ if app.selected.is_some() => vec![Line::styled(" loading…", theme.dim())],
            _ => vec![Line::styled(
                " select a request to see it here",
                theme.dim(),
            )],
        },
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
