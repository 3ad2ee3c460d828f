//! Any bytes as a value of a `integer` field: its value parser answers, and accepts what it stored.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| human_intervention::domain::fuzzing::field_value("integer", data));
