//! The agent's side of the tunnel (dialling, the h2 server over a WebSocket, queued
//! deliveries) and the wire contract shared with the relay (`protocol`, `frame`).

pub mod agent;
pub mod dial;
pub mod frame;
pub mod protocol;
pub mod queued;
pub mod wsio;

pub use agent::{AgentConfig, ConnectError, Tunnel, TunnelEvent, start};
