//! Fuzzes fixture import (`hooktap replay --from-file`): the JSON a fixture file holds,
//! then each entry turned into an exchange. Must never panic.
//! Run with `cargo +nightly fuzz run fixture_import` from the repository root.

#![no_main]

use hooktap::export::fixture::{Fixture, to_exchange};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(fixture) = serde_json::from_slice::<Fixture>(data) {
        for entry in fixture.requests {
            let _ = to_exchange(entry);
        }
    }
});
