//! hooktap: a localhost tunnel and webhook inspector.
//!
//! Major components:
//! - [`exchange`]: the record of one request and its response, shared by everything else;
//! - [`store`]: the SQLite history of exchanges, written off the forwarding path;
//! - [`forward`] and [`capture`]: the local capture listener and the forwarder to the app;
//! - [`signature`]: webhook signature verdicts;
//! - [`tunnel`] and [`relay`]: the agent's tunnel to the relay, and the relay itself;
//! - [`cli`] and [`cmd`]: the command line.

#![forbid(unsafe_code)]

pub mod body;
pub mod capture;
pub mod cli;
pub mod cmd;
pub mod exchange;
pub mod forward;
pub mod output;
pub mod relay;
pub mod signature;
pub mod store;
pub mod target;
pub mod tunnel;
