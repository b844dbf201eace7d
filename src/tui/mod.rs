//! The inspector: a terminal UI over the capture history (`listen` on a terminal, `hooktap
//! ui`, `hooktap demo`). It owns the state (`app`), keys (`keys`), `update`, drawing
//! (`render`) and the event loop (`run`).

pub mod action;
pub mod app;
pub mod effects;
pub mod event;
pub mod feed;
pub mod filter;
mod header;
mod json;
pub mod keys;
pub mod layout;
pub mod render;
pub mod row;
mod rows;
pub mod run;
mod search;
pub mod theme;
mod tone;
pub mod update;
pub mod view;
pub mod writer;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_live;

pub use effects::Services;
pub use feed::{Feed, FeedEvent, Started};
pub use run::{Options, run};
