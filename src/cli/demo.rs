//! `hooktap demo`: its flags.

use clap::Args;

/// `hooktap demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print a line per event (status and signature verdict) instead of opening the
    /// inspector, and exit once every event is sent and recorded (the default whenever
    /// stdout is not a terminal).
    #[arg(long)]
    pub no_tui: bool,

    /// In the inspector, leave the mouse to the terminal (its own text selection) instead
    /// of click to select and wheel to scroll.
    #[arg(long)]
    pub no_mouse: bool,
}

impl DemoArgs {
    /// Whether the demo opens the inspector: a terminal on both ends and no `--no-tui`.
    pub fn wants_tui(&self) -> bool {
        use std::io::IsTerminal;
        !self.no_tui && std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
    }
}
