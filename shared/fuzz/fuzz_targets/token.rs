//! Any string as a link token: never a panic, and never verified unless it is exactly a signed token.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| human_intervention::domain::fuzzing::token(data));
