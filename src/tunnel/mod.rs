//! The agent's side of the tunnel and the wire contract shared with the relay.

pub mod agent;
pub mod dial;
pub mod frame;
pub mod protocol;
pub mod queued;
pub mod wsio;

pub use agent::{AgentConfig, ConnectError, Tunnel, TunnelEvent, start};
