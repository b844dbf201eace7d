//! The tunnel's wire contract: everything the agent and the relay must agree on.
//!
//! 1. The agent opens a WebSocket to [`TUNNEL_PATH`] on the relay's public listener, with
//!    its token (if any) as `Authorization: Bearer <token>`.
//! 2. It sends one text message, an [`AgentHello`]. The relay answers with one text
//!    message: a [`RelayWelcome`] or a [`RelayRefusal`] (after which it closes).
//! 3. From then on the WebSocket carries binary frames only (framed by [`super::wsio`],
//!    one frame per flush): one HTTP/2 connection in which the relay is the client and
//!    the agent the server. Each sender's request is
//!    one h2 stream; h2 gives multiplexing and per-stream flow control, h2 PINGs are the
//!    heartbeat in both directions.
//! 4. The relay may send the agent a control request: an h2 request carrying
//!    [`HEADER_CONTROL`] (the relay strips that header from every sender's request, so
//!    only the relay can send one). [`CONTROL_REPLACED`] means another agent with the same
//!    token took the name: the agent answers `200`, stops and does not reconnect.
//!
//! The relay adds the `x-hooktap-*` headers below to each tunnelled request; the agent
//! reads and removes them before forwarding and recording.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The tunnel protocol version; both sides must speak the same one.
///
/// 2: the agent ends its answer to a queued request with [`TRAILER_COMMITTED`] once its
/// record is committed, and answers a queued id it already recorded from its store. A
/// version 1 agent sends no trailer, so the relay would redeliver each queued request to
/// it until it became a dead letter: the relay refuses it with [`upgrade_message`].
pub const PROTOCOL_VERSION: u32 = 2;

/// What the relay tells an agent speaking protocol `agent` (not [`PROTOCOL_VERSION`]).
pub fn upgrade_message(agent: u32) -> String {
    if agent < PROTOCOL_VERSION {
        format!(
            "this hooktap is older than the relay (tunnel protocol {agent}, the relay speaks {PROTOCOL_VERSION}): upgrade hooktap on this machine (the relay needs agents that confirm each queued request once recorded)"
        )
    } else {
        format!(
            "this hooktap is newer than the relay (tunnel protocol {agent}, the relay speaks {PROTOCOL_VERSION}): upgrade the relay, or run the relay's hooktap version here"
        )
    }
}

/// The reserved path where the relay accepts tunnels.
pub const TUNNEL_PATH: &str = "/_hooktap/tunnel";

/// Reserved path prefix for the relay's own endpoints (never routed to a tunnel).
pub const RESERVED_PREFIX: &str = "/_hooktap/";

/// Largest handshake message accepted, in bytes.
pub const MAX_HANDSHAKE_BYTES: usize = 16 * 1024;

/// Default time either side waits for the other's handshake message.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Default interval between heartbeats (h2 PINGs), in both directions.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(5);

/// Largest h2 frame; big frames mean fewer WebSocket messages per body (DESIGN §8).
pub const H2_MAX_FRAME: u32 = 256 * 1024;

/// Fixed h2 flow-control window per stream: bounds the memory each request can hold.
pub const H2_STREAM_WINDOW: u32 = 1024 * 1024;

/// Fixed h2 flow-control window per connection.
pub const H2_CONNECTION_WINDOW: u32 = 4 * 1024 * 1024;

/// The WebSocket adapter sends its buffer as one message once it holds this many bytes.
pub const WS_MESSAGE_TARGET: usize = 256 * 1024;

/// Largest WebSocket message either side accepts.
pub const WS_MAX_MESSAGE: usize = 2 * 1024 * 1024;

/// Header carrying the public URL the request arrived on (with path and query).
pub const HEADER_PUBLIC_URL: &str = "x-hooktap-public-url";

/// Header on a redelivered queued request: when the relay received it (µs since the epoch).
pub const HEADER_QUEUED_AT: &str = "x-hooktap-queued-at";

/// Response header the relay puts on a `202` for a queued request: the queue entry's id.
pub const HEADER_QUEUED: &str = "x-hooktap-queued";

/// Header on a redelivered queued request: its queue entry id.
pub const HEADER_QUEUED_ID: &str = "x-hooktap-queued-id";

/// Trailer the agent ends its answer to a queued request with, once the exchange's
/// record is committed in its store: the record's id. The relay deletes a queued entry
/// only when it has read this; the agent sends it at once, without asking the app again,
/// for a queued id it has already recorded.
pub const TRAILER_COMMITTED: &str = "x-hooktap-committed";

/// Header carrying the HTTP version the sender used (`HTTP/1.1`), since the tunnel
/// itself is HTTP/2.
pub const HEADER_HTTP_VERSION: &str = "x-hooktap-http-version";

/// Header marking a control request from the relay to the agent; its value says which.
pub const HEADER_CONTROL: &str = "x-hooktap-control";

/// Control: a newer agent with the same token took this tunnel's name.
pub const CONTROL_REPLACED: &str = "replaced";

/// The path of control requests (never forwarded to the app).
pub const CONTROL_PATH: &str = "/_hooktap/control";

/// What the agent tells its user when [`CONTROL_REPLACED`] arrives.
pub const REPLACED_MESSAGE: &str = "replaced by another agent with the same token";

/// Every header that is the tunnel's own business, removed from what senders send and
/// from what the agent forwards and records.
pub const INTERNAL_HEADERS: [&str; 5] = [
    HEADER_PUBLIC_URL,
    HEADER_QUEUED_AT,
    HEADER_QUEUED_ID,
    HEADER_HTTP_VERSION,
    HEADER_CONTROL,
];

/// The agent's first message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentHello {
    /// The protocol version the agent speaks ([`PROTOCOL_VERSION`]).
    pub version: u32,
    /// The tunnel name the agent asks for; `None` lets the relay pick a random one.
    pub name: Option<String>,
    /// The key from an earlier [`RelayWelcome`], proving an anonymous agent held this name.
    #[serde(default)]
    pub resume_key: Option<String>,
    /// The agent's hooktap version, for the relay's logs.
    #[serde(default)]
    pub agent: String,
}

/// The relay's answer when it accepts a tunnel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayWelcome {
    /// The protocol version the relay speaks.
    pub version: u32,
    /// The name the tunnel got (the requested one, or a random one).
    pub name: String,
    /// The public URLs that reach this tunnel, the preferred one first.
    pub public_urls: Vec<String>,
    /// For anonymous tunnels: send this back in [`AgentHello::resume_key`] to keep the
    /// name across reconnects.
    #[serde(default)]
    pub resume_key: Option<String>,
    /// Requests the relay holds for this name and will deliver now.
    #[serde(default)]
    pub queued: u64,
}

/// Why the relay refused a tunnel; the agent does not retry any of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// No token, or a token the relay does not know.
    BadToken,
    /// Another token holds the name.
    NameTaken,
    /// This token may not hold that name, or the name is not valid.
    NameNotAllowed,
    /// The two sides speak different protocol versions.
    VersionMismatch,
    /// The hello could not be understood.
    BadHello,
    /// The agent's address holds as many tunnels as the relay allows one address; the
    /// agent retries this one when reconnecting, since its own stale tunnel may count.
    PeerLimit,
}

impl RefusalReason {
    /// The reason's wire name (`bad_token`), for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadToken => "bad_token",
            Self::NameTaken => "name_taken",
            Self::NameNotAllowed => "name_not_allowed",
            Self::VersionMismatch => "version_mismatch",
            Self::BadHello => "bad_hello",
            Self::PeerLimit => "peer_limit",
        }
    }
}

/// The relay's answer when it refuses a tunnel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayRefusal {
    /// The protocol version the relay speaks.
    pub version: u32,
    /// What went wrong, for programs.
    pub reason: RefusalReason,
    /// One sentence for the user, naming the fix.
    pub message: String,
}

/// What the relay sends in answer to a hello.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RelayAnswer {
    /// The tunnel is open.
    Welcome(RelayWelcome),
    /// The tunnel is refused.
    Refusal(RelayRefusal),
}

/// A handshake message that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// Larger than [`MAX_HANDSHAKE_BYTES`].
    #[error("the handshake message is larger than {MAX_HANDSHAKE_BYTES} bytes")]
    TooLarge,
    /// Not the JSON expected.
    #[error("the handshake message is not valid: {0}")]
    Invalid(#[from] serde_json::Error),
}

/// Parses a handshake message, refusing oversized ones before parsing.
pub fn decode<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, HandshakeError> {
    if text.len() > MAX_HANDSHAKE_BYTES {
        return Err(HandshakeError::TooLarge);
    }
    Ok(serde_json::from_str(text)?)
}

/// Encodes a handshake message.
pub fn encode<T: Serialize>(message: &T) -> String {
    // Serialising these plain structs cannot fail.
    serde_json::to_string(message).unwrap_or_default()
}

/// True when `name` is a valid tunnel name: 1-63 of `a-z`, `0-9`, `-`, not starting or
/// ending with `-` (so it also works as a DNS label).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with('-')
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A WebSocket configuration sized for the tunnel.
pub fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(WS_MAX_MESSAGE))
        .max_frame_size(Some(WS_MAX_MESSAGE))
        .write_buffer_size(0)
        .max_write_buffer_size(4 * WS_MAX_MESSAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip_and_oversized_messages_are_refused() {
        let answer = RelayAnswer::Refusal(RelayRefusal {
            version: PROTOCOL_VERSION,
            reason: RefusalReason::NameTaken,
            message: "taken".into(),
        });
        let text = encode(&answer);
        assert!(text.contains("\"type\":\"refusal\""));
        assert_eq!(decode::<RelayAnswer>(&text).unwrap(), answer);
        let huge = format!("\"{}\"", "a".repeat(MAX_HANDSHAKE_BYTES));
        assert!(matches!(
            decode::<String>(&huge),
            Err(HandshakeError::TooLarge)
        ));
    }

    #[test]
    fn names_are_dns_labels() {
        assert!(valid_name("my-app2"));
        assert!(!valid_name("My-App"));
        assert!(!valid_name("-x"));
        assert!(!valid_name(""));
        assert!(!valid_name(&"a".repeat(64)));
    }
}
