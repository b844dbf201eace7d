//! Keys as data: which key does what in which mode. The footer and the `?` help are
//! generated from this table, so they never disagree with what the keys do.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::export::Format;

use super::action::Action;
use super::app::Mode;

/// One binding: the keys, how the help names them, what they do and in which modes.
pub struct Binding {
    /// The keys (any of them).
    pub keys: &'static [KeyCode],
    /// How the footer and help show the keys.
    pub label: &'static str,
    /// What the help says it does.
    pub help: &'static str,
    /// The short word for the footer; empty keeps it out of the footer.
    pub footer: &'static str,
    /// The modes it applies in.
    pub modes: &'static [Mode],
    /// The action.
    pub action: fn() -> Action,
}

use KeyCode::{BackTab, Char, Down, End, Enter, Esc, Home, PageDown, PageUp, Tab, Up};
use Mode::{Diff as DiffMode, Export, Filter, Help, Normal};

/// The default keymap.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[Up, Char('k')],
        label: "↑↓/jk",
        help: "move (scroll in the detail)",
        footer: "move",
        modes: &[Normal, DiffMode],
        action: || Action::Up,
    },
    Binding {
        keys: &[Down, Char('j')],
        label: "",
        help: "",
        footer: "",
        modes: &[Normal, DiffMode],
        action: || Action::Down,
    },
    Binding {
        keys: &[PageUp],
        label: "PgUp/PgDn",
        help: "a page up / down",
        footer: "",
        modes: &[Normal, DiffMode],
        action: || Action::PageUp,
    },
    Binding {
        keys: &[PageDown],
        label: "",
        help: "",
        footer: "",
        modes: &[Normal, DiffMode],
        action: || Action::PageDown,
    },
    Binding {
        keys: &[Char('g'), Home],
        label: "g/G",
        help: "newest (following again) / oldest",
        footer: "",
        modes: &[Normal, DiffMode],
        action: || Action::Top,
    },
    Binding {
        keys: &[Char('G'), End],
        label: "",
        help: "",
        footer: "",
        modes: &[Normal, DiffMode],
        action: || Action::Bottom,
    },
    Binding {
        keys: &[Enter],
        label: "⏎",
        help: "open the request (detail pane)",
        footer: "open",
        modes: &[Normal],
        action: || Action::Open,
    },
    Binding {
        keys: &[Tab],
        label: "⇥/⇤",
        help: "next / previous tab",
        footer: "tab",
        modes: &[Normal],
        action: || Action::NextTab,
    },
    Binding {
        keys: &[BackTab],
        label: "",
        help: "",
        footer: "",
        modes: &[Normal],
        action: || Action::PrevTab,
    },
    Binding {
        keys: &[Char('/')],
        label: "/",
        help: "filter: method:POST status:5xx path:/x sig:invalid source:queued words",
        footer: "filter",
        modes: &[Normal],
        action: || Action::StartFilter,
    },
    Binding {
        keys: &[Char('r')],
        label: "r",
        help: "replay to the app",
        footer: "replay",
        modes: &[Normal],
        action: || Action::Replay,
    },
    Binding {
        keys: &[Char('s')],
        label: "s",
        help: "replay re-signed with a fresh timestamp",
        footer: "re-sign",
        modes: &[Normal],
        action: || Action::ReplayResigned,
    },
    Binding {
        keys: &[Char('e')],
        label: "e",
        help: "edit in $EDITOR, then replay",
        footer: "edit",
        modes: &[Normal],
        action: || Action::Edit,
    },
    Binding {
        keys: &[Char(' ')],
        label: "space",
        help: "mark for a diff (two marks: d compares them)",
        footer: "",
        modes: &[Normal],
        action: || Action::Mark,
    },
    Binding {
        keys: &[Char('d')],
        label: "d",
        help: "diff a replay with its original, or two marked",
        footer: "diff",
        modes: &[Normal],
        action: || Action::Diff,
    },
    Binding {
        keys: &[Char('c')],
        label: "c",
        help: "copy as curl (clipboard and a file)",
        footer: "curl",
        modes: &[Normal],
        action: || Action::CopyCurl,
    },
    Binding {
        keys: &[Char('x')],
        label: "x",
        help: "export the shown requests (HAR, curl, fixture)",
        footer: "export",
        modes: &[Normal],
        action: || Action::StartExport,
    },
    Binding {
        keys: &[Char('f')],
        label: "f",
        help: "follow: keep the newest selected",
        footer: "follow",
        modes: &[Normal],
        action: || Action::ToggleFollow,
    },
    Binding {
        keys: &[Char('?')],
        label: "?",
        help: "this help",
        footer: "help",
        modes: &[Normal, Help],
        action: || Action::Help,
    },
    Binding {
        keys: &[Char('h')],
        label: "h",
        help: "HAR",
        footer: "HAR",
        modes: &[Export],
        action: || Action::ExportAs(Format::Har),
    },
    Binding {
        keys: &[Char('c')],
        label: "c",
        help: "curl commands",
        footer: "curl",
        modes: &[Export],
        action: || Action::ExportAs(Format::Curl),
    },
    Binding {
        keys: &[Char('f')],
        label: "f",
        help: "replayable fixture",
        footer: "fixture",
        modes: &[Export],
        action: || Action::ExportAs(Format::Fixture),
    },
    Binding {
        keys: &[Enter],
        label: "⏎",
        help: "keep the filter",
        footer: "keep",
        modes: &[Filter],
        action: || Action::FilterDone,
    },
    Binding {
        keys: &[Esc],
        label: "esc",
        help: "back (close, leave the detail, drop the filter)",
        footer: "back",
        modes: &[Normal, Filter, Help, Export, DiffMode],
        action: || Action::Back,
    },
    Binding {
        keys: &[Char('q')],
        label: "q",
        help: "quit (also Ctrl-C)",
        footer: "quit",
        modes: &[Normal, Help, DiffMode],
        action: || Action::Quit,
    },
];

/// The action for `key` in `mode`, if any.
pub fn action_for(mode: Mode, key: KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, Char('c')) {
        return Some(Action::Quit);
    }
    if mode == Filter {
        match key.code {
            Esc => return Some(Action::FilterCancel),
            KeyCode::Backspace => return Some(Action::FilterBackspace),
            Char('u') if ctrl => return Some(Action::FilterCancel),
            Char(c) if !ctrl => return Some(Action::FilterChar(c)),
            _ => {}
        }
    }
    if ctrl {
        return match key.code {
            Char('d') if mode != Filter => Some(Action::PageDown),
            Char('u') if mode != Filter => Some(Action::PageUp),
            _ => None,
        };
    }
    BINDINGS
        .iter()
        .find(|b| b.modes.contains(&mode) && b.keys.contains(&key.code))
        .map(|b| (b.action)())
}

/// The footer's key hints for `mode`: `↑↓/jk move  ⏎ open …`.
pub fn footer(mode: Mode) -> Vec<(&'static str, &'static str)> {
    BINDINGS
        .iter()
        .filter(|b| b.modes.contains(&mode) && !b.footer.is_empty())
        .map(|b| (b.label, b.footer))
        .collect()
}

/// The help's lines: keys and what they do, for every mode worth listing.
pub fn help() -> Vec<(&'static str, &'static str)> {
    BINDINGS
        .iter()
        .filter(|b| !b.help.is_empty() && !b.modes.contains(&Export))
        .map(|b| (b.label, b.help))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn keys_map_by_mode() {
        assert!(matches!(
            action_for(Normal, key(Char('j'))),
            Some(Action::Down)
        ));
        assert!(matches!(
            action_for(Normal, key(Char('q'))),
            Some(Action::Quit)
        ));
        assert!(matches!(
            action_for(Filter, key(Char('q'))),
            Some(Action::FilterChar('q'))
        ));
        assert!(matches!(
            action_for(Export, key(Char('h'))),
            Some(Action::ExportAs(Format::Har))
        ));
        assert!(action_for(Export, key(Char('j'))).is_none());
        let ctrl_c = KeyEvent::new(Char('c'), KeyModifiers::CONTROL);
        assert!(matches!(action_for(Filter, ctrl_c), Some(Action::Quit)));
    }

    #[test]
    fn the_footer_and_help_come_from_the_table() {
        let footer = footer(Normal);
        assert_eq!(footer.first(), Some(&("↑↓/jk", "move")));
        assert!(footer.contains(&("r", "replay")) && footer.contains(&("q", "quit")));
        assert!(
            help()
                .iter()
                .any(|(k, h)| *k == "e" && h.contains("$EDITOR"))
        );
    }
}
