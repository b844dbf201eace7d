//! Colours, in one place: status by class, signature badges green/red/amber, dim for
//! metadata; with `NO_COLOR` only bold, dim and reverse remain.

use ratatui::style::{Color, Modifier, Style};

use super::app::SigKind;
use super::view::Tone;

/// Styles for a screen with or without colour.
#[derive(Clone, Copy, Debug)]
pub struct Theme {
    color: bool,
}

impl Theme {
    /// The theme; `color` false honours `NO_COLOR`.
    pub fn new(color: bool) -> Self {
        Self { color }
    }

    fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    /// Metadata.
    pub fn dim(&self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    /// Emphasis.
    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// The selected row.
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// A tone of the detail view.
    pub fn tone(&self, tone: Tone) -> Style {
        match tone {
            Tone::Plain => Style::new(),
            Tone::Dim => self.dim(),
            Tone::Key => self.fg(Color::Cyan),
            Tone::Str => self.fg(Color::Green),
            Tone::Num => self.fg(Color::Magenta),
            Tone::Lit => self.fg(Color::Yellow),
            Tone::Good => self.fg(Color::Green),
            Tone::Bad => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Tone::Warn => self.fg(Color::Yellow),
        }
    }

    /// A status code.
    pub fn status(&self, status: Option<u16>) -> Style {
        match status {
            Some(200..=299) => self.fg(Color::Green),
            Some(300..=399) => self.fg(Color::Cyan),
            Some(400..=499) => self.fg(Color::Yellow),
            _ => self.fg(Color::Red),
        }
    }

    /// A signature badge.
    pub fn sig(&self, kind: SigKind) -> Style {
        match kind {
            SigKind::Valid => self.fg(Color::Green),
            SigKind::Invalid => self.fg(Color::Red),
            SigKind::Expired | SigKind::Missing => self.fg(Color::Yellow),
            SigKind::NoSecret => self.dim(),
        }
    }

    /// Good, bad, warning text.
    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }

    /// Bad news.
    pub fn bad(&self) -> Style {
        self.fg(Color::Red)
    }

    /// A warning.
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    /// Key names in the footer and help.
    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
}
