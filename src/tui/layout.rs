//! Where each part of the screen goes for a terminal size: one pure function, used by
//! rendering and by `update` (page size, clicks), so both agree.

use ratatui::layout::Rect;

/// At this width or more the detail pane sits beside the list; below it, under it.
pub const SIDE_BY_SIDE_COLS: u16 = 110;

/// The screen's parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Areas {
    /// Two header lines.
    pub header: Rect,
    /// The request list, with its border.
    pub list: Rect,
    /// The detail pane, with its border.
    pub detail: Rect,
    /// The status line.
    pub status: Rect,
    /// The key hints.
    pub footer: Rect,
}

impl Areas {
    /// The parts of a `cols` × `rows` terminal.
    pub fn new(cols: u16, rows: u16) -> Self {
        let header = Rect::new(0, 0, cols, rows.min(2));
        let footer = Rect::new(0, rows.saturating_sub(1), cols, rows.min(1));
        let status = Rect::new(0, rows.saturating_sub(2), cols, u16::from(rows >= 4));
        let top = header.height;
        let main_h = rows.saturating_sub(top + 2);
        let (list, detail) = if cols >= SIDE_BY_SIDE_COLS {
            let list_w = cols / 2;
            (
                Rect::new(0, top, list_w, main_h),
                Rect::new(list_w, top, cols - list_w, main_h),
            )
        } else {
            let list_h = (main_h * 2 / 5).max(5).min(main_h);
            (
                Rect::new(0, top, cols, list_h),
                Rect::new(0, top + list_h, cols, main_h - list_h),
            )
        };
        Self {
            header,
            list,
            detail,
            status,
            footer,
        }
    }

    /// Rows of the list inside its border.
    pub fn list_rows(&self) -> usize {
        usize::from(self.list.height.saturating_sub(2))
    }

    /// Lines of the detail inside its border.
    pub fn detail_rows(&self) -> usize {
        usize::from(self.detail.height.saturating_sub(2))
    }
}

/// Whether (`x`, `y`) is inside `area`'s border.
pub fn inside(area: Rect, x: u16, y: u16) -> bool {
    x > area.x && x + 1 < area.x + area.width && y > area.y && y + 1 < area.y + area.height
}
