//! HTTP rules shared by the agent and the relay: hop-by-hop and `X-Forwarded-*` headers,
//! hooktap's own error answers, percent-decoding, and the one HTTP/1.1 message writer.

pub mod form;
pub mod headers;
pub mod message;
mod reply;

pub use reply::error_response;
