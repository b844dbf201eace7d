//! The capture path: the local listener, forwarding each request to the app (or answering
//! it, with no app), recording the exchange, and the connections to the app.
//!
//! - [`listener`]: the capture listener (HTTP/1.1, loopback by default);
//! - [`forward`]: the [`Forwarder`] every request and replay goes through;
//! - `record`: the record of one exchange as it happens, and exchanges in flight;
//! - `outbound`: the headers a request carries to the app;
//! - [`upstream`] and `pool`: connections to the app; [`target`]: where it is;
//! - [`respond`]: the answer hooktap gives itself when there is no app.

pub mod forward;
pub mod listener;
mod meta;
mod outbound;
mod pool;
mod record;
pub mod respond;
pub mod target;
pub mod upstream;

pub use forward::{DEFAULT_CAPTURE_LIMIT, DEFAULT_TIMEOUT, ForwardConfig, Forwarder, RequestMeta};
pub use listener::CaptureServer;
pub use record::Started;
pub use respond::Respond;
pub use target::Target;
