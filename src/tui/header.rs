//! The header's two lines: what is inspected (URLs and target, or the viewed file and
//! its writer), the connection, counts, the filter and the search's progress.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::app::{App, TunnelState};
use super::theme::Theme;
use super::writer::{ACTIVE_US, OpenBy, WriterInfo};

fn writer_style(w: &WriterInfo, now_us: i64, theme: &Theme) -> Style {
    let recent = w
        .last_commit_us
        .is_some_and(|at| now_us.saturating_sub(at) <= ACTIVE_US);
    match (w.open_by, recent) {
        (OpenBy::Pid(_), true) | (OpenBy::Unknown, true) => theme.good(),
        _ => theme.dim(),
    }
}

pub fn header(app: &App, theme: &Theme) -> Vec<Line<'static>> {
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
        TunnelState::Viewer => match &h.writer {
            Some(w) => (
                writer_style(w, app.now_us, theme),
                format!("● {}", w.describe(app.now_us)),
            ),
            None => (theme.dim(), "● viewer · tails new records".to_string()),
        },
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
    count(app.in_flight.len() as u64, "in flight", theme.warn());
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
        let searching = match (app.searching, app.search_running) {
            (false, _) => String::new(),
            (true, false) => ", searching bodies…".to_string(),
            (true, true) => format!(
                ", searching bodies… {} of {}",
                app.search_scanned.min(app.counts.total),
                app.counts.total
            ),
        };
        second.push(Span::styled(
            format!(" ({} shown{searching})", app.shown()),
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
