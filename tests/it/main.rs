//! The integration tests, one binary (it links once): real relays, agents and apps on
//! 127.0.0.1:0, and the real `hooktap` binary. `common` holds the shared helpers.

mod common;

mod api;
mod capture;
mod capture_shutdown;
mod cli;
mod demo;
mod edit;
mod export;
mod export_jsonl;
mod faults_agent;
mod faults_app;
mod faults_link;
mod faults_relay;
mod filter;
mod hostile_input;
mod listen_no_app;
mod listen_shutdown;
mod relay_log;
mod relay_shutdown;
mod relay_trusted_proxy;
mod replay;
mod resign;
mod send;
mod session;
mod signature_listen;
mod signature_malformed;
mod signature_signing;
mod signature_vectors;
mod store_bounds;
mod store_writers;
mod tui;
mod tunnel;
mod tunnel_anonymous;
mod tunnel_app_down;
mod tunnel_delivery;
mod tunnel_limits;
mod tunnel_listen;
mod tunnel_names;
mod tunnel_queue;
mod tunnel_queue_memory;
mod tunnel_tls;
mod tunnel_version;
mod verify_cli;
