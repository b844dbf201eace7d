//! Fuzzes what a relay reads from an agent before it is admitted: the WebSocket frame
//! header, then the hello (and the agent's view of the relay's answer). Must never panic.
//! Run with `cargo +nightly fuzz run tunnel_hello` from the repository root.

#![no_main]

use bytes::BytesMut;
use hooktap::tunnel::frame::decode_head;
use hooktap::tunnel::protocol::{AgentHello, RelayAnswer, decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    let _ = decode_head(&mut buf);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(hello) = decode::<AgentHello>(text) {
            // What decodes encodes back to the same hello.
            let again: AgentHello = decode(&encode(&hello)).expect("a hello round-trips");
            assert_eq!(again, hello);
        }
        let _ = decode::<RelayAnswer>(text);
    }
});
