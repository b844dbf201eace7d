//! hooktap: a localhost tunnel and webhook inspector.
//!
//! Major components:
//! - [`exchange`]: the record of one request and its response, shared by everything else;
//! - [`store`]: the SQLite history of exchanges, written off the forwarding path;
//! - [`capture`]: the local capture listener, the forwarder to the app and its records;
//! - [`session`]: one `listen` (capture, API, tunnel) with watches on its state;
//! - [`web`]: HTTP rules the agent and the relay share;
//! - [`signature`] and [`config`]: webhook signature verdicts, secrets and re-signing;
//! - [`tunnel`] and [`relay`]: the agent's tunnel to the relay, and the relay itself;
//! - [`replay`], [`export`], [`diff`] and [`api`]: resending, exporting and the local API;
//! - [`events`] and [`demo`]: signed sample webhooks, and `hooktap demo`'s receiver;
//! - [`cli`] and [`cmd`]: the command line.

#![forbid(unsafe_code)]

pub mod api;
pub mod capture;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod demo;
pub mod diff;
pub mod edit;
pub mod events;
pub mod exchange;
pub mod export;
pub mod fsperm;
pub mod logging;
pub mod output;
pub mod relay;
pub mod replay;
pub mod secret;
pub mod select;
pub mod session;
pub mod signature;
pub mod store;
pub mod tui;
pub mod tunnel;
pub mod usage;
pub mod verdict;
pub mod web;
