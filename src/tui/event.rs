//! Terminal events to actions: keys through the keymap, resizes, clicks and the wheel.

use crossterm::event::{Event, KeyEventKind, MouseButton, MouseEventKind};

use super::action::Action;
use super::app::Mode;
use super::keys::action_for;

/// The action for a terminal event in `mode`, if it means anything.
pub fn to_action(mode: Mode, event: Event) -> Option<Action> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => action_for(mode, key),
        Event::Resize(cols, rows) => Some(Action::Resize(cols, rows)),
        Event::Mouse(mouse) => match mouse.kind {
            MouseEventKind::Down(MouseButton::Left) => Some(Action::Click(mouse.column, mouse.row)),
            MouseEventKind::ScrollUp => Some(Action::Wheel(mouse.column, mouse.row, true)),
            MouseEventKind::ScrollDown => Some(Action::Wheel(mouse.column, mouse.row, false)),
            _ => None,
        },
        _ => None,
    }
}
