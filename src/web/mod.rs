//! HTTP rules shared by the agent and the relay: hop-by-hop and `X-Forwarded-*` headers,
//! hooktap's own error answers, percent-decoding, the one HTTP/1.1 message writer, the
//! streaming body types, and serving HTTP/1.1 connections until shutdown.

pub mod body;
pub mod form;
pub mod headers;
pub mod message;
mod reply;
pub mod serve;

pub use reply::error_response;
